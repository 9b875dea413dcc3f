# Dave (eng) triages a 5xx spike. prod-read-only is auto-approved: the merge
# is the approval.
request "dave-logs-triage" {
  requester = "dave"
  contract  = "prod-read-only"
  duration  = "1h"
  reason    = "Triage checkout 5xx spike seen on the prod dashboard"
}
