# mallory is not declared in people.hcl.
request "mallory-db" {
  requester = "mallory"
  contract  = "db-read"
  duration  = "2h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
