//! Property test of the approval rules (DESIGN §2–§3) over generated
//! histories: random linear commits by random authors, with random
//! `Approved-by:` trailers, that write, edit, restore and delete request
//! files and change team membership. After every commit, and at many times
//! after the last one, the requests `jit status --json` reports active must
//! be exactly those a small oracle written here says are active, with the
//! same window and approvers: the test catches over- and under-granting.
//!
//! The oracle is independent of jit's code: it reads nothing from the repo
//! and calls nothing in the library; it replays the generated steps against
//! the rules as DESIGN states them.
//!
//! The standard repo (tests/common/repo.rs): eng = alice, mallory; dba = bob,
//! carol; security = erin, frank (the admins and every contract's owners).
//! db-read: requesters eng + dba, approvers dba, 1 approval, max 4h. db-two:
//! anyone may request, approvers dba + security, 2 approvals, max 4h.
//! db-auto: anyone, auto_approve, max 1h. Definitions changes here set
//! team dba to one of three member lists (who may approve) and take alice
//! out of team eng or back (who may request db-read).
//!
//! Cases: 24 by default (`PROPTEST_CASES` overrides), from a fixed seed
//! (`PROPTEST_RNG_SEED` overrides), so every run checks the same histories.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use chrono::{DateTime, Duration, Utc};
use common::repo::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::Value;

/// What the generated histories exercised (printed at the end: a property
/// test that never reaches a rule proves nothing about it).
static STATS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
const STAT_NAMES: [&str; 8] = [
    "checks",
    "checks with an active grant",
    "versions taking effect",
    "approved versions not covering the content in force",
    "reverts to the version in force (no grant)",
    "versions in force but invalid then",
    "team changes taking effect",
    "team changes left pending",
];

const CHECKS: usize = 0;
const CHECKS_ACTIVE: usize = 1;
const TOOK_EFFECT: usize = 2;
const NOT_COVERING: usize = 3;
const REVERTED: usize = 4;
const INVALID_THEN: usize = 5;
const TEAM_TOOK_EFFECT: usize = 6;
const TEAM_PENDING: usize = 7;

fn count(i: usize) {
    STATS[i].fetch_add(1, Relaxed);
}

const USERS: [&str; 6] = ["alice", "bob", "carol", "erin", "frank", "mallory"];
/// Approvers may also name someone who is not a declared user.
const APPROVERS: [&str; 7] = ["alice", "bob", "carol", "erin", "frank", "mallory", "eve"];
const NAMES: [&str; 3] = ["req-a", "req-b", "req-c"];
const CONTRACTS: [&str; 3] = ["db-read", "db-two", "db-auto"];
/// (text, minutes): within and above every contract's maximum.
const DURATIONS: [(&str, i64); 8] = [
    ("30m", 30),
    ("1h", 60),
    ("1h30m", 90),
    ("2h", 120),
    ("3h", 180),
    ("4h", 240),
    ("5h", 300),
    ("6h", 360),
];
const FIRST_COMMIT: &str = "2026-11-23T08:05:00Z";

// ---------------------------------------------------------------------------
// Generated histories
// ---------------------------------------------------------------------------

/// One change to a request file.
#[derive(Clone)]
enum ReqOp {
    /// Writes `requests/<name>.hcl`; `requester: None` is the commit's author.
    Write {
        name: usize,
        requester: Option<usize>,
        contract: usize,
        duration: usize,
    },
    Remove {
        name: usize,
    },
    /// Writes back one of the contents the path held before (a revert).
    Restore {
        name: usize,
        pick: usize,
    },
    /// `git revert` of the previous commit: its request files and teams as
    /// they were before it.
    RevertPrevious,
}

/// One commit on main.
#[derive(Clone, Debug)]
struct Step {
    author: usize,
    /// The author's email in capitals (`Alice@acme.example`): emails match ignoring case.
    author_caps: bool,
    /// (index into APPROVERS, in capitals).
    approvers: Vec<(usize, bool)>,
    minutes_after: i64,
    ops: Vec<ReqOp>,
    /// New team membership: (index into DBA, alice in eng).
    teams: Option<(usize, bool)>,
}

