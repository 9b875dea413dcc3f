//! jit's own commits: moving ended requests to `archive/YYYY/MM/`, authored
//! by the settings bot with `Jit-*` trailers, then pushing to `origin` with
//! rebase-and-retry when the remote moved.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, TimeZone, Utc};
use git2::{FileMode, Oid, Repository, Signature, Time, Tree};

use crate::config::Bot;

/// One request to archive and the commit message that records it.
#[derive(Debug, Clone)]
pub struct Move {
    pub request: String,
    pub from: String,
    /// Where to archive it (another free name when occupied); `None`:
    /// only remove it from `requests/`.
    pub to: Option<String>,
    /// The content planned to end: the file moves only while it holds this.
    pub blob: Oid,
    pub message: String,
}

/// A move made: where the request went, and why not where planned.
#[derive(Debug, Clone)]
pub struct Moved {
    pub request: String,
    pub from: String,
    /// `None`: removed from `requests/` without an archive copy.
    pub to: Option<String>,
    /// The planned path was occupied: an error for that path alone.
    pub problem: Option<String>,
}

/// Commits each move on top of `base`, one commit per move, and returns the
/// new tip and the moves made. A request whose file no longer holds the
/// planned content (changed or gone) is skipped. An occupied archive path
/// (anything at it, or a file where a folder should be) never blocks the
/// move: it takes the next free name (`<name>-2.hcl`, ...), or, when no name
/// under that folder can be used, the file only leaves `requests/`; the
/// trailers say so (`Jit-Archived-As`).
pub fn commit_moves(
    repo: &Repository,
    base: Oid,
    moves: &[Move],
    bot: &Bot,
    now: DateTime<Utc>,
) -> anyhow::Result<(Oid, Vec<Moved>)> {
    let sig = Signature::new(&bot.name, &bot.email, &Time::new(now.timestamp(), 0))?;
    let mut tip = base;
    let mut done = Vec::new();
    for m in moves {
        let parent = repo.find_commit(tip)?;
        let tree = parent.tree()?;
        let here = tree.get_path(Path::new(&m.from)).ok();
        if here.as_ref().map(|e| (e.id(), e.filemode())) != Some((m.blob, FileMode::Blob.into())) {
            log::debug!(
                "archive {}: {} no longer holds {}; not moved",
                m.request,
                m.from,
                m.blob
            );
            continue;
        }
        let (to, problem) = match &m.to {
            None => (None, None),
            Some(planned) => destination(&tree, planned),
        };
        let mut message = m.message.clone();
        if let Some(problem) = &problem {
            if !message.ends_with('\n') {
                message.push('\n');
            }
            message.push_str(&format!(
                "Jit-Archive-Problem: {problem}\nJit-Archived-As: {}\n",
                to.as_deref().unwrap_or("none (removed from requests/)")
            ));
        }
        let mut update = git2::build::TreeUpdateBuilder::new();
        update.remove(&m.from);
        if let Some(to) = &to {
            update.upsert(to, m.blob, FileMode::Blob);
        }
        let new_tree = repo.find_tree(update.create_updated(repo, &tree)?)?;
        tip = repo.commit(None, &sig, &sig, &message, &new_tree, &[&parent])?;
        done.push(Moved {
            request: m.request.clone(),
            from: m.from.clone(),
            to,
            problem,
        });
    }
    Ok((tip, done))
}

/// Where to put a file planned for `planned`: it when free, else the first
/// free `<stem>-N.hcl` beside it, else nowhere; and what was in the way.
fn destination(tree: &Tree, planned: &str) -> (Option<String>, Option<String>) {
    let Err(problem) = free(tree, planned) else {
        return (Some(planned.to_string()), None);
    };
    // A file already at the path is an earlier archive of the same name
    // (names are reused): the next free name is routine, not a problem.
    let routine = problem.ends_with("already taken by a file");
    let stem = planned.strip_suffix(".hcl").unwrap_or(planned);
    for n in 2..=100 {
        let candidate = format!("{stem}-{n}.hcl");
        match free(tree, &candidate) {
            Ok(()) => return (Some(candidate), (!routine).then_some(problem)),
            // The folder itself is blocked: no name in it will do.
            Err(e) if !e.starts_with(&candidate) => return (None, Some(problem)),
            Err(_) => {}
        }
    }
    (None, Some(problem))
}

/// Whether a new file can go at `path` without replacing anything: every
/// folder on the way is a folder (or absent) and nothing is at `path`.
fn free(tree: &Tree, path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    for i in 1..parts.len() {
        let prefix = parts[..i].join("/");
        match tree.get_path(Path::new(&prefix)) {
            Err(_) => return Ok(()),
            Ok(e) if e.kind() == Some(git2::ObjectType::Tree) => {}
            Ok(_) => return Err(format!("{prefix} is a file where a folder should be")),
        }
    }
    match tree.get_path(Path::new(path)) {
        Err(_) => Ok(()),
        Ok(e) if e.kind() == Some(git2::ObjectType::Tree) => {
            Err(format!("{path} is already taken by a folder"))
        }
        Ok(_) => Err(format!("{path} is already taken by a file")),
    }
}

