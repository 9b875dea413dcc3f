# Database administrators: approve access to production databases and data.
team "dba" {
  members = ["bob", "carol"]
}
