# assume_role edits a role's trust policy: which role? role_arn is missing.
contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters       = ["user:alice"]
  approvers        = ["user:bob"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "assume_role"
  owners           = ["user:bob"]
}
