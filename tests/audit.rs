//! `jit audit` end to end: real git histories (with jit's own archive commits,
//! from `jit apply` against moto or written by hand with the exact trailers),
//! the events they produce, filters and formats, every `--verify` finding, the
//! evidence report, and a history of thousands of commits.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

const NOW: &str = "2026-11-23T12:00:00Z";
const ALICE_ARN: &str = "arn:aws:iam::123456789012:user/alice";
const POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn audit(repo: &Repo, args: &[&str]) -> Output {
    let mut all = vec!["--now", NOW, "audit"];
    all.extend_from_slice(args);
    repo.jit(&all, &[])
}

fn audit_ok(repo: &Repo, args: &[&str]) -> String {
    let out = audit(repo, args);
    assert!(
        out.status.success(),
        "jit audit {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `jit audit --format json` (plus `args`), one value per line.
fn events(repo: &Repo, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    audit_ok(repo, &all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// (event, request or object) of each event, in order.
fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let what = e["request"].as_str().or(e["object"].as_str()).unwrap();
            (e["event"].as_str().unwrap().to_string(), what.to_string())
        })
        .collect()
}

fn find<'a>(events: &'a [Value], event: &str, request: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["event"] == event && e["request"] == request)
        .unwrap_or_else(|| panic!("no {event} event for {request} in {events:#?}"))
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// The archive commit message exactly as `jit apply` writes it (src/apply.rs).
fn archive_message(outcome: &str, name: &str, trailers: &[(&str, &str)]) -> String {
    let verb = if outcome == "expired" {
        "expire"
    } else {
        "revoke"
    };
    let mut m = format!("jit: {verb} {name}\n\n");
    for (k, v) in trailers {
        m.push_str(&format!("{k}: {v}\n"));
    }
    m
}

/// Moves requests/NAME.hcl to archive/2026/11/ in a commit authored by the bot.
fn archive_by_hand(repo: &Repo, name: &str, date: &str, message: &str) -> String {
    std::fs::create_dir_all(repo.work.join("archive/2026/11")).unwrap();
    repo.git(&[
        "mv",
        &format!("requests/{name}.hcl"),
        &format!("archive/2026/11/{name}.hcl"),
    ]);
    repo.git_as("jit", date, &["commit", "--quiet", "-m", message]);
    repo.head()
}

/// The standard trailers of an expiry archived at `revoked`.
fn expiry_trailers<'a>(
    name: &'a str,
    requester: &'a str,
    approver: &'a str,
    granted: &'a str,
    expires: &'a str,
    revoked: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Jit-Request", name),
        ("Jit-Contract", "db-read"),
        ("Jit-Requester", requester),
        ("Jit-Principal", ALICE_ARN),
        ("Jit-Approved-By", approver),
        ("Jit-Granted", granted),
        ("Jit-Expires", expires),
        ("Jit-Revoked", revoked),
        ("Jit-Outcome", "expired"),
    ]
}

/// A history with every outcome, written by hand (no IAM needed):
/// - alice-db: approved by bob 09:00 for 2h, archived by jit at 11:05 (expired)
/// - carol-db: merged PR approved by bob 09:05, removed by carol at 09:20 (revoked early)
/// - mallory-db: self-approved at 09:10 (never approved)
/// - db-read contract changed at 10:00 by erin, approved by frank (owners: security)
/// - db-two contract changed at 10:30 by mallory, unapproved (not in force)
/// - erin-auto: auto-approved 11:30 for 1h (active at NOW)
fn story() -> Repo {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );

    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-read", "1h"),
    );
    repo.merge_commit("carol", "2026-11-23T09:05:00Z", "carol needs db", &["bob"]);

    repo.write(
        "requests/mallory-db.hcl",
        &request("mallory-db", "mallory", "db-read", "4h"),
    );
    repo.commit(
        "mallory",
        "2026-11-23T09:10:00Z",
        "I approve myself",
        &["mallory"],
    );

    repo.remove("requests/carol-db.hcl");
    repo.commit(
        "carol",
        "2026-11-23T09:20:00Z",
        "INC-1 fixed, dropping access",
        &[],
    );

    let contracts =
        CONTRACTS_HCL.replacen("max_duration     = \"4h\"", "max_duration     = \"8h\"", 1);
    repo.write("contracts/db.hcl", &contracts);
    repo.commit(
        "erin",
        "2026-11-23T10:00:00Z",
        "db-read: allow 8h",
        &["frank"],
    );
    let contracts = contracts.replace("min_approvals    = 2", "min_approvals    = 1");
    repo.write("contracts/db.hcl", &contracts);
    repo.commit(
        "mallory",
        "2026-11-23T10:30:00Z",
        "db-two: one approval is enough",
        &[],
    );

    let trailers = expiry_trailers(
        "alice-db",
        "alice",
        "bob@acme.example",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        "2026-11-23T11:05:00Z",
    );
    archive_by_hand(
        &repo,
        "alice-db",
        "2026-11-23T11:05:00Z",
        &archive_message("expired", "alice-db", &trailers),
    );

    repo.write(
        "requests/erin-auto.hcl",
        &request("erin-auto", "erin", "db-auto", "1h"),
    );
    repo.commit("erin", "2026-11-23T11:30:00Z", "Quick look", &[]);
    repo
}

