//! Cross-reference and policy checks over a parsed access repo. Pure: returns
//! diagnostics, never stops at the first.

use std::collections::{BTreeMap, BTreeSet};

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
        if let Some(name) = &u.sso
            && !is_identity_store_user_name(name)
        {
            out.push(
                Diagnostic::error(
                    u.meta.at("sso").clone(),
                    format!("`sso` must be an Identity Store UserName (1-128 characters, no spaces or control characters), not `{name}`"),
                )
                .about(about()),
            );
        }
        match parse_principal_arn(&u.aws) {
            // A user who signs in through Identity Center only needs no ARN.
            None if u.aws.is_empty() && u.sso.is_some() => {}
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

    if let Some(ic) = &defs.settings.identity_center {
        out.extend(validate_identity_center(defs, ic));
    }

    // Two account blocks for one id would each plan the other's jit objects
    // as orphans and revoke them: both are in error, and grant nothing.
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in defs.accounts.values() {
        by_id.entry(a.id.as_str()).or_default().push(&a.name);
    }
    for a in defs.accounts.values() {
        let names = &by_id[a.id.as_str()];
        if names.len() > 1 {
            let others: Vec<String> = names
                .iter()
                .filter(|n| **n != a.name)
                .map(|n| format!("`{n}`"))
                .collect();
            out.push(
                Diagnostic::error(
                    a.meta.at("id").clone(),
                    format!(
                        "account `{}` has id {}, like {}: each AWS account is declared once",
                        a.name,
                        a.id,
                        others.join(", ")
                    ),
                )
                .about(Subject::Account(a.name.clone())),
            );
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
    if let Some(ic) = &defs.settings.identity_center {
        add(&ic.meta, Subject::IdentityCenter);
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
    if c.mode == Mode::IdentityCenter {
        if defs.settings.identity_center.is_none() {
            out.push(
                err(
                    "mode",
                    "mode \"identity_center\" needs an identity_center block in jit.hcl".into(),
                )
                .with_hint("declare identity_center { instance_arn, identity_store_id, region }"),
            );
        }
        if let Err(why) = contract_account(defs, c) {
            out.push(err("account", why).with_hint(
                "set account = \"<name>\" on the contract: the account its permission sets are provisioned to",
            ));
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
    if c.require_mfa && c.mode == Mode::IdentityCenter {
        out.push(
            Diagnostic::warning(
                c.meta.at("require_mfa").clone(),
                format!(
                    "contract `{}` requires MFA, but Identity Center sessions come from SAML and carry no MFA key (aws:MultiFactorAuthPresent is absent), so its grants will deny every call",
                    c.name
                ),
            )
            .with_hint("require MFA in Identity Center's sign-in settings instead, and set require_mfa = false")
            .about(Subject::Other),
        );
    }
    if c.require_mfa && c.mode != Mode::IdentityCenter {
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

/// The account (by id) an identity_center contract's permission sets are
/// provisioned to: its `account`, or else the one account its resource
/// patterns all name.
pub fn contract_account(defs: &Definitions, c: &Contract) -> Result<String, String> {
    if let Some(name) = &c.account {
        return defs
            .accounts
            .get(name)
            .map(|a| a.id.clone())
            .ok_or_else(|| format!("unknown account `{name}` in contract `{}`", c.name));
    }
    let ids: BTreeSet<&str> = c
        .resources
        .iter()
        .map(|r| r.split(':').nth(4).unwrap_or(""))
        .collect();
    match ids.into_iter().collect::<Vec<_>>().as_slice() {
        [id] if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
            match defs.account_by_id(id) {
                Some(a) => Ok(a.id.clone()),
                None => Err(format!(
                    "contract `{}` grants in AWS account {id}, which no account block declares",
                    c.name
                )),
            }
        }
        _ => Err(format!(
            "contract `{}` (mode identity_center) needs `account`: its resources do not all name one account",
            c.name
        )),
    }
}

/// The principal of a grant as plan, trailers, status and audit name it: the
/// user's `aws` ARN, or for mode identity_center the Identity Store user in
/// the account (`sso:<account-id>:user/<UserName>`).
pub fn principal_of(defs: &Definitions, user: &User, contract: &Contract) -> String {
    if contract.mode != Mode::IdentityCenter {
        return user.aws.clone();
    }
    let account = contract_account(defs, contract).unwrap_or_default();
    sso_principal(&account, user.sso.as_deref().unwrap_or_default())
}

/// `sso:<account-id>:user/<UserName>`: an Identity Store user in an account.
pub fn sso_principal(account: &str, user_name: &str) -> String {
    format!("sso:{account}:user/{user_name}")
}

/// The `identity_center` block's values, and the account it is reached through.
fn validate_identity_center(defs: &Definitions, ic: &IdentityCenter) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let err = |attr: &str, msg: String| {
        Diagnostic::error(ic.meta.at(attr).clone(), msg).about(Subject::IdentityCenter)
    };
    let instance = ic
        .instance_arn
        .split_once(":sso:::instance/")
        .filter(|(head, id)| {
            head.starts_with("arn:aws")
                && !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        });
    if instance.is_none() && ic.meta.attrs.locs.contains_key("instance_arn") {
        out.push(
            err(
                "instance_arn",
                format!("`instance_arn` must be an Identity Center instance ARN, not `{}`", ic.instance_arn),
            )
            .with_hint("like \"arn:aws:sso:::instance/ssoins-0123456789abcdef\" (aws sso-admin list-instances)"),
        );
    }
    let store = &ic.identity_store_id;
    let store_ok = store
        .strip_prefix("d-")
        .is_some_and(|rest| rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !store_ok && ic.meta.attrs.locs.contains_key("identity_store_id") {
        out.push(
            err(
                "identity_store_id",
                format!("`identity_store_id` must be `d-` and 10 letters or digits, not `{store}`"),
            )
            .with_hint("like \"d-1234567890\" (aws sso-admin list-instances)"),
        );
    }
    let region_ok = !ic.region.is_empty()
        && ic
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok && ic.meta.attrs.locs.contains_key("region") {
        out.push(err(
            "region",
            format!(
                "`region` must be an AWS region such as \"us-east-1\", not `{}`",
                ic.region
            ),
        ));
    }
    if let Some(a) = &ic.account
        && !defs.accounts.contains_key(a)
    {
        out.push(err(
            "account",
            format!("unknown account `{a}` in the identity_center block"),
        ));
    }
    out
}

/// Whether `name` can be an Identity Store UserName.
pub fn is_identity_store_user_name(name: &str) -> bool {
    (1..=128).contains(&name.chars().count())
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
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
    // An identity_center grant lands only in the contract's account, never
    // on the requesters' IAM principals.
    let principal_there = c.mode != Mode::IdentityCenter
        && contract_requesters(defs, c)
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
    if let (Some(u), Some(c)) = (requester, defs.contracts.get(&req.contract)) {
        if c.mode == Mode::IdentityCenter && u.sso.is_none() {
            out.push(
                err(
                    "requester",
                    format!(
                        "contract `{}` grants through Identity Center, and user `{}` has no `sso` (Identity Store UserName)",
                        c.name, u.name
                    ),
                )
                .with_hint(format!("add sso = \"<UserName>\" to user `{}`", u.name)),
            );
        }
        if c.mode != Mode::IdentityCenter && u.aws.is_empty() {
            out.push(err(
                "requester",
                format!(
                    "contract `{}` grants in IAM (mode {}), and user `{}` has no `aws` principal",
                    c.name,
                    c.mode.as_str(),
                    u.name
                ),
            ).with_hint(format!("add aws = \"arn:aws:iam::<account>:user/<name>\" to user `{}`", u.name)));
        }
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

#[cfg(test)]
mod identity_center_tests {
    use super::*;
    use crate::config::parse::{SourceFile, parse_files};

    const JIT: &str = r#"settings {
  admins = ["team:sec"]
}
account "prod" { id = "111111111111" }
account "dev" { id = "222222222222" }
identity_center {
  instance_arn      = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
  identity_store_id = "d-1234567890"
  region            = "us-east-1"
}
user "alice" {
  email = "alice@x"
  aws   = "arn:aws:iam::111111111111:user/alice"
  sso   = "alice@x"
}
user "grace" {
  email = "grace@x"
  sso   = "grace@x"
}
user "bob" {
  email = "bob@x"
  aws   = "arn:aws:iam::111111111111:user/bob"
}
team "sec" { members = ["bob"] }
role "r" {
  statement {
    actions   = ["s3:GetObject"]
    resources = []
  }
}
contract "sso" {
  role      = "r"
  resources = ["arn:aws:s3:::x-*"]
  approvers = ["team:sec"]
  mode      = "identity_center"
  account   = "dev"
}
contract "iam" {
  role      = "r"
  resources = ["arn:aws:s3:::x-*"]
  approvers = ["team:sec"]
}
"#;

    fn defs(extra: &str, replace: (&str, &str)) -> (AccessRepo, Vec<Diagnostic>) {
        let text = format!("{}{extra}", JIT.replace(replace.0, replace.1));
        let (repo, mut diags) = parse_files(&[SourceFile {
            path: "jit.hcl".into(),
            text,
        }]);
        diags.extend(validate(&repo));
        (repo, diags)
    }

    fn errors(diags: &[Diagnostic]) -> Vec<String> {
        diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect()
    }

    /// Two blocks for one AWS account would revoke each other's grants as
    /// orphans: both are errors, about their accounts, at their `id`.
    #[test]
    fn an_account_id_is_declared_once() {
        let (_, diags) = defs(
            "account \"prod-again\" { id = \"111111111111\" }\n",
            ("", ""),
        );
        let dup: Vec<&Diagnostic> = diags
            .iter()
            .filter(|d| d.is_error() && d.message.contains("each AWS account is declared once"))
            .collect();
        let subjects: Vec<&Subject> = dup.iter().map(|d| &d.subject).collect();
        assert_eq!(
            subjects,
            [
                &Subject::Account("prod".into()),
                &Subject::Account("prod-again".into())
            ],
            "{diags:?}"
        );
        assert!(dup[1].loc.line > dup[0].loc.line, "{dup:?}");
    }

    #[test]
    fn a_valid_identity_center_repo_has_no_errors() {
        let (repo, diags) = defs("", ("", ""));
        assert!(errors(&diags).is_empty(), "{diags:?}");
        let c = &repo.defs.contracts["sso"];
        assert_eq!(contract_account(&repo.defs, c).unwrap(), "222222222222");
        let grace = &repo.defs.users["grace"];
        assert_eq!(
            principal_of(&repo.defs, grace, c),
            "sso:222222222222:user/grace@x"
        );
        let alice = &repo.defs.users["alice"];
        let iam = &repo.defs.contracts["iam"];
        assert_eq!(
            principal_of(&repo.defs, alice, iam),
            "arn:aws:iam::111111111111:user/alice"
        );
    }

    /// Grants land in the contract's account, never on the requesters' IAM
    /// principals: only guardrails of that account apply.
    #[test]
    fn account_guardrails_follow_the_contracts_account() {
        let prod = "guardrail \"g\" {\n  accounts = [\"prod\"]\n  require_mfa = true\n}\n";
        let (_, diags) = defs(prod, ("", ""));
        let hit = |diags: &[Diagnostic], contract: &str| {
            diags.iter().any(|d| {
                d.is_error()
                    && d.message.contains("guardrail `g`")
                    && d.subject == Subject::Contract(contract.into())
            })
        };
        assert!(!hit(&diags, "sso"), "{diags:?}");
        assert!(hit(&diags, "iam"), "{diags:?}");
        let dev = prod.replace("prod", "dev");
        let (_, diags) = defs(&dev, ("", ""));
        let hits: Vec<&Diagnostic> = diags
            .iter()
            .filter(|d| d.is_error() && d.message.contains("guardrail `g`"))
            .collect();
        assert_eq!(hits.len(), 1, "{diags:?}");
        assert_eq!(hits[0].subject, Subject::Contract("sso".into()));
    }

    #[test]
    fn contracts_need_the_block_and_one_account() {
        let (_, diags) = defs(
            "",
            (
                "identity_center {\n  instance_arn",
                "# no identity_center block\nlocals {\n  instance_arn",
            ),
        );
        assert!(
            errors(&diags)
                .iter()
                .any(|e| e.contains("needs an identity_center block")),
            "{diags:?}"
        );
        let (_, diags) = defs("", ("  account   = \"dev\"\n", ""));
        assert!(
            errors(&diags).iter().any(|e| e.contains("needs `account`")),
            "{diags:?}"
        );
    }

    #[test]
    fn bad_values_make_the_block_invalid() {
        let (_, diags) = defs("", ("d-1234567890", "store"));
        let bad: Vec<&Diagnostic> = diags
            .iter()
            .filter(|d| d.is_error() && d.subject == Subject::IdentityCenter)
            .collect();
        assert_eq!(bad.len(), 1, "{diags:?}");
        assert!(bad[0].message.contains("identity_store_id"));
        let (_, diags) = defs("", ("arn:aws:sso:::instance/", "arn:aws:iam::1:role/"));
        assert!(
            diags
                .iter()
                .any(|d| d.subject == Subject::IdentityCenter && d.message.contains("instance_arn")),
            "{diags:?}"
        );
    }

    #[test]
    fn requesters_need_the_identity_their_contract_grants_to() {
        let (repo, _) = defs("", ("", ""));
        let req = |requester: &str, contract: &str| Request {
            name: "x".into(),
            requester: requester.into(),
            contract: contract.into(),
            duration: None,
            reason: String::new(),
            resources: Vec::new(),
            not_before: None,
            meta: repo.defs.users["bob"].meta.clone(),
        };
        let msgs = |r: Request| errors(&validate_request(&repo.defs, &r));
        assert!(msgs(req("alice", "sso")).is_empty());
        assert!(msgs(req("grace", "sso")).is_empty());
        assert!(
            msgs(req("bob", "sso"))
                .iter()
                .any(|e| e.contains("has no `sso`")),
            "an identity_center grant needs an Identity Store user"
        );
        assert!(
            msgs(req("grace", "iam"))
                .iter()
                .any(|e| e.contains("has no `aws`")),
            "an IAM grant needs an IAM principal"
        );
    }
}
