//! Desired grants (from the access repo at `now`) against IAM as it is ->
//! a Plan: plain, serializable data that renderers and apply share. Pure.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::approval::Verdict;
use crate::config::validate::{self, PrincipalKind, parse_principal_arn};
use crate::config::{Contract, Definitions, Mode};
use crate::diag::Subject;
use crate::git::endings::{Ending, Endings};
use crate::git::history::{RequestRecord, Snapshot};
use crate::iam::{
    AccountState, IdentityCenterState, Owned, SID_PREFIX, Target, encode_name, legacy_sid_for,
    permission_set_name,
};
use crate::policy;

pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Grant,
    Update,
    Revoke,
    Archive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Expired,
    Revoked,
}

/// One IAM write: put `document` (or delete when `None`) at `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamChange {
    pub target: Target,
    pub document: Option<String>,
    /// The object's document when planned (null: absent), to refuse stale plans.
    pub observed: Option<Value>,
    /// A trust statement under an older Sid that the same write removes
    /// (migration to injective Sids, without a moment of lost access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Target>,
    /// Apply must not make this write later than this: an early revocation's
    /// session deny covers sessions issued up to `now` + [`REVOKE_MARGIN`],
    /// so the trust statement must be gone well before that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<DateTime<Utc>>,
}

/// How long past its issued-before time a session deny is kept: no session
/// lives longer (IAM caps a role's MaxSessionDuration at 12 hours, and
/// reading each role's own value would cost a call per role).
pub const MAX_SESSION: chrono::TimeDelta = chrono::TimeDelta::hours(12);
/// An early revocation denies the user's sessions issued up to the plan's
/// `now` plus this margin: time for apply to remove the trust statement
/// ([`APPLY_WITHIN`]) and for IAM to propagate the removal (the rest).
pub const REVOKE_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// A plan with an early revocation of an assume_role grant is applied within
/// this time of its `now`, or refused (re-plan): 3 minutes stay for IAM to
/// propagate the trust statement's removal.
pub const APPLY_WITHIN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// Moving an ended request to the archive, with what its trailers record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveMove {
    pub from: String,
    pub to: String,
    pub contract: String,
    pub requester: String,
    pub approved_by: Vec<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who ended it early (`jit revoke`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub action: ActionKind,
    pub request: String,
    pub principal: String,
    pub account: String,
    pub target: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<IamChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveMove>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub request: String,
    pub state: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub grant: usize,
    pub update: usize,
    pub revoke: usize,
    pub archive: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub iam_calls: usize,
    #[serde(default)]
    pub github_calls: usize,
    pub elapsed_ms: u128,
    /// Of `elapsed_ms`, the time spent reading IAM.
    #[serde(default)]
    pub iam_ms: u128,
    pub commits: usize,
    /// Tree objects the history reader loaded (linear in history size).
    #[serde(default)]
    pub trees_read: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub branch: String,
    pub commit: String,
    pub now: DateTime<Utc>,
    pub actions: Vec<Action>,
    pub pending: Vec<Pending>,
    /// Problems that make the run fail (invalid requests, quotas); everything
    /// else still proceeds.
    pub errors: Vec<String>,
    /// Definition changes at head that are not in force (not approved).
    pub unapproved: Vec<String>,
    pub summary: Summary,
    pub stats: Stats,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Takes out every action that adds or changes access (grants and
    /// updates), each becoming an error that says `why`; revocations and
    /// archive moves stay. Returns how many were withheld.
    pub fn withhold_access(&mut self, why: &str) -> usize {
        let before = self.actions.len();
        let (withheld, kept): (Vec<Action>, Vec<Action>) = std::mem::take(&mut self.actions)
            .into_iter()
            .partition(|a| matches!(a.action, ActionKind::Grant | ActionKind::Update));
        self.actions = kept;
        for a in &withheld {
            let what = if a.action == ActionKind::Grant {
                "grant"
            } else {
                "update"
            };
            self.errors
                .push(format!("{}: {what} withheld: {why}", a.request));
        }
        self.summary = summarize(&self.actions);
        before - self.actions.len()
    }
}

/// A grant that should exist now.
#[derive(Debug, Clone)]
pub struct Grant {
    pub request: String,
    pub principal: String,
    pub account: String,
    pub target: Target,
    pub document: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub role: String,
    /// For assume_role: the session name the trust statement requires.
    pub session: Option<String>,
}

/// The request's window: start = max(approved_at, not_before), end = start + duration.
pub fn window(record: &RequestRecord) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let duration = record.duration?;
    let start = record
        .request
        .not_before
        .map_or(record.approved_at, |nb| nb.max(record.approved_at));
    Some((start, start + duration.to_delta()))
}

/// Why a request cannot be granted, if it cannot: its own errors, or an
/// error in any definition it depends on, judged in the definitions in
/// force. Definitions fail closed: an invalid contract, role, requester,
/// team the contract names, account its grants land in, guardrail in its
/// scope (every guardrail whose scope cannot be known) or settings make the
/// request grant nothing.
pub fn invalid_reason(
    snapshot: &Snapshot,
    defs_diags: &[crate::diag::Diagnostic],
    record: &RequestRecord,
) -> Option<String> {
    let req = &record.request;
    let defs = &snapshot.effective;
    let own: Vec<String> = snapshot
        .diags
        .iter()
        .filter(|d| d.is_error() && d.subject == Subject::Request(req.name.clone()))
        .chain(validate::validate_request(defs, req).iter())
        .map(|d| d.to_string())
        .collect();
    if let Some(first) = own.first() {
        return Some(first.clone());
    }
    definitions_problem(defs, defs_diags, req)
}

/// Why the definitions `req` depends on make it grant nothing, if they do
/// (fail closed): the part of [`invalid_reason`] that is about definitions,
/// also used to judge a request version against the definitions in force at
/// its approving commit.
pub fn definitions_problem(
    defs: &Definitions,
    defs_diags: &[crate::diag::Diagnostic],
    req: &crate::config::Request,
) -> Option<String> {
    let contract = defs.contracts.get(&req.contract)?;
    let teams: BTreeSet<&String> = [&contract.requesters, &contract.approvers, &contract.owners]
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            crate::config::Selector::Team(t) => Some(t),
            crate::config::Selector::User(_) => None,
        })
        .collect();
    let requester_account = defs
        .users
        .get(&req.requester)
        .and_then(|u| parse_principal_arn(&u.aws))
        .map(|p| p.account);
    let why = |subject: &Subject| -> Option<String> {
        Some(match subject {
            Subject::Settings => "the settings are invalid, so nothing is granted".to_string(),
            Subject::IdentityCenter if contract.mode == Mode::IdentityCenter => format!(
                "the identity_center block, which contract `{}` grants through, has an error",
                contract.name
            ),
            Subject::Contract(c) if *c == contract.name => {
                format!("contract `{}` has an error", contract.name)
            }
            Subject::Role(r) if *r == contract.role => {
                format!("role `{r}` of contract `{}` has an error", contract.name)
            }
            Subject::User(u) if *u == req.requester => {
                format!("requester `{u}` has an error")
            }
            Subject::Team(t) if teams.contains(t) => format!(
                "team `{t}`, named by contract `{}`, has an error",
                contract.name
            ),
            Subject::Guardrail(g)
                if defs
                    .guardrails
                    .get(g)
                    .is_none_or(|g| validate::guardrail_applies(defs, g, contract)) =>
            {
                format!(
                    "guardrail `{g}`, which applies to contract `{}`, has an error",
                    contract.name
                )
            }
            Subject::Account(a)
                if defs.accounts.get(a).is_none_or(|a| {
                    requester_account.as_deref() == Some(a.id.as_str())
                        || validate::contract_touches_account(defs, contract, &a.id)
                }) || (contract.mode == Mode::IdentityCenter
                    && defs
                        .settings
                        .identity_center
                        .as_ref()
                        .is_some_and(|ic| ic.account.as_ref() == Some(a))) =>
            {
                format!(
                    "account `{a}`, where contract `{}` grants, has an error",
                    contract.name
                )
            }
            _ => return None,
        })
    };
    defs_diags
        .iter()
        .filter(|d| d.is_error())
        .find_map(|d| why(&d.subject).map(|w| format!("{w}: {d}")))
}

