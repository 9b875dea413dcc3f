//! Notifications end to end: the real binary, real git repos with a bare
//! origin, one shared moto_server (each scenario in its own account) and a
//! local webhook receiver. Payloads, signatures checked as a receiver
//! would, retries, no repeats across runs and runners, filters, a dead
//! receiver that never stops a revocation, admins-guarded targets, and
//! `pending` from `plan --base`.

mod common;
#[path = "common/webhook.rs"]
mod webhook;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::moto::Moto;
use common::repo::*;
use webhook::{Receiver, dead_url};

const SECRET: &str = "s3cret-key";
const APPROVED_AT: &str = "2026-11-23T09:00:00Z";

fn jit_hcl(account: &str, notify: &str) -> String {
    format!(
        r#"settings {{
  branch   = "main"
  approval = "trailers"
  admins   = ["team:security"]
  bot {{
    name  = "jit"
    email = "jit@acme.example"
  }}
}}

account "prod" {{
  id       = "{account}"
  role_arn = "arn:aws:iam::{account}:role/jit-reconciler"
}}
{notify}"#
    )
}

fn people(account: &str) -> String {
    PEOPLE_HCL.replace("123456789012", account)
}

fn json_target(name: &str, url: &str, extra: &str) -> String {
    format!(
        "\nnotify \"{name}\" {{\n  url        = \"{url}\"\n  format     = \"json\"\n  secret_env = \"JIT_TEST_SECRET\"\n{extra}}}\n"
    )
}

/// The definitions (with `notify` blocks) as the trusted root commit, and
/// alice's 2h request approved by bob at 09:00, pushed; alice exists in IAM.
fn setup(moto: &Moto, account: &str, notify: &str) -> Repo {
    moto.account(account).create_user("alice");
    let repo = Repo::empty();
    repo.write("jit.hcl", &jit_hcl(account, notify));
    repo.write("people.hcl", &people(account));
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write(
        "contracts/db.hcl",
        &CONTRACTS_HCL.replace("123456789012", account),
    );
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", APPROVED_AT, "Request db access", &["bob"]);
    repo.push();
    repo
}

fn env(moto: &Moto) -> Vec<(String, String)> {
    let mut env = moto.env();
    env.push(("JIT_TEST_SECRET".into(), SECRET.into()));
    env
}

fn run(dir: &Path, moto: &Moto, now: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jit"))
        .arg("-C")
        .arg(dir)
        .args(["--now", now])
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "jit=info")
        .envs(env(moto))
        .output()
        .expect("run jit")
}

