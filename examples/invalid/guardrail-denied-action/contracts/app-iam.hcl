# Grants iam:* but is not breakglass: guardrail no-admin-actions.
contract "app-iam" {
  role             = "iam-admin"
  resources        = ["arn:aws:iam::123456789012:role/app-*"]
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