#[derive(Clone)]
struct History(Vec<Step>);

fn caps(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl fmt::Debug for ReqOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReqOp::Write {
                name,
                requester,
                contract,
                duration,
            } => write!(
                f,
                "write {} (requester {}, {}, {})",
                NAMES[*name],
                requester.map_or("<author>", |r| USERS[r]),
                CONTRACTS[*contract],
                DURATIONS[*duration].0
            ),
            ReqOp::Remove { name } => write!(f, "remove {}", NAMES[*name]),
            ReqOp::Restore { name, pick } => {
                write!(f, "restore {} (earlier content #{pick})", NAMES[*name])
            }
            ReqOp::RevertPrevious => write!(f, "revert the previous commit"),
        }
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "history after the root commit (08:00, erin):")?;
        let mut at = time(FIRST_COMMIT);
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                at += Duration::minutes(s.minutes_after);
            }
            let author = if s.author_caps {
                caps(USERS[s.author])
            } else {
                USERS[s.author].to_string()
            };
            let approvers: Vec<String> = s.approvers.iter().map(|a| approver_name(*a)).collect();
            write!(
                f,
                "  c{} {} by {author}, Approved-by {approvers:?}:",
                i + 1,
                at.format("%H:%M")
            )?;
            if let Some((dba, alice_eng)) = s.teams {
                write!(
                    f,
                    " teams dba = {:?}, eng {};",
                    DBA[dba],
                    if alice_eng { "+alice" } else { "-alice" }
                )?;
            }
            for op in &s.ops {
                write!(f, " {op:?};")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn approver_name((i, upper): (usize, bool)) -> String {
    if upper {
        caps(APPROVERS[i])
    } else {
        APPROVERS[i].to_string()
    }
}

/// An index into a list, picked with the given weights.
fn weighted(weights: &'static [u32]) -> impl Strategy<Value = usize> + Clone {
    let total: u32 = weights.iter().sum();
    (0..total).prop_map(move |mut n| {
        let mut i = 0;
        while n >= weights[i] {
            n -= weights[i];
            i += 1;
        }
        i
    })
}

fn req_op() -> impl Strategy<Value = ReqOp> {
    // Most changes on one path, so that its history gets long.
    let name = weighted(&[4, 2, 1]);
    prop_oneof![
        5 => (
            name.clone(),
            prop_oneof![5 => Just(None), 1 => (0..USERS.len()).prop_map(Some)],
            // db-read, db-two, db-auto
            weighted(&[3, 2, 2]),
            // mostly within the caps (4h; 1h for db-auto), sometimes above
            weighted(&[3, 3, 2, 2, 2, 2, 1, 1]),
        )
            .prop_map(|(name, requester, contract, duration)| ReqOp::Write {
                name,
                requester,
                contract,
                duration,
            }),
        2 => name.clone().prop_map(|name| ReqOp::Remove { name }),
        // Mostly the latest other content: after an unapproved edit, the
        // version in force.
        2 => (name, weighted(&[4, 1, 1, 1])).prop_map(|(name, pick)| ReqOp::Restore { name, pick }),
        4 => Just(ReqOp::RevertPrevious),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..USERS.len(),
        prop::bool::weighted(0.1),
        // alice, bob, carol, erin, frank, mallory, eve: the approvers that
        // count more often than the rest.
        prop_oneof![
            // None: an unapproved change.
            Just(Vec::new()),
            prop::collection::vec(
                (weighted(&[1, 3, 3, 2, 2, 1, 1]), prop::bool::weighted(0.1)),
                1..=3,
            ),
            // Two of bob, carol, erin, frank: enough for most changes, unless
            // one of them is the author.
            (
                prop::sample::subsequence(vec![1usize, 2, 3, 4], 2),
                prop::bool::weighted(0.1)
            )
                .prop_map(|(two, upper)| two.into_iter().map(|a| (a, upper)).collect()),
        ],
        1..=20i64,
        prop::collection::vec(req_op(), 0..=2),
        prop::option::weighted(0.25, (0..DBA.len(), prop::bool::weighted(0.7))),
    )
        .prop_map(
            |(author, author_caps, approvers, minutes_after, ops, teams)| Step {
                author,
                author_caps,
                approvers,
                minutes_after,
                ops,
                teams,
            },
        )
}

fn history() -> impl Strategy<Value = History> {
    prop::collection::vec(step(), 3..=12).prop_map(History)
}

// ---------------------------------------------------------------------------
// Materialised commits: the files after each commit
// ---------------------------------------------------------------------------

/// A request as written (the oracle's view of a file; the text is what git holds).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Req {
    name: &'static str,
    requester: &'static str,
    contract: &'static str,
    duration: (&'static str, i64),
}

impl Req {
    fn text(&self) -> String {
        request(self.name, self.requester, self.contract, self.duration.0)
    }
}

/// Team membership: the only definitions these histories change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Teams {
    /// Index into DBA.
    dba: usize,
    alice_in_eng: bool,
}