#[test]
fn events_cover_every_outcome() {
    let repo = story();
    let all = events(&repo, &[]);
    assert_eq!(
        kinds(&all),
        [
            pair("requested", "alice-db"),
            pair("approved", "alice-db"),
            pair("granted", "alice-db"),
            pair("requested", "carol-db"),
            pair("approved", "carol-db"),
            pair("granted", "carol-db"),
            pair("requested", "mallory-db"),
            pair("revoked", "carol-db"),
            pair("changed", "contract:db-read"),
            pair("changed", "contract:db-two"),
            pair("expired", "alice-db"),
            pair("requested", "erin-auto"),
            pair("approved", "erin-auto"),
            pair("granted", "erin-auto"),
        ],
        "{all:#?}"
    );

    // Expired: the trailers' story, with the request's context on every line.
    let e = find(&all, "expired", "alice-db");
    assert_eq!(e["time"], "2026-11-23T11:00:00Z");
    assert_eq!(e["contract"], "db-read");
    assert_eq!(e["requester"], "alice");
    assert_eq!(e["principal"], ALICE_ARN);
    assert_eq!(e["role"], "rds-read");
    assert_eq!(
        e["resources"],
        serde_json::json!(["arn:aws:rds:us-east-1:123456789012:db:prod-*"])
    );
    assert_eq!(e["start"], "2026-11-23T09:00:00Z");
    assert_eq!(e["end"], "2026-11-23T11:00:00Z");
    assert_eq!(e["by"], serde_json::json!(["jit"]));
    assert_eq!(e["approvers"], serde_json::json!(["bob"]));
    let archive_sha = repo.git(&["log", "-1", "--format=%H", "--author=jit@acme.example"]);
    assert_eq!(e["commit"], archive_sha.trim());
    assert!(e["detail"].as_str().unwrap().contains("5m after"), "{e}");

    let requested = find(&all, "requested", "alice-db");
    assert_eq!(requested["by"], serde_json::json!(["alice"]));
    assert_eq!(requested["approved"], true);
    assert_eq!(requested["reason"], "INC-1: testing");
    let approved = find(&all, "approved", "alice-db");
    assert_eq!(approved["by"], serde_json::json!(["bob"]));
    assert_eq!(approved["commit"], requested["commit"]);

    // Revoked by deletion: by the deleting commit's author, reason its subject.
    let r = find(&all, "revoked", "carol-db");
    assert_eq!(r["time"], "2026-11-23T09:20:00Z");
    assert_eq!(r["by"], serde_json::json!(["carol"]));
    assert_eq!(r["reason"], "INC-1 fixed, dropping access");
    // The merged PR's side commit is carol's: she is the requester, bob approved.
    assert_eq!(
        find(&all, "requested", "carol-db")["by"],
        serde_json::json!(["carol"])
    );

    // Never approved: a requested event saying why, nothing after it.
    let m = find(&all, "requested", "mallory-db");
    assert_eq!(m["approved"], false);
    assert!(
        m["detail"]
            .as_str()
            .unwrap()
            .contains("mallory cannot approve their own change"),
        "{m}"
    );

    // Still active: granted with time left, no end.
    let g = find(&all, "granted", "erin-auto");
    assert!(
        g["detail"]
            .as_str()
            .unwrap()
            .starts_with("active until 2026-11-23T12:30:00Z"),
        "{g}"
    );
    assert!(
        find(&all, "approved", "erin-auto")["detail"]
            .as_str()
            .unwrap()
            .contains("auto-approved")
    );

    // Changed: with the owners' approvals, or why it is not in force.
    let c: Vec<&Value> = all.iter().filter(|e| e["event"] == "changed").collect();
    assert_eq!(c[0]["contract"], "db-read");
    assert_eq!(c[0]["role"], "rds-read");
    assert_eq!(c[0]["by"], serde_json::json!(["erin"]));
    assert_eq!(c[0]["approvers"], serde_json::json!(["frank"]));
    assert_eq!(c[0]["approved"], true);
    assert_eq!(c[0]["reason"], "db-read: allow 8h");
    assert_eq!(c[1]["approved"], false);
    assert!(
        c[1]["detail"]
            .as_str()
            .unwrap()
            .contains("needs approval from team:security"),
        "{}",
        c[1]
    );
}

