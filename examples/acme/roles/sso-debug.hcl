# sso-debug: look around an account and read its application logs, from the
# AWS access portal (a role template for mode = "identity_center"; copied from
# jit's policies/roles/sso-debug.hcl).
role "sso-debug" {
  description = "Inventory and metrics, and log events in the granted log groups"

  # These calls list across the account: they need "*".
  statement {
    actions = [
      "ec2:DescribeInstances",
      "ecs:ListClusters",
      "ecs:DescribeClusters",
      "lambda:ListFunctions",
      "cloudwatch:GetMetricData",
      "cloudwatch:ListMetrics",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # Log contents only in the log groups the grant names.
  statement {
    actions = [
      "logs:DescribeLogStreams",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = []
  }
}
