# read-only: look around an account without touching data or configuration.
#
# A short list of the Describe/List/Get calls on-call engineers actually use,
# instead of AWS's ReadOnlyAccess, which also reads data (S3 objects, SSM
# parameters, DynamoDB items, Secrets Manager metadata) across every service.
role "read-only" {
  description = "Inventory and metrics for EC2, RDS, ECS, Lambda and CloudWatch; logs in the granted log groups"

  # Inventory and metrics. These calls need "*": they list across the account
  # and most do not support resource-level permissions.
  statement {
    actions = [
      "ec2:DescribeInstances",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "rds:DescribeDBInstances",
      "rds:DescribeDBClusters",
      "ecs:ListClusters",
      "ecs:DescribeClusters",
      "lambda:ListFunctions",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:GetMetricData",
      "cloudwatch:ListMetrics",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # Log contents only in the log groups the grant names, e.g.
  # arn:aws:logs:us-east-1:123456789012:log-group:/acme/prod/*
  statement {
    actions = [
      "logs:DescribeLogStreams",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = []
  }
}
