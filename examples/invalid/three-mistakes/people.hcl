# Mistake: bob's aws is an IAM group, which cannot hold a grant.
user "alice" {
  email = "alice@example.com"
  aws   = "arn:aws:iam::123456789012:user/alice"
}

user "bob" {
  email = "bob@example.com"
  aws   = "arn:aws:iam::123456789012:group/bob"
}