#[test]
fn each_filter_narrows_the_events() {
    let repo = story();
    let requests = |args: &[&str]| -> Vec<(String, String)> { kinds(&events(&repo, args)) };

    assert_eq!(
        requests(&["--request", "carol-db"]),
        [
            pair("requested", "carol-db"),
            pair("approved", "carol-db"),
            pair("granted", "carol-db"),
            pair("revoked", "carol-db")
        ]
    );
    // A user's events: as requester, actor, or approver (every event of a
    // grant bob approved lists him among its approvers).
    let bob = requests(&["--user", "bob"]);
    assert_eq!(
        bob,
        [
            pair("requested", "alice-db"),
            pair("approved", "alice-db"),
            pair("granted", "alice-db"),
            pair("requested", "carol-db"),
            pair("approved", "carol-db"),
            pair("granted", "carol-db"),
            pair("revoked", "carol-db"),
            pair("expired", "alice-db"),
        ]
    );
    assert!(requests(&["--user", "frank"]).contains(&pair("changed", "contract:db-read")));
    assert!(requests(&["--user", "mallory"]).contains(&pair("changed", "contract:db-two")));
    assert_eq!(
        requests(&["--contract", "db-auto"]),
        [
            pair("requested", "erin-auto"),
            pair("approved", "erin-auto"),
            pair("granted", "erin-auto")
        ]
    );
    assert!(
        requests(&["--contract", "db-read"])
            .iter()
            .all(|(_, r)| r != "erin-auto" && r != "contract:db-two")
    );
    // Half-open period: since inclusive, until exclusive; dates mean midnight UTC.
    assert_eq!(
        requests(&[
            "--since",
            "2026-11-23T09:20:00Z",
            "--until",
            "2026-11-23T10:30:00Z"
        ]),
        [
            pair("revoked", "carol-db"),
            pair("changed", "contract:db-read")
        ]
    );
    assert!(requests(&["--since", "2026-11-24"]).is_empty());
    assert_eq!(requests(&["--until", "2026-11-23"]), []);
    // Filters combine.
    assert_eq!(
        requests(&["--user", "alice", "--since", "2026-11-23T10:00:00Z"]),
        [pair("expired", "alice-db")]
    );

    let bad = audit(&repo, &["--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--since"), "{}", stderr(&bad));
}

