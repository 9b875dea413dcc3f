//! `jit audit`: the branch's first-parent history -> who had access to what,
//! when, why, approved by whom, and how it ended. [`walk::read`] reads git
//! into a [`History`] (one [`Lifecycle`] per version of a request file, and
//! every definitions change); everything else here is pure: events, filters,
//! the `--verify` checks and the evidence report are functions of that value
//! and `now`.
//!
//! # Events (`--format json`: JSON Lines, one object per line)
//!
//! Every line has all of these fields, in this order (`null` or `[]` when a
//! field does not apply to the event):
//!
//! | field        | type              | meaning |
//! |--------------|-------------------|---------|
//! | `event`      | string            | `requested`, `approved`, `granted`, `expired`, `revoked`, `withdrawn` or `changed` |
//! | `time`       | RFC 3339          | when it happened: `requested` the commit's author time, `approved` the merge (commit) time, `granted` the window start, `expired` the window end (or, for a late end, the commit that ended it), `revoked`/`withdrawn` the commit that ended it, `changed` the commit time |
//! | `request`    | string \| null    | request name (`null` for `changed`) |
//! | `contract`   | string \| null    | contract the request is under, or the contract a `changed` event edits |
//! | `requester`  | string \| null    | the user the request is for |
//! | `principal`  | string \| null    | the requester's AWS principal ARN |
//! | `role`       | string \| null    | the role (permission set) granted, or the role a `changed` event edits |
//! | `resources`  | [string]          | resources the grant covers (the request's narrowing, else the contract's patterns) |
//! | `start`      | RFC 3339 \| null  | the grant window's start |
//! | `end`        | RFC 3339 \| null  | the grant window's end |
//! | `by`         | [string]          | who did it: `requested`/`withdrawn`/`changed` the commit's author, `approved` the approvers, `revoked`/`expired` who ended it (`Jit-Revoked-By`, the bot, or the author of the deleting commit); `[]` for `granted` and for an expiry nobody has committed yet |
//! | `approvers`  | [string]          | the approvals backing the grant or the change (user names; an email when no declared user has it); `[]` when auto-approved or not approved |
//! | `approved`   | bool \| null      | `requested`/`changed`: whether the approvals were valid (recomputed from history); `null` for the other events |
//! | `reason`     | string \| null    | the request's reason; for `revoked`/`withdrawn` why it ended (`Jit-Reason`, or the deleting commit's subject); for `changed` the commit's subject |
//! | `object`     | string \| null    | `changed` only: `contract:NAME`, `role:NAME`, `user:NAME`, `team:NAME`, `account:NAME`, `guardrail:NAME` or `settings` |
//! | `commit`     | string            | full sha of the commit that evidences the event (for `granted`, and an expiry not yet committed, the commit that approved the request) |
//! | `detail`     | string            | a human sentence: why not approved, how late, what replaced it |
//!
//! `--format csv` has a header row with the same names in the same order;
//! lists are joined with `;`.
//!
//! # Lifecycle of a request
//!
//! A version of a request is the content a first-parent commit wrote to
//! `requests/<name>.hcl`. Its approval is recomputed from scratch
//! ([`approval::judge_request`] against the definitions in force before that
//! commit). It is *granted* when approved, valid, and its window started before
//! it ended. It ends when jit's bot archives it (the `Jit-*` trailers of
//! [`crate::apply::archive_message`]), when a person's commit deletes it
//! (`revoked` early, or `withdrawn` when it was never granted), or when a
//! commit changes its content (a new version needs approval again).

pub mod walk;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use git2::Oid;
use serde::Serialize;

use crate::approval::{Object, Verdict};
use crate::config::Duration;
use crate::plan::{ActionKind, Plan};

/// What `jit audit` reads from git: every request version and definitions change.
#[derive(Debug, Clone)]
pub struct History {
    pub branch: String,
    /// The branch the definitions in force name (settings.branch as last approved).
    pub approved_branch: String,
    pub head: Oid,
    /// First-parent commits on the branch.
    pub commits: usize,
    /// Commits read in full (the others changed neither requests, archive nor definitions).
    pub examined: usize,
    pub lifecycles: Vec<Lifecycle>,
    pub changes: Vec<DefinitionChange>,
    /// Bot archive commits whose `Jit-Request` was not in `requests/` there.
    pub strays: Vec<StrayArchive>,
}

/// One version of a request file, from the commit that wrote it to the one that ended it.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub request: String,
    pub path: String,
    /// The first-parent commit that introduced this content.
    pub commit: Oid,
    /// That commit's author time.
    pub requested_at: DateTime<Utc>,
    /// That commit's commit time: the approval time.
    pub approved_at: DateTime<Utc>,
    /// Who wrote it: a user name, or the author's email when undeclared.
    pub author: String,
    /// The commit of the version this one replaced.
    pub replaces: Option<Oid>,
    pub contract: String,
    pub requester: String,
    pub principal: Option<String>,
    pub role: Option<String>,
    pub resources: Vec<String>,
    pub reason: String,
    /// Why the request cannot be granted (parse or validation error), if so.
    pub invalid: Option<String>,
    pub verdict: Verdict,
    /// Its window: start = max(approved_at, not_before), end = start + duration.
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub ending: Option<Ending>,
}

