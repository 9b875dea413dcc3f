# One-character database names only: prod-?
contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-?"]
  requesters       = ["user:alice"]
  approvers        = ["user:bob"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["user:bob"]
}
