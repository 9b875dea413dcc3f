# Security owns breakglass contracts (see guardrails.hcl).
team "security" {
  members = ["bob"]
}
