//! Generated histories against the real binary (issue 15, Tests): seeded
//! random sequences of request additions and renewals, applies, applies
//! whose archive commit is blocked (a lock on the branch) or whose push is
//! rejected (another runner moved origin with an approved renewal), `jit
//! revoke` (sometimes with the branch locked) and clock jumps, on a real git
//! repo with a bare origin and IAM on moto_server.
//!
//! A small model tracks every request version (name + content): its window
//! and whether it ended (expired, revoked by `jit revoke`, or replaced by a
//! renewal). After every step:
//!
//! 1. IAM never holds a `jit-<name>` policy for a version that ended or is
//!    not in its window (after an apply at that time); after an apply whose
//!    view was current it holds exactly the active versions;
//! 2. after a final clean apply IAM equals the model's active set, and a
//!    last apply past every window leaves IAM and `requests/` empty;
//! 3. origin's first-parent history archives (`jit: expire X` / `jit:
//!    revoke X`) each version at most once, only once it ended;
//! 4. no version `jit revoke` ended is ever granted again;
//!
//! and a run whose archive commit could not land leaves the clone's index
//! and work tree as they were. KNOWN FAILURE today (seeds 1501, 1503, 1505,
//! 1506, 1507; minimal case in
//! `a_blocked_archive_commit_leaves_the_index_and_work_tree_as_they_were`):
//! the other invariants hold for every default seed.
//!
//! A failure prints the seed and the steps. Replay one case with
//! `JIT_PROP_SEED=N`, run more with `JIT_PROP_CASES=N`.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use chrono::{DateTime, Duration, Utc};
use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

/// The seeds run by default (fixed, so CI is deterministic).
const FIRST_SEED: u64 = 1501;
const DEFAULT_CASES: u64 = 8;

/// Request names and their requesters (all approvable by bob).
const NAMES: [(&str, &str); 4] = [
    ("alice-db", "alice"),
    ("alice-ops", "alice"),
    ("mallory-db", "mallory"),
    ("carol-db", "carol"),
];
const USERS: [&str; 4] = ["alice", "bob", "carol", "mallory"];
/// Durations (as written, in minutes), all within db-read's 4h maximum.
const DURATIONS: [(&str, i64); 5] = [
    ("30m", 30),
    ("1h", 60),
    ("1h30m", 90),
    ("2h", 120),
    ("3h", 180),
];
const START: &str = "2026-11-23T08:30:00Z";

