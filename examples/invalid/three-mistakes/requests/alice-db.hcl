# Mistake: 8h, but contract db-read allows at most 4h.
request "alice-db" {
  requester = "alice"
  contract  = "db-read"
  duration  = "8h"
  reason    = "INC-42: slow queries on the orders database"
  resources = ["arn:aws:rds:us-east-1:123456789012:db:prod-orders"]
}
