# A shell on production instances through SSM Session Manager.
contract "prod-ssm-session" {
  description      = "Session Manager shell on prod EC2 instances"
  role             = "ssm-session"
  resources        = ["arn:aws:ec2:us-east-1:123456789012:instance/*"]
  requesters       = ["team:eng"]
  approvers        = ["team:security"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "2h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["team:security"]
}