/// Where a request stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// It cannot be granted: its own errors, or its contract's or role's.
    Invalid(String),
    /// Not (or no longer) approved, and why.
    Awaiting(String),
    NotStarted(DateTime<Utc>),
    Active(DateTime<Utc>, DateTime<Utc>),
    Ended(DateTime<Utc>, DateTime<Utc>),
}

/// Classifies a request: the one place plan and status decide what a
/// request in `requests/` means now.
pub fn standing(
    snapshot: &Snapshot,
    defs_diags: &[crate::diag::Diagnostic],
    record: &RequestRecord,
    now: DateTime<Utc>,
) -> Standing {
    if let Some(reason) = invalid_reason(snapshot, defs_diags, record) {
        return Standing::Invalid(reason);
    }
    if record.verdict.is_approved()
        && let Some(why) = &record.invalid_then
    {
        return Standing::Invalid(format!(
            "{}: invalid when it was approved in {} ({why}); a request approved while invalid never becomes valid: re-propose it",
            record.request.name,
            crate::git::short(record.commit)
        ));
    }
    if let Verdict::Pending { reason } = &record.verdict {
        return Standing::Awaiting(reason.clone());
    }
    match window(record) {
        None => Standing::Invalid(format!(
            "contract `{}` was not in force when it was approved",
            record.request.contract
        )),
        Some((start, _)) if now < start => Standing::NotStarted(start),
        Some((start, end)) if now >= end => Standing::Ended(start, end),
        Some((start, end)) => Standing::Active(start, end),
    }
}

/// The IAM target and document for an approved request in its window.
/// Where grants of identity_center contracts go, when the plan has read it:
/// the Identity Center state, or why it could not be read.
pub type IdentityCenterRead<'a> = Option<Result<&'a IdentityCenterState, &'a str>>;

pub use validate::{principal_of, sso_principal};

/// The permission set a grant of an identity_center contract is: its
/// inline policy is the role's statements with the window (and MFA)
/// conditions, its session lasts the window within 1-12 hours, and it has
/// one assignment, to the user in the contract's account. A grant that has
/// ended needs no user id (it is only archived); an active one whose user is
/// not in the Identity Store is an error for that grant alone.
#[allow(clippy::too_many_arguments)]
fn identity_center_grant(
    defs: &Definitions,
    contract: &Contract,
    user: &crate::config::User,
    role: &crate::config::Role,
    resources: &[String],
    request: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    ic: IdentityCenterRead<'_>,
) -> Result<(Target, String, Value), String> {
    let account = validate::contract_account(defs, contract)?;
    let user_name = user.sso.as_deref().ok_or_else(|| {
        format!(
            "user `{}` has no `sso` (Identity Store UserName)",
            user.name
        )
    })?;
    let inline = policy::grant_document(role, resources, start, end, contract.require_mfa);
    let session = policy::iso_duration(policy::session_minutes(start, end));
    let user_id = match ic {
        _ if now >= end => String::new(),
        None => return Err("IAM Identity Center was not read".into()),
        Some(Err(why)) => return Err(format!("IAM Identity Center could not be read: {why}")),
        Some(Ok(state)) => state.users.get(user_name).cloned().ok_or_else(|| {
            format!(
                "Identity Store user `{user_name}` (sso of user `{}`) does not exist; create it in IAM Identity Center or fix the user's sso",
                user.name
            )
        })?,
    };
    let assignment = policy::assignment(&account, "USER", &user_id);
    let doc = policy::permission_set_document(&inline, &session, vec![assignment], Vec::new());
    let target = Target::PermissionSet {
        name: permission_set_name(request),
    };
    Ok((target, account, doc))
}

/// The account (by id) a request's grant lands in: the contract's account
/// for identity_center (`validate::contract_account`, as the permission
/// set's assignment uses it), the `role_arn`'s for assume_role, the
/// requester's principal's otherwise. [`grant_for`] takes the account from
/// here, so status's `--account` filter places grants where plan does.
/// `None` when the definitions do not say (such a request is never granted).
pub fn grant_account(
    defs: &Definitions,
    contract: &Contract,
    user: &crate::config::User,
) -> Option<String> {
    match contract.mode {
        Mode::IdentityCenter => validate::contract_account(defs, contract).ok(),
        Mode::AssumeRole => contract
            .role_arn
            .as_deref()
            .and_then(parse_principal_arn)
            .filter(|p| p.kind == PrincipalKind::Role)
            .map(|p| p.account),
        Mode::InlinePolicy | Mode::ManagedPolicy => {
            parse_principal_arn(&user.aws).map(|p| p.account)
        }
        Mode::Unknown => None,
    }
}

fn grant_for(
    defs: &Definitions,
    contract: &Contract,
    record: &RequestRecord,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    ic: IdentityCenterRead<'_>,
) -> Result<Grant, String> {
    let req = &record.request;
    let user = defs
        .users
        .get(&req.requester)
        .ok_or_else(|| format!("unknown user `{}`", req.requester))?;
    let role = defs
        .roles
        .get(&contract.role)
        .ok_or_else(|| format!("unknown role `{}`", contract.role))?;
    let resources = if req.resources.is_empty() {
        &contract.resources
    } else {
        &req.resources
    };
    if contract.mode == Mode::IdentityCenter {
        let (target, account, document) = identity_center_grant(
            defs,
            contract,
            user,
            role,
            resources,
            &req.name,
            (start, end),
            now,
            ic,
        )?;
        return Ok(Grant {
            request: req.name.clone(),
            principal: principal_of(defs, user, contract),
            account,
            document: policy::minify(&document),
            target,
            start,
            end,
            role: role.name.clone(),
            session: None,
        });
    }
    let principal = parse_principal_arn(&user.aws)
        .ok_or_else(|| format!("user `{}` has no valid aws ARN", user.name))?;
    let (target, document) = match contract.mode {
        Mode::AssumeRole => {
            let arn = contract.role_arn.as_deref().unwrap_or_default();
            let assumed = parse_principal_arn(arn)
                .filter(|p| p.kind == PrincipalKind::Role)
                .ok_or_else(|| {
                    format!(
                        "contract `{}`: role_arn `{arn}` is not an IAM role ARN",
                        contract.name
                    )
                })?;
            let target = Target::trust(&assumed.name, &req.name);
            let statement = policy::trust_statement(
                target.policy_name(),
                &user.aws,
                &user.name,
                start,
                end,
                contract.require_mfa,
            );
            (target, policy::as_document(statement))
        }
        Mode::Unknown | Mode::IdentityCenter => {
            // Never reached past `invalid_reason`; fail closed all the same.
            return Err(format!(
                "contract `{}` has a mode jit does not know: nothing is granted",
                contract.name
            ));
        }
        mode @ (Mode::InlinePolicy | Mode::ManagedPolicy) => {
            let target = match mode {
                Mode::ManagedPolicy => Target::managed(principal.kind, &principal.name, &req.name),
                _ => Target::inline(principal.kind, &principal.name, &req.name),
            };
            let doc = policy::grant_document(role, resources, start, end, contract.require_mfa);
            (target, doc)
        }
    };
    // Where status and `--account` place it too: one answer for both.
    let account = grant_account(defs, contract, user)
        .ok_or_else(|| format!("contract `{}`: no account for the grant", contract.name))?;
    Ok(Grant {
        request: req.name.clone(),
        principal: user.aws.clone(),
        account,
        document: policy::minify(&document),
        target,
        start,
        end,
        role: role.name.clone(),
        session: (contract.mode == Mode::AssumeRole).then(|| user.name.clone()),
    })
}

