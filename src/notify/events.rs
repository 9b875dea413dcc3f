//! Which events are due, from values the run already has: the plan and what
//! apply did, the request records of the history reader, the archive
//! commits on the branch, the PR plan. Pure.
//!
//! Every event carries a `key` that names one event of one grant version
//! (the request, its approving commit and its window, or the archive
//! commit's trailers): the delivery id is derived from it, so a receiver can
//! drop repeats, and the ledger records it, so later runs do not send it again.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::ArchiveTrailers;
use crate::config::{Definitions, Notify, NotifyEvent};
use crate::git::endings::Endings;
use crate::git::history::{RequestRecord, Snapshot};
use crate::plan::{self, ActionKind, Plan, Standing};
use crate::policy::iam_time;

/// One notification's content: the JSON body, field for field (DESIGN §8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub event: NotifyEvent,
    pub request: String,
    pub contract: String,
    pub requester: String,
    pub principal: String,
    pub resources: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub reason: String,
    /// Who approved (emails as recorded); for `pending`, who may approve.
    pub approvers: Vec<String>,
    pub commit: String,
    pub detail: String,
    /// What identifies this event of this grant version (never sent).
    #[serde(skip)]
    pub key: String,
    /// When it happened: events from before a target was first seen are
    /// not sent to it (a new target is not flooded with the past).
    #[serde(skip)]
    pub at: DateTime<Utc>,
}

impl Event {
    /// The delivery id: stable for one event of one grant, in every run.
    pub fn delivery_id(&self) -> String {
        let digest = Sha256::digest(self.key.as_bytes());
        hex::encode(&digest[..16])
    }
}

/// What the events about one request version say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantFacts {
    pub request: String,
    pub contract: String,
    pub requester: String,
    pub principal: String,
    pub resources: Vec<String>,
    pub reason: String,
    pub approvers: Vec<String>,
    /// The approving commit.
    pub commit: String,
    pub breakglass: bool,
}

impl GrantFacts {
    pub fn of(defs: &Definitions, record: &RequestRecord) -> GrantFacts {
        let req = &record.request;
        let contract = defs.contracts.get(&req.contract);
        let resources = if req.resources.is_empty() {
            contract.map(|c| c.resources.clone()).unwrap_or_default()
        } else {
            req.resources.clone()
        };
        GrantFacts {
            request: req.name.clone(),
            contract: req.contract.clone(),
            requester: req.requester.clone(),
            principal: defs
                .users
                .get(&req.requester)
                .map(|u| u.aws.clone())
                .unwrap_or_default(),
            resources,
            reason: req.reason.clone(),
            approvers: record.approver_emails.clone(),
            commit: record.commit.to_string(),
            breakglass: contract.is_some_and(|c| c.breakglass),
        }
    }

    fn event(
        &self,
        event: NotifyEvent,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        detail: String,
        key: String,
        at: DateTime<Utc>,
    ) -> Event {
        Event {
            event,
            request: self.request.clone(),
            contract: self.contract.clone(),
            requester: self.requester.clone(),
            principal: self.principal.clone(),
            resources: self.resources.clone(),
            start: window.map(|w| w.0),
            end: window.map(|w| w.1),
            reason: self.reason.clone(),
            approvers: self.approvers.clone(),
            commit: self.commit.clone(),
            detail,
            key,
            at,
        }
    }
}

/// The line `apply` reports for an IAM action (`grant alice-db (…)`).
fn action_line(a: &plan::Action) -> Option<String> {
    let change = a.iam.as_ref()?;
    Some(format!("{:?} {} ({})", a.action, a.request, change.target).to_lowercase())
}

/// What apply did, as the events need it.
#[derive(Debug, Default)]
pub struct Applied<'a> {
    /// IAM actions done (apply's lines).
    pub done: &'a [String],
    /// IAM actions that failed (`<line>: <error>`).
    pub failed: &'a [String],
    /// Apply stopped with this error before it finished.
    pub error: Option<String>,
}

