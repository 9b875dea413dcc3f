# alice's aws must be her IAM user's ARN, not her user name.
user "alice" {
  email = "alice@example.com"
  aws   = "alice"
}

user "bob" {
  email = "bob@example.com"
  aws   = "arn:aws:iam::123456789012:user/bob"
}
