//! Plan and apply end to end: the real binary, a real git repo with a bare
//! origin, and a real IAM API (moto_server on loopback).

mod common;

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

const APPROVED_AT: &str = "2026-11-23T09:00:00Z";
const DURING: &str = "2026-11-23T09:30:00Z";
const AFTER: &str = "2026-11-23T12:00:00Z";

/// A standard repo with alice's 2h request approved by bob, pushed to origin,
/// and a moto with the IAM users.
fn setup() -> (Repo, Moto) {
    let moto = Moto::start();
    for u in ["alice", "bob", "carol", "erin", "frank", "mallory"] {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", APPROVED_AT, "Request db access", &["bob"]);
    repo.push();
    (repo, moto)
}

fn jit(repo: &Repo, moto: &Moto, now: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    repo.jit(&all, &moto.env())
}

fn plan_json(repo: &Repo, moto: &Moto, now: &str) -> Value {
    let out = jit(repo, moto, now, &["plan", "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)))
}

fn apply(repo: &Repo, moto: &Moto, now: &str) -> std::process::Output {
    let out = jit(repo, moto, now, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "apply failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["request"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(a: &str, r: &str) -> (String, String) {
    (a.to_string(), r.to_string())
}

#[test]
fn grant_then_expiry_revokes_and_commits_the_archive_to_origin() {
    let (repo, moto) = setup();

    let out = jit(&repo, &moto, DURING, &["plan"]);
    let text = stdout(&out);
    assert!(text.contains("+ grant   alice-db  arn:aws:iam::123456789012:user/alice  rds-read  until 2026-11-23T11:00:00Z"), "{text}");
    assert!(
        text.contains("Plan: 1 to grant, 0 to update, 0 to revoke, 0 to archive."),
        "{text}"
    );

    apply(&repo, &moto, DURING);
    assert_eq!(moto.list_user_policies("alice"), ["jit-alice-db"]);
    let doc: Value =
        serde_json::from_str(&moto.get_user_policy("alice", "jit-alice-db").unwrap()).unwrap();
    let st = &doc["Statement"][0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Action"], serde_json::json!(["rds:Describe*"]));
    assert_eq!(
        st["Resource"],
        serde_json::json!(["arn:aws:rds:us-east-1:123456789012:db:prod-*"])
    );
    assert_eq!(
        st["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
        "2026-11-23T09:00:00Z"
    );
    assert_eq!(
        st["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-11-23T11:00:00Z"
    );

    // Re-running changes nothing.
    let again = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("No changes. IAM matches the access repo."));

    // Time passes: revoke, then archive.
    let plan = plan_json(&repo, &moto, AFTER);
    assert_eq!(
        actions(&plan),
        [pair("revoke", "alice-db"), pair("archive", "alice-db")]
    );
    apply(&repo, &moto, AFTER);
    assert!(moto.list_user_policies("alice").is_empty());
    assert!(!repo.exists("requests/alice-db.hcl"));
    assert!(
        repo.exists("archive/2026/11/alice-db.hcl"),
        "the work tree follows the archive commit"
    );

    let message = repo.origin_git(&["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    for line in [
        "jit <jit@acme.example>",
        "jit: expire alice-db",
        "Jit-Request: alice-db",
        "Jit-Contract: db-read",
        "Jit-Requester: alice",
        "Jit-Principal: arn:aws:iam::123456789012:user/alice",
        "Jit-Approved-By: bob@acme.example",
        "Jit-Granted: 2026-11-23T09:00:00Z",
        "Jit-Expires: 2026-11-23T11:00:00Z",
        "Jit-Revoked: 2026-11-23T12:00:00Z",
        "Jit-Outcome: expired",
    ] {
        assert!(message.contains(line), "missing {line:?} in:\n{message}");
    }
    let files = repo.origin_git(&["show", "--name-status", "--format=", "main"]);
    assert!(
        files.contains("R100\trequests/alice-db.hcl\tarchive/2026/11/alice-db.hcl"),
        "{files}"
    );

    let last = jit(&repo, &moto, AFTER, &["plan", "--detailed-exitcode"]);
    assert_eq!(last.status.code(), Some(0), "{}", stdout(&last));
}

#[test]
fn drift_is_repaired_and_foreign_policies_are_untouched() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    let foreign = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    moto.put_user_policy("alice", "team-baseline", foreign);
    moto.put_user_policy(
        "alice",
        "jit-alice-db",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    );

    let out = jit(&repo, &moto, DURING, &["plan"]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "~ update  alice-db  drift in jit-alice-db (Action, Condition, Resource differs)"
        ),
        "{text}"
    );
    assert!(!text.contains("team-baseline"), "{text}");

    apply(&repo, &moto, DURING);
    let doc = moto.get_user_policy("alice", "jit-alice-db").unwrap();
    assert!(
        doc.contains("rds:Describe*") && !doc.contains("iam:*"),
        "{doc}"
    );
    assert_eq!(
        moto.get_user_policy("alice", "team-baseline").as_deref(),
        Some(foreign)
    );
}

#[test]
fn semantically_equal_documents_are_not_drift() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    // The same policy, pretty-printed with keys reordered and single values unwrapped.
    let same = r#"{
      "Statement": {
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2026-11-23T11:00:00Z"},
                      "DateGreaterThan": {"aws:CurrentTime": ["2026-11-23T09:00:00Z"]}},
        "Resource": "arn:aws:rds:us-east-1:123456789012:db:prod-*",
        "Action": "rds:Describe*",
        "Effect": "Allow"
      },
      "Version": "2012-10-17"
    }"#;
    moto.put_user_policy("alice", "jit-alice-db", same);
    let out = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn orphan_jit_policies_are_revoked_without_archive() {
    let (repo, moto) = setup();
    moto.put_user_policy(
        "mallory",
        "jit-left-behind",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    moto.put_user_policy(
        "mallory",
        "not-jit",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    let plan = plan_json(&repo, &moto, DURING);
    assert_eq!(
        actions(&plan),
        [pair("grant", "alice-db"), pair("revoke", "left-behind")]
    );
    apply(&repo, &moto, DURING);
    assert_eq!(moto.list_user_policies("mallory"), ["not-jit"]);
}

#[test]
fn two_grants_for_one_principal_are_independent() {
    let (repo, moto) = setup();
    repo.write(
        "requests/alice-db-2.hcl",
        &request("alice-db-2", "alice", "db-read", "4h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:10:00Z",
        "Second request",
        &["carol"],
    );
    apply(&repo, &moto, DURING);
    assert_eq!(
        moto.list_user_policies("alice"),
        ["jit-alice-db", "jit-alice-db-2"]
    );

    // At 12:00 the first (ends 11:00) has ended; the second (ends 13:10) stays.
    let plan = plan_json(&repo, &moto, AFTER);
    assert_eq!(
        actions(&plan),
        [pair("revoke", "alice-db"), pair("archive", "alice-db")]
    );
    apply(&repo, &moto, AFTER);
    assert_eq!(moto.list_user_policies("alice"), ["jit-alice-db-2"]);
}

#[test]
fn deleting_a_request_file_revokes_early() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    repo.remove("requests/alice-db.hcl");
    repo.commit("alice", "2026-11-23T09:40:00Z", "Done early", &[]);
    let plan = plan_json(&repo, &moto, "2026-11-23T09:45:00Z");
    assert_eq!(actions(&plan), [pair("revoke", "alice-db")]);
    assert!(
        plan["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("request file removed")
    );
    apply(&repo, &moto, "2026-11-23T09:45:00Z");
    assert!(moto.list_user_policies("alice").is_empty());
}

#[test]
fn json_plan_follows_the_documented_schema() {
    let (repo, moto) = setup();
    let plan = plan_json(&repo, &moto, DURING);
    assert_eq!(plan["format_version"], "1");
    assert_eq!(plan["commit"].as_str().unwrap(), repo.head());
    assert_eq!(plan["now"], DURING);
    let a = &plan["actions"][0];
    for key in [
        "action",
        "request",
        "principal",
        "account",
        "target",
        "start",
        "end",
        "detail",
    ] {
        assert!(a.get(key).is_some(), "action lacks {key}: {a}");
    }
    assert_eq!(a["account"], "123456789012");
    assert_eq!(a["start"], "2026-11-23T09:00:00Z");
    assert_eq!(
        plan["summary"],
        serde_json::json!({"grant": 1, "update": 0, "revoke": 0, "archive": 0})
    );
    // Reading IAM is one paginated walk per account, not a call per grant.
    assert_eq!(plan["stats"]["iam_calls"], 1);
    assert!(plan["stats"]["elapsed_ms"].is_number());
    assert!(plan["pending"].is_array());
}

#[test]
fn detailed_exitcode_is_2_with_changes() {
    let (repo, moto) = setup();
    let out = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn saved_plan_applies_exactly_and_stale_plans_are_refused() {
    let (repo, moto) = setup();
    let planfile = repo.work.join("../plan.json");
    let planfile = planfile.to_str().unwrap();
    let out = jit(&repo, &moto, DURING, &["plan", "--out", planfile]);
    assert!(out.status.success());

    // Branch moved since the plan: refused.
    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-read", "1h"),
    );
    repo.commit("carol", "2026-11-23T09:20:00Z", "Another", &["bob"]);
    let out = jit(&repo, &moto, DURING, &["apply", planfile]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("stale"), "{}", stderr(&out));
    assert!(stderr(&out).contains("moved"), "{}", stderr(&out));
    assert!(
        moto.list_user_policies("alice").is_empty(),
        "nothing applied"
    );

    // A fresh plan whose IAM object changes before apply: refused.
    let out = jit(&repo, &moto, DURING, &["plan", "--out", planfile]);
    assert!(out.status.success());
    moto.put_user_policy(
        "alice",
        "jit-alice-db",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    let out = jit(&repo, &moto, DURING, &["apply", planfile]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("inline policy jit-alice-db on user/alice changed in IAM"),
        "{}",
        stderr(&out)
    );

    // Undo the change: the saved plan applies exactly.
    moto.delete_user_policy("alice", "jit-alice-db");
    let out = jit(&repo, &moto, DURING, &["apply", planfile]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(moto.list_user_policies("carol"), ["jit-carol-db"]);
    assert_eq!(moto.list_user_policies("alice"), ["jit-alice-db"]);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let (repo, moto) = setup();
    let out = jit(&repo, &moto, DURING, &["apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--auto-approve"), "{}", stderr(&out));
    assert!(moto.list_user_policies("alice").is_empty());
}

#[test]
fn an_invalid_request_is_skipped_and_the_rest_proceeds() {
    let (repo, moto) = setup();
    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-read", "9h"),
    );
    repo.commit("carol", "2026-11-23T09:05:00Z", "Too long", &["bob"]);
    let out = jit(&repo, &moto, DURING, &["apply", "--auto-approve"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid request makes the run fail"
    );
    assert!(
        stderr(&out).contains("requests/carol-db.hcl:4:3: error: duration 9h exceeds"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        moto.list_user_policies("alice"),
        ["jit-alice-db"],
        "the valid grant still happened"
    );
    assert!(moto.list_user_policies("carol").is_empty());
}

#[test]
fn quota_overflow_is_a_plan_error_and_nothing_is_half_applied() {
    let (repo, moto) = setup();
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}]}}"#,
        (0..60)
            .map(|i| format!("\"arn:aws:s3:::bucket-number-{i:03}/*\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    moto.put_user_policy("alice", "big-baseline", &big);
    let out = jit(&repo, &moto, DURING, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("user/alice")
            && err.contains("quota of 2048")
            && err.contains("managed_policy"),
        "{err}"
    );
    assert_eq!(moto.list_user_policies("alice"), ["big-baseline"]);
}

#[test]
fn managed_policy_mode_creates_attaches_and_removes() {
    let (repo, moto) = setup();
    let contracts = CONTRACTS_HCL.replace(
        "  require_reason   = true\n  owners           = [\"team:security\"]",
        "  require_reason   = true\n  mode             = \"managed_policy\"\n  owners           = [\"team:security\"]",
    );
    assert_ne!(contracts, CONTRACTS_HCL);
    repo.write("contracts/db.hcl", &contracts);
    repo.commit(
        "erin",
        "2026-11-23T08:30:00Z",
        "db-read as managed policy",
        &["frank"],
    );
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:00:00Z", "bob", &["carol"]);
    apply(&repo, &moto, DURING);
    let arn = "arn:aws:iam::123456789012:policy/jit/jit-bob-db";
    assert_eq!(moto.list_attached_user_policies("bob"), [arn]);
    assert!(
        moto.get_policy_document(arn)
            .unwrap()
            .contains("rds:Describe*")
    );

    // Drift in a managed policy: a new default version is written, old ones pruned.
    let tampered = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    moto.call(
        "CreatePolicyVersion",
        &[
            ("PolicyArn", arn),
            ("PolicyDocument", tampered),
            ("SetAsDefault", "true"),
        ],
    )
    .expect("tamper with the policy");
    let plan = plan_json(&repo, &moto, DURING);
    assert_eq!(actions(&plan), [pair("update", "bob-db")]);
    apply(&repo, &moto, DURING);
    assert!(
        moto.get_policy_document(arn)
            .unwrap()
            .contains("rds:Describe*")
    );

    apply(&repo, &moto, AFTER);
    assert!(moto.list_attached_user_policies("bob").is_empty());
    assert!(moto.get_policy_document(arn).is_none());
}

#[test]
fn push_rejected_by_a_moved_origin_is_rebased_and_retried() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    // Someone else pushes to origin meanwhile (from another clone).
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
    std::fs::write(
        clone.join("requests/carol-db.hcl"),
        request("carol-db", "carol", "db-read", "1h"),
    )
    .unwrap();
    run_git(&clone, &["add", "-A"]);
    run_git(
        &clone,
        &[
            "-c",
            "user.name=carol",
            "-c",
            "user.email=carol@acme.example",
            "commit",
            "--quiet",
            "-m",
            "carol\n\nApproved-by: Bob <bob@acme.example>",
        ],
    );
    run_git(&clone, &["push", "--quiet", "origin", "main"]);

    apply(&repo, &moto, AFTER);
    let log = repo.origin_git(&["log", "--format=%s", "main"]);
    let subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects[0], "jit: expire alice-db", "{log}");
    assert_eq!(
        subjects[1], "carol",
        "the archive commit sits on top of the other push: {log}"
    );
    assert!(
        repo.exists("requests/carol-db.hcl"),
        "the work tree has the other push"
    );
    assert!(repo.exists("archive/2026/11/alice-db.hcl"));
}

#[test]
fn revoke_ends_a_grant_now_and_records_who_and_why() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    repo.git(&["config", "user.name", "Erin"]);
    repo.git(&["config", "user.email", "erin@acme.example"]);
    let out = jit(
        &repo,
        &moto,
        "2026-11-23T09:45:00Z",
        &["revoke", "alice-db", "--reason", "INC-1 resolved"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(moto.list_user_policies("alice").is_empty());
    assert!(repo.exists("archive/2026/11/alice-db.hcl"));
    let message = repo.origin_git(&["log", "-1", "--format=%B", "main"]);
    for line in [
        "jit: revoke alice-db",
        "Jit-Outcome: revoked",
        "Jit-Reason: INC-1 resolved",
        "Jit-Revoked-By: Erin <erin@acme.example>",
        "Jit-Revoked: 2026-11-23T09:45:00Z",
        "Jit-Expires: 2026-11-23T11:00:00Z",
    ] {
        assert!(message.contains(line), "missing {line:?} in:\n{message}");
    }
    let plan = plan_json(&repo, &moto, "2026-11-23T09:50:00Z");
    assert!(actions(&plan).is_empty(), "{plan}");
}

#[test]
fn revoke_refuses_unknown_names_with_a_suggestion() {
    let (repo, moto) = setup();
    let out = jit(
        &repo,
        &moto,
        DURING,
        &["revoke", "alice-bd", "--reason", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no request `alice-bd` in requests/; did you mean `alice-db`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn assume_role_grants_a_trust_statement_and_revocation_denies_old_sessions() {
    let (repo, moto) = setup();
    let base_trust = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    moto.create_role("db-admin", base_trust);
    let role_id = moto.role_id("db-admin");
    repo.write(
        "contracts/admin.hcl",
        r#"contract "db-admin" {
  role         = "rds-read"
  resources    = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  approvers    = ["team:dba"]
  max_duration = "2h"
  require_mfa  = true
  mode         = "assume_role"
  role_arn     = "arn:aws:iam::123456789012:role/db-admin"
  owners       = ["team:security"]
}
"#,
    );
    repo.commit(
        "erin",
        "2026-11-23T08:30:00Z",
        "Admin role contract",
        &["frank"],
    );
    repo.write(
        "requests/alice-admin.hcl",
        &request("alice-admin", "alice", "db-admin", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Admin access", &["carol"]);

    let out = jit(&repo, &moto, DURING, &["plan"]);
    assert!(
        stdout(&out).contains("+ grant   alice-admin"),
        "{}",
        stdout(&out)
    );
    apply(&repo, &moto, DURING);
    let trust: Value = serde_json::from_str(&moto.get_role_trust_policy("db-admin")).unwrap();
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{trust}");
    assert_eq!(statements[0]["Sid"], "Ec2", "foreign statements are kept");
    let ours = &statements[1];
    assert_eq!(ours["Sid"], "JitAliceAdmin");
    assert_eq!(
        ours["Principal"]["AWS"],
        "arn:aws:iam::123456789012:user/alice"
    );
    assert_eq!(ours["Action"], "sts:AssumeRole");
    assert_eq!(
        ours["Condition"]["StringEquals"]["sts:RoleSessionName"],
        "alice"
    );
    assert_eq!(
        ours["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
        "true"
    );
    assert_eq!(
        ours["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-11-23T10:00:00Z"
    );
    let again = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));

    // Expiry: the statement goes; sessions issued before the window's end
    // are denied from the end on, by the deny the grant wrote.
    apply(&repo, &moto, "2026-11-23T10:30:00Z");
    let trust: Value = serde_json::from_str(&moto.get_role_trust_policy("db-admin")).unwrap();
    assert_eq!(trust["Statement"].as_array().unwrap().len(), 1, "{trust}");
    assert_eq!(trust["Statement"][0]["Sid"], "Ec2");
    let deny: Value = serde_json::from_str(
        &moto
            .get_role_policy("db-admin", "jit-session-revocations")
            .unwrap(),
    )
    .unwrap();
    let d = &deny["Statement"][0];
    assert_eq!(d["Effect"], "Deny");
    assert_eq!(
        d["Condition"]["StringEquals"]["aws:userid"],
        format!("{role_id}:alice")
    );
    assert_eq!(
        d["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        "2026-11-23T10:00:00Z"
    );
    assert_eq!(
        d["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
        "2026-11-23T10:00:00Z"
    );
    let message = repo.origin_git(&["log", "-1", "--format=%B", "main"]);
    assert!(message.contains("Jit-Request: alice-admin"), "{message}");
    // The revocation list is jit's own bookkeeping, never revoked as a grant.
    let last = jit(
        &repo,
        &moto,
        "2026-11-23T10:40:00Z",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(last.status.code(), Some(0), "{}", stdout(&last));
}

#[test]
fn a_detached_checkout_without_the_branch_gets_a_hint() {
    let (repo, _moto) = setup();
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("ci");
    run_git(
        dir.path(),
        &[
            "clone",
            "--quiet",
            repo.origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    run_git(&clone, &["checkout", "--quiet", "--detach"]);
    run_git(&clone, &["branch", "--quiet", "-D", "main"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jit"))
        .args(["-C", clone.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("git checkout -B main origin/main"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_trust_policy_that_would_overflow_its_quota_is_a_plan_error() {
    let (repo, moto) = setup();
    let services: Vec<String> = (0..60)
        .map(|i| format!("\"service-number-{i:02}.amazonaws.com\""))
        .collect();
    let big_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Services","Effect":"Allow","Principal":{{"Service":[{}]}},"Action":"sts:AssumeRole"}}]}}"#,
        services.join(",")
    );
    moto.create_role("db-admin", &big_trust);
    repo.write(
        "contracts/admin.hcl",
        "contract \"db-admin\" {\n  role = \"rds-read\"\n  resources = [\"*\"]\n  approvers = [\"team:dba\"]\n  mode = \"assume_role\"\n  role_arn = \"arn:aws:iam::123456789012:role/db-admin\"\n  owners = [\"team:security\"]\n}\n",
    );
    repo.commit(
        "erin",
        "2026-11-23T08:30:00Z",
        "Admin role contract",
        &["frank"],
    );
    repo.write(
        "requests/alice-admin.hcl",
        &request("alice-admin", "alice", "db-admin", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Admin access", &["carol"]);
    let out = jit(&repo, &moto, DURING, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("alice-admin: the trust policy of role/db-admin")
            && err.contains("quota of 2048"),
        "{err}"
    );
    assert!(
        !moto
            .get_role_trust_policy("db-admin")
            .contains("JitAliceAdmin"),
        "nothing half-applied"
    );
    assert_eq!(
        moto.list_user_policies("alice"),
        ["jit-alice-db"],
        "the other grant proceeds"
    );
}

#[test]
fn archive_commits_left_unpushed_are_pushed_by_the_next_run() {
    let (repo, moto) = setup();
    apply(&repo, &moto, DURING);
    let out = jit(
        &repo,
        &moto,
        AFTER,
        &["apply", "--auto-approve", "--no-push"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let subject = |r: &str| {
        repo.git(&["log", "-1", "--format=%s", r])
            .trim()
            .to_string()
    };
    assert_eq!(subject("main"), "jit: expire alice-db");
    assert_ne!(
        subject("origin/main"),
        "jit: expire alice-db",
        "--no-push kept it local"
    );

    let out = jit(&repo, &moto, AFTER, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let on_origin = repo.origin_git(&["log", "-1", "--format=%s", "main"]);
    assert_eq!(
        on_origin.trim(),
        "jit: expire alice-db",
        "the next run pushed it"
    );
}

#[test]
fn revoking_what_is_already_gone_converges() {
    use jit::iam::{Cloud, Target};
    let moto = Moto::start();
    moto.create_user("alice");
    let account = jit::config::Account {
        name: "prod".into(),
        id: "123456789012".into(),
        role_arn: None,
        meta: jit::config::Meta {
            loc: jit::diag::Loc::file("jit.hcl"),
            attrs: Default::default(),
        },
    };
    let mut cloud =
        jit::iam::aws::AwsCloud::for_endpoint(DURING.parse().unwrap(), &moto.endpoint()).unwrap();
    for target in [
        Target::UserPolicy {
            user: "alice".into(),
            policy: "jit-x".into(),
        },
        Target::UserPolicy {
            user: "nobody".into(),
            policy: "jit-x".into(),
        },
        Target::RolePolicy {
            role: "nope".into(),
            policy: "jit-x".into(),
        },
        Target::ManagedPolicy {
            policy: "jit-x".into(),
            principal: "user/alice".into(),
        },
        Target::TrustStatement {
            role: "nope".into(),
            sid: "JitX".into(),
        },
    ] {
        cloud
            .delete(&account, &target)
            .unwrap_or_else(|e| panic!("{target}: {e:#}"));
    }
    // A real failure is still an error: IAM unreachable.
    let mut down =
        jit::iam::aws::AwsCloud::for_endpoint(DURING.parse().unwrap(), "http://127.0.0.1:9")
            .unwrap();
    assert!(
        down.delete(
            &account,
            &Target::UserPolicy {
                user: "alice".into(),
                policy: "jit-x".into()
            }
        )
        .is_err()
    );
}