/// The commit that ended a request version.
#[derive(Debug, Clone)]
pub struct Ending {
    pub how: EndedBy,
    pub commit: Oid,
    /// The commit time.
    pub at: DateTime<Utc>,
    /// Who ended it: a user name, an email, or the bot's name.
    pub by: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EndedBy {
    /// jit's bot moved it to `archive/`, with these trailers.
    Archive(Box<ArchiveTrailers>),
    /// jit's bot (or someone with its email) removed it without `Jit-*` trailers for it.
    ArchiveWithoutTrailers,
    /// A person's commit deleted the file.
    Deleted,
    /// A commit changed its content: a new version replaces it.
    Changed,
}

/// The `Jit-*` trailers of an archive commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArchiveTrailers {
    pub request: String,
    pub contract: Option<String>,
    pub requester: Option<String>,
    pub principal: Option<String>,
    /// Emails as recorded; empty with `auto_approve`.
    pub approved_by: Vec<String>,
    pub auto_approve: bool,
    pub granted: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
    /// `expired` or `revoked` as written.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub revoked_by: Option<String>,
}

impl ArchiveTrailers {
    /// Reads the trailers of a commit message; `None` without `Jit-Request`.
    pub fn parse(message: &str) -> Option<ArchiveTrailers> {
        let trailers = git2::message_trailers_strs(message).ok()?;
        let mut t = ArchiveTrailers::default();
        let time = |v: &str| {
            DateTime::parse_from_rfc3339(v.trim())
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let mut has_request = false;
        for (key, value) in trailers.iter() {
            let value = value.trim();
            match key.to_ascii_lowercase().as_str() {
                "jit-request" => {
                    t.request = value.to_string();
                    has_request = true;
                }
                "jit-contract" => t.contract = Some(value.to_string()),
                "jit-requester" => t.requester = Some(value.to_string()),
                "jit-principal" => t.principal = Some(value.to_string()),
                "jit-approved-by" if value.eq_ignore_ascii_case("auto-approve") => {
                    t.auto_approve = true
                }
                "jit-approved-by" => t.approved_by.push(value.to_string()),
                "jit-granted" => t.granted = time(value),
                "jit-expires" => t.expires = time(value),
                "jit-revoked" => t.revoked = time(value),
                "jit-outcome" => t.outcome = Some(value.to_ascii_lowercase()),
                "jit-reason" => t.reason = Some(value.to_string()),
                "jit-revoked-by" => t.revoked_by = Some(value.to_string()),
                _ => {}
            }
        }
        has_request.then_some(t)
    }
}

/// A change to one definitions object and whether it took effect.
#[derive(Debug, Clone)]
pub struct DefinitionChange {
    pub object: Object,
    pub commit: Oid,
    pub at: DateTime<Utc>,
    pub author: String,
    pub subject: String,
    /// Judged against the definitions in force before the commit.
    pub verdict: Verdict,
    /// For a contract: its role (after the change, else before).
    pub role: Option<String>,
}

/// A bot archive commit for a request that was not in `requests/` there.
#[derive(Debug, Clone)]
pub struct StrayArchive {
    pub commit: Oid,
    pub at: DateTime<Utc>,
    pub trailers: ArchiveTrailers,
}

impl Lifecycle {
    pub fn is_approved(&self) -> bool {
        self.verdict.is_approved()
    }

    pub fn approvers(&self) -> &[String] {
        match &self.verdict {
            Verdict::Approved { approvers } => approvers,
            Verdict::Pending { .. } => &[],
        }
    }

    /// The window, when access was (or is) granted: approved, valid, and it
    /// started before the version ended (or by `now`, when still open).
    pub fn granted(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_approved() || self.invalid.is_some() {
            return None;
        }
        let (start, end) = self.window?;
        let started = match &self.ending {
            Some(e) => start < e.at,
            None => start <= now,
        };
        started.then_some((start, end))
    }

    /// The archive commit's `Jit-Granted`, when the bot recorded a grant.
    pub fn recorded_grant(&self) -> Option<&ArchiveTrailers> {
        match &self.ending {
            Some(Ending {
                how: EndedBy::Archive(t),
                ..
            }) if t.granted.is_some() => Some(t),
            _ => None,
        }
    }
}

/// How a granted request stands at `now`.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantState {
    /// Inside its window, still in `requests/`.
    Active,
    /// Its window ended; not yet revoked and archived (`late` past the end).
    Overdue { late: TimeDelta },
    /// Ended by a commit `late` after (negative: before) the window's end.
    Ended { late: TimeDelta },
}

/// A request version that was granted, with its window and state at `now`.
#[derive(Debug, Clone)]
pub struct Grant<'h> {
    pub lifecycle: &'h Lifecycle,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: GrantState,
}

