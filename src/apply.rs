//! Plan -> IAM calls -> archive commits -> push. Every step can be repeated
//! after a crash: IAM writes are idempotent puts and deletes, and a request
//! is archived only once all its IAM objects are gone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use git2::Repository;

use crate::config::{Account, Bot};
use crate::git::archive::{self, Move, Pushed};
use crate::iam::Cloud;
use crate::plan::{Action, ActionKind, ArchiveMove, Outcome, Plan};
use crate::policy::iam_time;

#[derive(Debug, Default)]
pub struct Applied {
    pub done: Vec<String>,
    pub failed: Vec<String>,
    pub archived: Vec<String>,
    pub pushed: Option<Pushed>,
}

/// The commit message of an archive move, with the `Jit-*` trailers auditors read.
pub fn archive_message(action: &Action, a: &ArchiveMove, now: DateTime<Utc>) -> String {
    let verb = match a.outcome {
        Outcome::Expired => "expire",
        Outcome::Revoked => "revoke",
    };
    let mut m = format!("jit: {verb} {}\n\n", action.request);
    if let Some(reason) = &a.reason {
        m.push_str(&format!("{reason}\n\n"));
    }
    let mut trailer = |k: &str, v: &str| m.push_str(&format!("{k}: {v}\n"));
    trailer("Jit-Request", &action.request);
    trailer("Jit-Contract", &a.contract);
    trailer("Jit-Requester", &a.requester);
    trailer("Jit-Principal", &action.principal);
    if a.approved_by.is_empty() {
        trailer("Jit-Approved-By", "auto-approve");
    }
    for email in &a.approved_by {
        trailer("Jit-Approved-By", email);
    }
    if let Some(start) = action.start {
        trailer("Jit-Granted", &iam_time(start));
    }
    if let Some(end) = action.end {
        trailer("Jit-Expires", &iam_time(end));
    }
    trailer("Jit-Revoked", &iam_time(now));
    trailer(
        "Jit-Outcome",
        match a.outcome {
            Outcome::Expired => "expired",
            Outcome::Revoked => "revoked",
        },
    );
    if let Some(reason) = &a.reason {
        trailer("Jit-Reason", &reason.replace('\n', " "));
    }
    m
}

/// Carries out `plan`: revokes first (freeing quota), then updates and grants,
/// then archive commits for requests whose IAM objects are all gone, then push.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    repo: &Repository,
    plan: &Plan,
    accounts: &BTreeMap<String, Account>,
    cloud: &mut dyn Cloud,
    bot: &Bot,
    now: DateTime<Utc>,
    push: bool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Applied> {
    let mut out = Applied::default();
    let by_id: BTreeMap<&str, &Account> = accounts.values().map(|a| (a.id.as_str(), a)).collect();
    let mut failed_requests: BTreeSet<String> = BTreeSet::new();
    let order = [ActionKind::Revoke, ActionKind::Update, ActionKind::Grant];
    for kind in order {
        for action in plan.actions.iter().filter(|a| a.action == kind) {
            let Some(change) = &action.iam else { continue };
            let result = match by_id.get(action.account.as_str()) {
                None => Err(anyhow::anyhow!(
                    "account {} is not declared",
                    action.account
                )),
                Some(account) => match &change.document {
                    Some(doc) => cloud.put(account, &change.target, doc),
                    None => cloud.delete(account, &change.target),
                },
            };
            let line = format!("{:?} {} ({})", action.action, action.request, change.target)
                .to_lowercase();
            match result {
                Ok(()) => {
                    progress(&format!("{line}: done"));
                    out.done.push(line);
                }
                Err(e) => {
                    progress(&format!("{line}: FAILED: {e:#}"));
                    out.failed.push(format!("{line}: {e:#}"));
                    failed_requests.insert(action.request.clone());
                }
            }
        }
    }

    let moves: Vec<Move> = plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Archive && !failed_requests.contains(&a.request))
        .filter_map(|a| {
            let m = a.archive.as_ref()?;
            Some(Move {
                request: a.request.clone(),
                from: m.from.clone(),
                to: m.to.clone(),
                message: archive_message(a, m, now),
            })
        })
        .collect();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Archive && failed_requests.contains(&a.request))
    {
        progress(&format!(
            "archive {}: skipped, its revocation failed; the next run retries",
            a.request
        ));
    }
    if moves.is_empty() {
        return Ok(out);
    }
    let branch = &plan.branch;
    let base = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
    let (tip, done) = archive::commit_moves(repo, base, &moves, bot, now)?;
    archive::advance_branch(repo, branch, tip)?;
    for m in &done {
        progress(&format!("archive {}: {} -> {}", m.request, m.from, m.to));
        out.archived.push(m.request.clone());
    }
    if push {
        let pushed = archive::push(repo, branch, &done, bot, now)?;
        if pushed == Pushed::NoRemote {
            progress("no remote named origin: archive commits stay local");
        }
        out.pushed = Some(pushed);
    }
    Ok(out)
}
