# rds-iam-connect: log in to a database with IAM database authentication.
# What the session may do inside the database is up to the database user's
# grants, so point contracts at a user with the least privilege needed.
role "rds-iam-connect" {
  description = "Connect to the granted database users with IAM authentication"

  # The grant's resources are database-user ARNs (note the resource id, not
  # the instance name), e.g.
  # arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTU/readonly
  statement {
    actions   = ["rds-db:connect"]
    resources = []
  }

  # Find the endpoint to connect to.
  statement {
    actions   = ["rds:DescribeDBInstances"]
    resources = ["*"]
  }
}