impl Grant<'_> {
    /// When access stopped (the ending commit, or the window end), or `None` while active.
    pub fn stopped(&self) -> Option<DateTime<Utc>> {
        match (&self.state, &self.lifecycle.ending) {
            (GrantState::Active, _) => None,
            (_, Some(e)) => Some(e.at.min(self.end)),
            (_, None) => Some(self.end),
        }
    }

    /// Revoked within `tolerance` of the end (early counts as on time);
    /// `None` while not due yet.
    pub fn on_time(&self, tolerance: Duration) -> Option<bool> {
        match &self.state {
            GrantState::Active => None,
            GrantState::Overdue { late } if *late <= tolerance.to_delta() => None,
            GrantState::Overdue { .. } => Some(false),
            GrantState::Ended { late } => Some(*late <= tolerance.to_delta()),
        }
    }
}

/// Every granted request version, in history order.
pub fn grants(history: &History, now: DateTime<Utc>) -> Vec<Grant<'_>> {
    history
        .lifecycles
        .iter()
        .filter_map(|lc| {
            let (start, end) = lc.granted(now)?;
            let state = match &lc.ending {
                Some(e) => GrantState::Ended { late: e.at - end },
                None if now >= end => GrantState::Overdue { late: now - end },
                None => GrantState::Active,
            };
            Some(Grant {
                lifecycle: lc,
                start,
                end,
                state,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Requested,
    Approved,
    Granted,
    Expired,
    Revoked,
    Withdrawn,
    Changed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Requested => "requested",
            EventKind::Approved => "approved",
            EventKind::Granted => "granted",
            EventKind::Expired => "expired",
            EventKind::Revoked => "revoked",
            EventKind::Withdrawn => "withdrawn",
            EventKind::Changed => "changed",
        }
    }
}

/// One line of `jit audit` (see the module doc for the field contract).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub event: EventKind,
    pub time: DateTime<Utc>,
    pub request: Option<String>,
    pub contract: Option<String>,
    pub requester: Option<String>,
    pub principal: Option<String>,
    pub role: Option<String>,
    pub resources: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub by: Vec<String>,
    pub approvers: Vec<String>,
    pub approved: Option<bool>,
    pub reason: Option<String>,
    pub object: Option<String>,
    pub commit: String,
    pub detail: String,
}

/// The field names of [`Event`], in order: the CSV header.
pub const EVENT_FIELDS: [&str; 17] = [
    "event",
    "time",
    "request",
    "contract",
    "requester",
    "principal",
    "role",
    "resources",
    "start",
    "end",
    "by",
    "approvers",
    "approved",
    "reason",
    "object",
    "commit",
    "detail",
];

fn ts(t: DateTime<Utc>) -> String {
    crate::policy::iam_time(t)
}

/// `45s`, `12m`, `1h30m`, `2d3h`.
pub fn human(d: TimeDelta) -> String {
    let secs = d.num_seconds().abs();
    if secs < 60 {
        return format!("{secs}s");
    }
    Duration::from_minutes(secs / 60).to_string()
}

/// Every event in history, ordered by time (ties keep history order).
pub fn events(history: &History, now: DateTime<Utc>) -> Vec<Event> {
    ordered_events(history, now).collect()
}

/// The events of [`events`], one at a time: only a sort key per event is
/// held (time, source, index), and each event is built when its turn comes,
/// so printing a long history never holds every event at once.
pub fn ordered_events(history: &History, now: DateTime<Utc>) -> impl Iterator<Item = Event> + '_ {
    let mut keys: Vec<(DateTime<Utc>, u32, u8)> = Vec::new();
    let mut scratch = Vec::new();
    let sources = history.lifecycles.len() + history.strays.len() + history.changes.len();
    for source in 0..sources {
        scratch.clear();
        source_events(history, now, source, &mut scratch);
        keys.extend(
            scratch
                .iter()
                .enumerate()
                .map(|(k, e)| (e.time, source as u32, k as u8)),
        );
    }
    keys.sort_by_key(|k| k.0); // stable: ties keep history order
    let mut built: (usize, Vec<Event>) = (usize::MAX, Vec::new());
    keys.into_iter().map(move |(_, source, k)| {
        let source = source as usize;
        if built.0 != source {
            built.1.clear();
            source_events(history, now, source, &mut built.1);
            built.0 = source;
        }
        built.1[usize::from(k)].clone()
    })
}

/// The events of one source: lifecycles first, then stray archive
/// commits, then definitions changes (history order).
fn source_events(history: &History, now: DateTime<Utc>, source: usize, out: &mut Vec<Event>) {
    let strays = history.lifecycles.len();
    let changes = strays + history.strays.len();
    if source < strays {
        lifecycle_events(&history.lifecycles[source], now, out);
    } else if source < changes {
        stray_events(&history.strays[source - strays], out);
    } else {
        out.push(change_event(&history.changes[source - changes]));
    }
}