/// The members of team dba: as in the root commit, with mallory, and with
/// mallory instead of bob (three states, so that an approved change can sit
/// on top of an unapproved one).
const DBA: [&[&str]; 3] = [
    &["bob", "carol"],
    &["bob", "carol", "mallory"],
    &["carol", "mallory"],
];

const ROOT_TEAMS: Teams = Teams {
    dba: 0,
    alice_in_eng: true,
};

impl Teams {
    fn people_hcl(self) -> String {
        let mut p = PEOPLE_HCL.to_string();
        let members: Vec<String> = DBA[self.dba].iter().map(|m| format!("\"{m}\"")).collect();
        p = p.replace(
            r#"team "dba" { members = ["bob", "carol"] }"#,
            &format!(r#"team "dba" {{ members = [{}] }}"#, members.join(", ")),
        );
        if !self.alice_in_eng {
            p = p.replace(
                r#"team "eng" { members = ["alice", "mallory"] }"#,
                r#"team "eng" { members = ["mallory"] }"#,
            );
        }
        p
    }

    fn dba(self) -> BTreeSet<&'static str> {
        DBA[self.dba].iter().copied().collect()
    }

    fn eng(self) -> BTreeSet<&'static str> {
        let mut s = BTreeSet::from(["mallory"]);
        if self.alice_in_eng {
            s.insert("alice");
        }
        s
    }
}

/// One commit: who, when, approvals as written, and the files after it.
#[derive(Clone, Debug)]
struct Commit {
    author: String,
    approvers: Vec<String>,
    at: DateTime<Utc>,
    teams: Teams,
    requests: BTreeMap<&'static str, Req>,
}