/// The events an apply run makes due: `granted` (and `breakglass`) for
/// every grant written now, and for every live grant IAM already held
/// (a run that stopped before announcing it, a target whose secret was
/// missing: the ledger keeps it from repeating), `expiring` for every live grant (each target
/// applies its own lead time, [`due`]), `apply_failed` for each failed IAM
/// action or a stopped apply. `expired` and `revoked` come from the archive
/// commits ([`archived`]), whoever made them.
pub fn after_apply(
    snapshot: &Snapshot,
    endings: &Endings,
    plan: &Plan,
    applied: &Applied,
    held: &std::collections::BTreeSet<String>,
    now: DateTime<Utc>,
) -> Vec<Event> {
    let defs = &snapshot.effective;
    let record = |name: &str| snapshot.requests.iter().find(|r| r.request.name == name);
    let mut out = Vec::new();
    let failed_requests: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| {
            action_line(a).is_some_and(|l| applied.failed.iter().any(|f| f.starts_with(&l)))
        })
        .map(|a| a.request.as_str())
        .collect();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Grant)
    {
        let (Some(line), Some(record), Some(start), Some(end)) =
            (action_line(a), record(&a.request), a.start, a.end)
        else {
            continue;
        };
        if !applied.done.contains(&line) {
            continue;
        }
        out.extend(granted(&GrantFacts::of(defs, record), start, end, now));
    }
    let defs_diags = crate::config::validate::validate_definitions(defs);
    for record in &snapshot.requests {
        if endings.get(record.blob).is_some()
            || failed_requests.contains(&record.request.name.as_str())
        {
            continue;
        }
        if let Standing::Active(start, end) = plan::standing(snapshot, &defs_diags, record, now) {
            let facts = GrantFacts::of(defs, record);
            let name = record.request.name.as_str();
            let revoked = plan
                .actions
                .iter()
                .any(|a| a.request == name && a.action == ActionKind::Revoke);
            let announced = out
                .iter()
                .any(|e| e.event == NotifyEvent::Granted && e.request == name);
            if held.contains(name) && !revoked && !announced {
                // Written by an earlier run that did not announce it (or
                // live when this target was added): it is live now.
                out.extend(granted(&facts, start, end, now));
            }
            out.push(facts.event(
                NotifyEvent::Expiring,
                Some((start, end)),
                format!(
                    "expires {} (in {})",
                    iam_time(end),
                    crate::audit::human(end - now)
                ),
                format!(
                    "expiring/{}/{}/{}",
                    facts.request,
                    facts.commit,
                    iam_time(end)
                ),
                now,
            ));
        }
    }
    for line in applied.failed {
        let action = plan
            .actions
            .iter()
            .find(|a| action_line(a).is_some_and(|l| line.starts_with(&l)));
        let facts = action
            .and_then(|a| record(&a.request))
            .map(|r| GrantFacts::of(defs, r));
        let (what, _) = line.split_once(": ").unwrap_or((line, ""));
        let version = facts
            .as_ref()
            .map_or(plan.commit.as_str(), |f| f.commit.as_str());
        let key = format!("apply_failed/{version}/{what}");
        let event = match facts {
            Some(f) => f.event(NotifyEvent::ApplyFailed, None, line.clone(), key, now),
            None => bare(
                NotifyEvent::ApplyFailed,
                action.map_or("", |a| &a.request),
                &plan.commit,
                line,
                key,
                now,
            ),
        };
        out.push(event);
    }
    if let Some(error) = &applied.error {
        let digest = hex::encode(&Sha256::digest(error.as_bytes())[..8]);
        out.push(bare(
            NotifyEvent::ApplyFailed,
            "",
            &plan.commit,
            error,
            format!("apply_failed/{}/{digest}", plan.commit),
            now,
        ));
    }
    out
}