fn lifecycle_events(lc: &Lifecycle, now: DateTime<Utc>, out: &mut Vec<Event>) {
    let base = Event {
        event: EventKind::Requested,
        time: lc.requested_at,
        request: Some(lc.request.clone()),
        contract: Some(lc.contract.clone()).filter(|c| !c.is_empty()),
        requester: Some(lc.requester.clone()).filter(|r| !r.is_empty()),
        principal: lc.principal.clone(),
        role: lc.role.clone(),
        resources: lc.resources.clone(),
        start: lc.window.map(|w| w.0),
        end: lc.window.map(|w| w.1),
        by: vec![lc.author.clone()],
        approvers: lc.approvers().to_vec(),
        approved: None,
        reason: Some(lc.reason.clone()).filter(|r| !r.is_empty()),
        object: None,
        commit: lc.commit.to_string(),
        detail: String::new(),
    };

    let mut detail = Vec::new();
    if let Some(old) = lc.replaces {
        detail.push(format!(
            "changes the request; replaces the version of {}",
            crate::git::short(old)
        ));
    }
    if let Verdict::Pending { reason } = &lc.verdict {
        detail.push(format!("not approved: {reason}"));
    }
    if let Some(why) = &lc.invalid {
        detail.push(format!("invalid: {why}"));
    }
    out.push(Event {
        approved: Some(lc.is_approved()),
        detail: detail.join("; "),
        ..base.clone()
    });

    if let Verdict::Approved { approvers } = &lc.verdict {
        let detail = if approvers.is_empty() {
            format!(
                "auto-approved: contract `{}` needs only the merge",
                lc.contract
            )
        } else {
            format!("approved by {}", approvers.join(", "))
        };
        out.push(Event {
            event: EventKind::Approved,
            time: lc.approved_at,
            by: approvers.clone(),
            detail,
            ..base.clone()
        });
    }

    let granted = lc.granted(now);
    let recorded = lc.recorded_grant();
    let start = granted
        .map(|w| w.0)
        .or_else(|| recorded.and_then(|t| t.granted));
    if let Some(start) = start {
        let end = granted.map(|w| w.1).or_else(|| recorded?.expires);
        let detail = match (granted, &lc.verdict) {
            (None, Verdict::Pending { reason }) => format!(
                "the archive commit records a grant, but the request was never validly approved ({reason})"
            ),
            (None, _) => "the archive commit records a grant that history does not support".into(),
            (Some((_, end)), _) if lc.ending.is_none() && now < end => {
                format!("active until {} ({} left)", ts(end), human(end - now))
            }
            (Some((_, end)), _) => format!("until {}", ts(end)),
        };
        out.push(Event {
            event: EventKind::Granted,
            time: start,
            start: Some(start),
            end,
            by: Vec::new(),
            detail,
            ..base.clone()
        });
    }

    match &lc.ending {
        None => {
            if let Some((_, end)) = granted
                && now >= end
            {
                out.push(Event {
                    event: EventKind::Expired,
                    time: end,
                    by: Vec::new(),
                    detail: format!(
                        "window ended {} ago; not yet revoked and archived (jit apply does that)",
                        human(now - end)
                    ),
                    ..base.clone()
                });
            }
        }
        Some(ending) => {
            let end = granted.map(|w| w.1).or(base.end);
            let was_granted = start.is_some();
            let (kind, detail) = ending_kind(lc, ending, was_granted, end);
            if kind == EventKind::Withdrawn && ending.how == EndedBy::Changed {
                return; // the next version's `requested` says it replaced this one
            }
            let time = match kind {
                // An expiry happened at the window's end, however late it was committed.
                EventKind::Expired => end.map_or(ending.at, |e| e.min(ending.at)),
                _ => ending.at,
            };
            out.push(Event {
                event: kind,
                time,
                by: vec![ending.by.clone()],
                reason: match kind {
                    EventKind::Expired => ending.reason.clone().or(base.reason.clone()),
                    _ => ending.reason.clone(),
                },
                commit: ending.commit.to_string(),
                detail,
                ..base
            });
        }
    }
}

/// Whether an ending was an expiry, an early revocation or a withdrawal, and what to say.
fn ending_kind(
    lc: &Lifecycle,
    ending: &Ending,
    was_granted: bool,
    end: Option<DateTime<Utc>>,
) -> (EventKind, String) {
    if !was_granted {
        let detail = match &ending.how {
            EndedBy::Changed => "replaced by a new version before it was granted".to_string(),
            EndedBy::Deleted => "request file removed before it was granted".to_string(),
            _ => "archived before it was granted".to_string(),
        };
        return (EventKind::Withdrawn, detail);
    }
    let late = end.map(|e| ending.at - e);
    let lateness = match late {
        Some(l) if l > TimeDelta::zero() => format!(
            "; committed {} after the window ended {}",
            human(l),
            ts(end.unwrap_or(ending.at))
        ),
        _ => String::new(),
    };
    let expired = late.is_some_and(|l| l >= TimeDelta::zero());
    match &ending.how {
        EndedBy::Archive(t) => {
            let outcome = t.outcome.as_deref();
            let kind = match outcome {
                Some("expired") => EventKind::Expired,
                Some("revoked") => EventKind::Revoked,
                _ if expired => EventKind::Expired,
                _ => EventKind::Revoked,
            };
            let mut detail = match (kind, &t.revoked_by) {
                (EventKind::Revoked, Some(_)) => {
                    format!("ended early by {} (jit revoke)", ending.by)
                }
                (EventKind::Revoked, None) => "revoked by jit".to_string(),
                _ => "revoked and archived by jit".to_string(),
            };
            if outcome.is_none() {
                detail.push_str("; the archive commit has no Jit-Outcome");
            }
            (kind, detail + &lateness)
        }
        EndedBy::ArchiveWithoutTrailers => (
            if expired {
                EventKind::Expired
            } else {
                EventKind::Revoked
            },
            format!(
                "removed by a commit authored as jit's bot without Jit-* trailers for `{}`{lateness}",
                lc.request
            ),
        ),
        EndedBy::Deleted if expired => (
            EventKind::Expired,
            format!(
                "request file removed by {} after the window ended, without an archive commit{lateness}",
                ending.by
            ),
        ),
        EndedBy::Deleted => (
            EventKind::Revoked,
            format!("ended early: request file removed by {}", ending.by),
        ),
        EndedBy::Changed if expired => (
            EventKind::Expired,
            format!("request changed after the window ended, without an archive commit{lateness}"),
        ),
        EndedBy::Changed => (
            EventKind::Revoked,
            format!(
                "ended early: request changed by {}; the new version needs its own approval",
                ending.by
            ),
        ),
    }
}