#[test]
fn generated_histories_keep_endings_durable_and_iam_exact() {
    let seeds: Vec<u64> = match std::env::var("JIT_PROP_SEED") {
        Ok(s) => vec![s.trim().parse().expect("JIT_PROP_SEED is a number")],
        Err(_) => {
            let n = std::env::var("JIT_PROP_CASES")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(DEFAULT_CASES);
            (FIRST_SEED..FIRST_SEED + n).collect()
        }
    };
    let moto = Moto::start();
    let mut failures = Vec::new();
    let mut stats: BTreeMap<&'static str, usize> = BTreeMap::new();
    for seed in seeds {
        moto.reset();
        for u in USERS {
            moto.create_user(u);
        }
        let mut case = Case::new(seed, &moto);
        if let Err(report) = case.run() {
            failures.push(report);
        }
        for (k, n) in &case.stats {
            *stats.entry(k).or_default() += n;
        }
    }
    eprintln!("covered: {stats:#?}");
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---- a seeded generator ----------------------------------------------------

/// xorshift64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

// ---- steps and the model ---------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    /// The requester adds or renews (edits) `name`, approved by bob, pushed.
    Request { name: &'static str, duration: usize },
    /// `jit apply` on a current view.
    Apply,
    /// `jit apply` while `.git/refs/heads/main.lock` blocks the archive commit.
    ApplyLocked,
    /// Another runner pushes an approved renewal (or addition) of `name` to
    /// origin; this clone applies from its stale view, so its archive push is
    /// rejected and retried on the new tip.
    ApplyOriginMoved { name: &'static str, duration: usize },
    /// `jit revoke name`, with the branch locked or not.
    Revoke { name: &'static str, locked: bool },
    /// The clock jumps (often past windows); nothing runs.
    Jump { minutes: i64 },
}

#[derive(Debug, Clone)]
struct Version {
    name: &'static str,
    content: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    replaced: Option<DateTime<Utc>>,
    revoked: Option<DateTime<Utc>>,
}

impl Version {
    fn active(&self, now: DateTime<Utc>) -> bool {
        self.replaced.is_none() && self.revoked.is_none() && self.start <= now && now < self.end
    }

    fn label(&self) -> String {
        format!("{}@{}", self.name, time(self.start))
    }
}

#[derive(Default)]
struct Model {
    versions: Vec<Version>,
    seq: u32,
}

impl Model {
    /// A new version of `name` approved at `at`: every earlier one is replaced.
    /// Returns its file content and the indices of versions it replaced
    /// while they were still active.
    fn new_version(
        &mut self,
        seed: u64,
        name: &'static str,
        duration: usize,
        at: DateTime<Utc>,
    ) -> (String, Vec<usize>) {
        self.seq += 1;
        let requester = requester(name);
        let (text, minutes) = DURATIONS[duration];
        let content = request(name, requester, "db-read", text)
            .replace("INC-1: testing", &format!("INC-{}: case {seed}", self.seq));
        let mut replaced = Vec::new();
        for (i, v) in self.versions.iter_mut().enumerate() {
            if v.name == name && v.replaced.is_none() {
                if v.active(at) {
                    replaced.push(i);
                }
                v.replaced = Some(at);
            }
        }
        self.versions.push(Version {
            name,
            content: content.clone(),
            start: at,
            end: at + Duration::minutes(minutes),
            replaced: None,
            revoked: None,
        });
        (content, replaced)
    }

    fn latest(&self, name: &str) -> Option<usize> {
        self.versions.iter().rposition(|v| v.name == name)
    }

    fn by_start(&self, name: &str, start: DateTime<Utc>) -> Option<usize> {
        self.versions
            .iter()
            .position(|v| v.name == name && v.start == start)
    }

    fn by_content(&self, name: &str, content: &str) -> Option<usize> {
        self.versions
            .iter()
            .position(|v| v.name == name && v.content == content)
    }

    fn active(&self, now: DateTime<Utc>) -> BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> {
        self.versions
            .iter()
            .filter(|v| v.active(now))
            .map(|v| (v.name.to_string(), (v.start, v.end)))
            .collect()
    }
}

fn requester(name: &str) -> &'static str {
    NAMES.iter().find(|(n, _)| *n == name).unwrap().1
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What IAM holds: request name -> (user, window start, window end).
type Grants = BTreeMap<String, (String, DateTime<Utc>, DateTime<Utc>)>;

// ---- one case --------------------------------------------------------------

struct Case<'a> {
    seed: u64,
    rng: Rng,
    moto: &'a Moto,
    repo: Repo,
    model: Model,
    now: DateTime<Utc>,
    steps: Vec<String>,
    last_output: String,
    /// Broken expectations that do not invalidate the model: the case goes
    /// on (so the other invariants are still checked) and fails at the end.
    soft: Vec<String>,
    /// What the case exercised, for the summary.
    stats: BTreeMap<&'static str, usize>,
}

impl<'a> Case<'a> {
    fn new(seed: u64, moto: &'a Moto) -> Case<'a> {
        let repo = Repo::standard();
        repo.push();
        Case {
            seed,
            rng: Rng::new(seed),
            moto,
            repo,
            model: Model::default(),
            now: parse_time(START).unwrap(),
            steps: Vec::new(),
            last_output: String::new(),
            soft: Vec::new(),
            stats: BTreeMap::new(),
        }
    }

    /// Runs the generated steps and the final applies; on a broken
    /// invariant, the report names the seed, the steps and jit's output.
    fn run(&mut self) -> Result<(), String> {
        let mut result = self.run_steps();
        if result.is_ok() && !self.soft.is_empty() {
            result = Err(self.soft.join("\n"));
        }
        result.map_err(|violation| {
            format!(
                "seed {} (replay: JIT_PROP_SEED={} cargo test --test property_apply): {violation}\nsteps:\n{}\nlast jit output:\n{}",
                self.seed,
                self.seed,
                self.steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("  {:>2}. {s}", i + 1))
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.last_output
            )
        })
    }

    fn run_steps(&mut self) -> Result<(), String> {
        let count = self.rng.range(6, 10);
        for i in 0..count {
            self.now += Duration::minutes(self.rng.range(5, 40));
            let step = if i == 0 {
                self.request_step()
            } else {
                self.generate()
            };
            self.steps.push(format!("{} {step:?}", time(self.now)));
            self.perform(&step)?;
        }
        // A final clean apply: IAM equals the model's active set.
        self.now += Duration::minutes(10);
        self.steps.push(format!("{} final apply", time(self.now)));
        self.perform(&Step::Apply)?;
        let plan = self.plan_json()?;
        if !plan["actions"].as_array().is_some_and(|a| a.is_empty()) {
            return Err(format!(
                "(2) a plan right after a clean apply still has actions: {}",
                plan["actions"]
            ));
        }
        // Past every window: nothing is granted and every request left requests/.
        let last_end = self.model.versions.iter().map(|v| v.end).max();
        self.now = last_end.unwrap_or(self.now).max(self.now) + Duration::minutes(1);
        self.steps
            .push(format!("{} apply past every window", time(self.now)));
        self.perform(&Step::Apply)?;
        let grants = self.grants()?;
        if !grants.is_empty() {
            return Err(format!("(2) IAM still holds {grants:?} past every window"));
        }
        let left = run_git_quiet(
            &self.repo.origin,
            &["ls-tree", "--name-only", "main", "requests/"],
        )
        .unwrap_or_default();
        if !left.trim().is_empty() {
            return Err(format!(
                "(2) past every window origin still has request files:\n{left}"
            ));
        }
        Ok(())
    }

    fn request_step(&mut self) -> Step {
        Step::Request {
            name: NAMES[self.rng.below(NAMES.len())].0,
            duration: self.rng.below(DURATIONS.len()),
        }
    }

    fn generate(&mut self) -> Step {
        let roll = self.rng.below(100);
        match roll {
            0..=27 => self.request_step(),
            28..=45 => Step::Apply,
            46..=57 => Step::ApplyLocked,
            58..=71 => {
                // Half the time the renewal races an expiry this runner is
                // about to archive (issue 15.4); otherwise any name.
                let expired: Vec<&'static str> = NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| {
                        self.model.latest(n).is_some_and(|i| {
                            let v = &self.model.versions[i];
                            v.revoked.is_none() && v.end <= self.now
                        })
                    })
                    .collect();
                let name = if !expired.is_empty() && self.rng.chance(50) {
                    expired[self.rng.below(expired.len())]
                } else {
                    NAMES[self.rng.below(NAMES.len())].0
                };
                Step::ApplyOriginMoved {
                    name,
                    duration: self.rng.below(DURATIONS.len()),
                }
            }
            72..=87 => {
                let active: Vec<&'static str> = NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| {
                        self.model
                            .latest(n)
                            .is_some_and(|i| self.model.versions[i].active(self.now))
                    })
                    .collect();
                if active.is_empty() {
                    Step::Apply
                } else {
                    Step::Revoke {
                        name: active[self.rng.below(active.len())],
                        locked: self.rng.chance(50),
                    }
                }
            }
            _ => Step::Jump {
                minutes: self.rng.range(90, 240),
            },
        }
    }

    fn perform(&mut self, step: &Step) -> Result<(), String> {
        let before = self.grants()?;
        self.note(match step {
            Step::Request { .. } => "step: add or renew",
            Step::Apply => "step: apply",
            Step::ApplyLocked => "step: apply, branch locked",
            Step::ApplyOriginMoved { .. } => "step: apply, origin moved",
            Step::Revoke { locked: false, .. } => "step: revoke",
            Step::Revoke { locked: true, .. } => "step: revoke, branch locked",
            Step::Jump { .. } => "step: clock jump",
        });
        match step {
            Step::Request { name, duration } => {
                self.sync()?;
                let path = format!("requests/{name}.hcl");
                let verb = if self.repo.exists(&path) {
                    "Renew"
                } else {
                    "Request"
                };
                let (content, _) = self.model.new_version(self.seed, name, *duration, self.now);
                self.repo.write(&path, &content);
                self.repo.commit(
                    requester(name),
                    &time(self.now),
                    &format!("{verb} {name}"),
                    &["bob"],
                );
                self.repo.push();
                // No jit ran: IAM is as it was.
                self.check_grants(&before, Check::Unchanged)?;
            }
            Step::Apply => {
                self.sync()?;
                let out = self.jit(&["apply", "--auto-approve"]);
                expect_success(&out)?;
                self.check_grants(&before, Check::Exact)?;
            }
            Step::ApplyLocked => {
                self.sync()?;
                let out = self.locked(|case| case.jit(&["apply", "--auto-approve"]));
                no_panic(&out)?;
                self.clean_work_tree()?;
                // IAM changes come first: only the archive commit was blocked.
                self.check_grants(&before, Check::Exact)?;
            }
            Step::ApplyOriginMoved { name, duration } => {
                self.sync()?;
                let at = self.now - Duration::minutes(1);
                let (content, replaced) = self.model.new_version(self.seed, name, *duration, at);
                push_from_elsewhere(
                    &self.repo,
                    &[(&format!("requests/{name}.hcl"), &content)],
                    requester(name),
                    &time(at),
                    &format!("Renew {name} elsewhere"),
                    &["bob"],
                );
                let out = self.jit(&["apply", "--auto-approve"]);
                expect_success(&out)?;
                self.clean_work_tree()?;
                let tip = run_git_quiet(&self.repo.origin, &["log", "-1", "--format=%s", "main"])
                    .unwrap_or_default();
                if tip.starts_with("jit: ") {
                    self.note("archive push rejected, retried on the new tip");
                }
                let file = format!("main:requests/{name}.hcl");
                if stdout(&out).contains(&format!("> archive {name} "))
                    && run_git_quiet(&self.repo.origin, &["show", &file]).ok() == Some(content)
                {
                    self.note("retried move left a renewal that landed meanwhile");
                }
                // This runner planned from its stale view: it may still hold
                // the version the renewal replaced, never anything else.
                self.check_grants(&before, Check::Allowed(replaced))?;
            }
            Step::Revoke { name, locked } => {
                self.sync()?;
                let reason = format!("INC-R{}: case {}", self.model.seq, self.seed);
                let args = ["revoke", name, "--reason", &reason];
                let out = if *locked {
                    self.locked(|case| case.jit(&args))
                } else {
                    self.jit(&args)
                };
                if *locked {
                    no_panic(&out)?;
                    self.clean_work_tree()?;
                } else {
                    expect_success(&out)?;
                }
                let i = self.model.latest(name).unwrap();
                self.model.versions[i].revoked = Some(self.now);
                self.check_grants(&before, Check::Removed)?;
            }
            Step::Jump { minutes } => {
                self.now += Duration::minutes(*minutes);
                self.check_grants(&before, Check::Unchanged)?;
            }
        }
        self.check_archives()
    }

    fn note(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    // ---- running things --------------------------------------------------

    fn jit(&mut self, args: &[&str]) -> Output {
        let now = time(self.now);
        let mut all = vec!["--now", now.as_str()];
        all.extend_from_slice(args);
        let out = self.repo.jit(&all, &self.moto.env());
        if stderr(&out).contains("cannot lock ref") {
            self.note("archive commit blocked by the lock");
        }
        if stderr(&out).contains("is already taken by a file") {
            self.note("archive path occupied by an earlier version");
        }
        self.last_output = format!(
            "$ jit {}\nexit {:?}\n{}{}",
            all.join(" "),
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        out
    }

    /// Runs `f` while the branch ref is locked, so no commit can land on it.
    fn locked<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let lock = self.repo.work.join(".git/refs/heads/main.lock");
        std::fs::write(&lock, "").unwrap();
        let out = f(self);
        std::fs::remove_file(&lock).unwrap();
        out
    }

    fn plan_json(&mut self) -> Result<Value, String> {
        let out = self.jit(&["plan", "--json"]);
        serde_json::from_slice(&out.stdout).map_err(|e| format!("plan --json: {e}"))
    }

    /// The clone follows origin (as a fresh CI checkout would); it never
    /// holds commits origin lacks.
    fn sync(&self) -> Result<(), String> {
        self.repo.git(&["fetch", "--quiet", "origin"]);
        let ahead = self.repo.git(&["rev-list", "--count", "origin/main..main"]);
        if ahead.trim() != "0" {
            return Err(format!(
                "the local branch holds {} commit(s) origin lacks",
                ahead.trim()
            ));
        }
        self.repo
            .git(&["merge", "--ff-only", "--quiet", "origin/main"]);
        Ok(())
    }

    /// A run whose archive commit could not land leaves the work tree and
    /// index as they were: whoever commits next from this clone must not
    /// commit jit's half-done move as their own.
    fn clean_work_tree(&mut self) -> Result<(), String> {
        let status = self.repo.git(&["status", "--porcelain"]);
        if !status.trim().is_empty() {
            self.soft.push(format!(
                "step {}: jit left the work tree and index changed after its archive commit failed:\n{status}{}",
                self.steps.len(),
                self.last_output
            ));
            // Put it back, so the requesters' next commits stay theirs.
            self.repo.git(&["reset", "--quiet", "--hard", "HEAD"]);
        }
        Ok(())
    }

    // ---- invariants --------------------------------------------------------

    /// Every `jit-*` inline policy in IAM, by request name, with its window.
    fn grants(&self) -> Result<Grants, String> {
        let mut out = Grants::new();
        for user in USERS {
            for policy in self.moto.list_user_policies(user) {
                let Some(name) = policy.strip_prefix("jit-") else {
                    continue;
                };
                let doc = self
                    .moto
                    .get_user_policy(user, &policy)
                    .ok_or_else(|| format!("{policy} on {user} listed but not readable"))?;
                let doc: Value = serde_json::from_str(&doc)
                    .map_err(|e| format!("{policy} on {user}: {e}: {doc}"))?;
                let cond = &doc["Statement"][0]["Condition"];
                let start = cond["DateGreaterThan"]["aws:CurrentTime"]
                    .as_str()
                    .and_then(parse_time);
                let end = cond["DateLessThan"]["aws:CurrentTime"]
                    .as_str()
                    .and_then(parse_time);
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(format!("{policy} on {user} has no window: {doc}"));
                };
                if let Some(other) = out.insert(name.to_string(), (user.to_string(), start, end)) {
                    return Err(format!("{policy} is on {user} and on {}", other.0));
                }
            }
        }
        Ok(out)
    }

    fn check_grants(&self, before: &Grants, check: Check) -> Result<(), String> {
        let grants = self.grants()?;
        for (name, (user, start, end)) in &grants {
            let Some(i) = self.model.by_start(name, *start) else {
                return Err(format!(
                    "IAM holds jit-{name} on {user} for {}..{}, which is no request version",
                    time(*start),
                    time(*end)
                ));
            };
            let v = &self.model.versions[i];
            if *end != v.end || user != requester(name) {
                return Err(format!(
                    "jit-{name} on {user} ends {}, version {} ends {} for {}",
                    time(*end),
                    v.label(),
                    time(v.end),
                    requester(name)
                ));
            }
            if let Some(at) = v.revoked {
                return Err(format!(
                    "(4) {} was ended by jit revoke at {} and IAM grants it again",
                    v.label(),
                    time(at)
                ));
            }
            let allowed = match &check {
                Check::Exact => v.active(self.now),
                Check::Allowed(extra) => v.active(self.now) || extra.contains(&i),
                Check::Unchanged | Check::Removed => before.contains_key(name),
            };
            if !allowed {
                return Err(format!(
                    "(1) IAM holds {} at {}, which is not approved and in its window (replaced: {:?}, ends {})",
                    v.label(),
                    time(self.now),
                    v.replaced.map(time),
                    time(v.end)
                ));
            }
        }
        let unchanged = match check {
            Check::Exact => {
                let want = self.model.active(self.now);
                let have: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = grants
                    .iter()
                    .map(|(n, (_, s, e))| (n.clone(), (*s, *e)))
                    .collect();
                if want != have {
                    return Err(format!(
                        "(2) after an apply on a current view IAM holds {:?}, the active versions are {:?}",
                        windows(&have),
                        windows(&want)
                    ));
                }
                true
            }
            Check::Unchanged => grants == *before,
            Check::Allowed(_) | Check::Removed => true,
        };
        if !unchanged {
            return Err(format!(
                "IAM changed without a jit run: {before:?} -> {grants:?}"
            ));
        }
        Ok(())
    }

    /// (3): each archive commit on origin's first-parent history moves a
    /// version that had ended by then, and no version is archived twice.
    fn check_archives(&self) -> Result<(), String> {
        let log = run_git_quiet(
            &self.repo.origin,
            &["log", "--first-parent", "--format=%H %ct %s", "main"],
        )
        .map_err(|e| format!("origin log: {e}"))?;
        let mut seen: BTreeMap<usize, String> = BTreeMap::new();
        for line in log.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(sha), Some(ct), Some(subject)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (verb, name) = if let Some(n) = subject.strip_prefix("jit: expire ") {
                ("expire", n)
            } else if let Some(n) = subject.strip_prefix("jit: revoke ") {
                ("revoke", n)
            } else {
                continue;
            };
            let path = format!("requests/{name}.hcl");
            let short = &sha[..8];
            let moved = run_git_quiet(&self.repo.origin, &["show", &format!("{sha}^:{path}")])
                .map_err(|_| format!("archive commit {short} ({subject}) has no {path} to move"))?;
            if let Ok(after) = run_git_quiet(&self.repo.origin, &["show", &format!("{sha}:{path}")])
                && after == moved
            {
                return Err(format!(
                    "archive commit {short} ({subject}) leaves {path} in place"
                ));
            }
            let Some(i) = self.model.by_content(name, &moved) else {
                return Err(format!(
                    "archive commit {short} ({subject}) moves content no version has:\n{moved}"
                ));
            };
            let v = &self.model.versions[i];
            if let Some(other) = seen.insert(i, short.to_string()) {
                return Err(format!(
                    "(3) {} is archived twice on origin: {other} and {short}",
                    v.label()
                ));
            }
            let at = DateTime::from_timestamp(ct.parse().unwrap_or(0), 0).unwrap();
            let ended = match verb {
                "expire" => v.end <= at,
                _ => v.revoked.is_some_and(|r| r <= at),
            };
            if !ended {
                return Err(format!(
                    "(3) archive commit {short} ({subject}) at {} moves {}, which had not ended (ends {}, revoked {:?})",
                    time(at),
                    v.label(),
                    time(v.end),
                    v.revoked.map(time)
                ));
            }
        }
        Ok(())
    }
}

