//! The lease: one runner at a time changes IAM and the branch.
//!
//! The lease lives in origin, on the branch `jit-lock`. Each state is a
//! commit (empty tree) whose message says who holds it and until when;
//! a runner takes, renews or releases the lease by pushing a child of the
//! tip it read. The push is a plain fast-forward: when another runner moved
//! the branch meanwhile, git rejects it, so taking the lease is a
//! compare-and-swap on origin, with no server beyond git.
//!
//! A lease expires [`TTL`] after it was last renewed; the holder renews it
//! in the background while it runs, so only a crashed runner lets it expire,
//! and it never blocks others for longer than that. On the holder's own
//! machine a dead holder process is seen at once and its lease taken over.
//! The lease uses the real clock, never `--now`.
//! Inspect with `git log origin/jit-lock`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use git2::{Oid, Repository, Signature};

use super::archive::{fetch_branch, git, is_rejected};

/// The branch on origin that holds the lease.
pub const BRANCH: &str = "jit-lock";
const REMOTE: &str = "refs/remotes/origin/jit-lock";

/// How long a lease lasts after its last renewal.
pub const TTL: Duration = Duration::from_secs(120);
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(30);
/// How often a waiting runner looks again.
const POLL: Duration = Duration::from_millis(500);

/// What a lease commit says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub holder: String,
    pub command: String,
    pub held: bool,
    pub expires: DateTime<Utc>,
}

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another live runner holds it.
    #[error(
        "another jit run holds the lease on origin's `{BRANCH}` branch: {} (`jit {}`), until {} unless renewed; \
         wait for it to finish, or pass --lock-timeout to wait longer (a crashed runner's lease expires by itself)",
        .0.holder, .0.command, crate::policy::iam_time(.0.expires)
    )]
    Held(State),
    /// origin could not be read or written.
    #[error("could not take the lease on origin's `{BRANCH}` branch: {0:#}")]
    Unreachable(anyhow::Error),
}

/// The lease this process holds; renewed in the background, released on
/// [`Lease::release`] (or left to expire if the process dies).
pub struct Lease {
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<thread::JoinHandle<Option<Oid>>>,
    dir: PathBuf,
    holder: String,
    command: String,
    who: (String, String),
    tip: Oid,
}