fn apply(dir: &Path, moto: &Moto, now: &str) -> Output {
    let out = run(dir, moto, now, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "apply at {now} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A second runner: a fresh clone of origin, as a new CI job has.
fn clone(repo: &Repo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_git(
        dir.path(),
        &["clone", "--quiet", repo.origin.to_str().unwrap(), "access"],
    );
    run_git(
        &dir.path().join("access"),
        &["config", "user.name", "Runner"],
    );
    run_git(
        &dir.path().join("access"),
        &["config", "user.email", "runner@acme.example"],
    );
    dir
}

type Scenario = fn(&Moto, &str);

#[test]
fn notifications_against_iam() {
    let moto = Moto::start();
    let started = std::time::Instant::now();
    // Each scenario has its own account and receiver: they run at once.
    let scenarios: [(Scenario, &str); 9] = [
        (lifecycle_is_signed_and_never_repeated, "210000000001"),
        (failed_attempts_are_retried, "210000000002"),
        (a_dead_receiver_never_stops_a_revocation, "210000000003"),
        (filters_choose_events_and_contracts, "210000000004"),
        (slack_gets_block_kit, "210000000005"),
        (
            a_target_takes_effect_only_when_admins_approve,
            "210000000006",
        ),
        (jit_revoke_is_announced_by_the_next_apply, "210000000007"),
        (breakglass_grants_are_announced, "210000000008"),
        (
            a_grant_not_announced_when_written_is_announced_later,
            "210000000009",
        ),
    ];
    std::thread::scope(|s| {
        let running: Vec<_> = scenarios
            .iter()
            .map(|(f, account)| s.spawn(|| f(&moto, account)))
            .collect();
        for r in running {
            if let Err(panic) = r.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    eprintln!("notification scenarios took {:?}", started.elapsed());
}

fn lifecycle_is_signed_and_never_repeated(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let repo = setup(
        moto,
        account,
        &json_target("security", &hook.url, "  expiring_before = \"30m\"\n"),
    );
    let approving = repo.head();
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    let got = hook.received();
    assert_eq!(hook.events(), ["granted alice-db"], "{got:#?}");
    let granted = &got[0];
    assert_eq!(granted.path, "/hook");
    assert_eq!(granted.header("content-type"), "application/json");
    assert_eq!(granted.header("x-jit-event"), "granted");
    assert!(
        granted.signature_ok(SECRET),
        "signature must verify: {granted:#?}"
    );
    assert!(!granted.signature_ok("another key"));
    let mut forged = granted.clone();
    forged.body = forged.body.replace("alice", "mallory");
    assert!(!forged.signature_ok(SECRET), "a changed body fails");
    let ts: i64 = granted
        .header("x-jit-timestamp")
        .parse()
        .expect("unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 120,
        "real clock: {ts}"
    );
    let id = granted.header("x-jit-delivery").to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let body = granted.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "event",
        "request",
        "contract",
        "requester",
        "principal",
        "resources",
        "start",
        "end",
        "reason",
        "approvers",
        "commit",
        "detail",
    ] {
        assert!(keys.contains(&k), "body lacks {k}: {body}");
    }
    assert_eq!(body["event"], "granted");
    assert_eq!(body["request"], "alice-db");
    assert_eq!(body["contract"], "db-read");
    assert_eq!(body["requester"], "alice");
    assert_eq!(
        body["principal"],
        format!("arn:aws:iam::{account}:user/alice")
    );
    assert_eq!(
        body["resources"][0],
        format!("arn:aws:rds:us-east-1:{account}:db:prod-*")
    );
    assert_eq!(body["start"], "2026-11-23T09:00:00Z");
    assert_eq!(body["end"], "2026-11-23T11:00:00Z");
    assert_eq!(body["reason"], "INC-1: testing");
    assert_eq!(body["approvers"][0], "bob@acme.example");
    assert_eq!(body["commit"], approving);

    // The same run again, then before the lead time: nothing new.
    apply(&repo.work, moto, "2026-11-23T09:31:00Z");
    assert_eq!(hook.received().len(), 1, "{:?}", hook.events());
    // Within 30 minutes of the end: expiring, once, also for another runner.
    apply(&repo.work, moto, "2026-11-23T10:40:00Z");
    assert_eq!(hook.events(), ["granted alice-db", "expiring alice-db"]);
    apply(&repo.work, moto, "2026-11-23T10:45:00Z");
    let other = clone(&repo);
    apply(&other.path().join("access"), moto, "2026-11-23T10:50:00Z");
    assert_eq!(hook.received().len(), 2, "{:?}", hook.events());

    // The end: revoked in IAM, archived, and `expired` from the archive commit.
    apply(&repo.work, moto, "2026-11-23T11:05:00Z");
    assert!(moto.account(account).list_user_policies("alice").is_empty());
    assert!(!repo.exists("requests/alice-db.hcl"));
    let got = hook.received();
    assert_eq!(
        hook.events(),
        ["granted alice-db", "expiring alice-db", "expired alice-db"]
    );
    let expired = got[2].json();
    assert!(got[2].signature_ok(SECRET));
    assert_eq!(expired["end"], "2026-11-23T11:00:00Z");
    assert_eq!(expired["approvers"][0], "bob@acme.example");
    // Neither this runner nor a fresh one sends any of it again.
    apply(&repo.work, moto, "2026-11-23T11:10:00Z");
    let third = clone(&repo);
    apply(&third.path().join("access"), moto, "2026-11-23T11:15:00Z");
    let ids: std::collections::BTreeSet<String> = hook
        .received()
        .iter()
        .map(|r| r.header("x-jit-delivery").to_string())
        .collect();
    assert_eq!(hook.received().len(), 3, "{:?}", hook.events());
    assert_eq!(ids.len(), 3, "one id per event");
    // The records are in git, on origin.
    let ledger = repo.origin_git(&["show", "jit-notified:ledger"]);
    assert_eq!(ledger.matches("sent security ").count(), 3, "{ledger}");
    assert!(!ledger.contains(SECRET));
}

fn failed_attempts_are_retried(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    hook.answer(&[500, 503]);
    let repo = setup(moto, account, &json_target("security", &hook.url, ""));
    let started = std::time::Instant::now();
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    let got = hook.received();
    assert_eq!(
        got.len(),
        3,
        "two failures, then delivered: {:?}",
        hook.events()
    );
    assert!(
        got.iter()
            .all(|r| r.header("x-jit-delivery") == got[0].header("x-jit-delivery"))
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    // Delivered: the next run does not send it again.
    apply(&repo.work, moto, "2026-11-23T09:35:00Z");
    assert_eq!(hook.received().len(), 3);
}

fn a_dead_receiver_never_stops_a_revocation(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let notify = json_target("dead", &dead_url(), "") + &json_target("alive", &hook.url, "");
    let repo = setup(moto, account, &notify);
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    assert_eq!(
        moto.account(account).list_user_policies("alice"),
        ["jit-alice-db"]
    );
    let started = std::time::Instant::now();
    let out = apply(&repo.work, moto, "2026-11-23T11:05:00Z");
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(moto.account(account).list_user_policies("alice").is_empty());
    assert!(!repo.exists("requests/alice-db.hcl"));
    assert!(
        repo.origin_git(&["log", "--format=%s", "main"])
            .contains("jit: expire alice-db")
    );
    let log = stderr(&out);
    assert!(
        log.contains("notify dead: could not deliver expired alice-db"),
        "{log}"
    );
    assert!(
        !log.contains("/hook"),
        "the URL's path is never logged: {log}"
    );
    assert_eq!(hook.events(), ["granted alice-db", "expired alice-db"]);
}

fn filters_choose_events_and_contracts(moto: &Moto, account: &str) {
    let (only_expired, other_contract, all) =
        (Receiver::start(), Receiver::start(), Receiver::start());
    let notify = json_target(
        "ends",
        &only_expired.url,
        "  events = [\"expired\", \"revoked\"]\n",
    ) + &json_target("two", &other_contract.url, "  contracts = [\"db-two\"]\n")
        + &json_target(
            "all",
            &all.url,
            "  contracts = [\"db-read\"]\n  expiring_before = \"1m\"\n",
        );
    let repo = setup(moto, account, &notify);
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    apply(&repo.work, moto, "2026-11-23T10:50:00Z");
    apply(&repo.work, moto, "2026-11-23T11:05:00Z");
    assert_eq!(only_expired.events(), ["expired alice-db"]);
    assert!(
        other_contract.events().is_empty(),
        "{:?}",
        other_contract.events()
    );
    // A 1m lead: 10:50 is not yet "expiring".
    assert_eq!(all.events(), ["granted alice-db", "expired alice-db"]);
}

fn slack_gets_block_kit(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let notify = format!(
        "\nnotify \"chat\" {{\n  url    = \"{}\"\n  format = \"slack\"\n}}\n",
        hook.url
    );
    let repo = setup(moto, account, &notify);
    let approving = repo.head();
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    let got = hook.received();
    assert_eq!(got.len(), 1);
    let msg = got[0].json();
    assert_eq!(msg["text"], "Access granted: alice-db");
    assert_eq!(msg["blocks"][0]["type"], "header");
    let all = msg.to_string();
    for want in [
        "*Requester*\\nalice",
        "*Contract*\\ndb-read",
        "*Window*\\n2026-11-23T09:00:00Z to 2026-11-23T11:00:00Z",
        "*Reason*\\nINC-1: testing",
        "*Approved by*\\nbob@acme.example",
        &approving[..10],
    ] {
        assert!(all.contains(want), "{want} not in {all}");
    }
    assert_eq!(got[0].header("x-jit-event"), "granted");
    assert!(
        got[0].header("x-jit-signature").is_empty(),
        "no secret, no signature"
    );
}

fn a_target_takes_effect_only_when_admins_approve(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let repo = setup(moto, account, "");
    // alice adds a target without the admins' approval: not in force.
    let jit = jit_hcl(account, &json_target("mine", &hook.url, ""));
    repo.write("jit.hcl", &jit);
    repo.commit("alice", "2026-11-23T09:10:00Z", "Notify me", &["bob"]);
    repo.push();
    let out = apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    assert!(hook.received().is_empty(), "{:?}", hook.events());
    assert!(stdout(&out).contains("settings"), "{}", stdout(&out));
    // The admins (team security) approve the same change: it takes effect.
    repo.write("jit.hcl", &jit_hcl(account, ""));
    repo.commit("alice", "2026-11-23T09:40:00Z", "Revert", &["erin"]);
    repo.write("jit.hcl", &jit);
    repo.commit("alice", "2026-11-23T09:41:00Z", "Notify me", &["erin"]);
    repo.push();
    apply(&repo.work, moto, "2026-11-23T11:05:00Z");
    assert_eq!(hook.events(), ["expired alice-db"]);
}

fn jit_revoke_is_announced_by_the_next_apply(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let repo = setup(moto, account, &json_target("security", &hook.url, ""));
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    let out = run(
        &repo.work,
        moto,
        "2026-11-23T09:40:00Z",
        &["revoke", "alice-db", "--reason", "INC-2: done early"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    apply(&repo.work, moto, "2026-11-23T09:45:00Z");
    assert_eq!(hook.events(), ["granted alice-db", "revoked alice-db"]);
    let revoked = hook.received()[1].json();
    assert!(
        revoked["detail"]
            .as_str()
            .unwrap()
            .contains("INC-2: done early"),
        "{revoked}"
    );
    apply(&repo.work, moto, "2026-11-23T09:50:00Z");
    assert_eq!(hook.received().len(), 2);
}

fn breakglass_grants_are_announced(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let repo = setup(
        moto,
        account,
        &json_target("security", &hook.url, "  events = [\"breakglass\"]\n"),
    );
    moto.account(account).create_user("bob");
    let glass = format!(
        "contract \"glass\" {{\n  role = \"rds-read\"\n  resources = [\"arn:aws:rds:us-east-1:{account}:db:prod-*\"]\n  approvers = [\"team:security\"]\n  max_duration = \"1h\"\n  breakglass = true\n  owners = [\"team:security\"]\n}}\n"
    );
    repo.write("contracts/glass.hcl", &glass);
    repo.commit(
        "erin",
        "2026-11-23T09:01:00Z",
        "Breakglass contract",
        &["frank"],
    );
    repo.write(
        "requests/bob-glass.hcl",
        &request("bob-glass", "bob", "glass", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:02:00Z", "Breakglass", &["erin"]);
    repo.push();
    apply(&repo.work, moto, "2026-11-23T09:30:00Z");
    assert_eq!(
        hook.events(),
        ["breakglass bob-glass"],
        "alice's grant is not breakglass"
    );
    let body = hook.received()[0].json();
    assert_eq!(body["contract"], "glass");
    assert_eq!(body["approvers"][0], "erin@acme.example");
    apply(&repo.work, moto, "2026-11-23T09:35:00Z");
    assert_eq!(hook.received().len(), 1);
}

fn a_grant_not_announced_when_written_is_announced_later(moto: &Moto, account: &str) {
    let hook = Receiver::start();
    let repo = setup(moto, account, &json_target("security", &hook.url, ""));
    // The first run grants without the secret: nothing can be sent.
    let out = Command::new(env!("CARGO_BIN_EXE_jit"))
        .arg("-C")
        .arg(&repo.work)
        .args(["--now", "2026-11-23T09:30:00Z", "apply", "--auto-approve"])
        .env("RUST_LOG", "jit=info")
        .envs(moto.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("JIT_TEST_SECRET (secret_env) is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        moto.account(account).list_user_policies("alice"),
        ["jit-alice-db"]
    );
    assert!(hook.received().is_empty());
    // The next run has nothing to apply, and announces the live grant once.
    apply(&repo.work, moto, "2026-11-23T09:35:00Z");
    apply(&repo.work, moto, "2026-11-23T09:40:00Z");
    assert_eq!(hook.events(), ["granted alice-db"]);
    assert_eq!(hook.received()[0].json()["start"], "2026-11-23T09:00:00Z");
}

/// PR mode, no IAM: a proposed request waits for approvers; its `pending`
/// is sent once for that content, to the base's targets only.
#[test]
fn pending_from_plan_base_goes_to_the_eligible_approvers_once() {
    let hook = Receiver::start();
    let sneaky = Receiver::start();
    let repo = Repo::empty();
    repo.write(
        "jit.hcl",
        &jit_hcl(
            "123456789012",
            &json_target("approvers", &hook.url, "  events = [\"pending\"]\n"),
        ),
    );
    repo.write("people.hcl", PEOPLE_HCL);
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write("contracts/db.hcl", CONTRACTS_HCL);
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    repo.push();
    repo.branch("alice-db");
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    // The PR also tries to add its own target: only the base's count.
    repo.write(
        "jit.hcl",
        &jit_hcl(
            "123456789012",
            &(json_target("approvers", &hook.url, "  events = [\"pending\"]\n")
                + &json_target("sneaky", &sneaky.url, "")),
        ),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request db access", &[]);
    let secret = [("JIT_TEST_SECRET".to_string(), SECRET.to_string())];
    for _ in 0..2 {
        let out = repo.jit(
            &["--now", "2026-11-23T09:05:00Z", "plan", "--base", "main"],
            &secret,
        );
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    }
    let got = hook.received();
    assert_eq!(hook.events(), ["pending alice-db"]);
    assert!(got[0].signature_ok(SECRET));
    let body = got[0].json();
    assert_eq!(
        body["approvers"],
        serde_json::json!(["bob@acme.example", "carol@acme.example"])
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("needs 1 approval from team:dba"),
        "{body}"
    );
    assert!(sneaky.received().is_empty());
}

/// An invalid block is an error at its line, and is delivered nothing.
#[test]
fn an_invalid_target_is_an_error_at_its_line() {
    let repo = Repo::empty();
    let notify = "\nnotify \"bad\" {\n  url    = \"ftp://example\"\n  format = \"xml\"\n  events = [\"grantd\"]\n  colour = \"red\"\n}\nnotify \"unsigned\" {\n  url = \"https://example.invalid/\"\n}\n";
    repo.write("jit.hcl", &jit_hcl("123456789012", notify));
    repo.write("people.hcl", PEOPLE_HCL);
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write("contracts/db.hcl", CONTRACTS_HCL);
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    let out = repo.jit(&["validate"], &[]);
    let text = stderr(&out) + &stdout(&out);
    assert!(!out.status.success(), "{text}");
    for want in [
        "jit.hcl:17:12: error: notify url `ftp://example` must start with https:// or http://",
        "jit.hcl:18:12: error: format must be \"slack\" or \"json\", not \"xml\"",
        "jit.hcl:19:12: error: unknown event `grantd`",
        "jit.hcl:20:3: error: unknown attribute `colour` in notify block",
        "jit.hcl:22:1: error: notify `unsigned`: format \"json\" needs `secret_env`",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(text.contains("5 errors found."), "{text}");
}