fn stray_events(stray: &StrayArchive, out: &mut Vec<Event>) {
    let t = &stray.trailers;
    let base = Event {
        event: EventKind::Granted,
        time: stray.at,
        request: Some(t.request.clone()),
        contract: t.contract.clone(),
        requester: t.requester.clone(),
        principal: t.principal.clone(),
        role: None,
        resources: Vec::new(),
        start: t.granted,
        end: t.expires,
        by: Vec::new(),
        approvers: t.approved_by.clone(),
        approved: None,
        reason: t.reason.clone(),
        object: None,
        commit: stray.commit.to_string(),
        detail: String::new(),
    };
    if let Some(start) = t.granted {
        out.push(Event {
            time: start,
            detail: "recorded only by an archive commit; the request was never in requests/".into(),
            ..base.clone()
        });
    }
    let kind = match t.outcome.as_deref() {
        Some("expired") => EventKind::Expired,
        _ => EventKind::Revoked,
    };
    out.push(Event {
        event: kind,
        by: vec![t.revoked_by.clone().unwrap_or_else(|| "jit".into())],
        detail: "archive commit for a request that was not in requests/".into(),
        ..base
    });
}

/// `contract:db-read`, `role:rds-read`, `settings`.
pub fn object_label(object: &Object) -> String {
    match object {
        Object::Settings => "settings".into(),
        Object::Account(n) => format!("account:{n}"),
        Object::User(n) => format!("user:{n}"),
        Object::Team(n) => format!("team:{n}"),
        Object::Role(n) => format!("role:{n}"),
        Object::Contract(n) => format!("contract:{n}"),
        Object::Guardrail(n) => format!("guardrail:{n}"),
    }
}

fn change_event(c: &DefinitionChange) -> Event {
    let (approved, approvers, detail) = match &c.verdict {
        Verdict::Approved { approvers } => (
            true,
            approvers.clone(),
            format!("{} changed; approved by {}", c.object, approvers.join(", ")),
        ),
        Verdict::Pending { reason } => (
            false,
            Vec::new(),
            format!(
                "{} changed but not in force (the last approved version stands): {reason}",
                c.object
            ),
        ),
    };
    Event {
        event: EventKind::Changed,
        time: c.at,
        request: None,
        contract: match &c.object {
            Object::Contract(n) => Some(n.clone()),
            _ => None,
        },
        requester: None,
        principal: None,
        role: c.role.clone(),
        resources: Vec::new(),
        start: None,
        end: None,
        by: vec![c.author.clone()],
        approvers,
        approved: Some(approved),
        reason: Some(c.subject.clone()),
        object: Some(object_label(&c.object)),
        commit: c.commit.to_string(),
        detail,
    }
}

/// `--since`, `--until`, `--user`, `--contract`, `--request`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
    pub user: Option<String>,
    pub contract: Option<String>,
    pub request: Option<String>,
}

