# The file is alice-db.hcl, so the request must be named alice-db.
request "alice-db-read" {
  requester = "alice"
  contract  = "db-read"
  duration  = "2h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