/// The IAM principal an object lives on (`user/<name>` or `role/<name>`).
fn principal_key(target: &Target) -> String {
    match target {
        Target::UserPolicy { user, .. } => format!("user/{user}"),
        Target::RolePolicy { role, .. }
        | Target::TrustStatement { role, .. }
        | Target::SessionRevocations { role } => format!("role/{role}"),
        Target::ManagedPolicy { principal, .. } => principal.clone(),
        Target::PermissionSet { name } => format!("permission-set/{name}"),
    }
}

/// The principal a revoke of an object nobody asks for names.
fn owned_principal(account: &str, owned: &Owned) -> String {
    match &owned.target {
        Target::PermissionSet { .. } => {
            let users: Vec<&str> = owned.document["Assignments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str()?.rsplit(':').next())
                .collect();
            format!("sso:{account}:user-id/{}", users.join(","))
        }
        target => format!("arn:aws:iam::{account}:{}", principal_key(target)),
    }
}

/// Which IAM quota an object counts against, and how much of it it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Budget {
    UserInline,
    RoleInline,
    ManagedCount,
    Trust,
}

fn budget_of(g: &Grant) -> (Budget, usize) {
    match &g.target {
        Target::UserPolicy { .. } => (Budget::UserInline, policy::iam_size(&g.document)),
        Target::RolePolicy { .. } | Target::SessionRevocations { .. } => {
            (Budget::RoleInline, policy::iam_size(&g.document))
        }
        Target::ManagedPolicy { .. } => (Budget::ManagedCount, 1),
        // Checked apart, by `check_identity_center`.
        Target::PermissionSet { .. } => (Budget::RoleInline, 0),
        Target::TrustStatement { .. } => {
            let doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
            (
                Budget::Trust,
                policy::iam_size(&policy::minify(&doc["Statement"][0])) + 1,
            )
        }
    }
}

/// What the principal and quota checks decided.
#[derive(Debug, Default)]
struct Fit {
    /// New grants left out whole: never half-applied.
    blocked: BTreeSet<String>,
    /// Grants IAM holds whose desired document cannot be written: revoked
    /// (never left as they were), with the error that says why.
    revoked: BTreeMap<String, String>,
}

/// The quota a budget counts against: (limit, what, setting, fix).
fn quota_of(
    budget: Budget,
    quotas: &crate::config::Quotas,
) -> (usize, &'static str, &'static str, &'static str) {
    match budget {
        Budget::UserInline => (
            quotas.user_inline,
            "inline policies",
            "user_inline",
            "use mode = \"managed_policy\" in its contract",
        ),
        Budget::RoleInline => (
            quotas.role_inline,
            "inline policies",
            "role_inline",
            "use mode = \"managed_policy\" in its contract",
        ),
        Budget::ManagedCount => (
            quotas.managed_per_principal,
            "attached managed policies",
            "managed_per_principal",
            "end other grants first",
        ),
        Budget::Trust => (
            quotas.trust_policy,
            "the trust policy",
            "trust_policy",
            "end other assume_role grants on this role first",
        ),
    }
}

/// Checks that each grant's principal exists and that its document fits
/// IAM's quotas. A quota blocks only the grant that does not fit: grants IAM
/// already holds are counted first (unchanged ones, then rewrites that shrink,
/// then rewrites that grow), new grants after them in order of start, so a
/// new request never blocks the rewrite (tightening, drift repair) of a live
/// grant. A live grant whose rewrite does not fit is revoked. `current` is
/// each request's document in IAM now (its own object or the one it migrates).
fn check_principals_and_quotas(
    desired: &[Grant],
    current: &BTreeMap<String, Value>,
    iam: &BTreeMap<String, AccountState>,
    quotas: &crate::config::Quotas,
    errors: &mut Vec<String>,
) -> Fit {
    let mut fit = Fit::default();
    // (class, size delta, start, index) in the order grants claim their quota.
    let mut order: Vec<(u8, i64, DateTime<Utc>, usize)> = Vec::new();
    for (i, g) in desired.iter().enumerate() {
        let Some(state) = iam.get(&g.account) else {
            errors.push(format!("{}: account {} was not read", g.request, g.account));
            fit.blocked.insert(g.request.clone());
            continue;
        };
        if let Target::PermissionSet { .. } = g.target {
            continue;
        }
        let key = principal_key(&g.target);
        if !state.principals.contains(&key) {
            errors.push(format!(
                "{}: {key} does not exist in account {}; create the IAM principal or fix the user's aws ARN (or the contract's role_arn)",
                g.request, g.account
            ));
            fit.blocked.insert(g.request.clone());
            continue;
        }
        let existing = current.get(&g.request);
        if let Target::ManagedPolicy { .. } = g.target {
            let size = policy::iam_size(&g.document);
            if size > quotas.managed_policy {
                let e = format!(
                    "{}: managed policy would be {size} characters, over IAM's quota of {} (settings.quotas.managed_policy); narrow the role",
                    g.request, quotas.managed_policy
                );
                errors.push(e.clone());
                if existing.is_some() {
                    fit.revoked.insert(g.request.clone(), e);
                } else {
                    fit.blocked.insert(g.request.clone());
                }
                continue;
            }
        }
        let desired_doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
        let (class, delta) = match existing {
            None => (2, 0),
            Some(doc) if policy::drift(doc, &desired_doc).is_none() => (0, 0),
            Some(doc) => {
                let now = policy::iam_size(&policy::minify(doc)) as i64;
                (1, policy::iam_size(&g.document) as i64 - now)
            }
        };
        order.push((class, delta, g.start, i));
    }
    order.sort_by(|a, b| {
        (a.0, a.1, a.2, &desired[a.3].request).cmp(&(b.0, b.1, b.2, &desired[b.3].request))
    });
    let mut totals: BTreeMap<(String, String, Budget), usize> = BTreeMap::new();
    for (class, _, _, i) in order {
        let g = &desired[i];
        let state = &iam[&g.account];
        let key = principal_key(&g.target);
        let (budget, used) = budget_of(g);
        let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
        let foreign = match budget {
            Budget::UserInline | Budget::RoleInline => state.foreign_inline_size.get(&key),
            Budget::ManagedCount => state.foreign_managed_count.get(&key),
            Budget::Trust => state.foreign_trust_size.get(name),
        };
        let total = totals
            .entry((g.account.clone(), key.clone(), budget))
            .or_insert(foreign.copied().unwrap_or(0));
        let (limit, what, setting, fix) = quota_of(budget, quotas);
        // What IAM holds unchanged already fits: it never needs a write.
        if class == 0 || *total + used <= limit {
            *total += used;
            continue;
        }
        let unit = if budget == Budget::ManagedCount {
            ""
        } else {
            " characters"
        };
        let over = format!(
            "{}: {what} of {key} would total {}{unit}, over IAM's quota of {limit}",
            g.request,
            *total + used
        );
        if class == 1 {
            let e = format!(
                "{over}: its new document cannot be written, so the grant is revoked; {fix}, or raise settings.quotas.{setting}"
            );
            errors.push(e.clone());
            fit.revoked.insert(g.request.clone(), e);
        } else {
            errors.push(format!("{over}; {fix}, or raise settings.quotas.{setting}"));
            fit.blocked.insert(g.request.clone());
        }
    }
    fit
}

/// Identity Center's limit on a permission set's inline policy (characters
/// without whitespace); the IAM role it provisions holds the same policy, so
/// `settings.quotas.role_inline` caps it too.
pub const PERMISSION_SET_INLINE_MAX: usize = 10240;

