# 24h is above the 12h cap of guardrail max-duration (guardrails.hcl).
contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters       = ["user:alice"]
  approvers        = ["user:bob"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "24h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["user:bob"]
}
