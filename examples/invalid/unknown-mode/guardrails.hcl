# Default guardrails: limits every contract in the access repo must respect.
# `jit validate` and `jit plan` report a violation at the contract's line.
#
# Copy this file into your access repo (e.g. as guardrails.hcl). The
# "prod-mfa" guardrail names the account block "prod": rename it to match your
# jit.hcl, or list several accounts.

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