impl Filter {
    fn in_period(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// Whether [from, to) meets the period (`to` = None: still going).
    pub fn overlaps(&self, from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> bool {
        self.until.is_none_or(|u| from < u) && self.since.is_none_or(|s| to.is_none_or(|t| t > s))
    }

    fn same(a: &Option<String>, b: Option<&str>) -> bool {
        a.as_deref().is_none_or(|a| b.is_some_and(|b| a == b))
    }

    fn user_in<'a>(&self, mut names: impl Iterator<Item = &'a str>) -> bool {
        match &self.user {
            None => true,
            Some(u) => names.any(|n| n.eq_ignore_ascii_case(u)),
        }
    }

    pub fn event(&self, e: &Event) -> bool {
        self.in_period(e.time)
            && Filter::same(&self.contract, e.contract.as_deref())
            && Filter::same(&self.request, e.request.as_deref())
            && self.user_in(
                e.requester
                    .iter()
                    .chain(&e.by)
                    .chain(&e.approvers)
                    .map(String::as_str),
            )
    }

    /// A grant's request, contract and requester match, and its access meets the period.
    pub fn grant(&self, g: &Grant) -> bool {
        let lc = g.lifecycle;
        self.lifecycle(lc) && self.overlaps(g.start, g.stopped())
    }

    fn lifecycle(&self, lc: &Lifecycle) -> bool {
        Filter::same(&self.contract, Some(&lc.contract))
            && Filter::same(&self.request, Some(&lc.request))
            && self.user_in(
                std::iter::once(lc.requester.as_str())
                    .chain(lc.approvers().iter().map(|s| s.as_str())),
            )
    }

    pub fn violation(&self, v: &Violation) -> bool {
        v.time.is_none_or(|t| self.in_period(t))
            && (self.contract.is_none() || Filter::same(&self.contract, v.contract.as_deref()))
            && (self.request.is_none() || Filter::same(&self.request, v.request.as_deref()))
            && (self.user.is_none() || self.user_in(v.requester.iter().map(String::as_str)))
    }
}

/// A `--verify` finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The revocation was committed more than the tolerance after the window ended.
    LateRevocation,
    /// The window ended more than the tolerance ago and the request is still in requests/.
    NotRevoked,
    /// IAM holds a jit-* object that no active grant covers.
    IamPastWindow,
    /// Archived as granted (or granted now) without valid approvals.
    UnapprovedGrant,
    /// A bot archive commit without the `Jit-*` trailers that record the outcome.
    MalformedArchive,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::LateRevocation => "late_revocation",
            Check::NotRevoked => "not_revoked",
            Check::IamPastWindow => "iam_past_window",
            Check::UnapprovedGrant => "unapproved_grant",
            Check::MalformedArchive => "malformed_archive",
        }
    }
}

/// One problem `--verify` found (JSON Lines with `--format json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub check: Check,
    pub request: Option<String>,
    pub contract: Option<String>,
    pub requester: Option<String>,
    /// When the problem began (the window's end, the archive commit).
    pub time: Option<DateTime<Utc>>,
    pub commit: Option<String>,
    /// The IAM object, for `iam_past_window`.
    pub target: Option<String>,
    pub detail: String,
}

/// The field names of [`Violation`], in order: the CSV header.
pub const VIOLATION_FIELDS: [&str; 8] = [
    "check",
    "request",
    "contract",
    "requester",
    "time",
    "commit",
    "target",
    "detail",
];

/// What `--verify` counts when it finds nothing wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub grants: usize,
    pub ended: usize,
    pub active: usize,
    pub on_time: usize,
    pub iam_checked: bool,
}

pub fn counts(grants: &[Grant], tolerance: Duration) -> Counts {
    Counts {
        grants: grants.len(),
        ended: grants
            .iter()
            .filter(|g| g.state != GrantState::Active)
            .count(),
        active: grants
            .iter()
            .filter(|g| g.state == GrantState::Active)
            .count(),
        on_time: grants
            .iter()
            .filter(|g| g.on_time(tolerance) == Some(true))
            .count(),
        iam_checked: false,
    }
}