/// The Identity Center quotas, at plan time: a permission set's inline
/// policy fits Identity Center's limit and the role inline quota; new
/// permission sets (in order of start) fit the instance's quota, counting
/// every permission set it holds; no two grants share a permission set name.
/// As with IAM quotas, a new grant that does not fit is left out whole, and a
/// live one whose document cannot be written is revoked.
fn check_identity_center(
    desired: &[Grant],
    current: &BTreeMap<String, Value>,
    ic: IdentityCenterRead<'_>,
    quotas: &crate::config::Quotas,
    errors: &mut Vec<String>,
    fit: &mut Fit,
) {
    let grants: Vec<&Grant> = desired
        .iter()
        .filter(|g| matches!(g.target, Target::PermissionSet { .. }))
        .filter(|g| !fit.blocked.contains(&g.request))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in &grants {
        by_name
            .entry(g.target.policy_name())
            .or_default()
            .push(&g.request);
    }
    for (name, requests) in by_name.iter().filter(|(_, r)| r.len() > 1) {
        for r in requests {
            errors.push(format!(
                "{r}: requests {} would share permission set {name}; rename one of them",
                requests.join(", ")
            ));
            fit.blocked.insert(r.to_string());
        }
    }
    let limit = PERMISSION_SET_INLINE_MAX.min(quotas.role_inline);
    let mut new = Vec::new();
    for g in grants {
        if fit.blocked.contains(&g.request) {
            continue;
        }
        let doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
        let size = policy::iam_size(&policy::minify(&policy::inline_part(&doc)));
        let existing = current.contains_key(&g.request);
        if size > limit {
            let e = format!(
                "{}: the inline policy of permission set {} would be {size} characters, over the limit of {limit} (Identity Center allows {PERMISSION_SET_INLINE_MAX}; the role it provisions counts against settings.quotas.role_inline = {}){}; narrow the role or the resources",
                g.request,
                g.target.policy_name(),
                quotas.role_inline,
                if existing {
                    ": its new document cannot be written, so the grant is revoked"
                } else {
                    ""
                }
            );
            errors.push(e.clone());
            if existing {
                fit.revoked.insert(g.request.clone(), e);
            } else {
                fit.blocked.insert(g.request.clone());
            }
            continue;
        }
        if !existing {
            new.push(g);
        }
    }
    let Some(Ok(state)) = ic else { return };
    new.sort_by(|a, b| (a.start, &a.request).cmp(&(b.start, &b.request)));
    let mut total = state.permission_sets;
    for g in new {
        if total + 1 > quotas.permission_sets {
            errors.push(format!(
                "{}: permission set {} would be number {} in Identity Center instance {}, over its quota of {} (settings.quotas.permission_sets); delete unused permission sets, end other identity_center grants, or raise the quota",
                g.request,
                g.target.policy_name(),
                total + 1,
                state.instance_arn,
                quotas.permission_sets
            ));
            fit.blocked.insert(g.request.clone());
            continue;
        }
        total += 1;
    }
}

/// The account each request's permission set belongs in (by permission set
/// name), for the requests under `requests/` whose contract grants through
/// Identity Center.
pub fn permission_set_accounts(snapshot: &Snapshot) -> BTreeMap<String, String> {
    let defs = &snapshot.effective;
    snapshot
        .requests
        .iter()
        .filter_map(|r| {
            let c = defs.contracts.get(&r.request.contract)?;
            (c.mode == Mode::IdentityCenter).then_some(())?;
            let account = validate::contract_account(defs, c).ok()?;
            Some((permission_set_name(&r.request.name), account))
        })
        .collect()
}

/// Puts each permission set jit owns into the state of the account it
/// belongs to, so that the plan finds, diffs and revokes it like any other
/// object: the account its request's contract names (when that account was
/// read), else the first account it is assigned in or provisioned to that
/// was read; one that is in no account at all goes to `fallback` (the
/// identity_center block's account) or the first account read. One whose
/// accounts were all left out of this run stays out of it.
pub fn place_permission_sets(
    snapshot: &Snapshot,
    ic: &IdentityCenterState,
    iam: &mut BTreeMap<String, AccountState>,
) {
    let defs = &snapshot.effective;
    let expected = permission_set_accounts(snapshot);
    let fallback = defs
        .settings
        .identity_center
        .as_ref()
        .and_then(|c| c.account.as_ref())
        .and_then(|a| defs.accounts.get(a))
        .map(|a| a.id.clone())
        .filter(|id| iam.contains_key(id))
        .or_else(|| iam.keys().next().cloned());
    for ps in &ic.owned {
        let name = ps.owned.target.policy_name();
        let home = expected
            .get(name)
            .filter(|a| iam.contains_key(*a))
            .cloned()
            .or_else(|| ps.accounts.iter().find(|a| iam.contains_key(*a)).cloned())
            .or_else(|| ps.accounts.is_empty().then(|| fallback.clone()).flatten());
        if let Some(state) = home.and_then(|h| iam.get_mut(&h)) {
            state.owned.push(ps.owned.clone());
        }
    }
}

/// Sid prefix of the deny written at grant time (`JitEnd` + the request).
const END_SID: &str = "JitEnd";
/// Sid prefix of the deny written at an early revocation (`JitRev` + the
/// revoked trust statement's Sid after `Jit`).
const REVOKED_SID: &str = "JitRev";

/// A session deny the definitions require in a role's `jit-session-revocations`.
#[derive(Debug, Clone, PartialEq)]
struct SessionDeny {
    account: String,
    role: String,
    sid: String,
    /// Session names (user names); `*` stands for every session of the role.
    sessions: Vec<String>,
    issued_before: DateTime<Utc>,
    /// From when it applies; `None`: at once (an early revocation).
    from: Option<DateTime<Utc>>,
    request: String,
}

impl SessionDeny {
    /// Written with the grant: the user's sessions issued before the
    /// window's end die at the end, even if jit never runs again.
    fn at_end(
        account: &str,
        role: &str,
        request: &str,
        session: &str,
        end: DateTime<Utc>,
    ) -> SessionDeny {
        SessionDeny {
            account: account.into(),
            role: role.into(),
            sid: format!("{END_SID}{}", encode_name(request)),
            sessions: vec![session.into()],
            issued_before: end,
            from: Some(end),
            request: request.into(),
        }
    }

    /// Written when trust statement `trust_sid` is revoked before its
    /// window's end: sessions issued up to `now` + [`REVOKE_MARGIN`] die at once.
    fn early(
        account: &str,
        role: &str,
        trust_sid: &str,
        request: &str,
        sessions: Vec<String>,
        now: DateTime<Utc>,
    ) -> SessionDeny {
        let tail = trust_sid.strip_prefix(SID_PREFIX).unwrap_or(trust_sid);
        SessionDeny {
            account: account.into(),
            role: role.into(),
            sid: format!("{REVOKED_SID}{tail}"),
            sessions,
            issued_before: now + REVOKE_MARGIN,
            from: None,
            request: request.into(),
        }
    }

    fn describe(&self) -> String {
        let who = match self.sessions.as_slice() {
            [one] if one == "*" => "every session".to_string(),
            names => format!("sessions of {}", names.join(", ")),
        };
        let before = policy::iam_time(self.issued_before);
        match self.from {
            Some(from) => format!(
                "deny {who} issued before {before} from {} ({})",
                policy::iam_time(from),
                self.request
            ),
            None => format!("deny {who} issued before {before} now ({})", self.request),
        }
    }
}

/// The session names a revoked trust statement can have let in, beyond the
/// requester the definitions name: its `sts:RoleSessionName` condition and
/// the users whose `aws` is its principal; every session (`*`) when it pins
/// no session name. Only ever adds to a deny.
fn sessions_trusted_by(owned: &Owned, defs: &Definitions, known: Option<&str>) -> Vec<String> {
    let st = &owned.document["Statement"][0];
    let mut names: Vec<String> = known.map(str::to_string).into_iter().collect();
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut pinned = false;
    if let Some(ops) = st["Condition"].as_object() {
        for keys in ops.values() {
            let session = strings(&keys["sts:RoleSessionName"]);
            pinned |= !session.is_empty();
            names.extend(session);
        }
    }
    if !pinned {
        // A statement that does not pin the session name (not as jit writes
        // it) may have let in any session: deny them all.
        names.push("*".into());
    }
    let principals = strings(&st["Principal"]["AWS"]);
    names.extend(
        defs.users
            .values()
            .filter(|u| principals.contains(&u.aws))
            .map(|u| u.name.clone()),
    );
    names.sort();
    names.dedup();
    names
}

