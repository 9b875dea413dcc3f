//! Cross-reference and policy checks over a parsed access repo. Pure: returns
//! diagnostics, never stops at the first.

use std::collections::BTreeMap;

use super::pattern;
use super::*;
use crate::diag::{self, Diagnostic, Subject};

/// Every problem in the repo's definitions and requests, sorted.
pub fn validate(repo: &AccessRepo) -> Vec<Diagnostic> {
    let mut out = validate_definitions(&repo.defs);
    for req in repo.requests.values() {
        out.extend(validate_request(&repo.defs, req));
    }
    diag::sort(&mut out);
    out
}

/// Checks on definitions alone: references, contract rules, guardrails.
pub fn validate_definitions(defs: &Definitions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let settings_loc = defs.settings.meta.as_ref().map(|m| m.at("admins").clone());
    if let Some(loc) = settings_loc {
        check_selectors(defs, &defs.settings.admins, &loc, Subject::Other, &mut out);
    }

    let mut emails: BTreeMap<String, &str> = BTreeMap::new();
    let mut logins: BTreeMap<String, &str> = BTreeMap::new();
    for u in defs.users.values() {
        if let Some(first) = emails.insert(u.email.to_ascii_lowercase(), &u.name) {
            out.push(
                Diagnostic::error(
                    u.meta.at("email").clone(),
                    format!(
                        "users `{first}` and `{}` share the email `{}`",
                        u.name, u.email
                    ),
                )
                .with_hint("an email identifies one person: approvals are matched by it"),
            );
        }
        if let Some(gh) = &u.github
            && let Some(first) = logins.insert(gh.to_ascii_lowercase(), &u.name)
        {
            out.push(Diagnostic::error(
                u.meta.at("github").clone(),
                format!(
                    "users `{first}` and `{}` share the github login `{gh}`",
                    u.name
                ),
            ));
        }
        match parse_principal_arn(&u.aws) {
            None => out.push(
                Diagnostic::error(
                    u.meta.at("aws").clone(),
                    format!("`aws` must be an IAM user or role ARN, not `{}`", u.aws),
                )
                .with_hint("like \"arn:aws:iam::123456789012:user/alice\""),
            ),
            Some(p) if defs.account_by_id(&p.account).is_none() => out.push(
                Diagnostic::error(
                    u.meta.at("aws").clone(),
                    format!(
                        "user `{}` is in AWS account {}, which no account block declares",
                        u.name, p.account
                    ),
                )
                .with_hint("add `account \"<name>\" { id = \"...\" }` to jit.hcl"),
            ),
            Some(_) => {}
        }
    }

    for t in defs.teams.values() {
        for m in &t.members {
            if !defs.users.contains_key(m) {
                out.push(Diagnostic::error(
                    t.meta.at("members").clone(),
                    format!("unknown user `{m}` in members of team `{}`", t.name),
                ));
            }
        }
    }

    for c in defs.contracts.values() {
        out.extend(validate_contract(defs, c));
    }

    for g in defs.guardrails.values() {
        check_selectors(
            defs,
            &g.breakglass_owners,
            g.meta.at("breakglass_owners"),
            Subject::Other,
            &mut out,
        );
        for a in &g.accounts {
            if !defs.accounts.contains_key(a) {
                out.push(Diagnostic::error(
                    g.meta.at("accounts").clone(),
                    format!("unknown account `{a}` in guardrail `{}`", g.name),
                ));
            }
        }
    }
    out
}