/// The history checks of `--verify`: every grant's revocation committed within
/// `tolerance` of its end, and every recorded grant validly approved.
pub fn verify_history(
    history: &History,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Vec<Violation> {
    let tol = tolerance.to_delta();
    let mut out = Vec::new();
    let about = |lc: &Lifecycle, check, time, commit: Oid, detail| Violation {
        check,
        request: Some(lc.request.clone()),
        contract: Some(lc.contract.clone()),
        requester: Some(lc.requester.clone()),
        time: Some(time),
        commit: Some(commit.to_string()),
        target: None,
        detail,
    };
    for g in grants(history, now) {
        let lc = g.lifecycle;
        match &g.state {
            GrantState::Ended { late } if *late > tol => {
                let e = lc.ending.as_ref().expect("an ended grant has an ending");
                out.push(about(
                    lc,
                    Check::LateRevocation,
                    g.end,
                    e.commit,
                    format!(
                        "window ended {}; the revocation was committed {} ({}) by {}, {} late (tolerance {tolerance})",
                        ts(g.end),
                        ts(e.at),
                        crate::git::short(e.commit),
                        e.by,
                        human(*late)
                    ),
                ));
            }
            GrantState::Overdue { late } if *late > tol => out.push(about(
                lc,
                Check::NotRevoked,
                g.end,
                lc.commit,
                format!(
                    "window ended {} ({} ago) but {} is still in requests/ with no archive commit; run jit apply",
                    ts(g.end),
                    human(*late),
                    lc.path
                ),
            )),
            _ => {}
        }
    }
    for lc in &history.lifecycles {
        let Some(ending) = &lc.ending else { continue };
        match &ending.how {
            EndedBy::Archive(t) => {
                if let Some(granted) = t.granted
                    && lc.granted(now).is_none()
                {
                    let why = match (&lc.verdict, &lc.invalid) {
                        (Verdict::Pending { reason }, _) => format!("no valid approval: {reason}"),
                        (_, Some(invalid)) => format!("the request is invalid: {invalid}"),
                        _ => "its window had not started".to_string(),
                    };
                    out.push(about(
                        lc,
                        Check::UnapprovedGrant,
                        granted,
                        ending.commit,
                        format!(
                            "archive commit {} records a grant from {} (approved by {}), but the request introduced in {} has {why}",
                            crate::git::short(ending.commit),
                            ts(granted),
                            if t.auto_approve {
                                "auto-approve".to_string()
                            } else {
                                t.approved_by.join(", ")
                            },
                            crate::git::short(lc.commit),
                        ),
                    ));
                }
                if t.outcome.is_none() {
                    out.push(about(
                        lc,
                        Check::MalformedArchive,
                        ending.at,
                        ending.commit,
                        format!(
                            "archive commit {} has no Jit-Outcome trailer",
                            crate::git::short(ending.commit)
                        ),
                    ));
                }
            }
            EndedBy::ArchiveWithoutTrailers => out.push(about(
                lc,
                Check::MalformedArchive,
                ending.at,
                ending.commit,
                format!(
                    "commit {} authored as jit's bot removed {} without Jit-* trailers for it",
                    crate::git::short(ending.commit),
                    lc.path
                ),
            )),
            _ => {}
        }
    }
    for stray in &history.strays {
        let t = &stray.trailers;
        out.push(Violation {
            check: if t.granted.is_some() {
                Check::UnapprovedGrant
            } else {
                Check::MalformedArchive
            },
            request: Some(t.request.clone()),
            contract: t.contract.clone(),
            requester: t.requester.clone(),
            time: Some(t.granted.unwrap_or(stray.at)),
            commit: Some(stray.commit.to_string()),
            target: None,
            detail: format!(
                "archive commit {} records request `{}`{}, but no such request was in requests/ on the branch",
                crate::git::short(stray.commit),
                t.request,
                t.granted
                    .map(|g| format!(" as granted from {}", ts(g)))
                    .unwrap_or_default()
            ),
        });
    }
    out.sort_by_key(|v| (v.time, v.check));
    out
}

/// The IAM check of `--verify`: every `revoke` in a plan made now is a jit-*
/// object IAM holds that no active grant covers.
pub fn verify_iam(plan: &Plan, history: &History) -> Vec<Violation> {
    plan.actions
        .iter()
        .filter(|a| a.action == ActionKind::Revoke)
        .map(|a| {
            let lc = history
                .lifecycles
                .iter()
                .rev()
                .find(|lc| lc.request == a.request);
            Violation {
                check: Check::IamPastWindow,
                request: Some(a.request.clone()).filter(|r| !r.is_empty()),
                contract: lc.map(|lc| lc.contract.clone()),
                requester: lc.map(|lc| lc.requester.clone()),
                time: Some(plan.now),
                commit: None,
                target: Some(format!("{} in account {}", a.target, a.account)),
                detail: format!(
                    "IAM still holds {} in account {}, which no active grant covers ({}); jit apply would revoke it",
                    a.target, a.account, a.detail
                ),
            }
        })
        .collect()
}

/// The evidence report for a period: plain data the Markdown renderer draws.
#[derive(Debug, Clone)]
pub struct Report {
    pub branch: String,
    pub head: String,
    pub now: DateTime<Utc>,
    pub filter: Filter,
    pub tolerance: Duration,
    pub grants: Vec<ReportGrant>,
    /// Request versions in the period that were never granted.
    pub not_granted: Vec<ReportRequest>,
    /// Definitions changes in the period.
    pub changes: Vec<Event>,
    pub violations: Vec<Violation>,
    pub iam_checked: bool,
}

#[derive(Debug, Clone)]
pub struct ReportGrant {
    pub request: String,
    pub requester: String,
    pub contract: String,
    pub role: String,
    pub resources: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// When access actually stopped; `None` while active.
    pub stopped: Option<DateTime<Utc>>,
    /// `expired`, `revoked early by X: why`, `active`, `ended, not yet archived`.
    pub outcome: String,
    /// `Some(true)` revoked within tolerance (or early), `None` not due yet.
    pub on_time: Option<bool>,
    pub approvers: Vec<String>,
    pub reason: String,
    pub commit: String,
}

#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub request: String,
    pub requester: String,
    pub contract: String,
    pub requested_at: DateTime<Utc>,
    pub why: String,
}

impl Report {
    pub fn ended(&self) -> usize {
        self.grants.iter().filter(|g| g.on_time.is_some()).count()
    }

    pub fn on_time(&self) -> usize {
        self.grants
            .iter()
            .filter(|g| g.on_time == Some(true))
            .count()
    }

    pub fn people(&self) -> BTreeSet<&str> {
        self.grants.iter().map(|g| g.requester.as_str()).collect()
    }

    pub fn contracts(&self) -> BTreeSet<&str> {
        self.grants.iter().map(|g| g.contract.as_str()).collect()
    }
}

