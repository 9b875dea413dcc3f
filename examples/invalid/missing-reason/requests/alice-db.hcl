# Contract db-read has require_reason = true, but the reason is empty.
request "alice-db" {
  requester = "alice"
  contract  = "db-read"
  duration  = "2h"
  reason    = ""
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