#[test]
fn csv_json_and_table_shapes() {
    let repo = story();
    let json = audit_ok(&repo, &["--format", "json"]);
    let fields = [
        "event",
        "time",
        "request",
        "contract",
        "requester",
        "principal",
        "role",
        "resources",
        "start",
        "end",
        "by",
        "approvers",
        "approved",
        "reason",
        "object",
        "commit",
        "detail",
    ];
    for line in json.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), fields.len(), "{line}");
        for f in fields {
            assert!(keys.contains(&f), "{f} missing in {line}");
        }
        assert_eq!(v["commit"].as_str().unwrap().len(), 40);
    }

    let csv = audit_ok(&repo, &["--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), fields.join(","));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), json.lines().count());
    let expired = rows.iter().find(|r| r.starts_with("expired,")).unwrap();
    assert!(
        expired.starts_with(&format!(
            "expired,2026-11-23T11:00:00Z,alice-db,db-read,alice,{ALICE_ARN},rds-read,arn:aws:rds:us-east-1:123456789012:db:prod-*,2026-11-23T09:00:00Z,2026-11-23T11:00:00Z,jit,bob,,"
        )),
        "{expired}"
    );
    // A field with a comma is quoted.
    assert!(
        rows.iter()
            .any(|r| r.contains("\"INC-1 fixed, dropping access\"")),
        "{csv}"
    );

    let table = audit_ok(&repo, &[]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "TIME", "EVENT", "REQUEST", "USER", "CONTRACT", "BY", "COMMIT", "DETAIL",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let revoked = table.lines().find(|l| l.contains(" revoked ")).unwrap();
    assert!(
        revoked.starts_with("2026-11-23T09:20:00Z  revoked"),
        "{table}"
    );
    assert!(
        revoked.contains("carol-db") && revoked.contains("carol"),
        "{revoked}"
    );
    assert_eq!(table.lines().count(), json.lines().count() + 1);
}

/// A repo and moto where `jit apply` itself granted and expired alice's access.
fn applied() -> (Repo, Moto) {
    let moto = Moto::start();
    for u in ["alice", "bob", "carol", "erin", "frank", "mallory"] {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    repo.push();
    for now in ["2026-11-23T09:30:00Z", "2026-11-23T11:05:00Z"] {
        let out = repo.jit(&["--now", now, "apply", "--auto-approve"], &moto.env());
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    }
    (repo, moto)
}

fn verify(repo: &Repo, moto: Option<&Moto>, args: &[&str]) -> Output {
    let mut all = vec!["--now", NOW, "audit", "--verify"];
    if moto.is_none() {
        all.push("--no-iam");
    }
    all.extend_from_slice(args);
    repo.jit(&all, &moto.map(|m| m.env()).unwrap_or_default())
}

#[test]
fn apply_archives_are_read_and_a_clean_history_verifies() {
    let (repo, moto) = applied();
    let all = events(&repo, &[]);
    assert_eq!(
        kinds(&all),
        [
            pair("requested", "alice-db"),
            pair("approved", "alice-db"),
            pair("granted", "alice-db"),
            pair("expired", "alice-db")
        ]
    );
    let e = find(&all, "expired", "alice-db");
    assert_eq!(e["by"], serde_json::json!(["jit"]));
    assert_eq!(e["approvers"], serde_json::json!(["bob"]));
    assert_eq!(e["commit"], repo.head());

    let out = verify(&repo, Some(&moto), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("OK: 1 grant(s) checked (1 ended, 0 active): 1 ended on time, no jit-* object in IAM past its window"),
        "{text}"
    );
}

#[test]
fn jit_revoke_is_an_early_revocation_by_the_revoker_with_its_reason() {
    let moto = Moto::start();
    moto.create_user("alice");
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    repo.push();
    let run = |args: &[&str]| {
        let out = repo.jit(args, &moto.env());
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    };
    run(&["--now", "2026-11-23T09:30:00Z", "apply", "--auto-approve"]);
    repo.git(&["config", "user.name", "Erin"]);
    repo.git(&["config", "user.email", "erin@acme.example"]);
    run(&[
        "--now",
        "2026-11-23T10:00:00Z",
        "revoke",
        "alice-db",
        "--reason",
        "INC-1 closed",
    ]);

    let all = events(&repo, &[]);
    let r = find(&all, "revoked", "alice-db");
    assert_eq!(r["time"], "2026-11-23T10:00:00Z");
    assert_eq!(
        r["by"],
        serde_json::json!(["erin"]),
        "Jit-Revoked-By, as a user"
    );
    assert_eq!(r["reason"], "INC-1 closed");
    assert_eq!(r["commit"], repo.head());
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("ended early by erin (jit revoke)"),
        "{r}"
    );
    let out = verify(&repo, Some(&moto), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn verify_flags_a_late_revocation_beyond_the_tolerance() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    let trailers = expiry_trailers(
        "alice-db",
        "alice",
        "bob@acme.example",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        "2026-11-23T11:50:00Z",
    );
    let sha = archive_by_hand(
        &repo,
        "alice-db",
        "2026-11-23T11:50:00Z",
        &archive_message("expired", "alice-db", &trailers),
    );

    let out = verify(&repo, None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("1 problem(s) found"), "{text}");
    assert!(text.contains("late_revocation"), "{text}");
    assert!(
        text.contains(&format!(
            "window ended 2026-11-23T11:00:00Z; the revocation was committed 2026-11-23T11:50:00Z ({}) by jit, 50m late (tolerance 15m)",
            &sha[..10]
        )),
        "{text}"
    );

    // Within a wider tolerance it is on time.
    let out = verify(&repo, None, &["--tolerance", "1h"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let bad = verify(&repo, None, &["--tolerance", "soon"]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "a usage error exits 1 (DESIGN §5)"
    );
    assert!(
        stderr(&bad).contains("invalid duration"),
        "{}",
        stderr(&bad)
    );

    // JSON Lines: one object per finding, with the check's stable name.
    let out = verify(&repo, None, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(v["check"], "late_revocation");
    assert_eq!(v["request"], "alice-db");
    assert_eq!(v["requester"], "alice");
    assert_eq!(v["time"], "2026-11-23T11:00:00Z");
    assert_eq!(v["commit"], sha);
}

#[test]
fn verify_flags_a_request_that_ended_but_was_never_archived() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    // Ended 10:00; NOW is 12:00.
    let out = verify(&repo, None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("not_revoked"), "{text}");
    assert!(
        text.contains("window ended 2026-11-23T10:00:00Z (2h ago) but requests/alice-db.hcl is still in requests/"),
        "{text}"
    );
    // The event stream says so too.
    let all = events(&repo, &[]);
    let e = find(&all, "expired", "alice-db");
    assert_eq!(e["by"], serde_json::json!([]));
    assert!(
        e["detail"].as_str().unwrap().contains("not yet revoked"),
        "{e}"
    );

    // Just ended, within the tolerance: not (yet) a problem.
    let out = repo.jit(
        &[
            "--now",
            "2026-11-23T10:10:00Z",
            "audit",
            "--verify",
            "--no-iam",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn verify_flags_a_jit_object_still_in_iam_past_its_window() {
    let (repo, moto) = applied();
    moto.put_user_policy("alice", "jit-old", POLICY);
    let out = verify(&repo, Some(&moto), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("iam_past_window"), "{text}");
    assert!(
        text.contains(
            "IAM still holds inline policy jit-old on user/alice in account 123456789012"
        ),
        "{text}"
    );
    // History alone is clean.
    let out = verify(&repo, None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn verify_flags_a_grant_without_valid_approval() {
    let repo = Repo::standard();
    repo.write(
        "requests/mallory-db.hcl",
        &request("mallory-db", "mallory", "db-read", "1h"),
    );
    let intro = repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "I approve myself",
        &["mallory"],
    );
    // A forged bot-style commit claims the grant happened and ended.
    let trailers = vec![
        ("Jit-Request", "mallory-db"),
        ("Jit-Contract", "db-read"),
        ("Jit-Requester", "mallory"),
        ("Jit-Principal", "arn:aws:iam::123456789012:user/mallory"),
        ("Jit-Approved-By", "mallory@acme.example"),
        ("Jit-Granted", "2026-11-23T09:00:00Z"),
        ("Jit-Expires", "2026-11-23T10:00:00Z"),
        ("Jit-Revoked", "2026-11-23T10:00:05Z"),
        ("Jit-Outcome", "expired"),
    ];
    let forged = archive_by_hand(
        &repo,
        "mallory-db",
        "2026-11-23T10:00:05Z",
        &archive_message("expired", "mallory-db", &trailers),
    );
    let out = verify(&repo, None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("unapproved_grant"), "{text}");
    assert!(
        text.contains(&format!(
            "archive commit {} records a grant from 2026-11-23T09:00:00Z (approved by mallory@acme.example), but the request introduced in {} has no valid approval",
            &forged[..10],
            &intro[..10]
        )),
        "{text}"
    );
    assert!(
        text.contains("mallory cannot approve their own change"),
        "{text}"
    );

    // The events show the recorded grant and flag it.
    let all = events(&repo, &[]);
    assert_eq!(find(&all, "requested", "mallory-db")["approved"], false);
    let g = find(&all, "granted", "mallory-db");
    assert!(
        g["detail"]
            .as_str()
            .unwrap()
            .contains("never validly approved"),
        "{g}"
    );
}

#[test]
fn verify_flags_an_archive_commit_for_a_request_that_never_existed() {
    let repo = Repo::standard();
    repo.write(
        "archive/2026/11/ghost.hcl",
        &request("ghost", "alice", "db-read", "1h"),
    );
    repo.git(&["add", "-A"]);
    let trailers = expiry_trailers(
        "ghost",
        "alice",
        "bob@acme.example",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00Z",
    );
    repo.git_as(
        "jit",
        "2026-11-23T10:00:00Z",
        &[
            "commit",
            "--quiet",
            "-m",
            &archive_message("expired", "ghost", &trailers),
        ],
    );
    let out = verify(&repo, None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("no such request was in requests/ on the branch"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn report_is_an_evidence_document_for_the_period() {
    let repo = story();
    let file = repo.work.join("../evidence.md");
    let out = audit(
        &repo,
        &[
            "--report",
            file.to_str().unwrap(),
            "--since",
            "2026-11-23",
            "--until",
            "2026-11-24",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Wrote the evidence report (3 grant(s), 0 exception(s))"),
        "{}",
        stderr(&out)
    );
    let md = std::fs::read_to_string(&file).unwrap();
    for line in [
        "# Access evidence report",
        "- **Period:** from 2026-11-23T00:00:00Z to 2026-11-24T00:00:00Z",
        "- Grants of access in the period: 3 (to 3 people, under 2 contracts)",
        "- Active at the time of this report: 1",
        "- Revoked early: 1",
        "- On-time revocation rate: 100.0% (2 of 2)",
        "- Requests not granted: 1",
        "- Changes to contracts and roles: 2 (1 approved by their owners)",
        "- Exceptions: none found",
        "### Contract `db-read` (permission set `rds-read`)",
        "| alice | `alice-db` | 2026-11-23T09:00:00Z | 2026-11-23T11:00:00Z | expired | bob | INC-1: testing |",
        "| carol | `carol-db` | 2026-11-23T09:05:00Z | 2026-11-23T09:20:00Z | revoked early by carol: INC-1 fixed, dropping access | bob | INC-1: testing |",
        "| erin | `erin-auto` | 2026-11-23T11:30:00Z | still active | active | automatic (contract allows it) | INC-1: testing |",
        "## Access by person",
        "| alice | 1 | 2h | db-read | 1 of 1 |",
        "## Requests not granted",
        "| mallory | `mallory-db` | db-read | 2026-11-23T09:10:00Z | not approved: needs 1 more approval from team:dba (mallory cannot approve their own change) |",
        "## Changes to contracts and roles",
        "| erin | frank | yes |",
        "## Exceptions",
        "No exceptions found.",
    ] {
        assert!(md.contains(line), "missing {line:?} in:\n{md}");
    }

    // The same report on stdout; a period before anything happened is empty.
    let md = audit_ok(
        &repo,
        &["--format", "markdown", "--until", "2026-11-23T08:30:00Z"],
    );
    assert!(md.contains("No access was granted in the period."), "{md}");
    assert!(md.contains("n/a (no grant ended in the period)"), "{md}");

    // Exceptions appear in the report.
    repo.write(
        "requests/alice-db-2.hcl",
        &request("alice-db-2", "alice", "db-read", "30m"),
    );
    repo.commit("alice", "2026-11-23T11:00:00Z", "again", &["carol"]);
    let md = audit_ok(&repo, &["--format", "markdown"]);
    assert!(md.contains("- Exceptions: 1 (listed below)"), "{md}");
    assert!(md.contains("- **not revoked** `alice-db-2`:"), "{md}");
    assert!(
        md.contains("On-time revocation rate: 66.7% (2 of 3)"),
        "{md}"
    );
}

/// Streams `commits` to `git fast-import` on top of main.
fn fast_import(repo: &Repo, stream: &str) {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&repo.work)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    repo.git(&["reset", "--quiet", "--hard", "main"]);
}

fn data(text: &str) -> String {
    format!("data {}\n{text}\n", text.len())
}

#[test]
fn thousands_of_commits_stream_through() {
    let repo = Repo::standard();
    let base: i64 = 1_795_478_400; // 2026-11-24T00:00:00Z
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let total = 3000;
    let mut stream = String::new();
    let mut open: std::collections::VecDeque<(usize, i64)> = Default::default();
    let (mut requested, mut archived) = (0, 0);
    for i in 0..total {
        let t = base + i as i64 * 60;
        let (author, email, message, ops) = if i % 4 == 0 {
            // A request, approved by bob, 1h long.
            let name = format!("r-{i:04}");
            requested += 1;
            open.push_back((i, t));
            (
                "alice",
                "alice@acme.example",
                format!("Request {name}\n\nApproved-by: Bob <bob@acme.example>\n"),
                format!(
                    "M 100644 inline requests/{name}.hcl\n{}",
                    data(&request(&name, "alice", "db-read", "1h"))
                ),
            )
        } else if i % 4 == 2 && open.front().is_some_and(|(_, s)| t >= s + 3660) {
            // jit archives it a minute after it ended.
            let (n, start) = open.pop_front().unwrap();
            let name = format!("r-{n:04}");
            archived += 1;
            let trailers = expiry_trailers(&name, "alice", "bob@acme.example", "", "", "");
            let (granted, expires, revoked) = (iso(start), iso(start + 3600), iso(t));
            let trailers: Vec<(&str, &str)> = trailers
                .into_iter()
                .map(|(k, v)| match k {
                    "Jit-Granted" => (k, granted.as_str()),
                    "Jit-Expires" => (k, expires.as_str()),
                    "Jit-Revoked" => (k, revoked.as_str()),
                    _ => (k, v),
                })
                .collect();
            (
                "jit",
                "jit@acme.example",
                archive_message("expired", &name, &trailers),
                format!("R requests/{name}.hcl archive/2026/11/{name}.hcl\n"),
            )
        } else {
            // Unrelated work (CI config, notes): not the access repo's concern.
            (
                "frank",
                "frank@acme.example",
                format!("chore {i}\n"),
                format!(
                    "M 100644 inline .ci/notes.txt\n{}",
                    data(&format!("note {i}\n"))
                ),
            )
        };
        stream.push_str(&format!(
            "commit refs/heads/main\nauthor {author} <{email}> {t} +0000\ncommitter Forge <forge@acme.example> {t} +0000\n{}{}{ops}\n",
            data(&message),
            if i == 0 { "from refs/heads/main^0\n" } else { "" },
        ));
    }
    stream.push_str("done\n");
    fast_import(&repo, &stream);
    assert_eq!(
        repo.git(&["rev-list", "--count", "main"]).trim(),
        (total + 1).to_string()
    );

    let started = std::time::Instant::now();
    let now = iso(base + total as i64 * 60 + 7200);
    let out = repo.jit(&["--now", &now, "audit", "--format", "json"], &[]);
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let all: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |kind: &str| all.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("requested"), requested);
    assert_eq!(count("approved"), requested);
    assert_eq!(count("granted"), requested);
    assert_eq!(
        count("expired"),
        requested,
        "archived ones and the unarchived tail"
    );
    assert!(archived > 600, "{archived}");
    let archived_expiries = all
        .iter()
        .filter(|e| e["event"] == "expired" && e["by"] == serde_json::json!(["jit"]))
        .count();
    assert_eq!(archived_expiries, archived);
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "audit of {total} commits took {elapsed:?}"
    );

    // --verify: the archived ones were on time; only the unarchived tail is flagged.
    let out = repo.jit(
        &[
            "--now", &now, "audit", "--verify", "--no-iam", "--format", "json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let findings: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings.len(), requested - archived);
    assert!(findings.iter().all(|f| f["check"] == "not_revoked"));
}
