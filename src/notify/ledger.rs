//! What was delivered, kept in git so that no runner (a fresh CI clone, a
//! restarted service) sends one event of one grant twice: the branch
//! `jit-notified`, one commit per run that delivered something, whose tree
//! holds one file, `ledger`, with a line per target first seen and per
//! delivery. jit reads the local branch and origin's (as last fetched) and
//! merges them, so any runner's record counts; protect the branch like
//! `jit-endings` (only the bot pushes it). Inspect with
//! `git show origin/jit-notified:ledger`.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use git2::{FileMode, Oid, Repository, Signature, Time};

use crate::config::Bot;
use crate::git::archive::{git, is_rejected};

pub const BRANCH: &str = "jit-notified";
const LOCAL: &str = "refs/heads/jit-notified";
const REMOTE: &str = "refs/remotes/origin/jit-notified";
const FILE: &str = "ledger";
/// How long a record is kept: longer than any event can stay due (a
/// grant's window, an archive commit looked at by later runs).
pub const KEEP: TimeDelta = TimeDelta::days(45);
/// Runs that try a delivery that keeps failing, before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Sent,
    /// Failed after every retry, this many runs.
    Failed(u32),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// (target, delivery id) -> (when, state).
    entries: BTreeMap<(String, String), (i64, State)>,
    /// When each target was first seen (unix seconds).
    since: BTreeMap<String, i64>,
    /// The commits this ledger was read from (the next record's parents).
    parents: Vec<Oid>,
    changed: bool,
}

impl Ledger {
    /// When `target` was first seen, recording `now` if it is new.
    pub fn since(&mut self, target: &str, now: DateTime<Utc>) -> DateTime<Utc> {
        let t = *self.since.entry(target.to_string()).or_insert_with(|| {
            self.changed = true;
            now.timestamp()
        });
        DateTime::from_timestamp(t, 0).unwrap_or(now)
    }

    /// Whether `id` should be (re)tried for `target`: never sent, and not
    /// given up after [`MAX_ATTEMPTS`] failing runs.
    pub fn wants(&self, target: &str, id: &str) -> bool {
        match self.entries.get(&(target.to_string(), id.to_string())) {
            None => true,
            Some((_, State::Sent)) => false,
            Some((_, State::Failed(n))) => *n < MAX_ATTEMPTS,
        }
    }

    pub fn record(&mut self, target: &str, id: &str, ok: bool, now: DateTime<Utc>) {
        let key = (target.to_string(), id.to_string());
        let state = match (ok, self.entries.get(&key)) {
            (true, _) => State::Sent,
            (false, Some((_, State::Failed(n)))) => State::Failed(n + 1),
            (false, _) => State::Failed(1),
        };
        self.entries.insert(key, (now.timestamp(), state));
        self.changed = true;
    }

    fn merge(&mut self, other: Ledger) {
        for (k, (at, state)) in other.entries {
            let merged = match (self.entries.get(&k), state) {
                (None, s) => (at, s),
                (Some(&(_, State::Sent)), _) | (Some(_), State::Sent) => (at, State::Sent),
                (Some(&(a, State::Failed(x))), State::Failed(y)) => {
                    (a.max(at), State::Failed(x.max(y)))
                }
            };
            self.entries.insert(k, merged);
        }
        for (t, at) in other.since {
            let e = self.since.entry(t).or_insert(at);
            *e = (*e).min(at);
        }
        self.parents.extend(other.parents);
    }

    fn text(&self, now: DateTime<Utc>) -> String {
        let cutoff = (now - KEEP).timestamp();
        let mut out = String::new();
        for (t, at) in &self.since {
            out.push_str(&format!("since {t} {at}\n"));
        }
        for ((t, id), (at, state)) in &self.entries {
            if *at < cutoff {
                continue;
            }
            match state {
                State::Sent => out.push_str(&format!("sent {t} {id} {at}\n")),
                State::Failed(n) => out.push_str(&format!("failed {t} {id} {at} {n}\n")),
            }
        }
        out
    }

    fn parse(text: &str) -> Ledger {
        let mut l = Ledger::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<i64>().ok());
            match f.as_slice() {
                ["since", t, _] => {
                    if let Some(at) = num(2) {
                        l.since.insert(t.to_string(), at);
                    }
                }
                ["sent", t, id, _] => {
                    if let Some(at) = num(3) {
                        l.entries
                            .insert((t.to_string(), id.to_string()), (at, State::Sent));
                    }
                }
                ["failed", t, id, _, _] => {
                    if let (Some(at), Some(n)) = (num(3), num(4)) {
                        let n = u32::try_from(n).unwrap_or(MAX_ATTEMPTS);
                        l.entries
                            .insert((t.to_string(), id.to_string()), (at, State::Failed(n)));
                    }
                }
                _ => log::warn!("{BRANCH}: ignoring a line it cannot read: {line:?}"),
            }
        }
        l
    }
}

