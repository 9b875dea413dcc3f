# Breakglass: full admin in production, for incidents nothing else covers.
# Allowed past the "no-admin-actions" guardrail only because it is marked
# breakglass and owned by team:security. Short, MFA-only, and one security
# member must approve (the requester never counts).
contract "prod-breakglass" {
  description      = "Administrator access to prod during an incident"
  role             = "breakglass-admin"
  resources        = ["*"]
  requesters       = ["team:eng", "team:dba", "team:security"]
  approvers        = ["team:security"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "1h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["team:security"]
  breakglass       = true
}
