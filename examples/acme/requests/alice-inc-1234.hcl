# Alice (eng) needs to look at the orders database during INC-1234.
# Approved by a DBA (team:dba) on merge.
request "alice-inc-1234" {
  requester = "alice"
  contract  = "prod-db-read"
  duration  = "2h"
  reason    = "INC-1234: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
