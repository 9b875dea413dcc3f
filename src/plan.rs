//! Desired grants (from the access repo at `now`) against IAM as it is ->
//! a Plan: plain, serializable data that renderers and apply share. Pure.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::approval::Verdict;
use crate::config::validate::{self, PrincipalKind, parse_principal_arn};
use crate::config::{Contract, Definitions, Mode};
use crate::diag::Subject;
use crate::git::endings::{Ending, Endings};
use crate::git::history::{RequestRecord, Snapshot};
use crate::iam::{AccountState, Target};
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
}

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
    pub commits: usize,
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

/// Why a request cannot be granted, if it cannot: its own errors, or errors in
/// its contract or role (judged in the definitions in force).
pub fn invalid_reason(
    snapshot: &Snapshot,
    defs_diags: &[crate::diag::Diagnostic],
    record: &RequestRecord,
) -> Option<String> {
    let req = &record.request;
    let own: Vec<String> = snapshot
        .diags
        .iter()
        .filter(|d| d.is_error() && d.subject == Subject::Request(req.name.clone()))
        .chain(validate::validate_request(&snapshot.effective, req).iter())
        .map(|d| d.to_string())
        .collect();
    if let Some(first) = own.first() {
        return Some(first.clone());
    }
    let contract = snapshot.effective.contracts.get(&req.contract)?;
    let broken = defs_diags.iter().find(|d| {
        d.is_error()
            && (d.subject == Subject::Contract(contract.name.clone())
                || d.subject == Subject::Role(contract.role.clone()))
    });
    if let Some(d) = broken {
        return Some(format!("contract `{}` has an error: {d}", contract.name));
    }
    None
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
fn grant_for(
    defs: &Definitions,
    contract: &Contract,
    record: &RequestRecord,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Grant, String> {
    let req = &record.request;
    let user = defs
        .users
        .get(&req.requester)
        .ok_or_else(|| format!("unknown user `{}`", req.requester))?;
    let principal = parse_principal_arn(&user.aws)
        .ok_or_else(|| format!("user `{}` has no valid aws ARN", user.name))?;
    let role = defs
        .roles
        .get(&contract.role)
        .ok_or_else(|| format!("unknown role `{}`", contract.role))?;
    let resources = if req.resources.is_empty() {
        &contract.resources
    } else {
        &req.resources
    };
    let (target, account, document) = match contract.mode {
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
            let statement = policy::trust_statement(
                &crate::iam::sid_for(&req.name),
                &user.aws,
                &user.name,
                start,
                end,
                contract.require_mfa,
            );
            let target = Target::trust(&assumed.name, &req.name);
            (target, assumed.account, policy::as_document(statement))
        }
        mode => {
            let target = match mode {
                Mode::ManagedPolicy => Target::managed(principal.kind, &principal.name, &req.name),
                _ => Target::inline(principal.kind, &principal.name, &req.name),
            };
            let doc = policy::grant_document(role, resources, start, end, contract.require_mfa);
            (target, principal.account, doc)
        }
    };
    Ok(Grant {
        request: req.name.clone(),
        principal: user.aws.clone(),
        account,
        document: policy::minify(&document),
        target,
        start,
        end,
        role: role.name.clone(),
    })
}

/// The IAM principal an object lives on (`user/<name>` or `role/<name>`).
fn principal_key(target: &Target) -> String {
    match target {
        Target::UserPolicy { user, .. } => format!("user/{user}"),
        Target::RolePolicy { role, .. } | Target::TrustStatement { role, .. } => {
            format!("role/{role}")
        }
        Target::ManagedPolicy { principal, .. } => principal.clone(),
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
        Target::RolePolicy { .. } => (Budget::RoleInline, policy::iam_size(&g.document)),
        Target::ManagedPolicy { .. } => (Budget::ManagedCount, 1),
        Target::TrustStatement { .. } => {
            let doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
            (
                Budget::Trust,
                policy::iam_size(&policy::minify(&doc["Statement"][0])) + 1,
            )
        }
    }
}

/// Requests that must not be applied: their principal is missing, or adding
/// them breaks an IAM quota (reported naming the principal, quota and fix).
fn check_principals_and_quotas(
    desired: &[Grant],
    iam: &BTreeMap<String, AccountState>,
    quotas: &crate::config::Quotas,
    errors: &mut Vec<String>,
) -> BTreeSet<String> {
    let mut blocked = BTreeSet::new();
    let mut totals: BTreeMap<(String, String, Budget), usize> = BTreeMap::new();
    for g in desired {
        let Some(state) = iam.get(&g.account) else {
            errors.push(format!("{}: account {} was not read", g.request, g.account));
            blocked.insert(g.request.clone());
            continue;
        };
        let key = principal_key(&g.target);
        if !state.principals.contains(&key) {
            errors.push(format!(
                "{}: {key} does not exist in account {}; create the IAM principal or fix the user's aws ARN (or the contract's role_arn)",
                g.request, g.account
            ));
            blocked.insert(g.request.clone());
            continue;
        }
        let (budget, used) = budget_of(g);
        let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
        let foreign = match budget {
            Budget::UserInline | Budget::RoleInline => state.foreign_inline_size.get(&key),
            Budget::ManagedCount => state.foreign_managed_count.get(&key),
            Budget::Trust => state.foreign_trust_size.get(name),
        };
        *totals
            .entry((g.account.clone(), key, budget))
            .or_insert(foreign.copied().unwrap_or(0)) += used;
        if let Target::ManagedPolicy { .. } = g.target {
            let size = policy::iam_size(&g.document);
            if size > quotas.managed_policy {
                errors.push(format!(
                    "{}: managed policy would be {size} characters, over IAM's quota of {} (settings.quotas.managed_policy); narrow the role",
                    g.request, quotas.managed_policy
                ));
                blocked.insert(g.request.clone());
            }
        }
    }
    for g in desired {
        let unchanged = iam
            .get(&g.account)
            .and_then(|s| s.find(&g.target))
            .is_some_and(|o| {
                policy::drift(
                    &o.document,
                    &serde_json::from_str(&g.document).unwrap_or_default(),
                )
                .is_none()
            });
        if unchanged {
            continue;
        }
        let (budget, _) = budget_of(g);
        let key = principal_key(&g.target);
        let Some(total) = totals.get(&(g.account.clone(), key.clone(), budget)) else {
            continue;
        };
        let (limit, what, setting, fix) = match budget {
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
        };
        if *total > limit {
            let unit = if budget == Budget::ManagedCount {
                ""
            } else {
                " characters"
            };
            errors.push(format!(
                "{}: {what} of {key} would total {total}{unit}, over IAM's quota of {limit}; {fix}, or raise settings.quotas.{setting}",
                g.request
            ));
            blocked.insert(g.request.clone());
        }
    }
    blocked
}

/// Plans: what to grant, update, revoke and archive at `now`. A request
/// version with a recorded ending (`endings`) is ended: never granted again.
pub fn plan(
    snapshot: &Snapshot,
    iam: &BTreeMap<String, AccountState>,
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
    let mut desired: Vec<Grant> = Vec::new();
    // Why a request in requests/ has no grant now, for revoke details.
    let mut not_active: BTreeMap<String, String> = BTreeMap::new();

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
        match grant_for(defs, contract, record, start, end) {
            Err(e) => errors.push(format!("{}: {e}", req.name)),
            Ok(grant) if now >= end => {
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

    // Grants whose principal is missing, or that would break a quota, are
    // errors and are left out whole: never half-applied.
    let blocked = check_principals_and_quotas(&desired, iam, &defs.settings.quotas, &mut errors);

    // Desired vs. actual.
    let wanted: BTreeSet<(String, Target)> = desired
        .iter()
        .map(|g| (g.account.clone(), g.target.clone()))
        .collect();
    for g in &desired {
        let state = iam.get(&g.account);
        let existing = state.and_then(|s| s.find(&g.target));
        let doc: Value = serde_json::from_str(&g.document).unwrap_or_default();
        let (kind, detail) = match existing {
            None => (
                ActionKind::Grant,
                format!("{}  until {}", g.role, policy::iam_time(g.end)),
            ),
            Some(o) => match policy::drift(&o.document, &doc) {
                None => continue,
                Some(what) => (
                    ActionKind::Update,
                    format!("drift in {} ({what})", g.target.policy_name()),
                ),
            },
        };
        if blocked.contains(&g.request) {
            continue;
        }
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
            }),
            archive: None,
        });
    }
    for (account, state) in iam {
        for owned in &state.owned {
            if wanted.contains(&(account.clone(), owned.target.clone())) {
                continue;
            }
            let request = snapshot
                .requests
                .iter()
                .map(|r| r.request.name.as_str())
                .find(|n| owned.target.is_for(n))
                .or_else(|| owned.target.request())
                .unwrap_or_default()
                .to_string();
            let detail = not_active
                .get(&request)
                .cloned()
                .unwrap_or_else(|| "no active request (request file removed or unknown)".into());
            actions.push(Action {
                action: ActionKind::Revoke,
                request,
                principal: format!("arn:aws:iam::{account}:{}", principal_key(&owned.target)),
                account: account.clone(),
                target: owned.target.to_string(),
                start: None,
                end: None,
                detail,
                iam: Some(IamChange {
                    target: owned.target.clone(),
                    document: None,
                    observed: Some(owned.document.clone()),
                }),
                archive: None,
            });
        }
    }
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
            iam_calls: iam.values().map(|s| s.calls).sum(),
            github_calls: snapshot.forge_calls,
            elapsed_ms: 0,
            commits: snapshot.commits_walked,
        },
    }
}