/// Takes the lease for `command`, waiting up to `wait` while another live
/// runner holds it. `Ok(None)` when the repo has no origin (nothing to share).
pub fn acquire(dir: &Path, command: &str, wait: Duration) -> Result<Option<Lease>, Error> {
    let repo = Repository::open(dir).map_err(|e| Error::Unreachable(e.into()))?;
    if repo.find_remote("origin").is_err() {
        return Ok(None);
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let who = identity(&repo);
    let holder = holder();
    let deadline = Instant::now() + wait;
    loop {
        fetch(&dir).map_err(Error::Unreachable)?;
        let tip = repo.refname_to_id(REMOTE).ok();
        let current = tip
            .map(|t| read_state(&repo, t))
            .transpose()
            .map_err(Error::Unreachable)?;
        if let Some(state) = current.filter(|s| s.held && !s.holder.eq(&holder))
            && !free(&state, Utc::now())
        {
            if Instant::now() >= deadline {
                return Err(Error::Held(state));
            }
            log::info!("waiting for the lease held by {}", state.holder);
            thread::sleep(POLL);
            continue;
        }
        let next = commit(&repo, tip, &holder, command, true, &who).map_err(Error::Unreachable)?;
        match push(&repo, &dir, next) {
            Ok(()) => {
                log::debug!("took the lease ({next})");
                let mut lease = Lease {
                    stop: None,
                    renewer: None,
                    dir,
                    holder,
                    command: command.to_string(),
                    who,
                    tip: next,
                };
                lease.start_renewing();
                return Ok(Some(lease));
            }
            // Someone moved the lease between our read and our push: read again.
            Err(e) if is_rejected(&e) => continue,
            Err(e) => return Err(Error::Unreachable(e)),
        }
    }
}

impl Lease {
    fn start_renewing(&mut self) {
        let (stop, stopped) = mpsc::channel::<()>();
        let (dir, holder, command, who) = (
            self.dir.clone(),
            self.holder.clone(),
            self.command.clone(),
            self.who.clone(),
        );
        let mut tip = self.tip;
        self.renewer = Some(thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(RENEW_EVERY) {
                match renew(&dir, tip, &holder, &command, &who) {
                    Ok(next) => tip = next,
                    // Another runner took the lease over (it had expired).
                    Err(e) if is_rejected(&e) => {
                        log::warn!("the lease was taken over by another run: {e:#}");
                        return None;
                    }
                    // origin unreachable for now: try again at the next tick.
                    Err(e) => log::warn!("could not renew the lease: {e:#}"),
                }
            }
            Some(tip)
        }));
        self.stop = Some(stop);
    }

    /// Gives the lease back, so the next runner need not wait for it to
    /// expire. Best effort: a lease not released expires by itself.
    pub fn release(mut self) {
        if let Err(e) = self.stop_and_release() {
            log::warn!("could not release the lease (it expires by itself): {e:#}");
        }
    }

    fn stop_and_release(&mut self) -> anyhow::Result<()> {
        drop(self.stop.take());
        let tip = match self.renewer.take().map(|h| h.join()) {
            Some(Ok(Some(tip))) => tip,
            Some(Ok(None)) => bail!("the lease was lost while renewing it"),
            Some(Err(_)) => bail!("the lease renewer panicked"),
            None => self.tip,
        };
        let repo = Repository::open(&self.dir)?;
        let next = commit(
            &repo,
            Some(tip),
            &self.holder,
            &self.command,
            false,
            &self.who,
        )?;
        push(&repo, &self.dir, next)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.stop.is_some()
            && let Err(e) = self.stop_and_release()
        {
            log::warn!("could not release the lease (it expires by itself): {e:#}");
        }
    }
}

/// Pushes a renewal on top of `tip`, our last lease commit.
fn renew(
    dir: &Path,
    tip: Oid,
    holder: &str,
    command: &str,
    who: &(String, String),
) -> anyhow::Result<Oid> {
    let repo = Repository::open(dir)?;
    let next = commit(&repo, Some(tip), holder, command, true, who)?;
    push(&repo, dir, next)?;
    Ok(next)
}

/// Whether a held lease may be taken: expired, or its holder process is
/// gone (seen only on the holder's own machine).
pub fn free(state: &State, now: DateTime<Utc>) -> bool {
    if !state.held || state.expires <= now {
        return true;
    }
    let mut parts = state.holder.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    host == hostname() && pid.parse::<u32>().is_ok_and(|pid| !alive(pid, start))
}

fn fetch(dir: &Path) -> anyhow::Result<()> {
    if !fetch_branch(dir, BRANCH, REMOTE).context("fetching the lease")? {
        // No lease yet; forget a stale local copy of a deleted one.
        if let Ok(repo) = Repository::open(dir)
            && let Ok(mut r) = repo.find_reference(REMOTE)
        {
            let _ = r.delete();
        }
    }
    Ok(())
}

/// Pushes `next` as origin's lease (fast-forward only: the compare-and-swap).
fn push(repo: &Repository, dir: &Path, next: Oid) -> anyhow::Result<()> {
    git(
        dir,
        &[
            "push",
            "--porcelain",
            "origin",
            &format!("{next}:refs/heads/{BRANCH}"),
        ],
    )?;
    repo.reference(REMOTE, next, true, "jit: lease")?;
    Ok(())
}

fn commit(
    repo: &Repository,
    parent: Option<Oid>,
    holder: &str,
    command: &str,
    held: bool,
    (name, email): &(String, String),
) -> anyhow::Result<Oid> {
    let now = Utc::now();
    let expires = now + chrono::Duration::from_std(TTL)?;
    let (subject, state) = if held {
        ("held by", "held")
    } else {
        ("released by", "released")
    };
    let message = format!(
        "jit: lease {subject} {holder}\n\nJit-Lease: {state}\nJit-Holder: {holder}\nJit-Command: {command}\nJit-Expires: {}\n",
        crate::policy::iam_time(expires)
    );
    let sig = Signature::new(name, email, &git2::Time::new(now.timestamp(), 0))?;
    let tree = repo.find_tree(repo.treebuilder(None)?.write()?)?;
    let parent = parent.map(|p| repo.find_commit(p)).transpose()?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(repo.commit(None, &sig, &sig, &message, &tree, &parents)?)
}

