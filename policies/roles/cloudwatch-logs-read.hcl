# cloudwatch-logs-read: read and query specific CloudWatch Logs log groups.
role "cloudwatch-logs-read" {
  description = "Read and run Logs Insights queries on the granted log groups"

  # The grant's resources are log-group ARNs; a trailing * also covers their
  # streams, e.g. arn:aws:logs:us-east-1:123456789012:log-group:/acme/prod/*
  statement {
    actions = [
      "logs:DescribeLogStreams",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
      "logs:StartQuery",
    ]
    resources = []
  }

  # Listing log groups and handling queries by id need "*".
  statement {
    actions = [
      "logs:DescribeLogGroups",
      "logs:DescribeQueries",
      "logs:GetQueryResults",
      "logs:StopQuery",
    ]
    resources = ["*"]
  }
}
