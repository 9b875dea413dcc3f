# Full IAM control: only a breakglass contract owned by security may use it.
role "iam-admin" {
  description = "Manage IAM roles for applications"
  statement {
    actions   = ["iam:*"]
    resources = []
  }
}
