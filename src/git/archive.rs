//! jit's own commits: moving ended requests to `archive/YYYY/MM/`, authored
//! by the settings bot with `Jit-*` trailers, then pushing to `origin` with
//! rebase-and-retry when the remote moved.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use git2::{FileMode, Oid, Repository, Signature, Time};

use crate::config::Bot;

/// One request to archive and the commit message that records it.
#[derive(Debug, Clone)]
pub struct Move {
    pub request: String,
    pub from: String,
    pub to: String,
    pub message: String,
}

/// Commits each move on top of `base` (skipping requests no longer there with
/// the same content) and returns the new tip and the moves made.
pub fn commit_moves(
    repo: &Repository,
    base: Oid,
    moves: &[Move],
    bot: &Bot,
    now: DateTime<Utc>,
) -> anyhow::Result<(Oid, Vec<Move>)> {
    let original = repo.find_commit(base)?.tree()?;
    let sig = Signature::new(&bot.name, &bot.email, &Time::new(now.timestamp(), 0))?;
    let mut tip = base;
    let mut done = Vec::new();
    for m in moves {
        let parent = repo.find_commit(tip)?;
        let tree = parent.tree()?;
        let Some(blob) = super::blob_at(&tree, &m.from) else {
            continue;
        };
        // On a moved remote, only move what still has the content we planned on.
        if super::blob_at(&original, &m.from).is_some_and(|b| b != blob) {
            continue;
        }
        let mut update = git2::build::TreeUpdateBuilder::new();
        update.remove(&m.from);
        update.upsert(&m.to, blob, FileMode::Blob);
        let new_tree = repo.find_tree(update.create_updated(repo, &tree)?)?;
        tip = repo.commit(None, &sig, &sig, &m.message, &new_tree, &[&parent])?;
        done.push(m.clone());
    }
    Ok((tip, done))
}

/// Moves `branch` to `tip`. When the branch is checked out, the work tree and
/// index follow (`git reset --keep`, which refuses to lose local changes).
pub fn advance_branch(repo: &Repository, branch: &str, tip: Oid) -> anyhow::Result<()> {
    let checked_out = !repo.is_bare()
        && repo
            .head()
            .ok()
            .and_then(|h| h.name().ok().map(str::to_string))
            .as_deref()
            == Some(&format!("refs/heads/{branch}"));
    if checked_out {
        let dir = repo
            .workdir()
            .ok_or_else(|| anyhow!("repository has no work tree"))?;
        git(dir, &["reset", "--quiet", "--keep", &tip.to_string()])
            .context("updating the checked-out branch to jit's archive commit")?;
    } else {
        repo.reference(&format!("refs/heads/{branch}"), tip, true, "jit: archive")?;
    }
    Ok(())
}

/// Whether `branch` has commits that `origin/<branch>` (as last fetched)
/// lacks, e.g. archive moves a run committed but could not push.
pub fn unpushed(repo: &Repository, branch: &str) -> bool {
    let local = repo.refname_to_id(&format!("refs/heads/{branch}"));
    let remote = repo.refname_to_id(&format!("refs/remotes/origin/{branch}"));
    match (local, remote) {
        (Ok(l), Ok(r)) if l != r => repo
            .graph_ahead_behind(l, r)
            .is_ok_and(|(ahead, _)| ahead > 0),
        _ => false,
    }
}

/// What happened to a push.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Done { attempts: usize },
    NoRemote,
}

/// Pushes `branch` to origin; when rejected because origin moved, fetches,
/// re-creates the moves on origin's tip and tries again (at most 5 times).
pub fn push(
    repo: &Repository,
    branch: &str,
    moves: &[Move],
    bot: &Bot,
    now: DateTime<Utc>,
) -> anyhow::Result<Pushed> {
    if repo.find_remote("origin").is_err() {
        return Ok(Pushed::NoRemote);
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    for attempt in 1..=5 {
        log::debug!("git push origin {refspec} (attempt {attempt})");
        match git(&dir, &["push", "--porcelain", "origin", &refspec]) {
            Ok(_) => return Ok(Pushed::Done { attempts: attempt }),
            Err(e) if !is_rejected(&e) => {
                return Err(e).context(format!("pushing {branch} to origin"));
            }
            Err(_) => {}
        }
        git(
            &dir,
            &[
                "fetch",
                "--quiet",
                "origin",
                &format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
            ],
        )
        .context("fetching origin after a rejected push")?;
        let remote_tip = repo.refname_to_id(&format!("refs/remotes/origin/{branch}"))?;
        let (tip, _) = commit_moves(repo, remote_tip, moves, bot, now)?;
        advance_branch(repo, branch, tip)?;
    }
    bail!(
        "pushing {branch} to origin was rejected 5 times; the archive commits are on the local branch and the next run will retry"
    )
}

fn is_rejected(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    ["non-fast-forward", "fetch first", "[rejected]", "rejected"]
        .iter()
        .any(|s| text.contains(s))
}

/// Runs git in `dir`; an error carries its stderr.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