/// Whether a statement of a revocation list still matters at `now`: a deny
/// (jit's Sid) for sessions issued before a time no longer than
/// [`MAX_SESSION`] ago. Anything else there is dropped.
fn live_entry(st: &Value, now: DateTime<Utc>) -> Option<String> {
    let sid = st.get("Sid")?.as_str()?;
    if !sid.starts_with(SID_PREFIX) || st.get("Effect")?.as_str()? != "Deny" {
        return None;
    }
    let issued = &st["Condition"]["DateLessThan"]["aws:TokenIssueTime"];
    let issued = issued.as_str().or_else(|| issued[0].as_str())?;
    let issued: DateTime<Utc> = DateTime::parse_from_rfc3339(issued).ok()?.into();
    (issued + MAX_SESSION > now).then(|| sid.to_string())
}

/// The writes of the roles' revocation lists: per role, the entries kept
/// (live ones IAM holds) plus the ones the definitions require, minus what
/// no session can match any more. `every_role`: also prune roles that need
/// no new entry.
fn revocation_actions(
    iam: &BTreeMap<String, AccountState>,
    required: &[SessionDeny],
    now: DateTime<Utc>,
    every_role: bool,
) -> Vec<Action> {
    let mut roles: BTreeMap<(String, String), Vec<&SessionDeny>> = BTreeMap::new();
    for d in required {
        roles
            .entry((d.account.clone(), d.role.clone()))
            .or_default()
            .push(d);
    }
    if every_role {
        for (account, state) in iam {
            for o in &state.revocation_lists {
                if let Target::SessionRevocations { role } = &o.target {
                    roles.entry((account.clone(), role.clone())).or_default();
                }
            }
        }
    }
    let mut actions = Vec::new();
    for ((account, role), denies) in roles {
        let Some(state) = iam.get(&account) else {
            continue;
        };
        let target = Target::SessionRevocations { role: role.clone() };
        let existing = state.find(&target).map(|o| &o.document);
        let mut entries: BTreeMap<String, Value> = BTreeMap::new();
        let mut pruned = 0;
        let statements = existing
            .map(|d| policy::normalize(d)["Statement"].clone())
            .unwrap_or_default();
        for st in statements.as_array().into_iter().flatten() {
            match live_entry(st, now) {
                Some(sid) => {
                    entries.insert(sid, st.clone());
                }
                None => pruned += 1,
            }
        }
        let mut added = Vec::new();
        // A role IAM does not have has no sessions to deny.
        if let Some(id) = state.role_ids.get(&role) {
            for d in denies {
                if d.issued_before + MAX_SESSION <= now {
                    continue;
                }
                let userids: Vec<String> = d.sessions.iter().map(|s| format!("{id}:{s}")).collect();
                let st = policy::session_deny(&d.sid, &userids, d.issued_before, d.from);
                let same = entries.get(&d.sid).is_some_and(|old| {
                    policy::drift(
                        &policy::as_document(old.clone()),
                        &policy::as_document(st.clone()),
                    )
                    .is_none()
                });
                if !same {
                    added.push(d);
                }
                entries.insert(d.sid.clone(), st);
            }
        }
        let desired = (!entries.is_empty()).then(|| {
            json!({"Version": "2012-10-17", "Statement": entries.into_values().collect::<Vec<_>>()})
        });
        let same = match (existing, &desired) {
            (None, None) => true,
            (Some(a), Some(d)) => policy::drift(a, d).is_none(),
            _ => false,
        };
        if same {
            continue;
        }
        let mut what: Vec<String> = added.iter().map(|d| d.describe()).collect();
        if pruned > 0 {
            what.push(format!(
                "prune {pruned} entr{} no session can match",
                if pruned == 1 { "y" } else { "ies" }
            ));
        }
        if what.is_empty() {
            what.push("repair drift".into());
        }
        let early = added.iter().any(|d| d.from.is_none());
        actions.push(Action {
            action: ActionKind::Update,
            request: added.first().map(|d| d.request.clone()).unwrap_or_default(),
            principal: format!("arn:aws:iam::{account}:role/{role}"),
            account: account.clone(),
            target: target.to_string(),
            start: None,
            end: None,
            detail: format!(
                "{} on role/{role}: {}",
                crate::iam::SESSION_REVOCATIONS,
                what.join("; ")
            ),
            iam: Some(IamChange {
                target,
                document: desired.as_ref().map(policy::minify),
                observed: existing.cloned(),
                replaces: None,
                not_after: early.then(|| now + APPLY_WITHIN),
            }),
            archive: None,
        });
    }
    actions
}

/// Which request each IAM name jit derives belongs to, among `names`: the
/// exact name of the current scheme first, then an older Sid (the first
/// request it could stand for). Built once per plan: lookups are O(1).
struct Owners<'a> {
    exact: std::collections::HashMap<String, &'a str>,
    legacy: std::collections::HashMap<String, &'a str>,
}