fn validate_contract(defs: &Definitions, c: &Contract) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let subject = || Subject::Contract(c.name.clone());
    let err =
        |attr: &str, msg: String| Diagnostic::error(c.meta.at(attr).clone(), msg).about(subject());
    if !c.role.is_empty() && !defs.roles.contains_key(&c.role) {
        out.push(err(
            "role",
            format!("unknown role `{}` in contract `{}`", c.role, c.name),
        ));
    }
    check_selectors(
        defs,
        &c.requesters,
        c.meta.at("requesters"),
        subject(),
        &mut out,
    );
    check_selectors(
        defs,
        &c.approvers,
        c.meta.at("approvers"),
        subject(),
        &mut out,
    );
    check_selectors(defs, &c.owners, c.meta.at("owners"), subject(), &mut out);
    if c.min_approvals == 0 && !c.auto_approve {
        out.push(
            err(
                "min_approvals",
                "min_approvals = 0 requires auto_approve = true".into(),
            )
            .with_hint("set min_approvals >= 1, or auto_approve = true for low-sensitivity access"),
        );
    }
    if !c.auto_approve && c.min_approvals > 0 && c.approvers.is_empty() {
        out.push(err(
            "approvers",
            format!("contract `{}` needs approvers", c.name),
        ));
    }
    if c.mode == Mode::AssumeRole && c.role_arn.is_none() {
        out.push(
            err("mode", "mode \"assume_role\" needs role_arn".into())
                .with_hint("set role_arn to the role users will assume"),
        );
    }
    if let Some(arn) = &c.role_arn {
        match parse_principal_arn(arn) {
            Some(p) if p.kind == PrincipalKind::Role => {
                if defs.account_by_id(&p.account).is_none() {
                    out.push(err(
                        "role_arn",
                        format!(
                            "role_arn is in AWS account {}, which no account block declares",
                            p.account
                        ),
                    ));
                }
            }
            _ => out.push(
                err(
                    "role_arn",
                    format!("role_arn `{arn}` must be an IAM role ARN"),
                )
                .with_hint("like \"arn:aws:iam::123456789012:role/prod-db-admin\""),
            ),
        }
    }
    if c.default_duration > c.max_duration {
        out.push(err(
            "default_duration",
            format!(
                "default_duration {} exceeds max_duration {}",
                c.default_duration, c.max_duration
            ),
        ));
    }
    if c.resources.is_empty() {
        out.push(
            err(
                "resources",
                format!("contract `{}` names no resources", c.name),
            )
            .with_hint("list ARN patterns, e.g. \"arn:aws:s3:::logs-*\""),
        );
    }
    for g in defs.guardrails.values() {
        out.extend(check_guardrail(defs, g, c));
    }
    out
}

/// One guardrail against one contract.
fn check_guardrail(defs: &Definitions, g: &Guardrail, c: &Contract) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let applies = g.accounts.is_empty()
        || g.accounts.iter().any(|a| {
            defs.accounts
                .get(a)
                .is_some_and(|acct| contract_touches_account(c, &acct.id))
        });
    if !applies {
        return out;
    }
    let err = |attr: &str, msg: String| {
        Diagnostic::error(
            c.meta.at(attr).clone(),
            format!("guardrail `{}`: {msg}", g.name),
        )
        .about(Subject::Contract(c.name.clone()))
    };
    if let Some(cap) = g.max_duration
        && c.max_duration > cap
    {
        out.push(err(
            "max_duration",
            format!("max_duration {} exceeds the cap of {cap}", c.max_duration),
        ));
    }
    if g.require_mfa && !c.require_mfa {
        let scope = if g.accounts.is_empty() {
            "every contract".to_string()
        } else {
            format!("contracts on account(s) {}", g.accounts.join(", "))
        };
        out.push(err(
            "require_mfa",
            format!("{scope} must set require_mfa = true"),
        ));
    }
    if let Some(role) = defs.roles.get(&c.role) {
        let exempt = c.breakglass
            && !g.breakglass_owners.is_empty()
            && c.owners.iter().any(|o| g.breakglass_owners.contains(o));
        let denied = role
            .statements
            .iter()
            .flat_map(|s| &s.actions)
            .find(|a| g.deny_actions.iter().any(|d| grants_denied(a, d)));
        if let (Some(action), false) = (denied, exempt) {
            let who = if g.breakglass_owners.is_empty() {
                String::from("no contract")
            } else {
                format!(
                    "only breakglass contracts owned by {}",
                    selector_list(&g.breakglass_owners)
                )
            };
            out.push(err("role", format!("role `{}` grants `{action}`, which {who} may grant", role.name))
                .with_hint("narrow the role's actions, or mark the contract breakglass = true with the required owners"));
        }
    }
    out
}

/// Whether a role action grants something a denied pattern forbids: `*`
/// grants `iam:*`; `iam:PassRole` falls under `iam:*`; but denying `*` means
/// denying the grant of every action at once, not of any single action.
fn grants_denied(action: &str, denied: &str) -> bool {
    let (a, d) = (action.to_ascii_lowercase(), denied.to_ascii_lowercase());
    pattern::matches(&a, &d) || (d != "*" && pattern::matches(&d, &a))
}