/// `granted`, and `breakglass` for a breakglass contract.
fn granted(
    facts: &GrantFacts,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Vec<Event> {
    let id = format!(
        "{}/{}/{}/{}",
        facts.request,
        facts.commit,
        iam_time(start),
        iam_time(end)
    );
    let mut out = vec![facts.event(
        NotifyEvent::Granted,
        Some((start, end)),
        format!("granted until {}", iam_time(end)),
        format!("granted/{id}"),
        at,
    )];
    if facts.breakglass {
        out.push(facts.event(
            NotifyEvent::Breakglass,
            Some((start, end)),
            format!(
                "breakglass contract `{}` granted until {}",
                facts.contract,
                iam_time(end)
            ),
            format!("breakglass/{id}"),
            at,
        ));
    }
    out
}

fn bare(
    event: NotifyEvent,
    request: &str,
    commit: &str,
    detail: &str,
    key: String,
    at: DateTime<Utc>,
) -> Event {
    Event {
        event,
        request: request.into(),
        contract: String::new(),
        requester: String::new(),
        principal: String::new(),
        resources: Vec::new(),
        start: None,
        end: None,
        reason: String::new(),
        approvers: Vec::new(),
        commit: commit.into(),
        detail: detail.into(),
        key,
        at,
    }
}

/// The `expired` or `revoked` event an archive commit (authored by jit's
/// bot) records. Keyed by its trailers, not its id: a rebased archive
/// commit is the same ending.
pub fn archived(
    defs: &Definitions,
    trailers: &ArchiveTrailers,
    commit: &str,
    at: DateTime<Utc>,
) -> Option<Event> {
    let event = match trailers.outcome.as_deref()? {
        "expired" => NotifyEvent::Expired,
        "revoked" => NotifyEvent::Revoked,
        _ => return None,
    };
    let contract = trailers.contract.clone().unwrap_or_default();
    let resources = defs
        .contracts
        .get(&contract)
        .map(|c| c.resources.clone())
        .unwrap_or_default();
    let time = |t: Option<DateTime<Utc>>| t.map(iam_time).unwrap_or_default();
    let detail = match (event, &trailers.revoked_by) {
        (NotifyEvent::Revoked, Some(by)) => format!(
            "revoked {} by {by}: {}",
            time(trailers.revoked),
            trailers.reason.clone().unwrap_or_default()
        ),
        (NotifyEvent::Revoked, None) => format!("revoked {}", time(trailers.revoked)),
        _ => format!(
            "expired {}, access removed {}",
            time(trailers.expires),
            time(trailers.revoked)
        ),
    };
    Some(Event {
        event,
        request: trailers.request.clone(),
        contract,
        requester: trailers.requester.clone().unwrap_or_default(),
        principal: trailers.principal.clone().unwrap_or_default(),
        resources,
        start: trailers.granted,
        end: trailers.expires,
        reason: trailers.reason.clone().unwrap_or_default(),
        approvers: trailers.approved_by.clone(),
        commit: commit.into(),
        detail,
        key: format!(
            "{}/{}/{}/{}",
            event.as_str(),
            trailers.request,
            time(trailers.granted),
            time(trailers.expires)
        ),
        at,
    })
}

/// A request a pull request proposes, waiting for approvers.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub request: String,
    pub contract: String,
    pub requester: String,
    pub principal: String,
    pub resources: Vec<String>,
    pub reason: String,
    /// Emails of the people who may approve it.
    pub approvers: Vec<String>,
    /// Who still must approve, in words.
    pub needs: String,
    /// The request file's blob at the PR head: one proposal, one event.
    pub blob: String,
    pub head: String,
}

/// `pending` for each proposed request that still needs approvals.
pub fn pending(proposed: &[Proposed], now: DateTime<Utc>) -> Vec<Event> {
    proposed
        .iter()
        .map(|p| Event {
            event: NotifyEvent::Pending,
            request: p.request.clone(),
            contract: p.contract.clone(),
            requester: p.requester.clone(),
            principal: p.principal.clone(),
            resources: p.resources.clone(),
            start: None,
            end: None,
            reason: p.reason.clone(),
            approvers: p.approvers.clone(),
            commit: p.head.clone(),
            detail: p.needs.clone(),
            key: format!("pending/{}/{}", p.request, p.blob),
            at: now,
        })
        .collect()
}

