# rds-read: inspect RDS databases and read their logs. No data access:
# connecting to the database is a separate role (rds-iam-connect).
role "rds-read" {
  description = "Describe the granted RDS databases and read their logs"

  # The grant's resources are database ARNs, e.g.
  # arn:aws:rds:us-east-1:123456789012:db:prod-*
  statement {
    actions = [
      "rds:DescribeDBInstances",
      "rds:DescribeDBLogFiles",
      "rds:DownloadDBLogFilePortion",
      "rds:ListTagsForResource",
    ]
    resources = []
  }

  # Metrics are not resource-scoped in IAM.
  statement {
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
    resources = ["*"]
  }
}
