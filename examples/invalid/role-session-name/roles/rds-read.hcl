# Read-only RDS: describe databases and read their logs.
role "rds-read" {
  description = "Describe RDS databases and read their logs"
  statement {
    actions   = ["rds:DescribeDBInstances", "rds:DescribeDBLogFiles", "rds:DownloadDBLogFilePortion"]
    resources = []
  }
}