/// Whether `event` is due for `target` at `now`: the target takes it, and
/// an `expiring` event only within the target's lead time of the end.
pub fn due(target: &Notify, event: &Event, now: DateTime<Utc>) -> bool {
    let contract = (!event.contract.is_empty()).then_some(event.contract.as_str());
    if !target.wants(event.event, contract) {
        return false;
    }
    match (event.event, event.end) {
        (NotifyEvent::Expiring, Some(end)) => {
            now >= end - target.expiring_before.to_delta() && now < end
        }
        (NotifyEvent::Expiring, None) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::PrincipalKind;
    use crate::iam::Target;
    use crate::plan::{Action, IamChange};

    fn snapshot() -> Snapshot {
        Snapshot {
            branch: "main".into(),
            head: git2::Oid::ZERO_SHA1,
            head_repo: Default::default(),
            diags: Vec::new(),
            effective: Default::default(),
            unapproved: Vec::new(),
            requests: Vec::new(),
            branch_set_at: git2::Oid::ZERO_SHA1,
            commits_walked: 0,
            trees_read: 0,
            forge_calls: 0,
        }
    }

    fn plan_with_grant() -> Plan {
        let target = Target::inline(PrincipalKind::User, "alice", "alice-db");
        Plan {
            format_version: "1".into(),
            branch: "main".into(),
            commit: "c0ffee".into(),
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            actions: vec![Action {
                action: ActionKind::Grant,
                request: "alice-db".into(),
                principal: "arn:aws:iam::123456789012:user/alice".into(),
                account: "123456789012".into(),
                target: target.to_string(),
                start: None,
                end: None,
                detail: String::new(),
                iam: Some(IamChange {
                    target,
                    document: Some("{}".into()),
                    observed: None,
                    replaces: None,
                    not_after: None,
                }),
                archive: None,
            }],
            pending: Vec::new(),
            errors: Vec::new(),
            unapproved: Vec::new(),
            summary: Default::default(),
            stats: Default::default(),
        }
    }

    #[test]
    fn a_failed_action_or_a_stopped_apply_is_apply_failed_with_a_stable_key() {
        let plan = plan_with_grant();
        let line = action_line(&plan.actions[0]).unwrap();
        let failed = vec![format!(
            "{line}: NoSuchEntity: the user alice cannot be found"
        )];
        let applied = Applied {
            done: &[],
            failed: &failed,
            error: None,
        };
        let now = plan.now;
        let events = after_apply(
            &snapshot(),
            &Endings::default(),
            &plan,
            &applied,
            &Default::default(),
            now,
        );
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].event, NotifyEvent::ApplyFailed);
        assert_eq!(events[0].request, "alice-db");
        assert!(events[0].detail.contains("NoSuchEntity"));
        // Another error text for the same action is the same event.
        let failed2 = vec![format!("{line}: Throttling")];
        let again = after_apply(
            &snapshot(),
            &Endings::default(),
            &plan,
            &Applied {
                done: &[],
                failed: &failed2,
                error: None,
            },
            &Default::default(),
            now,
        );
        assert_eq!(again[0].delivery_id(), events[0].delivery_id());
        // No grant was written: no `granted`.
        assert!(events.iter().all(|e| e.event != NotifyEvent::Granted));
        let stopped = after_apply(
            &snapshot(),
            &Endings::default(),
            &plan,
            &Applied {
                done: &[],
                failed: &[],
                error: Some("the plan had to be applied by …".into()),
            },
            &Default::default(),
            now,
        );
        assert_eq!(stopped.len(), 1);
        assert_eq!(stopped[0].event, NotifyEvent::ApplyFailed);
        assert_eq!(stopped[0].commit, "c0ffee");
    }
}