fn dir(repo: &Repository) -> std::path::PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}

/// Fetches origin's records (best effort) and reads the local and remote
/// ones, merged.
pub fn load(repo: &Repository) -> anyhow::Result<Ledger> {
    if repo.find_remote("origin").is_ok()
        && let Err(e) = crate::git::archive::fetch_branch(&dir(repo), BRANCH, REMOTE)
    {
        log::warn!("could not fetch origin's {BRANCH}: {e:#}");
    }
    let mut out = Ledger::default();
    for name in [LOCAL, REMOTE] {
        let Ok(tip) = repo.refname_to_id(name) else {
            continue;
        };
        if out.parents.contains(&tip) {
            continue;
        }
        let commit = repo.find_commit(tip)?;
        let text = match commit.tree()?.get_name(FILE) {
            Some(e) => String::from_utf8_lossy(repo.find_blob(e.id())?.content()).into_owned(),
            None => String::new(),
        };
        let mut l = Ledger::parse(&text);
        l.parents = vec![tip];
        out.merge(l);
    }
    out.changed = false;
    Ok(out)
}

/// Commits the ledger to the local branch when it changed (a merge of the
/// local and origin's records when both exist).
pub fn save(
    repo: &Repository,
    ledger: &Ledger,
    bot: &Bot,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if !ledger.changed {
        return Ok(());
    }
    let blob = repo.blob(ledger.text(now).as_bytes())?;
    let mut tb = repo.treebuilder(None)?;
    tb.insert(FILE, blob, FileMode::Blob.into())?;
    let tree = repo.find_tree(tb.write()?)?;
    let sig = Signature::new(&bot.name, &bot.email, &Time::new(now.timestamp(), 0))?;
    let mut parents = Vec::new();
    for p in &ledger.parents {
        let c = repo.find_commit(*p)?;
        // A parent the other already contains adds nothing.
        let contained = ledger
            .parents
            .iter()
            .any(|o| o != p && repo.graph_descendant_of(*o, *p).unwrap_or(false));
        if !contained && !parents.iter().any(|x: &git2::Commit| x.id() == c.id()) {
            parents.push(c);
        }
    }
    let refs: Vec<&git2::Commit> = parents.iter().collect();
    let oid = repo.commit(
        None,
        &sig,
        &sig,
        "jit: notifications delivered\n",
        &tree,
        &refs,
    )?;
    repo.reference(LOCAL, oid, true, "jit: record notifications")
        .with_context(|| format!("recording notifications in {LOCAL}"))?;
    Ok(())
}

/// Pushes the local records; when origin moved, merges its records in and
/// tries again (a few times).
pub fn push(repo: &Repository, bot: &Bot, now: DateTime<Utc>) -> anyhow::Result<()> {
    if repo.find_remote("origin").is_err() || repo.refname_to_id(LOCAL).is_err() {
        return Ok(());
    }
    let spec = format!("{LOCAL}:refs/heads/{BRANCH}");
    for _ in 0..3 {
        match git(
            &dir(repo),
            &["push", "--quiet", "--porcelain", "origin", &spec],
        ) {
            Ok(_) => {
                let tip = repo.refname_to_id(LOCAL)?;
                repo.reference(REMOTE, tip, true, "jit: pushed notifications")?;
                return Ok(());
            }
            Err(e) if !is_rejected(&e) => return Err(e),
            Err(_) => {
                let mut merged = load(repo)?;
                merged.changed = true;
                save(repo, &merged, bot, now)?;
            }
        }
    }
    anyhow::bail!(
        "pushing {BRANCH} was rejected 3 times; the records stay local and the next run retries"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_every_delivery_and_the_earliest_since() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let mut a = Ledger::default();
        a.since("t", now);
        a.record("t", "x", false, now);
        let mut b = Ledger::default();
        b.since("t", now - TimeDelta::seconds(5));
        b.record("t", "x", true, now);
        b.record("t", "y", false, now);
        let mut m = Ledger::parse(&a.text(now));
        m.merge(Ledger::parse(&b.text(now)));
        assert!(!m.wants("t", "x"), "sent on one side is sent");
        assert!(m.wants("t", "y"), "failed once is retried");
        assert_eq!(m.since["t"], now.timestamp() - 5);
        let mut f = Ledger::default();
        for _ in 0..MAX_ATTEMPTS {
            f.record("t", "z", false, now);
        }
        assert!(!f.wants("t", "z"), "given up after {MAX_ATTEMPTS} runs");
    }
}
