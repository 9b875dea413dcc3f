//! Plan -> IAM calls -> archive commits -> push. Every step can be repeated
//! after a crash: IAM writes are idempotent puts and deletes, and a request
//! is archived only once all its IAM objects are gone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use git2::Repository;

use crate::config::{Account, Bot};
use crate::git::archive::{self, Move, Pushed};
use crate::iam::{Cloud, Limits, Target, Write};
use crate::plan::{Action, ActionKind, ArchiveMove, IamChange, Outcome, Plan};
use crate::policy::iam_time;

#[derive(Debug, Default)]
pub struct Applied {
    pub done: Vec<String>,
    pub failed: Vec<String>,
    pub archived: Vec<String>,
    /// Archive paths that were occupied (the move went to another name).
    pub archive_errors: Vec<String>,
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
    if let Some(by) = &a.revoked_by {
        trailer("Jit-Revoked-By", by);
    }
    m
}

/// The order of IAM writes: revokes (freeing quota, and removing trust
/// statements before their sessions are denied), then the session-revocation
/// lists (so a grant's deny exists before its trust statement), then updates
/// and grants.
fn phase_of(a: &Action) -> Option<u8> {
    let change = a.iam.as_ref()?;
    Some(match (a.action, &change.target) {
        (ActionKind::Revoke, _) => 0,
        (_, Target::SessionRevocations { .. }) => 1,
        (ActionKind::Update, _) => 2,
        (ActionKind::Grant, _) => 3,
        (ActionKind::Archive, _) => return None,
    })
}

fn role_of(target: &Target) -> Option<String> {
    match target {
        Target::TrustStatement { role, .. } | Target::SessionRevocations { role } => {
            Some(role.clone())
        }
        _ => None,
    }
}

/// A planned write of the current phase, with what apply reports of it.
struct Pending<'a> {
    line: String,
    request: String,
    /// (account, role) of a trust statement or session-revocation list.
    role: Option<(String, String)>,
    write: Write<'a>,
}

/// What apply says while it works.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// One IAM write ended: done, failed or skipped.
    Write(&'a str),
    /// Anything else: archive moves, pushes.
    Note(&'a str),
}

impl Progress<'_> {
    pub fn line(&self) -> &str {
        match self {
            Progress::Write(line) | Progress::Note(line) => line,
        }
    }
}

