# assume_role uses the user name as sts:RoleSessionName: `q` is too short.
contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters       = ["user:alice", "user:q"]
  approvers        = ["user:bob"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "assume_role"
  role_arn         = "arn:aws:iam::123456789012:role/prod-db-read"
  owners           = ["user:bob"]
}