/// Whether one of the contract's resource patterns names this account id.
fn contract_touches_account(c: &Contract, account_id: &str) -> bool {
    c.resources.iter().any(|r| {
        r.split(':')
            .nth(4)
            .is_some_and(|field| !field.is_empty() && pattern::overlaps(field, account_id))
    })
}

/// Checks on one request against the definitions it refers to.
pub fn validate_request(defs: &Definitions, req: &Request) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let err = |attr: &str, msg: String| {
        Diagnostic::error(req.meta.at(attr).clone(), msg).about(Subject::Request(req.name.clone()))
    };
    if req.name == "session-revocations" {
        out.push(
            Diagnostic::error(
                req.meta.loc.clone(),
                "the request name `session-revocations` is reserved by jit",
            )
            .about(Subject::Request(req.name.clone())),
        );
    }
    let requester = defs.users.get(&req.requester);
    if requester.is_none() && !req.requester.is_empty() {
        out.push(
            err("requester", format!("unknown user `{}`", req.requester))
                .with_hint("requester must be a user declared in a definitions file"),
        );
    }
    let Some(contract) = defs.contracts.get(&req.contract) else {
        if !req.contract.is_empty() {
            let names: Vec<&str> = defs.contracts.keys().map(String::as_str).collect();
            out.push(
                err("contract", format!("unknown contract `{}`", req.contract))
                    .with_hint(format!("known contracts: {}", names.join(", "))),
            );
        }
        return out;
    };
    let duration = req.duration.unwrap_or(contract.default_duration);
    if duration > contract.max_duration {
        out.push(err(
            "duration",
            format!(
                "duration {duration} exceeds contract `{}` max_duration {}",
                contract.name, contract.max_duration
            ),
        ));
    }
    for r in &req.resources {
        if !contract.resources.iter().any(|p| pattern::within(r, p)) {
            out.push(
                err(
                    "resources",
                    format!(
                        "resource `{r}` is not matched by contract `{}` resources",
                        contract.name
                    ),
                )
                .with_hint(format!("allowed: {}", contract.resources.join(", "))),
            );
        }
    }
    if requester.is_some()
        && !contract.requesters.is_empty()
        && !defs.expand(&contract.requesters).contains(&req.requester)
    {
        out.push(err(
            "requester",
            format!(
                "requester `{}` is not allowed by contract `{}` (requesters: {})",
                req.requester,
                contract.name,
                selector_list(&contract.requesters)
            ),
        ));
    }
    if contract.require_reason && req.reason.trim().is_empty() {
        out.push(
            err(
                "reason",
                format!("contract `{}` requires a reason", contract.name),
            )
            .with_hint("say why you need access, e.g. the incident or ticket"),
        );
    }
    out
}

fn check_selectors(
    defs: &Definitions,
    selectors: &[Selector],
    loc: &crate::diag::Loc,
    subject: Subject,
    out: &mut Vec<Diagnostic>,
) {
    for s in selectors {
        let missing = match s {
            Selector::Team(t) => {
                (!defs.teams.contains_key(t)).then(|| format!("unknown team `{t}`"))
            }
            Selector::User(u) => {
                (!defs.users.contains_key(u)).then(|| format!("unknown user `{u}`"))
            }
        };
        if let Some(msg) = missing {
            out.push(
                Diagnostic::error(loc.clone(), format!("{msg} in selector `{s}`"))
                    .about(subject.clone()),
            );
        }
    }
}

/// An IAM principal named by a user's `aws` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalArn {
    pub account: String,
    pub kind: PrincipalKind,
    /// The user or role name, without its path.
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Role,
}

pub fn parse_principal_arn(arn: &str) -> Option<PrincipalArn> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_lit != "arn" || !partition.starts_with("aws") || service != "iam" || !region.is_empty() {
        return None;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kind, path) = match resource.split_once('/') {
        Some(("user", p)) => (PrincipalKind::User, p),
        Some(("role", p)) => (PrincipalKind::Role, p),
        _ => return None,
    };
    let name = path.rsplit('/').next()?;
    let ok = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return None;
    }
    Some(PrincipalArn {
        account: account.to_string(),
        kind,
        name: name.to_string(),
    })
}
