# S3 ARNs name no account, but alice's grants land in prod: guardrail prod-mfa.
contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:s3:::acme-prod-exports/*"]
  requesters       = ["user:alice"]
  approvers        = ["user:bob"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "1h"
  require_mfa      = false
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["user:bob"]
}