/// The state a lease commit states. A commit that is not one (someone
/// pushed something else to the branch) holds nothing.
fn read_state(repo: &Repository, tip: Oid) -> anyhow::Result<State> {
    let commit = repo.find_commit(tip).context("reading the lease commit")?;
    Ok(
        parse(&String::from_utf8_lossy(commit.message_bytes())).unwrap_or_else(|| {
            log::warn!("{BRANCH}: commit {tip} is not a lease record; treated as free");
            State {
                holder: String::new(),
                command: String::new(),
                held: false,
                expires: DateTime::<Utc>::MIN_UTC,
            }
        }),
    )
}

pub fn parse(message: &str) -> Option<State> {
    let field = |key: &str| {
        message
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
            .map(str::trim)
    };
    Some(State {
        holder: field("Jit-Holder")?.to_string(),
        command: field("Jit-Command").unwrap_or("").to_string(),
        held: field("Jit-Lease")? == "held",
        expires: DateTime::parse_from_rfc3339(field("Jit-Expires")?)
            .ok()?
            .with_timezone(&Utc),
    })
}

/// Who this process is: `host:pid:start`, unique across machines and
/// process-id reuse.
fn holder() -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}",
        hostname(),
        start_time(pid).unwrap_or_default()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty() && !s.contains(':'))
        .unwrap_or_else(|| "unknown-host".into())
}

/// A process's start time in clock ticks since boot (Linux), which tells a
/// process from a later one that reuses its id.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it do not.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19).map(str::to_string)
}

/// Whether process `pid` started at `start` still runs. Without /proc
/// (not Linux) nothing is known, so it counts as alive.
fn alive(pid: u32, start: &str) -> bool {
    if !Path::new("/proc/self/stat").exists() || start.is_empty() {
        return true;
    }
    start_time(pid).is_some_and(|s| s == start)
}

