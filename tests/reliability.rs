//! Reliability under failure (issue 11): injected faults, kill -9 at many
//! points, and concurrent runners. One moto serves the whole binary; each
//! scenario has an account of its own on it. IAM is checked through the
//! AWS SDK, object by object.
//!
//! The scenario: three grants live since 09:30 (inline policy, assume_role
//! trust statement, managed policy) that expire at 10:00, and three new
//! approved requests. The run at 10:30 revokes and archives the first three
//! and grants the new ones.
//!
//! Each test prints a `FIGURES` line (run with `--nocapture`); the figures
//! in docs/reliability.md come from them.

mod common;
#[path = "common/iam_sdk.rs"]
mod iam_sdk;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::faults::{Fault, FaultProxy, Schedule};
use common::moto::Moto;
use common::repo::*;

static MOTO: LazyLock<Moto> = LazyLock::new(Moto::start);
static NEXT_ACCOUNT: AtomicUsize = AtomicUsize::new(0);

const DEFINED: &str = "2026-11-23T08:00:00Z";
const OLD_APPROVED: &str = "2026-11-23T09:00:00Z";
const GRANTED_AT: &str = "2026-11-23T09:30:00Z";
const NEW_APPROVED: &str = "2026-11-23T09:40:00Z";
const RUN_AT: &str = "2026-11-23T10:30:00Z";
const EXPIRING: [&str; 3] = ["alice-db", "bob-admin", "alice-mg"];
const NEW: [&str; 3] = ["alice-db2", "carol-admin", "bob-mg"];
const BASE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn moto_addr() -> SocketAddr {
    MOTO.endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// One scenario: an account on the shared moto, an access repo with a
/// bare origin, both at the state just before the 10:30 run.
struct Scenario {
    account: String,
    role_id: String,
    repo: Repo,
}

impl Scenario {
    fn new() -> Scenario {
        let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
        let account = format!("3000{:08}", std::process::id() as usize % 10_000 * 1000 + n);
        let iam = MOTO.account(&account);
        for u in ["alice", "bob", "carol"] {
            iam.create_user(u);
        }
        iam.create_role("db-admin", BASE_TRUST);
        let role_id = iam.role_id("db-admin");
        let repo = Repo::empty();
        let id = &account;
        repo.write(
            "jit.hcl",
            &JIT_HCL.replace(
                "account \"prod\" {\n  id = \"123456789012\"\n}",
                &format!("account \"prod\" {{\n  id       = \"{id}\"\n  role_arn = \"arn:aws:iam::{id}:role/jit-reconciler\"\n}}"),
            ),
        );
        repo.write("people.hcl", &PEOPLE_HCL.replace("123456789012", id));
        repo.write("roles/rds-read.hcl", ROLES_HCL);
        repo.write(
            "contracts/db.hcl",
            &format!(
                r#"contract "db-read" {{
  role         = "rds-read"
  resources    = ["arn:aws:rds:us-east-1:{id}:db:prod-*"]
  requesters   = ["team:eng", "team:dba"]
  approvers    = ["team:dba"]
  max_duration = "4h"
  owners       = ["team:security"]
}}

contract "db-admin" {{
  role         = "rds-read"
  resources    = ["arn:aws:rds:us-east-1:{id}:db:prod-*"]
  requesters   = ["team:eng", "team:dba"]
  approvers    = ["team:dba"]
  max_duration = "4h"
  mode         = "assume_role"
  role_arn     = "arn:aws:iam::{id}:role/db-admin"
  owners       = ["team:security"]
}}

contract "db-managed" {{
  role         = "rds-read"
  resources    = ["arn:aws:rds:us-east-1:{id}:db:prod-*"]
  requesters   = ["team:eng", "team:dba"]
  approvers    = ["team:dba"]
  max_duration = "4h"
  mode         = "managed_policy"
  owners       = ["team:security"]
}}
"#
            ),
        );
        repo.commit("erin", DEFINED, "Access definitions", &[]);
        let requests = |repo: &Repo, at: &str, list: [(&str, &str, &str, &str, &str); 3]| {
            for (name, who, contract, duration, approver) in list {
                repo.write(
                    &format!("requests/{name}.hcl"),
                    &request(name, who, contract, duration),
                );
                repo.commit(who, at, &format!("Request {name}"), &[approver]);
            }
        };
        requests(
            &repo,
            OLD_APPROVED,
            [
                ("alice-db", "alice", "db-read", "1h", "bob"),
                ("bob-admin", "bob", "db-admin", "1h", "carol"),
                ("alice-mg", "alice", "db-managed", "1h", "carol"),
            ],
        );
        repo.push();
        let s = Scenario {
            account,
            role_id,
            repo,
        };
        let repo = &s.repo;
        s.ok(s.jit(&MOTO.endpoint(), GRANTED_AT, &["apply", "--auto-approve"]));
        assert_eq!(s.holding(), sorted(&EXPIRING), "the setup grants");
        requests(
            repo,
            NEW_APPROVED,
            [
                ("alice-db2", "alice", "db-read", "2h", "bob"),
                ("carol-admin", "carol", "db-admin", "2h", "bob"),
                ("bob-mg", "bob", "db-managed", "2h", "carol"),
            ],
        );
        repo.push();
        s
    }

    fn env(&self, endpoint: &str) -> Vec<(String, String)> {
        let mut env = MOTO.env();
        for (k, v) in env.iter_mut() {
            if k == "AWS_ENDPOINT_URL" {
                *v = endpoint.to_string();
            }
        }
        env
    }

    fn command(&self, endpoint: &str, now: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jit"));
        cmd.arg("-C")
            .arg(&self.repo.work)
            .args(["--now", now])
            .args(args)
            .env_remove("JIT_NOW")
            .env("NO_COLOR", "1")
            .envs(self.env(endpoint));
        cmd
    }

    fn jit(&self, endpoint: &str, now: &str, args: &[&str]) -> Output {
        self.command(endpoint, now, args).output().expect("run jit")
    }

    fn ok(&self, out: Output) -> Output {
        assert!(
            out.status.success(),
            "jit failed ({:?}):\n{}{}",
            out.status.code(),
            stdout(&out),
            stderr(&out)
        );
        out
    }

    /// Every jit object in the account, the account id replaced.
    fn objects(&self) -> BTreeMap<String, String> {
        iam_sdk::jit_objects(&MOTO.endpoint(), &self.account)
            .into_iter()
            .map(|(k, v)| {
                let v = v.replace(&self.account, "ACCOUNT");
                (k, v.replace(&self.role_id, "ROLEID"))
            })
            .collect()
    }

    /// The requests that hold some IAM object.
    fn holding(&self) -> Vec<String> {
        let objects = self.objects();
        let mut out: Vec<String> = EXPIRING
            .iter()
            .chain(NEW.iter())
            .filter(|r| {
                objects.keys().any(|k| {
                    k.ends_with(&format!("/jit-{r}")) || k.ends_with(&format!("/trust/{}", sid(r)))
                })
            })
            .map(|r| r.to_string())
            .collect();
        out.sort();
        out
    }

    /// Requests under archive/ on the local branch and on origin's.
    fn archived(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for tree in ["main", "refs/remotes/origin/main"] {
            let _ = self.repo.git(&["fetch", "--quiet", "origin"]);
            let list = Command::new("git")
                .arg("-C")
                .arg(&self.repo.work)
                .args(["ls-tree", "-r", "--name-only", tree, "archive"])
                .output()
                .unwrap();
            for line in String::from_utf8_lossy(&list.stdout).lines() {
                if let Some(name) = line.rsplit('/').next().and_then(|f| f.strip_suffix(".hcl")) {
                    out.insert(name.to_string());
                }
            }
        }
        out
    }

    /// The archive commits on origin's branch, by request (expect one each).
    fn archive_commits_on_origin(&self) -> BTreeMap<String, usize> {
        let log = self.repo.origin_git(&["log", "main", "--format=%B%x00"]);
        let mut out = BTreeMap::new();
        for message in log.split('\0') {
            if !message.contains("Jit-Outcome:") {
                continue;
            }
            for line in message.lines() {
                if let Some(r) = line.strip_prefix("Jit-Request: ") {
                    *out.entry(r.trim().to_string()).or_default() += 1;
                }
            }
        }
        out
    }

    /// The invariants that hold after any run, crashed or not: no archived
    /// request still holds IAM access, nothing outside the scenario's
    /// requests is granted.
    fn check_safe(&self, when: &str) {
        let holding: BTreeSet<String> = self.holding().into_iter().collect();
        let archived = self.archived();
        let both: Vec<&String> = holding.intersection(&archived).collect();
        assert!(
            both.is_empty(),
            "{when}: archived while IAM still holds them: {both:?}"
        );
        let objects = self.objects();
        for key in objects.keys() {
            let known = EXPIRING.iter().chain(NEW.iter()).any(|r| {
                key.ends_with(&format!("/jit-{r}")) || key.ends_with(&format!("/trust/{}", sid(r)))
            }) || key.ends_with("/jit-session-revocations")
                || key.starts_with("policy/");
            assert!(known, "{when}: an IAM object no request explains: {key}");
        }
    }

    /// Applies (without faults) until the plan has no changes; how many runs.
    fn converge(&self, endpoint: &str, max: usize) -> usize {
        for run in 1..=max {
            let plan = self.jit(&MOTO.endpoint(), RUN_AT, &["plan", "--detailed-exitcode"]);
            self.repo.git(&["fetch", "--quiet", "origin"]);
            let ahead = self.repo.git(&["rev-list", "--count", "origin/main..main"]);
            if plan.status.code() == Some(0) && ahead.trim() == "0" {
                return run - 1;
            }
            let out = self.jit(
                endpoint,
                RUN_AT,
                &["apply", "--auto-approve", "--lock-timeout", "30s"],
            );
            self.check_safe(&format!("after re-run {run}: {}", stderr(&out)));
        }
        panic!("no convergence within {max} runs");
    }
}

