//! What is in force now, from git alone: active grants and pending requests.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::approval::Verdict;
use crate::config::validate;
use crate::git::endings::Endings;
use crate::git::history::Snapshot;
use crate::plan::{self, Pending, Standing};
use crate::policy::iam_time;

#[derive(Debug, Serialize)]
pub struct ActiveGrant {
    pub request: String,
    pub requester: String,
    pub principal: String,
    pub contract: String,
    pub role: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub time_left: String,
    pub approved_by: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub commit: String,
    pub now: DateTime<Utc>,
    pub active: Vec<ActiveGrant>,
    pub pending: Vec<Pending>,
}

fn human(d: chrono::TimeDelta) -> String {
    let m = d.num_minutes().max(0);
    match (m / 60, m % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// `endings`: request versions `jit revoke` ended (never active again).
/// `accounts`: only requests whose grants land in these accounts (by id;
/// `None`: all). A request whose account the definitions do not tell (an
/// unknown contract or user) is shown either way: it grants nothing.
pub fn status(
    snapshot: &Snapshot,
    endings: &Endings,
    now: DateTime<Utc>,
    accounts: Option<&BTreeSet<String>>,
) -> StatusView {
    let defs = &snapshot.effective;
    let defs_diags = validate::validate_definitions(defs);
    let mut active = Vec::new();
    let mut pending = Vec::new();
    for record in &snapshot.requests {
        let req = &record.request;
        let account = defs
            .contracts
            .get(&req.contract)
            .zip(defs.users.get(&req.requester))
            .and_then(|(c, u)| plan::grant_account(defs, c, u));
        if let (Some(ids), Some(account)) = (accounts, &account)
            && !ids.contains(account)
        {
            continue;
        }
        let mut wait = |state: &str, detail: String| {
            pending.push(Pending {
                request: req.name.clone(),
                state: state.into(),
                detail,
            })
        };
        if let Some(ending) = endings.get(record.blob) {
            wait(
                "ended",
                format!(
                    "revoked {} by {}: {}; the next jit apply archives it",
                    iam_time(ending.at),
                    ending.by,
                    ending.reason
                ),
            );
            continue;
        }
        let (start, end) = match plan::standing(snapshot, &defs_diags, record, now) {
            Standing::Invalid(reason) => {
                wait("invalid", reason);
                continue;
            }
            Standing::Awaiting(reason) => {
                wait("awaiting_approval", reason);
                continue;
            }
            Standing::NotStarted(start) => {
                wait("not_started", format!("starts {}", iam_time(start)));
                continue;
            }
            Standing::Ended(_, end) => {
                wait(
                    "ended",
                    format!(
                        "ended {}; the next jit apply revokes and archives it",
                        iam_time(end)
                    ),
                );
                continue;
            }
            Standing::Active(start, end) => (start, end),
        };
        let approvers = match &record.verdict {
            Verdict::Approved { approvers } => approvers.clone(),
            Verdict::Pending { .. } => Vec::new(),
        };
        let contract = &defs.contracts[&req.contract];
        active.push(ActiveGrant {
            request: req.name.clone(),
            requester: req.requester.clone(),
            principal: defs
                .users
                .get(&req.requester)
                .map(|u| validate::principal_of(defs, u, contract))
                .unwrap_or_default(),
            contract: contract.name.clone(),
            role: contract.role.clone(),
            start,
            end,
            time_left: human(end - now),
            approved_by: approvers,
            reason: req.reason.clone(),
        });
    }
    StatusView {
        commit: snapshot.head.to_string(),
        now,
        active,
        pending,
    }
}