fn materialise(h: &History) -> Vec<Commit> {
    let mut at = time(FIRST_COMMIT);
    let mut teams = ROOT_TEAMS;
    let mut files: BTreeMap<&'static str, Req> = BTreeMap::new();
    // Every content each path has held, oldest first (for restores).
    let mut seen: BTreeMap<&'static str, Vec<Req>> = BTreeMap::new();
    let mut out: Vec<Commit> = Vec::new();
    for (i, s) in h.0.iter().enumerate() {
        if i > 0 {
            at += Duration::minutes(s.minutes_after);
        }
        // The previous commit's (before, after), for reverts.
        let previous = match out.len() {
            0 => None,
            1 => Some((ROOT_TEAMS, BTreeMap::new(), &out[0])),
            n => Some((out[n - 2].teams, out[n - 2].requests.clone(), &out[n - 1])),
        }
        .map(|(teams, requests, after)| ((teams, requests), (after.teams, after.requests.clone())));
        if let Some((dba, alice_in_eng)) = s.teams {
            teams = Teams { dba, alice_in_eng };
        }
        for op in &s.ops {
            match *op {
                ReqOp::Write {
                    name,
                    requester,
                    contract,
                    duration,
                } => {
                    let req = Req {
                        name: NAMES[name],
                        requester: USERS[requester.unwrap_or(s.author)],
                        contract: CONTRACTS[contract],
                        duration: DURATIONS[duration],
                    };
                    seen.entry(NAMES[name]).or_default().push(req.clone());
                    files.insert(NAMES[name], req);
                }
                ReqOp::Remove { name } => {
                    files.remove(NAMES[name]);
                }
                ReqOp::Restore { name, pick } => {
                    let current = files.get(NAMES[name]);
                    let earlier: Vec<&Req> = seen
                        .get(NAMES[name])
                        .map(|v| v.iter().filter(|r| Some(*r) != current).collect())
                        .unwrap_or_default();
                    if !earlier.is_empty() {
                        let req = earlier[earlier.len() - 1 - pick % earlier.len()].clone();
                        files.insert(NAMES[name], req);
                    }
                }
                ReqOp::RevertPrevious => {
                    let Some(((teams_before, before), (teams_after, after))) = &previous else {
                        continue;
                    };
                    if teams_before != teams_after {
                        teams = *teams_before;
                    }
                    for name in NAMES {
                        if before.get(name) != after.get(name) {
                            match before.get(name) {
                                Some(req) => files.insert(name, req.clone()),
                                None => files.remove(name),
                            };
                        }
                    }
                }
            }
        }
        let author = if s.author_caps {
            caps(USERS[s.author])
        } else {
            USERS[s.author].to_string()
        };
        out.push(Commit {
            author,
            approvers: s.approvers.iter().map(|a| approver_name(*a)).collect(),
            at,
            teams,
            requests: files.clone(),
        });
    }
    out
}

// ---------------------------------------------------------------------------
// The oracle: DESIGN §2–§3, replayed over the materialised commits
// ---------------------------------------------------------------------------

/// A request version in force: approved on a commit whose content before
/// it was the content then in force.
#[derive(Clone, Debug)]
struct InForce {
    req: Req,
    approved_at: DateTime<Utc>,
    approvers: BTreeSet<&'static str>,
    /// Valid against the definitions in force at the approving commit.
    valid_then: bool,
    /// The file held something else since: this grant has ended for good
    /// (an ending is durable), even if the content is restored.
    ended: bool,
}

#[derive(Clone, Debug)]
struct Oracle {
    /// Team objects in force (each judged on its own, like every definition).
    teams: Teams,
    /// Team membership as people.hcl holds it now (maybe not in force).
    written: Teams,
    /// Request files as they are now.
    files: BTreeMap<&'static str, Req>,
    /// Per path, the version in force (none: absent, removed, or never approved).
    in_force: BTreeMap<&'static str, InForce>,
}

/// A declared user by email, ignoring case.
fn user(name: &str) -> Option<&'static str> {
    USERS.iter().copied().find(|u| u.eq_ignore_ascii_case(name))
}

fn max_minutes(contract: &str) -> i64 {
    match contract {
        "db-auto" => 60,
        _ => 240,
    }
}

/// Who may approve requests for `contract` under `teams`.
fn approvers_of(contract: &str, teams: Teams) -> BTreeSet<&'static str> {
    match contract {
        "db-read" => teams.dba(),
        "db-two" => teams.dba().into_iter().chain(["erin", "frank"]).collect(),
        _ => BTreeSet::new(),
    }
}

fn min_approvals(contract: &str) -> usize {
    match contract {
        "db-read" => 1,
        "db-two" => 2,
        _ => 0,
    }
}

/// DESIGN §1/§2 validity of a request against the definitions `teams`:
/// duration within the contract's maximum, requester allowed by it.
fn valid(req: &Req, teams: Teams) -> bool {
    let allowed = match req.contract {
        "db-read" => teams.eng().contains(req.requester) || teams.dba().contains(req.requester),
        _ => true,
    };
    allowed && req.duration.1 <= max_minutes(req.contract)
}

