# Product engineers: request debugging and data access.
team "eng" {
  members = ["alice", "dave", "frank", "grace"]
}
