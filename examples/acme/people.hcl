# Everyone who may request or approve access at Acme.
# `aws` is the IAM principal jit attaches grants to.

user "alice" {
  email  = "alice@acme.example"
  github = "alice-gh"
  aws    = "arn:aws:iam::123456789012:user/alice"
}

user "bob" {
  email  = "bob@acme.example"
  github = "bob-gh"
  aws    = "arn:aws:iam::123456789012:user/bob"
}

user "carol" {
  email  = "carol@acme.example"
  github = "carol-gh"
  aws    = "arn:aws:iam::123456789012:user/carol"
}

user "dave" {
  email  = "dave@acme.example"
  github = "dave-gh"
  aws    = "arn:aws:iam::123456789012:user/dave"
}

user "erin" {
  email  = "erin@acme.example"
  github = "erin-gh"
  aws    = "arn:aws:iam::123456789012:user/erin"
}

user "frank" {
  email  = "frank@acme.example"
  github = "frank-gh"
  aws    = "arn:aws:iam::123456789012:user/frank"
}

# Grace signs in through IAM Identity Center only: `sso` is her Identity
# Store UserName, and she needs no IAM principal (`aws`).
user "grace" {
  email  = "grace@acme.example"
  github = "grace-gh"
  sso    = "grace@acme.example"
}
