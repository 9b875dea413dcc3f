# Debugging in the dev account for people who sign in through IAM Identity
# Center: each grant is its own permission set, jit-<request>, assigned to the
# requester in the dev account for the window. Its inline policy carries the
# window as aws:CurrentTime conditions, so access ends on time even if jit
# never runs again.
#
# No require_mfa: Identity Center sessions come from SAML and carry no MFA
# key, so the condition would deny every call. Require MFA in Identity
# Center's sign-in settings instead.
contract "dev-sso-debug" {
  description      = "Debug the dev account from the AWS access portal"
  role             = "sso-debug"
  resources        = ["arn:aws:logs:us-east-1:210987654321:log-group:/acme/dev/*"]
  requesters       = ["team:eng"]
  approvers        = ["team:dba"]
  min_approvals    = 1
  max_duration     = "8h"
  default_duration = "2h"
  require_reason   = true
  mode             = "identity_center"
  account          = "dev"
  owners           = ["team:security"]
}