enum Check {
    /// An apply on a current view: IAM holds exactly the active versions.
    Exact,
    /// An apply on a stale view: active versions, or these (replaced on
    /// origin after this runner last looked).
    Allowed(Vec<usize>),
    /// No jit ran.
    Unchanged,
    /// `jit revoke`: only removals.
    Removed,
}

fn windows(m: &BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>) -> Vec<String> {
    m.iter()
        .map(|(n, (s, e))| format!("{n} {}..{}", time(*s), time(*e)))
        .collect()
}

fn no_panic(out: &Output) -> Result<(), String> {
    if stderr(out).contains("panicked") {
        Err("jit panicked".to_string())
    } else {
        Ok(())
    }
}

/// Exit 0. Exit 1 is accepted only when the sole errors are occupied
/// archive paths (an earlier version of the same name archived in the same
/// month): the move still happens under another name.
fn expect_success(out: &Output) -> Result<(), String> {
    no_panic(out)?;
    if out.status.success() {
        return Ok(());
    }
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    let occupied_only = out.status.code() == Some(1)
        && !errors.is_empty()
        && errors.iter().all(|l| {
            l.contains("is already taken by a file") || l.contains("archived it under another name")
        });
    if occupied_only {
        Ok(())
    } else {
        Err(format!("jit exited {:?}", out.status.code()))
    }
}

