//! Durable endings: what `jit revoke` ended, recorded before IAM is touched,
//! so that no crash, occupied archive path or rejected push between the IAM
//! removal and the archive commit lets that request version be granted again.
//!
//! The store is the branch `jit-endings` (protect it like the access branch:
//! only the bot pushes it). Each ending is one commit authored by the bot:
//! its tree adds an entry named after the ended blob (holding that blob), its
//! message carries `Jit-*` trailers. jit reads the local branch and origin's
//! (as last fetched): an ending recorded by any runner counts.
//! Inspect with `git log origin/jit-endings`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use git2::{FileMode, Oid, Repository, Signature, Time};

use super::archive::{fetch_branch, git, is_rejected};
use crate::config::Bot;

/// The local branch holding the records.
pub const BRANCH: &str = "jit-endings";
const LOCAL: &str = "refs/heads/jit-endings";
const REMOTE: &str = "refs/remotes/origin/jit-endings";

/// One request version that jit ended: it is never granted again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub request: String,
    /// The request file's content that was ended.
    pub blob: Oid,
    /// When jit ended it (before touching IAM).
    pub at: DateTime<Utc>,
    pub reason: String,
    pub by: String,
}

/// Every recorded ending, by the blob it ended.
#[derive(Debug, Clone, Default)]
pub struct Endings {
    by_blob: BTreeMap<Oid, Ending>,
}

impl Endings {
    /// The ending of the request version whose content is `blob`, if any.
    pub fn get(&self, blob: Oid) -> Option<&Ending> {
        self.by_blob.get(&blob)
    }

    pub fn len(&self) -> usize {
        self.by_blob.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_blob.is_empty()
    }

    /// The blobs with a recorded ending.
    pub fn ended_blobs(&self) -> impl Iterator<Item = Oid> + '_ {
        self.by_blob.keys().copied()
    }
}

/// The commit message of a record.
fn message(e: &Ending) -> String {
    format!(
        "jit: ended {}\n\n{}\n\nJit-Request: {}\nJit-Blob: {}\nJit-Outcome: revoked\nJit-Revoked: {}\nJit-Reason: {}\nJit-Revoked-By: {}\n",
        e.request,
        e.reason,
        e.request,
        e.blob,
        crate::policy::iam_time(e.at),
        e.reason.replace('\n', " "),
        e.by.replace('\n', " "),
    )
}

/// The ending a record commit states; `None` for anything else.
fn parse(message: &str) -> Option<Ending> {
    let last = message.trim_end().rsplit("\n\n").next()?;
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in last.lines() {
        if let Some((k, v)) = line.split_once(": ") {
            fields.entry(k.trim()).or_insert(v.trim());
        }
    }
    Some(Ending {
        request: fields.get("Jit-Request")?.to_string(),
        blob: Oid::from_str(fields.get("Jit-Blob")?).ok()?,
        at: DateTime::parse_from_rfc3339(fields.get("Jit-Revoked")?)
            .ok()?
            .with_timezone(&Utc),
        reason: fields.get("Jit-Reason").unwrap_or(&"").to_string(),
        by: fields.get("Jit-Revoked-By").unwrap_or(&"").to_string(),
    })
}

/// Records `ending` on the local `jit-endings` branch (a commit by the bot at
/// the ending's time). Call it before touching IAM; push it with [`push`].
pub fn record(repo: &Repository, ending: &Ending, bot: &Bot) -> anyhow::Result<Oid> {
    let parent = repo.refname_to_id(LOCAL).ok();
    let tip = commit_record(repo, parent, ending, bot)?;
    repo.reference(LOCAL, tip, true, "jit: record an ending")
        .with_context(|| format!("recording the ending of {} in {LOCAL}", ending.request))?;
    log::debug!(
        "recorded ending of {} ({}) as {tip}",
        ending.request,
        ending.blob
    );
    Ok(tip)
}

fn commit_record(
    repo: &Repository,
    parent: Option<Oid>,
    ending: &Ending,
    bot: &Bot,
) -> anyhow::Result<Oid> {
    let parent = parent.map(|p| repo.find_commit(p)).transpose()?;
    let base = match &parent {
        Some(p) => p.tree()?,
        None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
    };
    // The ended content itself, so the record is complete on its own.
    let blob = match repo.find_blob(ending.blob) {
        Ok(b) => b.id(),
        Err(_) => repo.blob(b"")?,
    };
    let mut update = git2::build::TreeUpdateBuilder::new();
    update.upsert(ending.blob.to_string(), blob, FileMode::Blob);
    let tree = repo.find_tree(update.create_updated(repo, &base)?)?;
    let sig = Signature::new(&bot.name, &bot.email, &Time::new(ending.at.timestamp(), 0))?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(repo.commit(None, &sig, &sig, &message(ending), &tree, &parents)?)
}

