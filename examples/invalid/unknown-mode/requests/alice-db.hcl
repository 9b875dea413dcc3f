# Alice asks for two hours of read access to the orders database.
request "alice-db" {
  requester = "alice"
  contract  = "db-read"
  duration  = "2h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