impl Oracle {
    fn new() -> Oracle {
        Oracle {
            teams: ROOT_TEAMS,
            written: ROOT_TEAMS,
            files: BTreeMap::new(),
            in_force: BTreeMap::new(),
        }
    }

    fn apply(&mut self, c: &Commit) {
        let before = self.teams;
        let author = user(&c.author);
        let approvals: Vec<&'static str> = c.approvers.iter().filter_map(|a| user(a)).collect();

        // Definitions: each team is its own object, changed only with an
        // admin's approval (team security, judged before the commit; never
        // the author) and only if its content before the commit is the one
        // in force (the approval covers the diff the admin saw).
        let admins = ["erin", "frank"];
        let admin_ok = approvals
            .iter()
            .any(|a| admins.contains(a) && Some(*a) != author);
        let prev = self.written;
        if prev.dba != c.teams.dba {
            if prev.dba == self.teams.dba && admin_ok {
                self.teams.dba = c.teams.dba;
                count(TEAM_TOOK_EFFECT);
            } else {
                count(TEAM_PENDING);
            }
        }
        if prev.alice_in_eng != c.teams.alice_in_eng {
            if prev.alice_in_eng == self.teams.alice_in_eng && admin_ok {
                self.teams.alice_in_eng = c.teams.alice_in_eng;
                count(TEAM_TOOK_EFFECT);
            } else {
                count(TEAM_PENDING);
            }
        }
        self.written = c.teams;
        let at = self.teams;

        // Requests: each changed path.
        for name in NAMES {
            let old = self.files.get(name).cloned();
            let new = c.requests.get(name).cloned();
            if old == new {
                continue;
            }
            let Some(req) = new else {
                // Removing a file ends whatever was in force; no approval needed.
                self.in_force.remove(name);
                continue;
            };
            let is_in_force = Some(&req) == self.in_force.get(name).map(|v| &v.req);
            // An approved commit covers its diff; one that lands back on the
            // content in force covers nothing new.
            let covers = old.as_ref() == self.in_force.get(name).map(|v| &v.req) || is_in_force;
            let by_requester = author == Some(req.requester);
            let counted: BTreeSet<&'static str> = approvals
                .iter()
                .copied()
                .filter(|a| *a != req.requester && approvers_of(req.contract, before).contains(a))
                .collect();
            let approved = by_requester && counted.len() >= min_approvals(req.contract);
            if Some(&req) == self.in_force.get(name).map(|v| &v.req) {
                count(REVERTED);
            } else if approved && !covers {
                count(NOT_COVERING);
            }
            if approved && covers {
                count(TOOK_EFFECT);
                if !valid(&req, at) {
                    count(INVALID_THEN);
                }
                self.in_force.insert(
                    name,
                    InForce {
                        valid_then: valid(&req, at),
                        req,
                        approved_at: c.at,
                        approvers: counted,
                        ended: false,
                    },
                );
            } else if !is_in_force && let Some(v) = self.in_force.get_mut(name) {
                // Pending: the file no longer holds what was approved, so
                // that grant ends, and a later revert does not bring it back.
                v.ended = true;
            }
        }
        self.files = c.requests.clone();
    }

    /// Active at `now`: name -> (start, end, approvers).
    fn active(&self, now: DateTime<Utc>) -> BTreeMap<String, Grant> {
        let mut out = BTreeMap::new();
        for (name, v) in &self.in_force {
            if self.files.get(name) != Some(&v.req)
                || v.ended
                || !v.valid_then
                || !valid(&v.req, self.teams)
            {
                continue;
            }
            let start = v.approved_at;
            let end = start + Duration::minutes(v.req.duration.1);
            if start <= now && now < end {
                out.insert(
                    name.to_string(),
                    Grant {
                        start,
                        end,
                        approvers: v.approvers.iter().map(|a| a.to_string()).collect(),
                    },
                );
            }
        }
        out
    }

