# breakglass-admin: full administrator access, for emergencies only.
#
# The default guardrails (policies/guardrails/default.hcl) deny the "*" action
# to every contract except one with `breakglass = true` owned by a team named
# in the guardrail's breakglass_owners. Keep such a contract short (1h) and
# require MFA; every use is a request file in git history.
role "breakglass-admin" {
  description = "Administrator access to the account, for incidents"

  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}
