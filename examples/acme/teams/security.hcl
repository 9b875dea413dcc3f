# Security: admins of this repo, owners of every contract, approvers of
# shell and breakglass access. Two members, so one can approve the other.
team "security" {
  members = ["erin", "frank"]
}