    /// Times worth checking: every window's edges.
    fn edges(&self) -> Vec<DateTime<Utc>> {
        self.in_force
            .values()
            .flat_map(|v| {
                let end = v.approved_at + Duration::minutes(v.req.duration.1);
                [v.approved_at, end - Duration::seconds(1), end]
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Grant {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    approvers: BTreeSet<String>,
}

// ---------------------------------------------------------------------------
// jit's view
// ---------------------------------------------------------------------------

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn jit_active(s: &Value) -> BTreeMap<String, Grant> {
    s["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["request"].as_str().unwrap().to_string(),
                Grant {
                    start: time(g["start"].as_str().unwrap()),
                    end: time(g["end"].as_str().unwrap()),
                    approvers: g["approved_by"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                },
            )
        })
        .collect()
}

/// Compares jit and the oracle at `now`; every request file must be listed.
fn check(
    repo: &Repo,
    oracle: &Oracle,
    now: DateTime<Utc>,
    after: &str,
) -> Result<(), TestCaseError> {
    let s = repo.status(&rfc3339(now));
    let got = jit_active(&s);
    let want = oracle.active(now);
    count(CHECKS);
    if !want.is_empty() {
        count(CHECKS_ACTIVE);
    }
    if got != want {
        return Err(TestCaseError::fail(format!(
            "after {after}, at {}: jit active {got:#?}\noracle active {want:#?}\noracle state {oracle:#?}\njit status {s:#}",
            rfc3339(now)
        )));
    }
    let mut listed: Vec<String> = listed(&s);
    listed.sort();
    let files: Vec<String> = oracle.files.keys().map(|k| k.to_string()).collect();
    if listed != files {
        return Err(TestCaseError::fail(format!(
            "after {after}, at {}: jit lists {listed:?}, the files are {files:?}\njit status {s:#}",
            rfc3339(now)
        )));
    }
    Ok(())
}

/// Builds the history in a repo, checks jit against the oracle after every
/// commit and at every window edge after the last; returns the oracle.
fn run_history(h: &History) -> Result<Oracle, TestCaseError> {
    let commits = materialise(h);
    let repo = Repo::standard();
    let mut oracle = Oracle::new();
    let mut prev = ROOT_TEAMS;
    let mut prev_files: BTreeMap<&'static str, Req> = BTreeMap::new();
    for (i, c) in commits.iter().enumerate() {
        if c.teams != prev {
            repo.write("people.hcl", &c.teams.people_hcl());
        }
        for name in NAMES {
            let path = format!("requests/{name}.hcl");
            match (prev_files.get(name), c.requests.get(name)) {
                (old, Some(new)) if old != Some(new) => repo.write(&path, &new.text()),
                (Some(_), None) => repo.remove(&path),
                _ => {}
            }
        }
        let approvers: Vec<&str> = c.approvers.iter().map(String::as_str).collect();
        repo.commit(
            &c.author,
            &rfc3339(c.at),
            &format!("c{}", i + 1),
            &approvers,
        );
        oracle.apply(c);
        prev = c.teams;
        prev_files = c.requests.clone();
        // The live view, as a runner would see it right after the merge.
        check(&repo, &oracle, c.at, &format!("c{}", i + 1))?;
    }
    let last = commits.last().unwrap().at;
    let mut times: BTreeSet<DateTime<Utc>> = commits.iter().map(|c| c.at).collect();
    times.extend(oracle.edges());
    times.extend([30, 90, 180, 300].map(|m| last + Duration::minutes(m)));
    for t in times {
        check(&repo, &oracle, t, "the last commit")?;
    }
    Ok(oracle)
}

#[test]
fn active_grants_match_an_independent_oracle_over_generated_histories() {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 24;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x6a69_7400);
    }
    config.failure_persistence = None;
    config.max_shrink_iters = 300;
    let mut runner = TestRunner::new(config);
    match runner.run(&history(), |h| run_history(&h).map(drop)) {
        Ok(()) => {
            for (name, n) in STAT_NAMES.iter().zip(&STATS) {
                println!("{name}: {}", n.load(Relaxed));
            }
        }
        Err(TestError::Fail(why, h)) => panic!("{h:?}\n{why}"),
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------
// Fixed histories: each rule of the oracle reached on every run, whatever
// the seed, with the oracle's answer pinned by hand too
// ---------------------------------------------------------------------------

fn write(name: &str, requester: Option<&str>, contract: &str, duration: &str) -> ReqOp {
    let at = |list: &[&str], x: &str| list.iter().position(|y| *y == x).unwrap();
    ReqOp::Write {
        name: at(&NAMES, name),
        requester: requester.map(|r| at(&USERS, r)),
        contract: at(&CONTRACTS, contract),
        duration: DURATIONS.iter().position(|d| d.0 == duration).unwrap(),
    }
}

fn remove(name: &str) -> ReqOp {
    ReqOp::Remove {
        name: NAMES.iter().position(|n| *n == name).unwrap(),
    }
}

/// Writes back the latest other content the path held.
fn restore(name: &str) -> ReqOp {
    ReqOp::Restore {
        name: NAMES.iter().position(|n| *n == name).unwrap(),
        pick: 0,
    }
}

/// A commit 10 minutes after the previous one (the first at 08:05) by
/// `author` (capitalised: the email in capitals).
fn by(author: &str, approvers: &[&str], ops: Vec<ReqOp>, teams: Option<(usize, bool)>) -> Step {
    let approvers = approvers
        .iter()
        .map(|a| {
            let i = APPROVERS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(a))
                .unwrap();
            (i, a.chars().next().unwrap().is_uppercase())
        })
        .collect();
    Step {
        author: USERS
            .iter()
            .position(|u| u.eq_ignore_ascii_case(author))
            .unwrap(),
        author_caps: author.chars().next().unwrap().is_uppercase(),
        approvers,
        minutes_after: 10,
        ops,
        teams,
    }
}

/// Runs `steps` against jit and the oracle; the oracle's active requests
/// at `now` must be `want` (so the history reaches the rule it is named for).
fn fixed(steps: Vec<Step>, now: &str, want: &[&str]) {
    let h = History(steps);
    let oracle = run_history(&h).unwrap_or_else(|e| panic!("{h:?}\n{e}"));
    let active: Vec<String> = oracle.active(time(now)).into_keys().collect();
    assert_eq!(active, want, "the oracle on {h:?}");
}

#[test]
fn fixed_histories_reach_every_rule_of_the_oracle() {
    // A revert to the version in force does not bring back its ended grant.
    fixed(
        vec![
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "2h")],
                None,
            ),
            by(
                "alice",
                &[],
                vec![write("req-a", None, "db-read", "4h")],
                None,
            ),
            by("alice", &[], vec![restore("req-a")], None),
        ],
        "2026-11-23T09:00:00Z",
        &[],
    );
    // An approval never covers an earlier unapproved change; removing the
    // file and proposing again does.
    fixed(
        vec![
            by(
                "alice",
                &[],
                vec![write("req-a", None, "db-read", "2h")],
                None,
            ),
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "3h")],
                None,
            ),
            by("alice", &[], vec![remove("req-a")], None),
            by(
                "alice",
                &["Carol"],
                vec![write("req-b", None, "db-two", "1h")],
                None,
            ),
            by(
                "Alice",
                &["carol", "erin"],
                vec![write("req-c", None, "db-read", "1h")],
                None,
            ),
        ],
        "2026-11-23T08:50:00Z",
        &["req-c"],
    );
    // A team change counts from the next commit, and only with an admin's
    // approval; the requester never counts; a commit approves only its
    // author's requests.
    fixed(
        vec![
            by(
                "alice",
                &["erin", "mallory"],
                vec![write("req-a", None, "db-read", "1h")],
                Some((1, true)),
            ),
            by(
                "bob",
                &["bob", "erin"],
                vec![write("req-b", None, "db-two", "1h")],
                None,
            ),
            by(
                "alice",
                &["mallory"],
                vec![
                    write("req-c", None, "db-read", "1h"),
                    write("req-b", Some("bob"), "db-auto", "1h"),
                ],
                None,
            ),
        ],
        "2026-11-23T08:30:00Z",
        &["req-c"],
    );
    // An unapproved team change, then an approved change of another team
    // in the same file: each object is judged on its own (eng's change
    // takes effect, dba's does not).
    fixed(
        vec![
            by("mallory", &["bob"], vec![], Some((1, true))),
            by("bob", &["erin"], vec![], Some((1, false))),
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "1h")],
                None,
            ),
            by(
                "bob",
                &["mallory"],
                vec![write("req-b", None, "db-read", "1h")],
                None,
            ),
            by(
                "mallory",
                &["carol"],
                vec![write("req-c", None, "db-read", "1h")],
                None,
            ),
        ],
        "2026-11-23T08:50:00Z",
        &["req-c"],
    );
    // Approval laundering of a definition: mallory joins dba unapproved;
    // an admin then approves a change on top (bob leaves), whose diff never
    // showed mallory joining: team dba stays as it was, and mallory's
    // approval does not count.
    fixed(
        vec![
            by("mallory", &[], vec![], Some((1, true))),
            by("carol", &["erin"], vec![], Some((2, true))),
            by(
                "alice",
                &["mallory"],
                vec![write("req-a", None, "db-read", "1h")],
                None,
            ),
            by(
                "alice",
                &["bob"],
                vec![write("req-b", None, "db-read", "1h")],
                None,
            ),
        ],
        "2026-11-23T08:40:00Z",
        &["req-b"],
    );
    // Valid now too: alice leaving eng ends her approved db-read grant.
    fixed(
        vec![
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "2h")],
                None,
            ),
            by(
                "alice",
                &[],
                vec![write("req-b", None, "db-auto", "30m")],
                None,
            ),
            by("frank", &["erin"], vec![], Some((0, false))),
        ],
        "2026-11-23T08:30:00Z",
        &["req-b"],
    );
    // A sleeper: approved while its requester was not allowed (alice out of
    // eng), it never grants, even once alice is back.
    fixed(
        vec![
            by("frank", &["erin"], vec![], Some((0, false))),
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "2h")],
                None,
            ),
            by("erin", &["frank"], vec![], Some((0, true))),
            by(
                "alice",
                &["bob"],
                vec![write("req-b", None, "db-read", "1h")],
                None,
            ),
        ],
        "2026-11-23T08:40:00Z",
        &["req-b"],
    );
    // Validity at the approving commit is judged after that commit's own
    // (approved) definitions change, approvals before it: alice leaves eng
    // in the commit that bob approves her request in.
    fixed(
        vec![
            by(
                "alice",
                &["erin", "bob"],
                vec![write("req-a", None, "db-read", "2h")],
                Some((0, false)),
            ),
            by("erin", &["frank"], vec![], Some((0, true))),
            by(
                "alice",
                &[],
                vec![write("req-b", None, "db-auto", "30m")],
                None,
            ),
        ],
        "2026-11-23T08:30:00Z",
        &["req-b"],
    );
    // Approved while invalid (over the cap; requester not allowed): never
    // grants, but is the version in force, so an approved edit of it takes
    // effect (re-proposing it).
    fixed(
        vec![
            by(
                "alice",
                &["bob"],
                vec![write("req-a", None, "db-read", "5h")],
                None,
            ),
            by(
                "erin",
                &["bob"],
                vec![write("req-b", None, "db-read", "1h")],
                None,
            ),
            by(
                "alice",
                &["carol"],
                vec![write("req-a", None, "db-read", "4h")],
                None,
            ),
            by(
                "erin",
                &["bob", "carol"],
                vec![write("req-b", None, "db-two", "1h")],
                None,
            ),
        ],
        "2026-11-23T08:40:00Z",
        &["req-a", "req-b"],
    );
}
