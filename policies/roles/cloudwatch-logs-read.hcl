# cloudwatch-logs-read: read and search specific CloudWatch Logs log groups.
#
# Every action below takes the resource type it is granted on (AWS Service
# Authorization Reference, Amazon CloudWatch Logs). Logs Insights is left out
# on purpose: logs:GetQueryResults and logs:StopQuery take a query id, not a
# log group, so they can only be granted on "*", and with logs:DescribeQueries
# listing every query in the account that would read the results of queries
# over log groups outside the grant. FilterLogEvents searches the granted
# log groups instead.
role "cloudwatch-logs-read" {
  description = "Read and search log events in the granted log groups"

  # The grant's resources are log-group ARNs; a trailing * also covers their
  # streams, e.g. arn:aws:logs:us-east-1:123456789012:log-group:/acme/prod/*
  statement {
    actions = [
      "logs:DescribeLogStreams",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = []
  }

  # Listing log groups takes no resource: "*".
  statement {
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }
}