/// `Jit` + the request name's parts capitalised (DESIGN §3's Sid).
fn sid(request: &str) -> String {
    let mut out = String::from("Jit");
    for part in request.split('-') {
        let mut c = part.chars();
        if let Some(first) = c.next() {
            out.extend(first.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    out
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// What an uninterrupted 10:30 run leaves, computed once.
static REFERENCE: LazyLock<(BTreeMap<String, String>, usize)> = LazyLock::new(|| {
    let s = Scenario::new();
    let proxy = FaultProxy::start(moto_addr(), Schedule::None);
    s.ok(s.jit(&proxy.endpoint(), RUN_AT, &["apply", "--auto-approve"]));
    let calls = proxy.stats().requests;
    assert_eq!(s.holding(), sorted(&NEW));
    assert_eq!(
        s.archived(),
        EXPIRING.iter().map(|s| s.to_string()).collect()
    );
    (s.objects(), calls)
});

/// Final state equal to the reference: same IAM objects and documents,
/// each expired request archived exactly once on origin, nothing unpushed.
fn assert_like_reference(s: &Scenario, what: &str) {
    let (objects, _) = &*REFERENCE;
    assert_eq!(
        &s.objects(),
        objects,
        "{what}: IAM differs from an uninterrupted run"
    );
    let commits = s.archive_commits_on_origin();
    let expected: BTreeMap<String, usize> = EXPIRING.iter().map(|r| (r.to_string(), 1)).collect();
    assert_eq!(commits, expected, "{what}: archive commits on origin");
    assert_eq!(
        s.repo
            .git(&["rev-list", "--count", "origin/main..main"])
            .trim(),
        "0",
        "{what}: unpushed commits"
    );
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[test]
fn under_twenty_percent_faults_apply_converges_and_never_archives_live_access() {
    let seeds = 1..=5u64;
    let mut figures = vec![];
    for seed in seeds {
        let s = Scenario::new();
        let proxy = FaultProxy::start(moto_addr(), Schedule::random(seed, 0.2, Fault::TRANSIENT));
        let started = Instant::now();
        let mut runs = 0;
        let mut converged = false;
        while runs < 5 {
            runs += 1;
            let out = s.jit(&proxy.endpoint(), RUN_AT, &["apply", "--auto-approve"]);
            s.check_safe(&format!("seed {seed}, run {runs}:\n{}", stderr(&out)));
            let plan = s.jit(&MOTO.endpoint(), RUN_AT, &["plan", "--detailed-exitcode"]);
            if out.status.success() && plan.status.code() == Some(0) {
                converged = true;
                break;
            }
        }
        assert!(converged, "seed {seed}: not converged in {runs} runs");
        assert_like_reference(&s, &format!("seed {seed}"));
        let stats = proxy.stats();
        figures.push(format!(
            "{{\"seed\":{seed},\"runs\":{runs},\"calls\":{},\"faults\":{},\"by_kind\":{:?},\"seconds\":{:.1}}}",
            stats.requests,
            stats.injected(),
            stats.faults,
            started.elapsed().as_secs_f64()
        ));
    }
    println!("FIGURES faults [{}]", figures.join(","));
}

/// Where a crash trial kills the run.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Before or after IAM call number n.
    Call(usize, bool),
    /// While the archive commit is being pushed; the push lands or not.
    Push { lands: bool },
}

fn crash_trial(kill: KillAt) -> usize {
    let s = Scenario::new();
    let proxy = FaultProxy::start(moto_addr(), Schedule::None);
    let marker = s.repo.work.parent().unwrap().join("kill");
    match kill {
        KillAt::Call(n, before) => proxy.set_schedule(Schedule::At {
            at: n,
            fault: if before {
                Fault::KillBefore
            } else {
                Fault::KillAfter
            },
        }),
        KillAt::Push { lands } => {
            // The origin's hook kills jit while it pushes the branch.
            let hook = s.repo.origin.join("hooks/pre-receive");
            std::fs::write(
                &hook,
                format!(
                    "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ] && [ -f '{m}.pid' ]; then\n    kill -9 \"$(cat '{m}.pid')\"; rm -f '{m}.pid'; touch '{m}.done'; exit {code}\n  fi\ndone\nexit 0\n",
                    m = marker.display(),
                    code = if lands { 0 } else { 1 }
                ),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let mut child = s
        .command(&proxy.endpoint(), RUN_AT, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    proxy.arm(child.id());
    if let KillAt::Push { .. } = kill {
        std::fs::write(marker.with_extension("pid"), child.id().to_string()).unwrap();
    }
    let status = child.wait().unwrap();
    let killed = match kill {
        KillAt::Call(..) => proxy.killed(),
        KillAt::Push { .. } => {
            // The hook outlives jit: let the push end before looking.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !marker.with_extension("done").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(200));
            marker.with_extension("done").exists()
        }
    };
    assert!(killed, "{kill:?}: the run was not killed ({status:?})");
    assert!(!status.success(), "{kill:?}: a killed run cannot succeed");
    s.check_safe(&format!("right after the kill {kill:?}"));
    let runs = s.converge(&MOTO.endpoint(), 3);
    assert_like_reference(&s, &format!("{kill:?}"));
    runs
}

#[test]
fn kill_9_anywhere_then_a_rerun_equals_an_uninterrupted_run() {
    let (_, calls) = &*REFERENCE;
    assert!(*calls >= 8, "the 10:30 run makes {calls} IAM calls");
    let mut trials: Vec<KillAt> = (1..=20u64)
        .map(|seed| {
            let r = splitmix(seed);
            KillAt::Call(1 + (r % *calls as u64) as usize, r >> 32 & 1 == 0)
        })
        .collect();
    // The last call's answer never arrives: IAM is done, no commit yet.
    trials.push(KillAt::Call(*calls, false));
    trials.push(KillAt::Push { lands: false });
    trials.push(KillAt::Push { lands: true });
    let started = Instant::now();
    // Two trials at a time, each in its own account and repo.
    let (left, right) = trials.split_at(trials.len() / 2);
    let reruns: Vec<usize> = std::thread::scope(|scope| {
        let other = scope.spawn(|| right.iter().map(|k| crash_trial(*k)).collect::<Vec<_>>());
        let mut mine: Vec<usize> = left.iter().map(|k| crash_trial(*k)).collect();
        mine.extend(other.join().expect("crash trials"));
        mine
    });
    println!(
        "FIGURES crashes {{\"trials\":{},\"calls_per_run\":{calls},\"reruns_to_converge_max\":{},\"seconds\":{:.1}}}",
        trials.len(),
        reruns.iter().max().unwrap(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_call_that_keeps_failing_leaves_its_request_for_the_next_run() {
    // Each revocation call in turn fails on every attempt for one run.
    let cases = [
        ("DeleteUserPolicy", "alice-db"),
        ("UpdateAssumeRolePolicy", "bob-admin"),
        ("DetachUserPolicy", "alice-mg"),
    ];
    let mut figures = vec![];
    for (action, request) in cases {
        let s = Scenario::new();
        let proxy = FaultProxy::start(
            moto_addr(),
            Schedule::Every {
                action,
                fault: Fault::Internal,
            },
        );
        let out = s.jit(&proxy.endpoint(), RUN_AT, &["apply", "--auto-approve"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{action}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        s.check_safe(action);
        assert!(
            s.holding().contains(&request.to_string()),
            "{action}: {request} still holds access"
        );
        assert!(
            !s.archived().contains(request),
            "{action}: {request} must stay in requests/ until IAM is clean"
        );
        let others: Vec<&str> = EXPIRING.iter().copied().filter(|r| *r != request).collect();
        for r in &others {
            assert!(
                s.archived().contains(*r),
                "{action}: {r} is archived anyway"
            );
        }
        let attempts = proxy
            .stats()
            .calls
            .iter()
            .filter(|(a, _)| a == action)
            .count();
        let runs = 1 + s.converge(&MOTO.endpoint(), 3);
        assert_like_reference(&s, action);
        figures.push(format!(
            "{{\"failing\":\"{action}\",\"attempts_in_run_1\":{attempts},\"runs_to_converge\":{runs}}}"
        ));
    }
    println!("FIGURES persistent [{}]", figures.join(","));
}

/// A second clone of the scenario's origin, as another runner has it.
fn second_clone(s: &Scenario) -> std::path::PathBuf {
    let dir = s.repo.work.parent().unwrap().join("other");
    run_git(
        s.repo.work.parent().unwrap(),
        &[
            "clone",
            "--quiet",
            s.repo.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    run_git(&dir, &["config", "user.name", "Erin"]);
    run_git(&dir, &["config", "user.email", "erin@acme.example"]);
    dir
}

fn jit_in(s: &Scenario, dir: &std::path::Path, now: &str, args: &[&str]) -> Command {
    let mut cmd = s.command(&MOTO.endpoint(), now, args);
    cmd.arg("-C").arg(dir); // the last -C wins
    cmd
}

/// Waits until the proxy has seen a call to `action`.
fn wait_for_call(proxy: &FaultProxy, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !proxy.stats().calls.iter().any(|(a, _)| a == action) {
        assert!(Instant::now() < deadline, "no {action} call within 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_revoke_during_an_apply_waits_for_it_and_the_revoked_grant_never_comes_back() {
    let s = Scenario::new();
    let other = second_clone(&s);
    // Runner A's grant of alice-db2 reaches IAM 4 s after A decided on it.
    let proxy = FaultProxy::start(
        moto_addr(),
        Schedule::Every {
            action: "PutUserPolicy",
            fault: Fault::Slow,
        },
    );
    proxy.set_slow(Duration::from_secs(4));
    let a = s
        .command(&proxy.endpoint(), RUN_AT, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_call(&proxy, "PutUserPolicy");
    // Runner B, another clone, revokes it meanwhile.
    let b = jit_in(
        &s,
        &other,
        RUN_AT,
        &[
            "revoke",
            "alice-db2",
            "--reason",
            "INC-9: leaked key",
            "--lock-timeout",
            "60s",
        ],
    )
    .output()
    .unwrap();
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success(), "A: {}{}", stdout(&a), stderr(&a));
    assert!(b.status.success(), "B: {}{}", stdout(&b), stderr(&b));
    assert!(
        !s.holding().contains(&"alice-db2".to_string()),
        "a revoked grant came back: {:?}",
        s.objects().keys().collect::<Vec<_>>()
    );
    assert!(
        stderr(&b).contains("waiting up to 60s for the lease"),
        "B waited for A: {}",
        stderr(&b)
    );
    // Nothing brings it back later either, from either clone.
    s.ok(s.jit(&MOTO.endpoint(), RUN_AT, &["apply", "--auto-approve"]));
    let again = jit_in(&s, &other, RUN_AT, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!s.holding().contains(&"alice-db2".to_string()));
    let commits = s.archive_commits_on_origin();
    assert_eq!(commits.get("alice-db2"), Some(&1), "{commits:?}");
    assert!(commits.values().all(|n| *n == 1), "{commits:?}");
}

#[test]
fn two_applies_at_once_from_two_clones_converge_with_each_archive_commit_once() {
    let s = Scenario::new();
    let other = second_clone(&s);
    let proxies: Vec<FaultProxy> = (0..2)
        .map(|seed| FaultProxy::start(moto_addr(), Schedule::random(seed, 0.3, &[Fault::Slow])))
        .collect();
    let a = s
        .command(&proxies[0].endpoint(), RUN_AT, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut b = s.command(&proxies[1].endpoint(), RUN_AT, &["apply", "--auto-approve"]);
    b.arg("-C").arg(&other);
    let b = b
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for (name, run) in [("A", a), ("B", b)] {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    s.check_safe("after both");
    assert_eq!(
        s.converge(&MOTO.endpoint(), 2),
        0,
        "both runs together left nothing to do"
    );
    assert_like_reference(&s, "two runners");
    // The lease is free again.
    s.repo.git(&[
        "fetch",
        "--quiet",
        "origin",
        "+refs/heads/jit-lock:refs/remotes/origin/jit-lock",
    ]);
    let last = s.repo.git(&["log", "-1", "--format=%B", "origin/jit-lock"]);
    assert!(last.contains("Jit-Lease: released"), "{last}");
}

#[test]
fn a_revoke_that_cannot_reach_origin_says_so_and_the_next_apply_there_makes_it_stick() {
    let s = Scenario::new();
    let other = second_clone(&s);
    s.ok(s.jit(&MOTO.endpoint(), RUN_AT, &["apply", "--auto-approve"]));
    assert!(s.holding().contains(&"alice-db2".to_string()));
    run_git(&other, &["pull", "--quiet", "origin", "main"]);
    // origin is unreachable from here on.
    let away = s.repo.origin.with_extension("away");
    std::fs::rename(&s.repo.origin, &away).unwrap();
    let b = jit_in(
        &s,
        &other,
        RUN_AT,
        &["revoke", "alice-db2", "--reason", "INC-9: leaked key"],
    )
    .output()
    .unwrap();
    let err = stderr(&b);
    assert_eq!(b.status.code(), Some(1), "{}{err}", stdout(&b));
    assert!(
        err.contains("revoking without it") && err.contains("recorded only in this clone"),
        "{err}"
    );
    assert!(
        !stdout(&b).contains("Revoked alice-db2"),
        "never says revoked before it sticks"
    );
    assert!(
        !s.holding().contains(&"alice-db2".to_string()),
        "IAM is revoked anyway"
    );
    std::fs::rename(&away, &s.repo.origin).unwrap();
    // The next apply in that clone pushes the ending before anything else…
    let again = jit_in(&s, &other, RUN_AT, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let endings = s.repo.origin_git(&["log", "jit-endings", "--format=%B"]);
    assert!(endings.contains("Jit-Request: alice-db2"), "{endings}");
    // …so no other runner grants it again.
    s.ok(s.jit(&MOTO.endpoint(), RUN_AT, &["apply", "--auto-approve"]));
    assert!(!s.holding().contains(&"alice-db2".to_string()));
    assert_eq!(s.archive_commits_on_origin().get("alice-db2"), Some(&1));
}

#[test]
fn a_checkout_behind_origin_revokes_but_never_grants_what_origin_ended() {
    let s = Scenario::new();
    let stale = second_clone(&s);
    // On origin, alice ends her request early by deleting it.
    s.repo.remove("requests/alice-db2.hcl");
    s.repo
        .commit("alice", NEW_APPROVED, "Done with alice-db2", &[]);
    s.repo.push();
    let out = jit_in(&s, &stale, RUN_AT, &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(
        !s.holding().contains(&"alice-db2".to_string()),
        "a stale checkout granted what origin ended:\n{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("alice-db2: grant withheld: origin/main has 1 commit(s) this checkout lacks"),
        "{err}"
    );
    // Revocations and archive moves went ahead.
    for r in EXPIRING {
        assert!(!s.holding().contains(&r.to_string()), "{r} revoked");
    }
    assert_eq!(s.archive_commits_on_origin().len(), EXPIRING.len());
    // The up-to-date clone grants the rest.
    s.repo
        .git(&["pull", "--quiet", "--rebase", "origin", "main"]);
    s.ok(s.jit(&MOTO.endpoint(), RUN_AT, &["apply", "--auto-approve"]));
    assert_eq!(s.holding(), sorted(&["carol-admin", "bob-mg"]));
}