/// The runner's git identity, for the lease commits' author.
fn identity(repo: &Repository) -> (String, String) {
    let config = repo.config().ok();
    let get = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
    (
        get("user.name").unwrap_or_else(|| "jit".into()),
        get("user.email").unwrap_or_else(|| "jit@localhost".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A bare origin and two clones of it.
    fn clones() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let origin = tmp.path().join("origin.git");
        git_in(
            tmp.path(),
            &["init", "--quiet", "--bare", origin.to_str().unwrap()],
        );
        let mut out = vec![];
        for name in ["a", "b"] {
            let dir = tmp.path().join(name);
            git_in(tmp.path(), &["init", "--quiet", dir.to_str().unwrap()]);
            git_in(&dir, &["remote", "add", "origin", origin.to_str().unwrap()]);
            out.push(dir);
        }
        let b = out.pop().unwrap();
        (tmp, out.pop().unwrap(), b)
    }

    #[test]
    fn one_runner_at_a_time_and_release_frees_it() {
        let (_tmp, a, b) = clones();
        let lease = acquire(&a, "apply", Duration::ZERO).unwrap().unwrap();
        // Same process, other clone: a different holder would be refused;
        // simulate one by reading the state as another host would.
        let repo = Repository::open(&b).unwrap();
        fetch(&b).unwrap();
        let state = read_state(&repo, repo.refname_to_id(REMOTE).unwrap()).unwrap();
        assert!(state.held);
        assert_eq!(state.holder, holder());
        assert_eq!(state.command, "apply");
        let foreign = State {
            holder: format!("elsewhere:{}", state.holder.split_once(':').unwrap().1),
            ..state.clone()
        };
        assert!(
            !free(&foreign, Utc::now()),
            "a live lease elsewhere is not free"
        );
        assert!(free(&foreign, state.expires), "an expired lease is free");
        lease.release();
        fetch(&b).unwrap();
        let released = read_state(&repo, repo.refname_to_id(REMOTE).unwrap()).unwrap();
        assert!(!released.held);
        let again = acquire(&b, "revoke", Duration::ZERO).unwrap().unwrap();
        again.release();
    }

    #[test]
    fn a_lease_held_elsewhere_is_refused_until_it_expires() {
        let (_tmp, a, b) = clones();
        // Another machine's runner holds the lease.
        let repo = Repository::open(&a).unwrap();
        let who = ("ci".to_string(), "ci@acme.example".to_string());
        let held = commit(&repo, None, "ci-runner-7:4242:99", "apply", true, &who).unwrap();
        push(&repo, &a, held).unwrap();
        let err = acquire(&b, "apply", Duration::ZERO).err().expect("refused");
        let text = err.to_string();
        assert!(matches!(err, Error::Held(_)), "{text}");
        assert!(
            text.contains("ci-runner-7:4242:99") && text.contains("jit apply"),
            "{text}"
        );
        // Waiting does not help while it lives…
        let started = Instant::now();
        assert!(acquire(&b, "apply", Duration::from_millis(1200)).is_err());
        assert!(started.elapsed() >= Duration::from_millis(1200));
        // …its expiry does.
        let expired = format!(
            "jit: lease held by x\n\nJit-Lease: held\nJit-Holder: ci-runner-7:4242:99\nJit-Command: apply\nJit-Expires: {}\n",
            crate::policy::iam_time(Utc::now() - chrono::Duration::seconds(1))
        );
        let sig = Signature::now("ci", "ci@acme.example").unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let parent = repo.find_commit(held).unwrap();
        let old = repo
            .commit(None, &sig, &sig, &expired, &tree, &[&parent])
            .unwrap();
        push(&repo, &a, old).unwrap();
        acquire(&b, "apply", Duration::ZERO)
            .unwrap()
            .unwrap()
            .release();
    }

    #[test]
    fn a_dead_holder_on_this_machine_frees_the_lease_at_once() {
        let (_tmp, a, b) = clones();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let dead = format!(
            "{}:{pid}:{}",
            hostname(),
            start.unwrap_or_else(|| "1".into())
        );
        let repo = Repository::open(&a).unwrap();
        let who = ("ci".to_string(), "ci@acme.example".to_string());
        let held = commit(&repo, None, &dead, "apply", true, &who).unwrap();
        push(&repo, &a, held).unwrap();
        acquire(&b, "apply", Duration::ZERO)
            .unwrap()
            .unwrap()
            .release();
        // A live process on this machine is not taken over.
        let live = State {
            holder: holder(),
            command: "apply".into(),
            held: true,
            expires: Utc::now() + chrono::Duration::minutes(1),
        };
        assert!(!free(&live, Utc::now()));
    }

    #[test]
    fn taking_the_lease_is_a_compare_and_swap() {
        let (_tmp, a, b) = clones();
        // Both runners read "no lease"; a pushes first; b's push of a child
        // of what it read is rejected, never a silent overwrite.
        let ra = Repository::open(&a).unwrap();
        let rb = Repository::open(&b).unwrap();
        let who = ("ci".to_string(), "ci@acme.example".to_string());
        let first = commit(&ra, None, "host-a:1:1", "apply", true, &who).unwrap();
        let second = commit(&rb, None, "host-b:2:2", "apply", true, &who).unwrap();
        push(&ra, &a, first).unwrap();
        let err = push(&rb, &b, second).expect_err("a lost race is rejected");
        assert!(is_rejected(&err), "{err:#}");
    }

    #[test]
    fn a_lease_message_reads_back() {
        let s = parse("jit: lease held by h\n\nJit-Lease: held\nJit-Holder: h:1:2\nJit-Command: revoke\nJit-Expires: 2026-12-02T10:00:00Z\n").unwrap();
        assert_eq!(s.holder, "h:1:2");
        assert_eq!(s.command, "revoke");
        assert!(s.held);
        assert!(parse("a commit someone pushed").is_none());
    }
}
