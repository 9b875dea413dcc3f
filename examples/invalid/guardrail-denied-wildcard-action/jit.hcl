# Settings and the one account of this test access repo.
settings {
  branch   = "main"
  approval = "trailers"
  admins   = ["user:alice"]
  bot {
    name  = "jit"
    email = "jit@example.com"
  }
}

account "prod" {
  id = "123456789012"
}
