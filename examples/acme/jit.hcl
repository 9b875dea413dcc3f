# Acme's access repo: settings and the AWS accounts jit manages.
#
# Changes to this file, people.hcl, teams/ and guardrails.hcl take effect only
# once approved by the admins below.
settings {
  branch            = "main"        # the branch whose history is the truth
  approval          = "trailers"    # Approved-by: trailers on the merge commit
  github_repository = "acme/access" # only used with approval = "github"
  admins            = ["team:security"]

  # Author of jit's own commits (archiving ended requests).
  bot {
    name  = "jit"
    email = "jit@acme.example"
  }
}

# Production. jit uses the ambient AWS credentials; set role_arn to have it
# assume a reconciler role instead, e.g.
# role_arn = "arn:aws:iam::123456789012:role/jit-reconciler"
account "prod" {
  id = "123456789012"
}

# Development. jit reaches it through its reconciler role there.
account "dev" {
  id       = "210987654321"
  role_arn = "arn:aws:iam::210987654321:role/jit-reconciler"
}

# IAM Identity Center, for people who sign in through the AWS access portal
# (contracts with mode = "identity_center"). From `aws sso-admin
# list-instances` in the management (or delegated administrator) account;
# jit uses the ambient credentials there, or set account = "<name>" to reach
# it through that account's role_arn.
identity_center {
  instance_arn      = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
  identity_store_id = "d-1234567890"
  region            = "us-east-1"
}
