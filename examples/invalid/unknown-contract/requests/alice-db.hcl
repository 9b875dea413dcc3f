# Typo in the contract name: there is no contract db-reed.
request "alice-db" {
  requester = "alice"
  contract  = "db-reed"
  duration  = "2h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
