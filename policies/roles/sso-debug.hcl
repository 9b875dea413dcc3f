# sso-debug: look around an account and read its application logs, from the
# AWS access portal: a template for contracts with mode = "identity_center".
# A grant's permission set holds these statements as its inline policy, with
# the window's aws:CurrentTime conditions; Identity Center provisions it as a
# role in the contract's account. Keep it small: it must fit 10,240
# characters (without whitespace) with the conditions on every statement.
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
