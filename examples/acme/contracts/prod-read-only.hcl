# Low-risk look-around in production: inventory, metrics and the app logs.
# Auto-approved: merging the request is the approval, so on-call engineers
# get in quickly; the request file still records who, when and why.
contract "prod-read-only" {
  description      = "Read-only inventory, metrics and /acme/prod logs"
  role             = "read-only"
  resources        = ["arn:aws:logs:us-east-1:123456789012:log-group:/acme/prod/*"]
  requesters       = ["team:eng", "team:dba"]
  approvers        = []
  min_approvals    = 0
  auto_approve     = true
  max_duration     = "8h"
  default_duration = "2h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["team:security"]
}
