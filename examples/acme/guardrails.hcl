# Guardrails: limits every contract in this repo must respect, copied from
# jit's policies/guardrails/default.hcl. Changing them needs admin approval.

# No standing access in disguise: every grant ends within a working day.
guardrail "max-duration" {
  description  = "Contracts may grant access for at most 12 hours"
  max_duration = "12h"
}

# Contracts on production resources must require MFA on every grant.
guardrail "prod-mfa" {
  description = "Grants on production resources require MFA"
  accounts    = ["prod"]
  require_mfa = true
}

# Full admin and identity/organization control only through a breakglass
# contract owned by security.
guardrail "no-admin-actions" {
  description       = "Admin, IAM, Organizations and STS actions only via breakglass owned by security"
  deny_actions      = ["*", "iam:*", "organizations:*", "sts:*"]
  breakglass_owners = ["team:security"]
}