impl<'a> Owners<'a> {
    fn new(names: impl Iterator<Item = &'a str>) -> Owners<'a> {
        let (mut exact, mut legacy) = (
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        );
        for n in names {
            exact.insert(crate::iam::sid_for(n), n);
            exact.insert(format!("{}{n}", crate::iam::PREFIX), n);
            exact.insert(permission_set_name(n), n);
            legacy.entry(legacy_sid_for(n)).or_insert(n);
        }
        Owners { exact, legacy }
    }

    /// The request an owned object belongs to, else what its name decodes to.
    fn request_for(&self, target: &Target) -> String {
        let name = target.policy_name();
        let legacy = match target {
            Target::TrustStatement { .. } => self.legacy.get(name),
            _ => None,
        };
        self.exact
            .get(name)
            .or(legacy)
            .map(|n| n.to_string())
            .or_else(|| target.request())
            .unwrap_or_default()
    }
}

/// Plans: what to grant, update, revoke and archive at `now`. A request
/// version with a recorded ending (`endings`) is ended: never granted again.
pub fn plan(
    snapshot: &Snapshot,
    iam: &BTreeMap<String, AccountState>,
    now: DateTime<Utc>,
    endings: &Endings,
) -> Plan {
    plan_with_identity_center(snapshot, iam, None, now, endings)
}

/// [`plan`], with the Identity Center instance as read (`None`: not read;
/// its permission sets are in `iam` already, see [`place_permission_sets`]).
pub fn plan_with_identity_center(
    snapshot: &Snapshot,
    iam: &BTreeMap<String, AccountState>,
    ic: IdentityCenterRead<'_>,
    now: DateTime<Utc>,
    endings: &Endings,
) -> Plan {
    let defs = &snapshot.effective;
    let defs_diags = validate::validate_definitions(defs);
    let mut actions = Vec::new();
    let mut pending = Vec::new();
    // Errors are judged against what is in force: parse errors at head, and
    // references in the approved definitions.
    let mut errors: Vec<String> = snapshot
        .diags
        .iter()
        .chain(&defs_diags)
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    // A parse error of an object in force is reported at head and again by
    // the definitions check: once is enough.
    let mut seen = BTreeSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    if let Some(Err(why)) = ic {
        errors.push(format!(
            "IAM Identity Center could not be read: {why}; its grants are neither made nor revoked this run"
        ));
    }
    let mut desired: Vec<Grant> = Vec::new();
    // Why a request in requests/ has no grant now, for revoke details.
    let mut not_active: BTreeMap<String, String> = BTreeMap::new();
    // Requests whose window is over: their grant-time session deny covers
    // every session they let in, so revoking them needs no early deny.
    let mut ended: BTreeSet<String> = BTreeSet::new();
    let mut required: Vec<SessionDeny> = Vec::new();

    for record in &snapshot.requests {
        let req = &record.request;
        if let Some(ending) = endings.get(record.blob) {
            let archive = ended_archive(snapshot, record, ending);
            not_active.insert(req.name.clone(), archive.detail.clone());
            actions.push(archive);
            continue;
        }
        let (start, end) = match standing(snapshot, &defs_diags, record, now) {
            Standing::Invalid(reason) => {
                if !errors.contains(&reason) {
                    errors.push(reason.clone());
                }
                not_active.insert(req.name.clone(), "request is invalid".into());
                pending.push(Pending {
                    request: req.name.clone(),
                    state: "invalid".into(),
                    detail: reason,
                });
                continue;
            }
            Standing::Awaiting(reason) => {
                not_active.insert(
                    req.name.clone(),
                    format!("request is not approved: {reason}"),
                );
                pending.push(Pending {
                    request: req.name.clone(),
                    state: "awaiting_approval".into(),
                    detail: reason,
                });
                continue;
            }
            Standing::NotStarted(start) => {
                let starts = policy::iam_time(start);
                not_active.insert(req.name.clone(), format!("not started (starts {starts})"));
                pending.push(Pending {
                    request: req.name.clone(),
                    state: "not_started".into(),
                    detail: format!("starts {starts}"),
                });
                continue;
            }
            Standing::Active(start, end) | Standing::Ended(start, end) => (start, end),
        };
        let contract = &defs.contracts[&req.contract];
        match grant_for(defs, contract, record, (start, end), now, ic) {
            Err(e) => errors.push(format!("{}: {e}", req.name)),
            Ok(grant) if now >= end => {
                ended.insert(req.name.clone());
                if let (Some(session), Target::TrustStatement { role, .. }) =
                    (&grant.session, &grant.target)
                {
                    required.push(SessionDeny::at_end(
                        &grant.account,
                        role,
                        &req.name,
                        session,
                        end,
                    ));
                }
                not_active.insert(
                    req.name.clone(),
                    format!("expired {}", policy::iam_time(end)),
                );
                actions.push(Action {
                    action: ActionKind::Archive,
                    request: req.name.clone(),
                    principal: grant.principal.clone(),
                    account: grant.account.clone(),
                    target: format!(
                        "requests/{}.hcl -> {}",
                        req.name,
                        archive_path(&req.name, end)
                    ),
                    start: Some(start),
                    end: Some(end),
                    detail: format!("expired {}", policy::iam_time(end)),
                    iam: None,
                    archive: Some(ArchiveMove {
                        from: format!("requests/{}.hcl", req.name),
                        to: archive_path(&req.name, end),
                        contract: contract.name.clone(),
                        requester: req.requester.clone(),
                        approved_by: record.approver_emails.clone(),
                        outcome: Outcome::Expired,
                        reason: None,
                        revoked_by: None,
                    }),
                });
            }
            Ok(grant) => desired.push(grant),
        }
    }

    // What IAM holds for each grant: its own object, or a trust statement
    // under the older, colliding Sid scheme, which the grant's write
    // replaces in place (unless another grant's current Sid is that one).
    let new_targets: BTreeSet<(String, Target)> = desired
        .iter()
        .map(|g| (g.account.clone(), g.target.clone()))
        .collect();
    let mut current: BTreeMap<String, Value> = BTreeMap::new();
    let mut migrates: BTreeMap<String, Target> = BTreeMap::new();
    for g in &desired {
        let Some(state) = iam.get(&g.account) else {
            continue;
        };
        if let Some(o) = state.find(&g.target) {
            current.insert(g.request.clone(), o.document.clone());
            continue;
        }
        let Target::TrustStatement { role, sid } = &g.target else {
            continue;
        };
        let legacy = Target::TrustStatement {
            role: role.clone(),
            sid: legacy_sid_for(&g.request),
        };
        let claimed = migrates.values().any(|t| *t == legacy)
            || new_targets.contains(&(g.account.clone(), legacy.clone()));
        if legacy.policy_name() != sid
            && !claimed
            && let Some(o) = state.find(&legacy)
        {
            current.insert(g.request.clone(), o.document.clone());
            migrates.insert(g.request.clone(), legacy);
        }
    }

    // Grants whose principal is missing, or that would break a quota, are
    // errors and are left out whole: never half-applied. Live grants whose
    // new document cannot be written are revoked.
    let mut fit =
        check_principals_and_quotas(&desired, &current, iam, &defs.settings.quotas, &mut errors);
    check_identity_center(
        &desired,
        &current,
        ic,
        &defs.settings.quotas,
        &mut errors,
        &mut fit,
    );
    for (request, why) in &fit.revoked {
        not_active.insert(request.clone(), why.clone());
        migrates.remove(request);
    }
    let granted =
        |g: &&Grant| !fit.blocked.contains(&g.request) && !fit.revoked.contains_key(&g.request);

    // Desired vs. actual.
    let mut wanted: BTreeSet<(String, Target)> = desired
        .iter()
        .filter(granted)
        .map(|g| (g.account.clone(), g.target.clone()))
        .collect();
    for (request, old) in &migrates {
        if let Some(g) = desired.iter().find(|g| &g.request == request) {
            wanted.insert((g.account.clone(), old.clone()));
        }
    }
    for g in desired.iter().filter(granted) {
        if let (Some(session), Target::TrustStatement { role, .. }) = (&g.session, &g.target) {
            required.push(SessionDeny::at_end(
                &g.account, role, &g.request, session, g.end,
            ));
        }
        let state = iam.get(&g.account);
        let existing = state.and_then(|s| s.find(&g.target));
        let replaces = migrates.get(&g.request);
        let doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
        let (kind, detail) = match (existing, replaces) {
            (None, Some(old)) => (
                ActionKind::Update,
                format!(
                    "Sid {} -> {} (older Sids are not unique)",
                    old.policy_name(),
                    g.target.policy_name()
                ),
            ),
            (None, None) => (
                ActionKind::Grant,
                format!("{}  until {}", g.role, policy::iam_time(g.end)),
            ),
            (Some(o), _) => match policy::drift(&o.document, &doc) {
                None => continue,
                Some(what) => (
                    ActionKind::Update,
                    format!("drift in {} ({what})", g.target.policy_name()),
                ),
            },
        };
        actions.push(Action {
            action: kind,
            request: g.request.clone(),
            principal: g.principal.clone(),
            account: g.account.clone(),
            target: g.target.to_string(),
            start: Some(g.start),
            end: Some(g.end),
            detail,
            iam: Some(IamChange {
                target: g.target.clone(),
                document: Some(g.document.clone()),
                observed: existing.map(|o| o.document.clone()),
                replaces: replaces.filter(|_| existing.is_none()).cloned(),
                not_after: None,
            }),
            archive: None,
        });
    }
    let owners = Owners::new(snapshot.requests.iter().map(|r| r.request.name.as_str()));
    for (account, state) in iam {
        for owned in &state.owned {
            if wanted.contains(&(account.clone(), owned.target.clone())) {
                continue;
            }
            let request = owners.request_for(&owned.target);
            let detail = not_active
                .get(&request)
                .cloned()
                .unwrap_or_else(|| "no active request (request file removed or unknown)".into());
            if let Target::TrustStatement { role, sid } = &owned.target
                && !ended.contains(&request)
            {
                let requester = snapshot
                    .requests
                    .iter()
                    .find(|r| r.request.name == request)
                    .and_then(|r| defs.users.get(&r.request.requester))
                    .map(|u| u.name.as_str());
                let sessions = sessions_trusted_by(owned, defs, requester);
                required.push(SessionDeny::early(
                    account, role, sid, &request, sessions, now,
                ));
            }
            actions.push(Action {
                action: ActionKind::Revoke,
                request,
                principal: owned_principal(account, owned),
                account: account.clone(),
                target: owned.target.to_string(),
                start: None,
                end: None,
                detail,
                iam: Some(IamChange {
                    target: owned.target.clone(),
                    document: None,
                    observed: Some(owned.document.clone()),
                    replaces: None,
                    not_after: None,
                }),
                archive: None,
            });
        }
    }
    actions.extend(revocation_actions(iam, &required, now, true));
    actions
        .sort_by(|a, b| (a.action, &a.request, &a.target).cmp(&(b.action, &b.request, &b.target)));

    let mut summary = Summary::default();
    for a in &actions {
        *match a.action {
            ActionKind::Grant => &mut summary.grant,
            ActionKind::Update => &mut summary.update,
            ActionKind::Revoke => &mut summary.revoke,
            ActionKind::Archive => &mut summary.archive,
        } += 1;
    }
    let unapproved = snapshot
        .unapproved
        .iter()
        .map(|u| {
            format!(
                "{} changed in {} is not in force: {}",
                u.object,
                crate::git::short(u.commit),
                u.reason
            )
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION.into(),
        branch: snapshot.branch.clone(),
        commit: snapshot.head.to_string(),
        now,
        actions,
        pending,
        errors,
        unapproved,
        summary,
        stats: Stats {
            iam_calls: iam.values().map(|s| s.calls).sum::<usize>()
                + ic.and_then(Result::ok).map_or(0, |s| s.calls),
            github_calls: snapshot.forge_calls,
            elapsed_ms: 0,
            iam_ms: 0,
            commits: snapshot.commits_walked,
            trees_read: snapshot.trees_read,
        },
    }
}

pub fn summarize(actions: &[Action]) -> Summary {
    let mut summary = Summary::default();
    for a in actions {
        *match a.action {
            ActionKind::Grant => &mut summary.grant,
            ActionKind::Update => &mut summary.update,
            ActionKind::Revoke => &mut summary.revoke,
            ActionKind::Archive => &mut summary.archive,
        } += 1;
    }
    summary
}

/// Plans `jit revoke`: remove every IAM object of request `name` now and
/// archive its file with outcome `revoked`. Errors name close matches.
/// `; did you mean `x`?` for the live request whose name is closest to
/// `name`, or nothing when none is close.
pub fn did_you_mean(snapshot: &Snapshot, name: &str) -> String {
    snapshot
        .requests
        .iter()
        .map(|r| {
            (
                strsim::jaro_winkler(name, &r.request.name),
                r.request.name.as_str(),
            )
        })
        .filter(|(score, _)| *score > 0.7)
        .min_by(|a, b| b.0.total_cmp(&a.0)) // the closest; the first of equals
        .map_or(String::new(), |(_, n)| format!("; did you mean `{n}`?"))
}

pub fn plan_revoke(
    snapshot: &Snapshot,
    iam: &BTreeMap<String, AccountState>,
    now: DateTime<Utc>,
    name: &str,
    reason: &str,
    by: &str,
) -> Result<Plan, String> {
    let Some(record) = snapshot.requests.iter().find(|r| r.request.name == name) else {
        let hint = did_you_mean(snapshot, name);
        return Err(format!("no request `{name}` in requests/{hint}"));
    };
    let defs = &snapshot.effective;
    let req = &record.request;
    let principal = match (
        defs.users.get(&req.requester),
        defs.contracts.get(&req.contract),
    ) {
        (Some(u), Some(c)) => principal_of(defs, u, c),
        (Some(u), None) => u.aws.clone(),
        _ => String::new(),
    };
    let window = record
        .verdict
        .is_approved()
        .then(|| window(record))
        .flatten();
    let mut actions = Vec::new();
    // Sessions the grant let in outlive its trust statement: deny them, for
    // the requester the definitions name (whatever the statement in IAM
    // says), on every role whose statement is revoked and on the contract's.
    let requester = defs.users.get(&req.requester).map(|u| u.name.as_str());
    let mut required = Vec::new();
    for (account, state) in iam {
        for owned in state.owned.iter().filter(|o| o.target.is_for(name)) {
            if let Target::TrustStatement { role, sid } = &owned.target {
                let sessions = sessions_trusted_by(owned, defs, requester);
                required.push(SessionDeny::early(account, role, sid, name, sessions, now));
            }
            actions.push(Action {
                action: ActionKind::Revoke,
                request: name.to_string(),
                principal: principal.clone(),
                account: account.clone(),
                target: owned.target.to_string(),
                start: window.map(|w| w.0),
                end: window.map(|w| w.1),
                detail: format!("revoked by {by}: {reason}"),
                iam: Some(IamChange {
                    target: owned.target.clone(),
                    document: None,
                    observed: Some(owned.document.clone()),
                    replaces: None,
                    not_after: None,
                }),
                archive: None,
            });
        }
    }
    let assumed = defs
        .contracts
        .get(&req.contract)
        .filter(|c| c.mode == Mode::AssumeRole)
        .and_then(|c| parse_principal_arn(c.role_arn.as_deref()?))
        .filter(|p| p.kind == PrincipalKind::Role);
    if let (Some(role), Some(session)) = (assumed, requester) {
        let target = Target::trust(&role.name, name);
        if !required
            .iter()
            .any(|d: &SessionDeny| d.account == role.account && d.role == role.name)
        {
            required.push(SessionDeny::early(
                &role.account,
                &role.name,
                target.policy_name(),
                name,
                vec![session.to_string()],
                now,
            ));
        }
    }
    actions.extend(revocation_actions(iam, &required, now, false));
    actions.push(revoked_archive(
        snapshot,
        record,
        now,
        by,
        reason,
        format!("revoked by {by}: {reason}"),
    ));
    Ok(Plan {
        format_version: FORMAT_VERSION.into(),
        branch: snapshot.branch.clone(),
        commit: snapshot.head.to_string(),
        now,
        summary: summarize(&actions),
        actions,
        pending: Vec::new(),
        errors: Vec::new(),
        unapproved: Vec::new(),
        stats: Stats {
            iam_calls: iam.values().map(|s| s.calls).sum(),
            github_calls: snapshot.forge_calls,
            elapsed_ms: 0,
            iam_ms: 0,
            commits: snapshot.commits_walked,
            trees_read: snapshot.trees_read,
        },
    })
}

/// `archive/YYYY/MM/<name>.hcl`, by the month the grant ended.
pub fn archive_path(name: &str, end: DateTime<Utc>) -> String {
    format!("archive/{}/{name}.hcl", end.format("%Y/%m"))
}

/// The archive move of a request version whose ending `jit revoke` recorded
/// (its IAM objects, if any are left, are revoked as unexplained).
fn ended_archive(snapshot: &Snapshot, record: &RequestRecord, ending: &Ending) -> Action {
    let detail = format!(
        "ended {} by {}: {}",
        policy::iam_time(ending.at),
        ending.by,
        ending.reason
    );
    revoked_archive(
        snapshot,
        record,
        ending.at,
        &ending.by,
        &ending.reason,
        detail,
    )
}

/// The archive move of a request revoked at `at` by `by` for `reason`
/// (`jit revoke` now, or a recorded ending later): `Jit-Outcome: revoked`.
fn revoked_archive(
    snapshot: &Snapshot,
    record: &RequestRecord,
    at: DateTime<Utc>,
    by: &str,
    reason: &str,
    detail: String,
) -> Action {
    let req = &record.request;
    let principal = snapshot
        .effective
        .users
        .get(&req.requester)
        .map(|u| u.aws.clone())
        .unwrap_or_default();
    let window = record
        .verdict
        .is_approved()
        .then(|| window(record))
        .flatten();
    let to = archive_path(&req.name, at);
    Action {
        action: ActionKind::Archive,
        request: req.name.clone(),
        account: parse_principal_arn(&principal)
            .map(|p| p.account)
            .unwrap_or_default(),
        principal,
        target: format!("requests/{}.hcl -> {to}", req.name),
        start: window.map(|w| w.0),
        end: window.map(|w| w.1),
        detail,
        iam: None,
        archive: Some(ArchiveMove {
            from: format!("requests/{}.hcl", req.name),
            to,
            contract: req.contract.clone(),
            requester: req.requester.clone(),
            approved_by: record.approver_emails.clone(),
            outcome: Outcome::Revoked,
            reason: Some(reason.to_string()),
            revoked_by: Some(by.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Quotas;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const ACCOUNT: &str = "123456789012";

    /// An inline grant on user alice whose document is `size` characters long.
    fn grant(request: &str, size: usize, start: &str) -> Grant {
        let filler = "x".repeat(size.saturating_sub(60));
        let document = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{filler}"}}]}}"#);
        Grant {
            request: request.into(),
            principal: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            account: ACCOUNT.into(),
            target: Target::inline(PrincipalKind::User, "alice", request),
            document,
            start: t(start),
            end: t("2026-11-23T12:00:00Z"),
            role: "r".into(),
            session: None,
        }
    }

    fn state(foreign: usize) -> BTreeMap<String, AccountState> {
        let mut s = AccountState {
            account_id: ACCOUNT.into(),
            ..Default::default()
        };
        s.principals.insert("user/alice".into());
        s.foreign_inline_size.insert("user/alice".into(), foreign);
        BTreeMap::from([(ACCOUNT.to_string(), s)])
    }

    fn doc(g: &Grant) -> Value {
        serde_json::from_str(&g.document).unwrap()
    }

    #[test]
    fn a_new_grant_that_does_not_fit_never_blocks_rewriting_a_live_one() {
        // The live grant grows a little (a new MFA condition); the new one is huge.
        let live_before = grant("alice-db", 600, "2026-11-23T09:00:00Z");
        let live = grant("alice-db", 660, "2026-11-23T09:00:00Z");
        let big = grant("alice-big", 1800, "2026-11-23T08:00:00Z");
        let current = BTreeMap::from([("alice-db".to_string(), doc(&live_before))]);
        let mut errors = Vec::new();
        let fit = check_principals_and_quotas(
            &[big, live],
            &current,
            &state(100),
            &Quotas::default(),
            &mut errors,
        );
        assert_eq!(fit.blocked, BTreeSet::from(["alice-big".to_string()]));
        assert!(fit.revoked.is_empty(), "{:?}", fit.revoked);
        assert!(errors[0].starts_with("alice-big: inline policies of user/alice"));
    }

    #[test]
    fn a_live_grant_whose_new_document_cannot_be_written_is_revoked() {
        let live_before = grant("alice-db", 600, "2026-11-23T09:00:00Z");
        let live = grant("alice-db", 2100, "2026-11-23T09:00:00Z");
        let current = BTreeMap::from([("alice-db".to_string(), doc(&live_before))]);
        let mut errors = Vec::new();
        let fit = check_principals_and_quotas(
            &[live],
            &current,
            &state(0),
            &Quotas::default(),
            &mut errors,
        );
        assert!(fit.blocked.is_empty());
        assert!(fit.revoked["alice-db"].contains("so the grant is revoked"));
        // Unchanged, it is never touched, whatever the quota says now.
        let mut errors = Vec::new();
        let same = check_principals_and_quotas(
            std::slice::from_ref(&live_before),
            &BTreeMap::from([("alice-db".to_string(), doc(&live_before))]),
            &state(5000),
            &Quotas::default(),
            &mut errors,
        );
        assert!(same.blocked.is_empty() && same.revoked.is_empty() && errors.is_empty());
    }

    #[test]
    fn new_grants_claim_quota_in_order_of_start() {
        let first = grant("b-first", 1000, "2026-11-23T08:00:00Z");
        let second = grant("a-second", 1000, "2026-11-23T09:00:00Z");
        let mut errors = Vec::new();
        let fit = check_principals_and_quotas(
            &[second, first],
            &BTreeMap::new(),
            &state(100),
            &Quotas::default(),
            &mut errors,
        );
        assert_eq!(fit.blocked, BTreeSet::from(["a-second".to_string()]));
    }

    fn role_state(existing: Option<Value>) -> BTreeMap<String, AccountState> {
        let mut s = AccountState {
            account_id: ACCOUNT.into(),
            ..Default::default()
        };
        s.role_ids.insert("ops".into(), "AROA1".into());
        if let Some(document) = existing {
            s.revocation_lists.push(Owned {
                target: Target::SessionRevocations { role: "ops".into() },
                document,
            });
        }
        BTreeMap::from([(ACCOUNT.to_string(), s)])
    }

    fn written(actions: &[Action]) -> Option<Value> {
        assert_eq!(actions.len(), 1, "{actions:#?}");
        let change = actions[0].iam.as_ref().unwrap();
        change
            .document
            .as_ref()
            .map(|d| serde_json::from_str(d).unwrap())
    }

    #[test]
    fn session_denies_are_added_kept_and_pruned_from_the_plans_now() {
        let now = t("2026-11-23T10:00:00Z");
        let end = SessionDeny::at_end(
            ACCOUNT,
            "ops",
            "alice-a",
            "alice",
            t("2026-11-23T11:00:00Z"),
        );
        let doc = written(&revocation_actions(
            &role_state(None),
            std::slice::from_ref(&end),
            now,
            true,
        ))
        .unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Sid"], "JitEndAliceA");
        assert_eq!(st["Condition"]["StringEquals"]["aws:userid"], "AROA1:alice");
        assert_eq!(
            st["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
            "2026-11-23T11:00:00Z"
        );
        // Already there: nothing to write.
        assert!(revocation_actions(&role_state(Some(doc.clone())), &[end], now, true).is_empty());
        // Not required any more (archived) but live: kept; 12h after: pruned.
        assert!(revocation_actions(&role_state(Some(doc.clone())), &[], now, true).is_empty());
        let later = t("2026-11-23T23:00:00Z");
        let pruned = revocation_actions(&role_state(Some(doc.clone())), &[], later, true);
        assert_eq!(written(&pruned), None, "the whole list goes");
        assert!(pruned[0].detail.contains("prune 1 entry"));
        // Anything but a jit deny is not kept in jit's list.
        let mut allow = doc.clone();
        allow["Statement"][0]["Effect"] = json!("Allow");
        assert_eq!(
            written(&revocation_actions(
                &role_state(Some(allow)),
                &[],
                now,
                true
            )),
            None
        );
    }

    #[test]
    fn an_early_revocation_covers_now_plus_the_margin_and_must_be_applied_soon() {
        let now = t("2026-11-23T10:00:00Z");
        let early = SessionDeny::early(
            ACCOUNT,
            "ops",
            "JitAliceA",
            "alice-a",
            vec!["alice".into()],
            now,
        );
        let actions = revocation_actions(&role_state(None), &[early], now, false);
        let doc = written(&actions).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Sid"], "JitRevAliceA");
        assert_eq!(
            st["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            policy::iam_time(now + REVOKE_MARGIN)
        );
        assert!(st["Condition"].get("DateGreaterThan").is_none());
        assert_eq!(
            actions[0].iam.as_ref().unwrap().not_after,
            Some(now + APPLY_WITHIN)
        );
        assert!(APPLY_WITHIN < REVOKE_MARGIN);
    }

    #[test]
    fn session_deny_sids_are_injective() {
        let end =
            |r: &str| SessionDeny::at_end(ACCOUNT, "ops", r, "u", t("2026-11-23T10:00:00Z")).sid;
        assert_ne!(end("a-1"), end("a1"));
        assert_ne!(end("ops-inc-1234"), end("ops-inc1234"));
        let now = t("2026-11-23T10:00:00Z");
        let early = |sid: &str| SessionDeny::early(ACCOUNT, "ops", sid, "", vec![], now).sid;
        assert_ne!(
            early(&crate::iam::sid_for("a-1")),
            early(&crate::iam::sid_for("a1"))
        );
        // A statement that pins no session name fails closed: every session.
        let owned = Owned {
            target: Target::trust("ops", "x"),
            document: policy::as_document(
                json!({"Principal": {"AWS": "arn:aws:iam::1:user/ghost"}}),
            ),
        };
        let defs = Definitions::default();
        assert_eq!(sessions_trusted_by(&owned, &defs, None), ["*"]);
        assert_eq!(
            sessions_trusted_by(&owned, &defs, Some("alice")),
            ["*", "alice"]
        );
        let pinned = Owned {
            target: Target::trust("ops", "x"),
            document: policy::as_document(
                json!({"Condition": {"StringEquals": {"sts:RoleSessionName": "bob"}}}),
            ),
        };
        assert_eq!(
            sessions_trusted_by(&pinned, &defs, Some("alice")),
            ["alice", "bob"]
        );
    }
}
