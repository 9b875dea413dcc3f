# Inspect production databases (describe, logs, metrics) during incidents.
contract "prod-db-read" {
  description      = "Describe prod RDS databases and read their logs"
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters       = ["team:eng", "team:dba"]
  approvers        = ["team:dba"]
  min_approvals    = 1
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "1h"
  require_mfa      = true
  require_reason   = true
  mode             = "inline_policy"
  owners           = ["team:security"]
}