/// Every ending recorded locally or on origin (as last fetched).
pub fn read(repo: &Repository) -> anyhow::Result<Endings> {
    let mut out = Endings::default();
    let mut walk = repo.revwalk()?;
    let mut any = false;
    for name in [LOCAL, REMOTE] {
        if let Ok(tip) = repo.refname_to_id(name) {
            walk.push(tip)?;
            any = true;
        }
    }
    if !any {
        return Ok(out);
    }
    for oid in walk {
        let oid = oid?;
        let commit = repo.find_commit(oid)?;
        match parse(&String::from_utf8_lossy(commit.message_bytes())) {
            Some(e) => {
                out.by_blob.entry(e.blob).or_insert(e);
            }
            None => log::warn!("{BRANCH}: commit {oid} is not an ending record; ignored"),
        }
    }
    Ok(out)
}

/// Fetches origin's records (best effort: a repo without origin, or an
/// origin without the branch, has none).
pub fn fetch(repo: &Repository) -> anyhow::Result<()> {
    if repo.find_remote("origin").is_err() {
        return Ok(());
    }
    fetch_branch(&dir(repo), BRANCH, REMOTE).map(|_| ())
}

/// Whether the local records hold some that origin (as last fetched) lacks.
pub fn unpushed(repo: &Repository) -> bool {
    match (repo.refname_to_id(LOCAL), repo.refname_to_id(REMOTE)) {
        (Ok(_), Err(_)) => true,
        (Ok(l), Ok(r)) => l != r && !repo.graph_descendant_of(r, l).unwrap_or(false),
        _ => false,
    }
}

/// Pushes the local records to origin. When origin holds records this clone
/// lacks, the local ones are re-created on top of origin's (never dropped).
pub fn push(repo: &Repository, bot: &Bot) -> anyhow::Result<()> {
    if repo.find_remote("origin").is_err() || repo.refname_to_id(LOCAL).is_err() {
        return Ok(());
    }
    let dir = dir(repo);
    let spec = format!("{LOCAL}:refs/heads/{BRANCH}");
    for _ in 0..5 {
        if repo.refname_to_id(REMOTE).ok() == repo.refname_to_id(LOCAL).ok() {
            return Ok(());
        }
        let rejected = match git(&dir, &["push", "--porcelain", "origin", &spec]) {
            Ok(_) => {
                repo.reference(REMOTE, repo.refname_to_id(LOCAL)?, true, "jit: pushed")?;
                return Ok(());
            }
            Err(e) if is_rejected(&e) => e,
            Err(e) => return Err(e).context(format!("pushing {BRANCH} to origin")),
        };
        log::debug!("{BRANCH} push rejected: {rejected:#}");
        fetch(repo)?;
        let remote = repo.refname_to_id(REMOTE)?;
        let local = repo.refname_to_id(LOCAL)?;
        if repo.graph_descendant_of(local, remote)? {
            continue;
        }
        // Re-create the records origin lacks on top of origin's.
        let mut walk = repo.revwalk()?;
        walk.push(local)?;
        walk.hide(remote)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
        let mut tip = remote;
        for oid in walk {
            let commit = repo.find_commit(oid?)?;
            if let Some(e) = parse(&String::from_utf8_lossy(commit.message_bytes())) {
                tip = commit_record(repo, Some(tip), &e, bot)?;
            }
        }
        repo.reference(LOCAL, tip, true, "jit: records on top of origin's")?;
    }
    bail!(
        "pushing {BRANCH} to origin was rejected 5 times; the records stay local and the next run retries"
    )
}

fn dir(repo: &Repository) -> std::path::PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Bot {
        Bot {
            name: "jit".into(),
            email: "jit@acme.example".into(),
        }
    }

    #[test]
    fn a_recorded_ending_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let blob = repo.blob(b"request \"x\" {}\n").unwrap();
        assert!(read(&repo).unwrap().is_empty());
        let e = Ending {
            request: "x".into(),
            blob,
            at: "2026-11-23T09:45:00Z".parse().unwrap(),
            reason: "INC-1: leaked\nkey".into(),
            by: "Erin <erin@acme.example>".into(),
        };
        record(&repo, &e, &bot()).unwrap();
        let other = repo.blob(b"request \"y\" {}\n").unwrap();
        record(
            &repo,
            &Ending {
                request: "y".into(),
                blob: other,
                ..e.clone()
            },
            &bot(),
        )
        .unwrap();
        let read = read(&repo).unwrap();
        assert_eq!(read.len(), 2);
        let got = read.get(blob).unwrap();
        assert_eq!(got.request, "x");
        assert_eq!(got.at, e.at);
        assert_eq!(got.reason, "INC-1: leaked key");
        assert_eq!(got.by, e.by);
        assert!(unpushed(&repo), "no origin copy yet");
    }
}
