# Database administrators.
team "dba" {
  members = ["bob"]
}
