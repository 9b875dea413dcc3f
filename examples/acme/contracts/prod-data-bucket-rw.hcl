# Write access to the production data bucket, for backfills and repairs.
# Two approvals (a DBA and someone from security, or two of either) because
# it can change customer data. Uses a managed policy so it does not eat into
# the user's 2,048-character inline policy quota.
contract "prod-data-bucket-rw" {
  description      = "Read and write objects in s3://acme-prod-data"
  role             = "s3-bucket-rw"
  resources        = ["arn:aws:s3:::acme-prod-data", "arn:aws:s3:::acme-prod-data/*"]
  requesters       = ["team:eng"]
  approvers        = ["team:dba", "team:security"]
  min_approvals    = 2
  auto_approve     = false
  max_duration     = "8h"
  default_duration = "2h"
  require_mfa      = true
  require_reason   = true
  mode             = "managed_policy"
  owners           = ["team:security"]
}
