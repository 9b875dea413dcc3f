# Two request blocks in one file: each request needs its own file.
request "alice-db" {
  requester = "alice"
  contract  = "db-read"
  duration  = "2h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}

request "alice-db-2" {
  requester = "alice"
  contract  = "db-read"
  duration  = "1h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