/// Builds the report for `filter`'s period from history and the violations found.
pub fn report(
    history: &History,
    now: DateTime<Utc>,
    filter: &Filter,
    tolerance: Duration,
    violations: Vec<Violation>,
    iam_checked: bool,
) -> Report {
    let grants: Vec<ReportGrant> = grants(history, now)
        .into_iter()
        .filter(|g| filter.grant(g))
        .map(|g| {
            let lc = g.lifecycle;
            let outcome = match (&g.state, &lc.ending) {
                (GrantState::Active, _) => "active".to_string(),
                (GrantState::Overdue { .. }, _) => {
                    "window ended; not yet revoked and archived".to_string()
                }
                (GrantState::Ended { late }, Some(e)) if *late < TimeDelta::zero() => {
                    let why = e
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default();
                    format!("revoked early by {}{why}", e.by)
                }
                (GrantState::Ended { late }, _) if *late > tolerance.to_delta() => {
                    format!("expired; revocation committed {} late", human(*late))
                }
                _ => "expired".to_string(),
            };
            ReportGrant {
                request: lc.request.clone(),
                requester: lc.requester.clone(),
                contract: lc.contract.clone(),
                role: lc.role.clone().unwrap_or_default(),
                resources: lc.resources.clone(),
                start: g.start,
                end: g.end,
                stopped: g.stopped(),
                outcome,
                on_time: g.on_time(tolerance),
                approvers: lc.approvers().to_vec(),
                reason: lc.reason.clone(),
                commit: lc.commit.to_string(),
            }
        })
        .collect();
    let not_granted = history
        .lifecycles
        .iter()
        .filter(|lc| lc.granted(now).is_none() && filter.lifecycle(lc))
        .filter(|lc| filter.in_period(lc.requested_at))
        .map(|lc| ReportRequest {
            request: lc.request.clone(),
            requester: lc.requester.clone(),
            contract: lc.contract.clone(),
            requested_at: lc.requested_at,
            why: match (&lc.verdict, &lc.invalid, &lc.ending, lc.window) {
                (Verdict::Pending { reason }, _, _, _) => format!("not approved: {reason}"),
                (_, Some(invalid), _, _) => format!("invalid: {invalid}"),
                (_, _, Some(e), _) => format!("withdrawn by {} before it started", e.by),
                (_, _, None, Some((start, _))) => format!("approved; starts {}", ts(start)),
                _ => "not granted".to_string(),
            },
        })
        .collect();
    let changes = history
        .changes
        .iter()
        .filter(|c| matches!(c.object, Object::Contract(_) | Object::Role(_)))
        .map(change_event)
        .filter(|e| {
            filter.in_period(e.time) && (filter.contract.is_none() || filter.contract == e.contract)
        })
        .collect();
    Report {
        branch: history.branch.clone(),
        head: history.head.to_string(),
        now,
        filter: filter.clone(),
        tolerance,
        grants,
        not_granted,
        changes,
        violations,
        iam_checked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_archive_trailers() {
        let msg = "jit: revoke alice-db\n\nINC over\n\nJit-Request: alice-db\nJit-Contract: db-read\nJit-Requester: alice\nJit-Principal: arn:aws:iam::1:user/alice\nJit-Approved-By: bob@acme.example\nJit-Approved-By: carol@acme.example\nJit-Granted: 2026-11-23T09:00:00Z\nJit-Expires: 2026-11-23T11:00:00Z\nJit-Revoked: 2026-11-23T09:30:00Z\nJit-Outcome: revoked\nJit-Reason: INC over\nJit-Revoked-By: Erin <erin@acme.example>\n";
        let t = ArchiveTrailers::parse(msg).unwrap();
        assert_eq!(t.request, "alice-db");
        assert_eq!(t.approved_by, ["bob@acme.example", "carol@acme.example"]);
        assert!(!t.auto_approve);
        assert_eq!(t.outcome.as_deref(), Some("revoked"));
        assert_eq!(t.granted.map(ts).as_deref(), Some("2026-11-23T09:00:00Z"));
        assert_eq!(t.revoked_by.as_deref(), Some("Erin <erin@acme.example>"));
        assert!(ArchiveTrailers::parse("Add request\n\nApproved-by: x <x@y>\n").is_none());
    }

    #[test]
    fn auto_approve_is_not_an_approver() {
        let t = ArchiveTrailers::parse(
            "jit: expire x\n\nJit-Request: x\nJit-Approved-By: auto-approve\n",
        )
        .unwrap();
        assert!(t.auto_approve && t.approved_by.is_empty());
    }

    #[test]
    fn periods_overlap_half_open() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let f = Filter {
            since: Some(t("2026-11-02T00:00:00Z")),
            until: Some(t("2026-11-03T00:00:00Z")),
            ..Filter::default()
        };
        assert!(f.overlaps(t("2026-11-01T23:00:00Z"), Some(t("2026-11-02T01:00:00Z"))));
        assert!(!f.overlaps(t("2026-11-01T23:00:00Z"), Some(t("2026-11-02T00:00:00Z"))));
        assert!(!f.overlaps(t("2026-11-03T00:00:00Z"), None));
        assert!(f.overlaps(t("2026-11-01T00:00:00Z"), None));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(TimeDelta::seconds(7)), "7s");
        assert_eq!(human(TimeDelta::minutes(90)), "1h30m");
        assert_eq!(human(TimeDelta::minutes(-45)), "45m");
    }
}
