# carl is not declared in people.hcl.
team "dba" {
  members = ["bob", "carl"]
}