/// The move an archive commit of jit's made, to re-create it elsewhere:
/// `None` when `commit` is not one (not authored by the bot, or without a
/// `Jit-Request` trailer, or moving nothing).
fn move_of(repo: &Repository, commit: &git2::Commit, bot: &Bot) -> Option<Move> {
    if commit.parent_count() != 1 || commit.author().email_bytes() != bot.email.as_bytes() {
        return None;
    }
    let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
    let request = message
        .lines()
        .find_map(|l| l.strip_prefix("Jit-Request: "))?
        .trim()
        .to_string();
    let from = format!("requests/{request}.hcl");
    let before = commit.parent(0).ok()?.tree().ok()?;
    let blob = super::blob_at(&before, &from)?;
    let after = commit.tree().ok()?;
    if super::blob_at(&after, &from).is_some() {
        return None;
    }
    let diff = repo
        .diff_tree_to_tree(Some(&before), Some(&after), None)
        .ok()?;
    let to = diff
        .deltas()
        .filter(|d| d.status() == git2::Delta::Added && d.new_file().id() == blob)
        .find_map(|d| d.new_file().path()?.to_str().map(str::to_string));
    Some(Move {
        request,
        from,
        to,
        blob,
        message,
    })
}

/// Re-creates on `onto` the local commits of `local` that `onto` lacks.
/// Each is one of jit's archive commits and moves its request only if the
/// file on the new tip still holds exactly the content it ended. Anything
/// else among them is an error (nothing is dropped).
fn replay(repo: &Repository, local: Oid, onto: Oid, bot: &Bot) -> anyhow::Result<Oid> {
    let mut walk = repo.revwalk()?;
    walk.push(local)?;
    walk.hide(onto)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    let mut tip = onto;
    for oid in walk {
        let commit = repo.find_commit(oid?)?;
        let Some(m) = move_of(repo, &commit, bot) else {
            bail!(
                "the local branch has commit {} that origin lacks and that is not one of jit's archive commits; push or remove it, then run jit again (the archive commits stay on the local branch)",
                super::short(commit.id())
            );
        };
        let when = Utc
            .timestamp_opt(commit.time().seconds(), 0)
            .single()
            .unwrap_or_else(Utc::now);
        let (next, done) = commit_moves(repo, tip, std::slice::from_ref(&m), bot, when)?;
        if done.is_empty() {
            log::debug!(
                "archive {}: changed on origin since it was planned; left for the next run",
                m.request
            );
        }
        tip = next;
    }
    Ok(tip)
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
        // The branch first: if it cannot move (locked, raced), nothing in
        // the index or work tree has changed, so no half-done move is left
        // staged for a person's next commit. Then the work tree follows.
        let old = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
        let (old, tip) = (old.to_string(), tip.to_string());
        git(
            dir,
            &["update-ref", &format!("refs/heads/{branch}"), &tip, &old],
        )
        .context("moving the checked-out branch to jit's archive commit")?;
        if git(dir, &["read-tree", "-m", "-u", &old, &tip]).is_err() {
            git(dir, &["reset", "--quiet", "--keep", &tip]).with_context(|| {
                format!("the branch is at jit's archive commit {tip}, but the work tree could not follow; run `git reset --keep {tip}`")
            })?;
        }
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

/// Fetches origin's branch `branch` into the ref `into`; `Ok(false)` when
/// origin has no such branch (yet).
pub(crate) fn fetch_branch(dir: &Path, branch: &str, into: &str) -> anyhow::Result<bool> {
    let spec = format!("+refs/heads/{branch}:{into}");
    match git(
        dir,
        &["fetch", "--quiet", "--no-write-fetch-head", "origin", &spec],
    ) {
        Ok(_) => Ok(true),
        Err(e) if format!("{e:#}").contains("couldn't find remote ref") => Ok(false),
        Err(e) => Err(e),
    }
}

/// How many commits origin's `branch` has that the local branch lacks,
/// fetched now (0 when origin has no such branch).
pub fn origin_ahead(repo: &Repository, branch: &str) -> anyhow::Result<usize> {
    if repo.find_remote("origin").is_err() {
        return Ok(0);
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let remote_ref = format!("refs/remotes/origin/{branch}");
    if !fetch_branch(&dir, branch, &remote_ref)
        .with_context(|| format!("fetching {branch} from origin"))?
    {
        return Ok(0);
    }
    let local = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
    let remote = repo.refname_to_id(&remote_ref)?;
    Ok(repo.graph_ahead_behind(local, remote)?.1)
}

/// What happened to a push.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Done { attempts: usize },
    NoRemote,
}

/// Pushes `branch` to origin; when rejected because origin moved, fetches,
/// re-creates every archive commit origin lacks on origin's tip (see
/// [`replay`]: unpushed commits of earlier runs included, a renewal that
/// landed meanwhile stays) and tries again (at most 5 times).
pub fn push(repo: &Repository, branch: &str, bot: &Bot) -> anyhow::Result<Pushed> {
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
        let local = repo.refname_to_id(&format!("refs/heads/{branch}"))?;
        let tip = replay(repo, local, remote_tip, bot)?;
        advance_branch(repo, branch, tip)?;
    }
    bail!(
        "pushing {branch} to origin was rejected 5 times; the archive commits are on the local branch and the next run will retry"
    )
}

/// Whether a push failed because origin moved on (not for another reason).
pub(crate) fn is_rejected(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    ["non-fast-forward", "fetch first", "[rejected]", "rejected"]
        .iter()
        .any(|s| text.contains(s))
}

/// Runs git in `dir`; an error carries its stderr.
pub(crate) fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
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
