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

/// Checks on definitions alone: the problems each object carries from
/// parsing, references, contract rules, guardrails. Every diagnostic names
/// the object it makes invalid (its `Subject`).
pub fn validate_definitions(defs: &Definitions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    out.extend(object_errors(defs));
    let settings_loc = defs.settings.meta.as_ref().map(|m| m.at("admins").clone());
    if let Some(loc) = settings_loc {
        check_selectors(defs, &defs.settings.admins, &loc, Subject::Other, &mut out);
    }
    for n in defs.settings.notify.values() {
        for c in &n.contracts {
            if !defs.contracts.contains_key(c) {
                out.push(
                    Diagnostic::error(
                        n.meta.at("contracts").clone(),
                        format!("notify `{}`: unknown contract `{c}`", n.name),
                    )
                    .about(Subject::Other),
                );
            }
        }
    }

    let mut emails: BTreeMap<String, &str> = BTreeMap::new();
    let mut logins: BTreeMap<String, &str> = BTreeMap::new();
    for u in defs.users.values() {
        let about = || Subject::User(u.name.clone());
        if let Some(first) = emails.insert(u.email.to_ascii_lowercase(), &u.name) {
            out.push(
                Diagnostic::error(
                    u.meta.at("email").clone(),
                    format!(
                        "users `{first}` and `{}` share the email `{}`",
                        u.name, u.email
                    ),
                )
                .with_hint("an email identifies one person: approvals are matched by it")
                .about(about()),
            );
        }
        if let Some(gh) = &u.github
            && let Some(first) = logins.insert(gh.to_ascii_lowercase(), &u.name)
        {
            out.push(
                Diagnostic::error(
                    u.meta.at("github").clone(),
                    format!(
                        "users `{first}` and `{}` share the github login `{gh}`",
                        u.name
                    ),
                )
                .about(about()),
            );
        }
        match parse_principal_arn(&u.aws) {
            None => out.push(
                Diagnostic::error(
                    u.meta.at("aws").clone(),
                    format!("`aws` must be an IAM user or role ARN, not `{}`", u.aws),
                )
                .with_hint("like \"arn:aws:iam::123456789012:user/alice\"")
                .about(about()),
            ),
            Some(p) if defs.account_by_id(&p.account).is_none() => out.push(
                Diagnostic::error(
                    u.meta.at("aws").clone(),
                    format!(
                        "user `{}` is in AWS account {}, which no account block declares",
                        u.name, p.account
                    ),
                )
                .with_hint("add `account \"<name>\" { id = \"...\" }` to jit.hcl")
                .about(about()),
            ),
            Some(_) => {}
        }
    }

    for t in defs.teams.values() {
        for m in &t.members {
            if !defs.users.contains_key(m) {
                out.push(
                    Diagnostic::error(
                        t.meta.at("members").clone(),
                        format!("unknown user `{m}` in members of team `{}`", t.name),
                    )
                    .about(Subject::Team(t.name.clone())),
                );
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
            Subject::Guardrail(g.name.clone()),
            &mut out,
        );
        for a in &g.accounts {
            if !defs.accounts.contains_key(a) {
                out.push(
                    Diagnostic::error(
                        g.meta.at("accounts").clone(),
                        format!("unknown account `{a}` in guardrail `{}`", g.name),
                    )
                    .about(Subject::Guardrail(g.name.clone())),
                );
            }
        }
        for d in &g.deny_actions {
            if let Err(e) = pattern::actions_within("?", d) {
                out.push(
                    Diagnostic::error(
                        g.meta.at("deny_actions").clone(),
                        format!("deny_actions pattern `{d}`: {e}"),
                    )
                    .about(Subject::Guardrail(g.name.clone())),
                );
            }
        }
    }
    out
}

/// The problems found while reading each object, about that object: an
/// unknown attribute, block or mode, a wrong type, a duplicate name, or (for
/// the settings) a definitions file jit could not read.
fn object_errors(defs: &Definitions) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut add = |meta: &Meta, subject: Subject| {
        out.extend(
            meta.errors()
                .iter()
                .map(|d| d.clone().about(subject.clone())),
        );
    };
    if let Some(meta) = &defs.settings.meta {
        add(meta, Subject::Settings);
    }
    for a in defs.accounts.values() {
        add(&a.meta, Subject::Account(a.name.clone()));
    }
    for u in defs.users.values() {
        add(&u.meta, Subject::User(u.name.clone()));
    }
    for t in defs.teams.values() {
        add(&t.meta, Subject::Team(t.name.clone()));
    }
    for r in defs.roles.values() {
        // Its statements' problems are part of the role's.
        add(&r.meta, Subject::Role(r.name.clone()));
    }
    for c in defs.contracts.values() {
        add(&c.meta, Subject::Contract(c.name.clone()));
    }
    for n in defs.settings.notify.values() {
        // An invalid target is delivered nothing; it grants and blocks nothing.
        add(&n.meta, Subject::Other);
    }
    for g in defs.guardrails.values() {
        add(&g.meta, Subject::Guardrail(g.name.clone()));
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
    if let Some(account) = &c.account
        && !defs.accounts.contains_key(account)
    {
        out.push(err(
            "account",
            format!("unknown account `{account}` in contract `{}`", c.name),
        ));
    }
    let requesters: Vec<&User> = contract_requesters(defs, c);
    if c.mode == Mode::AssumeRole {
        for u in &requesters {
            if !is_role_session_name(&u.name) {
                out.push(
                    Diagnostic::error(
                        c.meta.at("requesters").clone(),
                        format!(
                            "user `{}` may request contract `{}`, but `{}` is not a valid sts:RoleSessionName (2-64 characters of letters, digits and +=,.@_-), which an assume_role grant requires",
                            u.name, c.name, u.name
                        ),
                    )
                    .with_hint("rename the user, or leave it out of this contract's requesters")
                    .about(Subject::Other),
                );
            }
        }
    }
    if c.require_mfa {
        let roles: Vec<&str> = requesters
            .iter()
            .filter(|u| parse_principal_arn(&u.aws).is_some_and(|p| p.kind == PrincipalKind::Role))
            .map(|u| u.name.as_str())
            .collect();
        if !roles.is_empty() {
            out.push(
                Diagnostic::warning(
                    c.meta.at("require_mfa").clone(),
                    format!(
                        "contract `{}` requires MFA, but requester(s) {} sign in as an IAM role: role sessions from SSO/SAML/OIDC carry no MFA key (aws:MultiFactorAuthPresent is absent), so their grants will deny every call",
                        c.name,
                        roles.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .with_hint("enforce MFA in the identity provider for those users, or give them IAM users")
                .about(Subject::Other),
            );
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

/// The users who may request a contract: its requesters, or everyone when
/// it names none.
pub fn contract_requesters<'d>(defs: &'d Definitions, c: &Contract) -> Vec<&'d User> {
    if c.requesters.is_empty() {
        defs.users.values().collect()
    } else {
        defs.expand(&c.requesters)
            .iter()
            .filter_map(|u| defs.users.get(u))
            .collect()
    }
}

/// Whether `name` is a valid `sts:RoleSessionName`: 2-64 characters of
/// `[\w+=,.@-]`.
pub fn is_role_session_name(name: &str) -> bool {
    (2..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// Whether guardrail `g` applies to contract `c`: it names no accounts, or
/// one it names is unknown (its scope cannot be known, so it applies), or
/// the contract's grants can land in one of its accounts.
pub fn guardrail_applies(defs: &Definitions, g: &Guardrail, c: &Contract) -> bool {
    g.accounts.is_empty()
        || g.accounts.iter().any(|a| match defs.accounts.get(a) {
            None => true,
            Some(acct) => contract_touches_account(defs, c, &acct.id),
        })
}

/// One guardrail against one contract.
fn check_guardrail(defs: &Definitions, g: &Guardrail, c: &Contract) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !guardrail_applies(defs, g, c) {
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
            .find_map(|a| {
                g.deny_actions
                    .iter()
                    .find_map(|d| match grants_denied(a, d) {
                        Ok(true) => Some((a, String::new())),
                        Ok(false) => None,
                        Err(e) => Some((a, format!(" (checked against `{d}`: {e})"))),
                    })
            });
        if let (Some((action, why)), false) = (denied, exempt) {
            let who = if g.breakglass_owners.is_empty() {
                String::from("no contract")
            } else {
                format!(
                    "only breakglass contracts owned by {}",
                    selector_list(&g.breakglass_owners)
                )
            };
            out.push(err("role", format!("role `{}` grants `{action}`, which {who} may grant{why}", role.name))
                .with_hint("narrow the role's actions, or mark the contract breakglass = true with the required owners"));
        }
    }
    out
}

/// Every IAM action: a service prefix, a colon, a name.
const EVERY_ACTION: &str = "?*:?*";

/// Whether a role action grants something a denied pattern forbids, ignoring
/// case as IAM does: some action matches both patterns (`*`, `ia?:PassRole`
/// and `*:CreateAccessKey` all grant something `iam:*` denies). A denied
/// pattern that matches every action (`*`) denies full admin: an action
/// that grants every action at once, not each single one.
pub fn grants_denied(action: &str, denied: &str) -> Result<bool, pattern::TooComplex> {
    if pattern::actions_within(EVERY_ACTION, denied)? {
        return pattern::actions_within(EVERY_ACTION, action);
    }
    pattern::actions_overlap(action, denied)
}

/// Whether the contract's grants can land in this account: a requester's
/// principal is there (every user, when the contract names no requesters),
/// its `role_arn` or `account` is, or a resource pattern's account field can
/// name it. An ARN without an account field (S3) never rules an account out;
/// it only does not rule one in.
pub fn contract_touches_account(defs: &Definitions, c: &Contract, account_id: &str) -> bool {
    let principal_there = contract_requesters(defs, c)
        .iter()
        .any(|u| parse_principal_arn(&u.aws).is_some_and(|p| p.account == account_id));
    let role_there = c
        .role_arn
        .as_deref()
        .and_then(parse_principal_arn)
        .is_some_and(|p| p.account == account_id);
    let named = c
        .account
        .as_ref()
        .and_then(|a| defs.accounts.get(a))
        .is_some_and(|a| a.id == account_id);
    let resource_there = c.resources.iter().any(|r| {
        r.split(':').nth(4).is_some_and(|field| {
            !field.is_empty() && pattern::overlaps(field, account_id).unwrap_or(true)
        })
    });
    principal_there || role_there || named || resource_there
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
    if let (Some(u), Some(c)) = (requester, defs.contracts.get(&req.contract))
        && c.mode == Mode::AssumeRole
        && !is_role_session_name(&u.name)
    {
        out.push(err(
            "requester",
            format!(
                "contract `{}` grants by assume_role with the user name as sts:RoleSessionName, and `{}` is not a valid one (2-64 characters)",
                c.name, u.name
            ),
        ));
    }
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
        // Allowed only if everything it can match is matched by one contract
        // pattern: `db:shard-*` is not within `db:shard-?`.
        let mut too_complex = None;
        let allowed = contract
            .resources
            .iter()
            .any(|p| match pattern::within(r, p) {
                Ok(yes) => yes,
                Err(e) => {
                    too_complex = Some(e);
                    false
                }
            });
        if !allowed {
            // Say why a wildcard that reads like a match is not one.
            let lookalike = contract.resources.iter().find_map(|p| {
                pattern::matches(p, r)
                    .then(|| pattern::counterexample(r, p).ok().flatten())
                    .flatten()
                    .map(|x| (p, x))
            });
            let why = match (&too_complex, lookalike) {
                (Some(e), _) => format!(": {e}"),
                (None, Some((p, x))) => {
                    format!(": it also matches names such as `{x}`, which `{p}` does not")
                }
                (None, None) => String::new(),
            };
            out.push(
                err(
                    "resources",
                    format!(
                        "resource `{r}` is not matched by contract `{}` resources{why}",
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