fn run_git_quiet(dir: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Another runner (a clone of origin) commits `files` as `author` at `date`
/// with `Approved-by:` trailers and pushes; this clone has not fetched it.
fn push_from_elsewhere(
    repo: &Repo,
    files: &[(&str, &str)],
    author: &str,
    date: &str,
    subject: &str,
    approvers: &[&str],
) {
    let other = tempfile::tempdir().unwrap();
    let clone = other.path().join("c");
    run_git(
        other.path(),
        &[
            "clone",
            "--quiet",
            repo.origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    for (path, text) in files {
        let p = clone.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    run_git(&clone, &["add", "-A"]);
    let mut message = subject.to_string();
    if !approvers.is_empty() {
        message.push_str("\n\n");
        for a in approvers {
            message.push_str(&format!("Approved-by: {a} <{a}@acme.example>\n"));
        }
    }
    let email = format!("{author}@acme.example");
    let out = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["commit", "--quiet", "-m", &message])
        .env("GIT_AUTHOR_NAME", author)
        .env("GIT_AUTHOR_EMAIL", &email)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_NAME", "Forge")
        .env("GIT_COMMITTER_EMAIL", "forge@acme.example")
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_git(&clone, &["push", "--quiet", "origin", "main"]);
}

#[test]
fn the_generator_is_deterministic_per_seed() {
    let mut a = Rng::new(FIRST_SEED);
    let mut b = Rng::new(FIRST_SEED);
    let xs: Vec<u64> = (0..16).map(|_| a.next()).collect();
    let ys: Vec<u64> = (0..16).map(|_| b.next()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs[0], Rng::new(FIRST_SEED + 1).next());
}

/// The minimal case behind the work-tree check above, found by the
/// generated histories (seeds 1501, 1503, 1505, 1506, 1507, each at a `jit
/// revoke` with the branch locked).
///
/// KNOWN FAILURE until `archive::advance_branch` moves the ref before the
/// work tree (or puts both back when it fails): when the archive commit
/// cannot land on the branch (its ref is locked by another git process, or
/// the run dies there), `git reset --keep` has already staged jit's move
/// (`R requests/X.hcl -> archive/...`) in the index and work tree before it
/// fails on the ref. HEAD still holds the request, so whoever commits next
/// from this clone (`git commit -a`, `git add -A`) commits jit's move as
/// their own change.
#[test]
fn a_blocked_archive_commit_leaves_the_index_and_work_tree_as_they_were() {
    let moto = Moto::start();
    for u in USERS {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    for (name, requester) in [("alice-db", "alice"), ("carol-db", "carol")] {
        repo.write(
            &format!("requests/{name}.hcl"),
            &request(name, requester, "db-read", "2h"),
        );
        repo.commit(
            requester,
            "2026-11-23T09:00:00Z",
            "Request db access",
            &["bob"],
        );
    }
    repo.push();
    let jit = |now: &str, args: &[&str]| {
        let mut all = vec!["--now", now];
        all.extend_from_slice(args);
        repo.jit(&all, &moto.env())
    };
    let out = jit("2026-11-23T09:30:00Z", &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = repo.work.join(".git/refs/heads/main.lock");

    let mut dirty = Vec::new();
    let mut blocked = |what: &str, now: &str, args: &[&str]| {
        std::fs::write(&lock, "").unwrap();
        let out = jit(now, args);
        std::fs::remove_file(&lock).unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let status = repo.git(&["status", "--porcelain"]);
        if !status.is_empty() {
            dirty.push(format!("after {what}:\n{status}"));
            repo.git(&["reset", "--quiet", "--hard", "HEAD"]);
        }
    };
    blocked(
        "jit revoke",
        "2026-11-23T09:45:00Z",
        &["revoke", "alice-db", "--reason", "INC-2 leaked key"],
    );
    blocked(
        "jit apply at expiry",
        "2026-11-23T12:00:00Z",
        &["apply", "--auto-approve"],
    );
    assert!(moto.list_user_policies("alice").is_empty(), "revoked");
    assert!(moto.list_user_policies("carol").is_empty(), "expired");
    assert!(
        dirty.is_empty(),
        "a failed archive commit left jit's move staged in the clone:\n{}",
        dirty.join("\n")
    );
}
