# Everyone who may request or approve access.
user "alice" {
  email = "alice@example.com"
  aws   = "arn:aws:iam::123456789012:user/alice"
}

user "bob" {
  email = "bob@example.com"
  aws   = "arn:aws:iam::123456789012:user/bob"
}