/// Carries out `plan`: IAM writes in the order of [`phase_of`], then archive
/// commits for requests whose IAM objects are all gone, then push.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    repo: &Repository,
    plan: &Plan,
    accounts: &BTreeMap<String, Account>,
    cloud: &mut dyn Cloud,
    bot: &Bot,
    now: DateTime<Utc>,
    push: bool,
    limits: Limits,
    progress: &mut dyn FnMut(Progress<'_>),
) -> anyhow::Result<Applied> {
    let mut out = Applied::default();
    let by_id: BTreeMap<&str, &Account> = accounts.values().map(|a| (a.id.as_str(), a)).collect();
    let mut failed_requests: BTreeSet<String> = BTreeSet::new();
    // Roles whose session-revocation list could not be written: their trust
    // statements are not granted (the deny comes first), and the requests
    // revoked there are not archived (the ending is not complete).
    let mut failed_roles: BTreeSet<(String, String)> = BTreeSet::new();
    // An early revocation's session deny covers sessions issued up to a time
    // the plan fixed: a plan applied too late would leave a gap, so refuse it.
    if let Some(late) = plan
        .actions
        .iter()
        .filter_map(|a| a.iam.as_ref()?.not_after)
        .find(|t| now > *t)
    {
        anyhow::bail!(
            "the plan revokes an assume_role grant early and had to be applied by {} (it was made at {}); run jit plan again",
            iam_time(late),
            iam_time(plan.now)
        );
    }
    for phase in 0..4 {
        let mut batch: Vec<Pending<'_>> = Vec::new();
        for action in plan.actions.iter().filter(|a| phase_of(a) == Some(phase)) {
            let Some(change) = &action.iam else { continue };
            let line = format!("{:?} {} ({})", action.action, action.request, change.target)
                .to_lowercase();
            let role = role_of(&change.target).map(|r| (action.account.clone(), r));
            if phase >= 2
                && matches!(change.target, Target::TrustStatement { .. })
                && role.as_ref().is_some_and(|r| failed_roles.contains(r))
            {
                progress(Progress::Write(&format!(
                    "{line}: skipped, the role's session revocations could not be written"
                )));
                out.failed
                    .push(format!("{line}: skipped, session revocations not written"));
                failed_requests.insert(action.request.clone());
                continue;
            }
            let Some(account) = by_id.get(action.account.as_str()) else {
                progress(Progress::Write(&format!(
                    "{line}: FAILED: account {} is not declared",
                    action.account
                )));
                out.failed.push(format!(
                    "{line}: account {} is not declared",
                    action.account
                ));
                failed_requests.insert(action.request.clone());
                continue;
            };
            let write = Write {
                account,
                target: &change.target,
                document: change.document.as_deref(),
                replaces: change.replaces.as_ref(),
            };
            batch.push(Pending {
                line,
                request: action.request.clone(),
                role,
                write,
            });
        }
        let writes: Vec<Write<'_>> = batch.iter().map(|p| p.write).collect();
        let results = cloud.write_all(&writes, limits, &mut |i, result| {
            let line = &batch[i].line;
            match result {
                Ok(()) => progress(Progress::Write(&format!("{line}: done"))),
                Err(e) => progress(Progress::Write(&format!("{line}: FAILED: {e:#}"))),
            }
        });
        for (p, result) in batch.into_iter().zip(results) {
            match result {
                Ok(()) => out.done.push(p.line),
                Err(e) => {
                    out.failed.push(format!("{}: {e:#}", p.line));
                    if let (Target::SessionRevocations { .. }, Some(role)) =
                        (p.write.target, p.role)
                    {
                        failed_roles.insert(role);
                    }
                    failed_requests.insert(p.request);
                }
            }
        }
    }
    // A revoke on a role whose session deny failed has not ended the access.
    for a in &plan.actions {
        if let Some(IamChange {
            target: target @ Target::TrustStatement { .. },
            ..
        }) = &a.iam
            && role_of(target).is_some_and(|r| failed_roles.contains(&(a.account.clone(), r)))
        {
            failed_requests.insert(a.request.clone());
        }
    }

    // The content each move ends: the request file as planned (at the
    // plan's commit, which is the branch head the plan read).
    let branch = &plan.branch;
    let planned = git2::Oid::from_str(&plan.commit)
        .or_else(|_| repo.refname_to_id(&format!("refs/heads/{branch}")))
        .ok()
        .and_then(|c| repo.find_commit(c).ok())
        .and_then(|c| c.tree().ok());
    let moves: Vec<Move> = plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Archive && !failed_requests.contains(&a.request))
        .filter_map(|a| {
            let m = a.archive.as_ref()?;
            let blob = planned
                .as_ref()
                .and_then(|t| crate::git::blob_at(t, &m.from));
            if blob.is_none() {
                progress(Progress::Note(&format!(
                    "archive {}: {} is not in the planned commit; not moved",
                    a.request, m.from
                )));
            }
            Some(Move {
                request: a.request.clone(),
                from: m.from.clone(),
                to: Some(m.to.clone()),
                blob: blob?,
                message: archive_message(a, m, now),
            })
        })
        .collect();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Archive && failed_requests.contains(&a.request))
    {
        progress(Progress::Note(&format!(
            "archive {}: skipped, its revocation failed; the next run retries",
            a.request
        )));
    }
    if !moves.is_empty() {
        let base = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
        let (tip, done) = archive::commit_moves(repo, base, &moves, bot, now)?;
        archive::advance_branch(repo, branch, tip)?;
        for m in &done {
            let to = m.to.as_deref().unwrap_or("(removed, no archive copy)");
            progress(Progress::Note(&format!(
                "archive {}: {} -> {to}",
                m.request, m.from
            )));
            if let Some(problem) = &m.problem {
                let line = format!(
                    "archive {}: {problem}; moved to {to} instead (clear that path)",
                    m.request
                );
                progress(Progress::Note(&format!("error: {line}")));
                out.archive_errors.push(line);
            }
            out.archived.push(m.request.clone());
        }
    }
    // Earlier runs' unpushed archive commits go too, whatever this run moved.
    if push && (!out.archived.is_empty() || archive::unpushed(repo, branch)) {
        let pushed = archive::push(repo, branch, bot)?;
        if pushed == Pushed::NoRemote {
            progress(Progress::Note(
                "no remote named origin: archive commits stay local",
            ));
        }
        out.pushed = Some(pushed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Loc;
    use crate::iam::AccountState;
    use crate::plan::{Stats, Summary};

    /// A cloud whose writes fail or succeed on demand, recording what it was asked.
    struct FakeCloud {
        fail: bool,
        deleted: Vec<Target>,
    }

    impl Cloud for FakeCloud {
        fn read(&mut self, _: &Account) -> anyhow::Result<AccountState> {
            Ok(AccountState::default())
        }
        fn put(
            &mut self,
            _: &Account,
            _: &Target,
            _: &str,
            _: Option<&Target>,
        ) -> anyhow::Result<()> {
            anyhow::bail!("not used")
        }
        fn delete(&mut self, _: &Account, target: &Target) -> anyhow::Result<()> {
            if self.fail {
                anyhow::bail!("IAM is down");
            }
            self.deleted.push(target.clone());
            Ok(())
        }
        fn calls(&self) -> usize {
            0
        }
    }

    fn repo_with_request() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let blob = repo.blob(b"request \"x\" {}\n").unwrap();
        let mut b = git2::build::TreeUpdateBuilder::new();
        b.upsert("requests/x.hcl", blob, git2::FileMode::Blob);
        let empty = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = b
            .create_updated(&repo, &repo.find_tree(empty).unwrap())
            .unwrap();
        let sig = git2::Signature::now("a", "a@x").unwrap();
        let tree = repo.find_tree(tree).unwrap();
        repo.commit(Some("refs/heads/main"), &sig, &sig, "init", &tree, &[])
            .unwrap();
        drop(tree);
        (dir, repo)
    }

    fn ended_plan() -> Plan {
        let target = Target::UserPolicy {
            user: "alice".into(),
            policy: "jit-x".into(),
        };
        let base = Action {
            action: ActionKind::Revoke,
            request: "x".into(),
            principal: "arn:aws:iam::123456789012:user/alice".into(),
            account: "123456789012".into(),
            target: target.to_string(),
            start: Some("2026-11-23T09:00:00Z".parse().unwrap()),
            end: Some("2026-11-23T10:00:00Z".parse().unwrap()),
            detail: "expired".into(),
            iam: Some(IamChange {
                target,
                document: None,
                observed: None,
                replaces: None,
                not_after: None,
            }),
            archive: None,
        };
        let archive = Action {
            action: ActionKind::Archive,
            iam: None,
            archive: Some(ArchiveMove {
                from: "requests/x.hcl".into(),
                to: "archive/2026/11/x.hcl".into(),
                contract: "c".into(),
                requester: "alice".into(),
                approved_by: vec!["bob@acme.example".into()],
                outcome: Outcome::Expired,
                reason: None,
                revoked_by: None,
            }),
            ..base.clone()
        };
        Plan {
            format_version: "1".into(),
            branch: "main".into(),
            commit: String::new(),
            now: "2026-11-23T11:00:00Z".parse().unwrap(),
            actions: vec![base, archive],
            pending: vec![],
            errors: vec![],
            unapproved: vec![],
            summary: Summary::default(),
            stats: Stats::default(),
        }
    }

    fn accounts() -> BTreeMap<String, Account> {
        let meta = crate::config::Meta {
            loc: Loc::file("jit.hcl"),
            attrs: Default::default(),
        };
        let a = Account {
            name: "prod".into(),
            id: "123456789012".into(),
            role_arn: None,
            meta,
        };
        BTreeMap::from([("prod".to_string(), a)])
    }

    fn bot() -> Bot {
        Bot {
            name: "jit".into(),
            email: "jit@acme.example".into(),
        }
    }

    /// Applies `plan` at its own `now`, without pushing or progress output.
    fn apply_quietly(repo: &Repository, plan: &Plan, cloud: &mut FakeCloud) -> Applied {
        apply(
            repo,
            plan,
            &accounts(),
            cloud,
            &bot(),
            plan.now,
            false,
            Limits::SERIAL,
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn a_failed_revocation_is_never_archived() {
        let (_dir, repo) = repo_with_request();
        let before = repo.refname_to_id("refs/heads/main").unwrap();
        let mut cloud = FakeCloud {
            fail: true,
            deleted: vec![],
        };
        let plan = ended_plan();
        let out = apply_quietly(&repo, &plan, &mut cloud);
        assert_eq!(out.failed.len(), 1);
        assert!(out.archived.is_empty());
        assert_eq!(
            repo.refname_to_id("refs/heads/main").unwrap(),
            before,
            "no archive commit"
        );
    }

    #[test]
    fn a_clean_revocation_is_archived_by_the_bot() {
        let (_dir, repo) = repo_with_request();
        let mut cloud = FakeCloud {
            fail: false,
            deleted: vec![],
        };
        let plan = ended_plan();
        let out = apply_quietly(&repo, &plan, &mut cloud);
        assert_eq!(cloud.deleted.len(), 1);
        assert_eq!(out.archived, ["x"]);
        let head = repo
            .find_commit(repo.refname_to_id("refs/heads/main").unwrap())
            .unwrap();
        assert_eq!(head.author().email(), Ok("jit@acme.example"));
        assert_eq!(
            head.time().seconds(),
            plan.now.timestamp(),
            "commit time is --now"
        );
        let tree = head.tree().unwrap();
        assert!(
            tree.get_path(std::path::Path::new("archive/2026/11/x.hcl"))
                .is_ok()
        );
        assert!(
            tree.get_path(std::path::Path::new("requests/x.hcl"))
                .is_err()
        );
        assert!(
            head.message()
                .unwrap()
                .contains("Jit-Revoked: 2026-11-23T11:00:00Z")
        );

        // Applying the same plan again finds nothing left to move: no new commit.
        let tip = head.id();
        apply_quietly(&repo, &plan, &mut cloud);
        assert_eq!(repo.refname_to_id("refs/heads/main").unwrap(), tip);
    }
}
