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