fn summarize(actions: &[Action]) -> Summary {
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
pub fn plan_revoke(
    snapshot: &Snapshot,
    iam: &BTreeMap<String, AccountState>,
    now: DateTime<Utc>,
    name: &str,
    reason: &str,
    by: &str,
) -> Result<Plan, String> {
    let Some(record) = snapshot.requests.iter().find(|r| r.request.name == name) else {
        let mut close: Vec<(f64, &str)> = snapshot
            .requests
            .iter()
            .map(|r| {
                (
                    strsim::jaro_winkler(name, &r.request.name),
                    r.request.name.as_str(),
                )
            })
            .filter(|(score, _)| *score > 0.7)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0));
        let hint = match close.first() {
            Some((_, n)) => format!("; did you mean `{n}`?"),
            None => String::new(),
        };
        return Err(format!("no request `{name}` in requests/{hint}"));
    };
    let defs = &snapshot.effective;
    let req = &record.request;
    let principal = defs
        .users
        .get(&req.requester)
        .map(|u| u.aws.clone())
        .unwrap_or_default();
    let window = record
        .verdict
        .is_approved()
        .then(|| window(record))
        .flatten();
    let mut actions = Vec::new();
    for (account, state) in iam {
        for owned in state.owned.iter().filter(|o| o.target.is_for(name)) {
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
                }),
                archive: None,
            });
        }
    }
    let account = parse_principal_arn(&principal)
        .map(|p| p.account)
        .unwrap_or_default();
    let to = archive_path(name, now);
    actions.push(Action {
        action: ActionKind::Archive,
        request: name.to_string(),
        principal,
        account,
        target: format!("requests/{name}.hcl -> {to}"),
        start: window.map(|w| w.0),
        end: window.map(|w| w.1),
        detail: format!("revoked by {by}: {reason}"),
        iam: None,
        archive: Some(ArchiveMove {
            from: format!("requests/{name}.hcl"),
            to,
            contract: req.contract.clone(),
            requester: req.requester.clone(),
            approved_by: record.approver_emails.clone(),
            outcome: Outcome::Revoked,
            reason: Some(reason.to_string()),
            revoked_by: Some(by.to_string()),
        }),
    });
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
            commits: snapshot.commits_walked,
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
    let to = archive_path(&req.name, ending.at);
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
        detail: format!(
            "ended {} by {}: {}",
            policy::iam_time(ending.at),
            ending.by,
            ending.reason
        ),
        iam: None,
        archive: Some(ArchiveMove {
            from: format!("requests/{}.hcl", req.name),
            to,
            contract: req.contract.clone(),
            requester: req.requester.clone(),
            approved_by: record.approver_emails.clone(),
            outcome: Outcome::Revoked,
            reason: Some(ending.reason.clone()),
            revoked_by: Some(ending.by.clone()),
        }),
    }
}
