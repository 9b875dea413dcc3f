//! The IAM side of jit's security rules, attacked end to end: the real
//! binary, a real git repo, and moto_server. moto never evaluates a policy,
//! so each test asserts the documents jit writes (what IAM would enforce).

mod common;

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

const DURING: &str = "2026-11-23T09:30:00Z";

const ADMIN_CONTRACT: &str = r#"contract "db-admin" {
  role         = "rds-read"
  resources    = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  approvers    = ["team:dba"]
  max_duration = "4h"
  mode         = "assume_role"
  role_arn     = "arn:aws:iam::123456789012:role/db-admin"
  owners       = ["team:security"]
}
"#;

const EXTRA_USERS: &str = r#"user "a-1" {
  email = "a-1@acme.example"
  aws   = "arn:aws:iam::123456789012:user/a-1"
}
user "a1" {
  email = "a1@acme.example"
  aws   = "arn:aws:iam::123456789012:user/a1"
}
"#;

const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The standard definitions plus an assume_role contract and users `a-1`
/// and `a1`, all in the trusted root commit; moto with the users and a role
/// `db-admin` whose trust policy is `trust`.
fn setup(trust: &str) -> (Repo, Moto) {
    let moto = Moto::start();
    for u in [
        "alice", "bob", "carol", "erin", "frank", "mallory", "a-1", "a1",
    ] {
        moto.create_user(u);
    }
    moto.create_role("db-admin", trust);
    let repo = Repo::empty();
    repo.write("jit.hcl", JIT_HCL);
    repo.write("people.hcl", PEOPLE_HCL);
    repo.write("people-extra.hcl", EXTRA_USERS);
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write("contracts/db.hcl", CONTRACTS_HCL);
    repo.write("contracts/admin.hcl", ADMIN_CONTRACT);
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    (repo, moto)
}

/// `requester` asks for `name` on db-admin; carol approves at 09:00.
fn request_admin(repo: &Repo, name: &str, requester: &str, duration: &str) {
    repo.write(
        &format!("requests/{name}.hcl"),
        &request(name, requester, "db-admin", duration),
    );
    repo.commit(
        requester,
        "2026-11-23T09:00:00Z",
        "Admin access",
        &["carol"],
    );
}

fn jit(repo: &Repo, moto: &Moto, now: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    repo.jit(&all, &moto.env())
}

fn apply(repo: &Repo, moto: &Moto, now: &str) -> String {
    let out = jit(repo, moto, now, &["apply", "--auto-approve", "--no-push"]);
    assert!(
        out.status.success(),
        "apply failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn plan_json(repo: &Repo, moto: &Moto, now: &str) -> Value {
    let out = jit(repo, moto, now, &["plan", "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)))
}

fn settled(repo: &Repo, moto: &Moto, now: &str) {
    let out = jit(repo, moto, now, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

fn trust(moto: &Moto) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&moto.get_role_trust_policy("db-admin")).unwrap();
    doc["Statement"].as_array().unwrap().clone()
}

fn jit_statement<'a>(statements: &'a [Value], sid: &str) -> Option<&'a Value> {
    statements.iter().find(|s| s["Sid"] == sid)
}

/// The session denies in db-admin's revocation list, by Sid.
fn denies(moto: &Moto) -> Vec<Value> {
    match moto.get_role_policy("db-admin", "jit-session-revocations") {
        None => Vec::new(),
        Some(doc) => {
            let doc: Value = serde_json::from_str(&doc).unwrap();
            doc["Statement"].as_array().unwrap().clone()
        }
    }
}

/// A condition value that IAM reads as one string, written either way.
fn one(v: &Value) -> &str {
    v.as_str()
        .or_else(|| v[0].as_str())
        .unwrap_or_else(|| panic!("not a single value: {v}"))
}

fn deny_for<'a>(denies: &'a [Value], sid: &str) -> &'a Value {
    denies
        .iter()
        .find(|d| d["Sid"] == sid)
        .unwrap_or_else(|| panic!("no deny {sid} in {denies:?}"))
}

/// Class 9.9: `ops-inc-1234` and `ops-inc1234` used to share the Sid
/// `JitOpsInc1234`, so two grants overwrote one statement and the expiry of
/// one updated it instead of revoking.
#[test]
fn requests_whose_names_differ_only_in_dashes_get_their_own_trust_statements() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "ops-inc-1234", "alice", "1h");
    request_admin(&repo, "ops-inc1234", "bob", "2h");
    apply(&repo, &moto, DURING);
    let statements = trust(&moto);
    assert_eq!(statements.len(), 3, "{statements:?}");
    let alice = jit_statement(&statements, "JitOpsIncZ1234").expect("alice's statement");
    let bob = jit_statement(&statements, "JitOpsInc1234").expect("bob's statement");
    assert_eq!(
        alice["Principal"]["AWS"],
        "arn:aws:iam::123456789012:user/alice"
    );
    assert_eq!(
        bob["Principal"]["AWS"],
        "arn:aws:iam::123456789012:user/bob"
    );
    settled(&repo, &moto, DURING);

    // alice's hour ends: her statement goes, bob's stays untouched.
    apply(&repo, &moto, "2026-11-23T10:30:00Z");
    let statements = trust(&moto);
    assert!(jit_statement(&statements, "JitOpsIncZ1234").is_none());
    assert_eq!(jit_statement(&statements, "JitOpsInc1234"), Some(bob));
    let denies = denies(&moto);
    let role_id = moto.role_id("db-admin");
    let end_alice = deny_for(&denies, "JitEndOpsIncZ1234");
    let end_bob = deny_for(&denies, "JitEndOpsInc1234");
    assert_eq!(
        one(&end_alice["Condition"]["StringEquals"]["aws:userid"]),
        format!("{role_id}:alice")
    );
    assert_eq!(
        one(&end_bob["Condition"]["StringEquals"]["aws:userid"]),
        format!("{role_id}:bob")
    );
    settled(&repo, &moto, "2026-11-23T10:30:00Z");
}

/// Class 9.9: session denies were keyed by the user's name in CamelCase, so
/// ending `a-1`'s access overwrote (or wrote) `a1`'s entry.
#[test]
fn session_denies_of_users_a_1_and_a1_are_separate_entries() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "x-1", "a-1", "2h");
    request_admin(&repo, "x1", "a1", "2h");
    apply(&repo, &moto, DURING);
    // Both requests are withdrawn early, in one commit.
    repo.remove("requests/x-1.hcl");
    repo.remove("requests/x1.hcl");
    repo.commit("erin", "2026-11-23T09:40:00Z", "Withdraw", &[]);
    apply(&repo, &moto, "2026-11-23T09:45:00Z");
    let role_id = moto.role_id("db-admin");
    let denies = denies(&moto);
    for (sid, user) in [("JitRevXZ1", "a-1"), ("JitRevX1", "a1")] {
        let d = deny_for(&denies, sid);
        assert_eq!(
            one(&d["Condition"]["StringEquals"]["aws:userid"]),
            format!("{role_id}:{user}"),
            "{d}"
        );
        assert_eq!(
            one(&d["Condition"]["DateLessThan"]["aws:TokenIssueTime"]),
            "2026-11-23T09:50:00Z"
        );
    }
}

/// Class 9.9, migration: a statement written under the old Sid is replaced by
/// the new one in the same write: no revoke, no session deny of live access.
#[test]
fn statements_under_the_old_sid_scheme_are_migrated_without_a_revoke() {
    let old = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Sid":"JitOpsInc1234","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-23T09:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-11-23T10:00:00Z"},"StringEquals":{"sts:RoleSessionName":"alice"}}}]}"#;
    let (repo, moto) = setup(old);
    request_admin(&repo, "ops-inc-1234", "alice", "1h");
    let plan = plan_json(&repo, &moto, DURING);
    let actions = plan["actions"].as_array().unwrap();
    assert!(
        actions.iter().all(|a| a["action"] != "revoke"),
        "{actions:#?}"
    );
    let migrate = actions
        .iter()
        .find(|a| a["request"] == "ops-inc-1234" && a["iam"]["target"]["kind"] == "trust_statement")
        .unwrap_or_else(|| panic!("{actions:#?}"));
    assert!(
        migrate["action"] == "update"
            && migrate["detail"]
                .as_str()
                .unwrap()
                .contains("JitOpsInc1234 -> JitOpsIncZ1234"),
        "{migrate}"
    );
    assert_eq!(migrate["iam"]["replaces"]["sid"], "JitOpsInc1234");
    apply(&repo, &moto, DURING);
    let sids: Vec<String> = trust(&moto)
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sids, ["Ec2", "JitOpsIncZ1234"]);
    let denies = denies(&moto);
    assert!(
        denies
            .iter()
            .all(|d| !d["Sid"].as_str().unwrap().starts_with("JitRev")),
        "live sessions are not denied: {denies:?}"
    );
    settled(&repo, &moto, DURING);
}

/// Class 9.10: a session assumed just before the window's end lived on for
/// the role's session duration. The grant itself now writes the deny that
/// ends it at the end, and it is pruned once no session can be that old.
#[test]
fn a_grant_writes_the_deny_that_ends_its_sessions_at_the_windows_end() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "alice-admin", "alice", "1h");
    let out = jit(&repo, &moto, DURING, &["plan"]);
    assert!(
        stdout(&out).contains("jit-session-revocations on role/db-admin"),
        "{}",
        stdout(&out)
    );
    apply(&repo, &moto, DURING);
    let role_id = moto.role_id("db-admin");
    let denies = denies(&moto);
    assert_eq!(denies.len(), 1, "{denies:?}");
    let d = &denies[0];
    assert_eq!(d["Sid"], "JitEndAliceAdmin");
    assert_eq!(d["Effect"], "Deny");
    assert_eq!(one(&d["Action"]), "*");
    assert_eq!(one(&d["Resource"]), "*");
    let c = &d["Condition"];
    assert_eq!(
        one(&c["StringEquals"]["aws:userid"]),
        format!("{role_id}:alice")
    );
    assert_eq!(
        one(&c["DateLessThan"]["aws:TokenIssueTime"]),
        "2026-11-23T10:00:00Z"
    );
    assert_eq!(
        one(&c["DateGreaterThan"]["aws:CurrentTime"]),
        "2026-11-23T10:00:00Z"
    );
    settled(&repo, &moto, DURING);

    // Expiry revokes the statement and keeps the deny ...
    apply(&repo, &moto, "2026-11-23T10:30:00Z");
    assert_eq!(denies_len(&moto), 1);
    settled(&repo, &moto, "2026-11-23T21:59:00Z");
    // ... until no session issued before 10:00 can be alive (12h, IAM's cap).
    let plan = plan_json(&repo, &moto, "2026-11-23T22:00:00Z");
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["detail"].as_str().unwrap().contains("prune 1 entry")),
        "{plan:#}"
    );
    apply(&repo, &moto, "2026-11-23T22:00:00Z");
    assert_eq!(
        moto.get_role_policy("db-admin", "jit-session-revocations"),
        None
    );
    settled(&repo, &moto, "2026-11-23T22:00:00Z");
}

fn denies_len(moto: &Moto) -> usize {
    denies(moto).len()
}

/// Class 9.11: `jit revoke` denied sessions issued before the time it
/// started, and removed the trust statement only later. Now the deny covers
/// sessions issued up to the plan's now plus a 5-minute margin, and a plan
/// applied too late to keep that promise is refused.
#[test]
fn early_revocation_denies_sessions_issued_up_to_now_plus_the_margin() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "alice-admin", "alice", "2h");
    apply(&repo, &moto, DURING);
    let out = jit(
        &repo,
        &moto,
        "2026-11-23T09:40:00Z",
        &["revoke", "alice-admin", "--reason", "INC over", "--no-push"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(jit_statement(&trust(&moto), "JitAliceAdmin").is_none());
    let role_id = moto.role_id("db-admin");
    let denies = denies(&moto);
    let d = deny_for(&denies, "JitRevAliceAdmin");
    assert_eq!(
        one(&d["Condition"]["StringEquals"]["aws:userid"]),
        format!("{role_id}:alice")
    );
    assert_eq!(
        one(&d["Condition"]["DateLessThan"]["aws:TokenIssueTime"]),
        "2026-11-23T09:45:00Z"
    );
    assert!(
        d["Condition"].get("DateGreaterThan").is_none(),
        "applies at once: {d}"
    );
    settled(&repo, &moto, "2026-11-23T09:41:00Z");
}

#[test]
fn a_saved_plan_with_an_early_revocation_is_refused_when_applied_late() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "alice-admin", "alice", "2h");
    apply(&repo, &moto, DURING);
    repo.remove("requests/alice-admin.hcl");
    repo.commit("alice", "2026-11-23T09:35:00Z", "Done early", &[]);
    let file = repo.work.join("plan.json");
    let out = jit(
        &repo,
        &moto,
        "2026-11-23T09:40:00Z",
        &["plan", "--out", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains("JitRevAliceAdmin") && saved.contains("2026-11-23T09:45:00Z"),
        "the deny is in the saved plan: {saved}"
    );
    let late = jit(
        &repo,
        &moto,
        "2026-11-23T09:43:00Z",
        &["apply", "--no-push", file.to_str().unwrap()],
    );
    assert_eq!(late.status.code(), Some(1), "{}", stdout(&late));
    assert!(
        stderr(&late).contains("run jit plan again"),
        "{}",
        stderr(&late)
    );
    assert!(jit_statement(&trust(&moto), "JitAliceAdmin").is_some());
    let in_time = jit(
        &repo,
        &moto,
        "2026-11-23T09:41:00Z",
        &["apply", "--no-push", file.to_str().unwrap()],
    );
    assert!(in_time.status.success(), "{}", stderr(&in_time));
    assert!(jit_statement(&trust(&moto), "JitAliceAdmin").is_none());
    deny_for(&denies(&moto), "JitRevAliceAdmin");
}

/// Class 9.12: the deny was decided inside apply from what IAM held, so a
/// trust statement tampered to drop its session-name condition got none.
/// It is now computed from the definitions, and planned like any write.
#[test]
fn a_tampered_trust_statement_still_gets_its_session_deny_on_revoke() {
    let (repo, moto) = setup(EC2_TRUST);
    request_admin(&repo, "alice-admin", "alice", "2h");
    apply(&repo, &moto, DURING);
    let tampered = r#"{"Version":"2012-10-17","Statement":[{"Sid":"JitAliceAdmin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    moto.update_assume_role_policy("db-admin", tampered);
    let out = jit(
        &repo,
        &moto,
        "2026-11-23T09:40:00Z",
        &["revoke", "alice-admin", "--reason", "tampered", "--no-push"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("jit-session-revocations on role/db-admin"),
        "the deny is in the plan: {}",
        stdout(&out)
    );
    let role_id = moto.role_id("db-admin");
    let d = deny_for(&denies(&moto), "JitRevAliceAdmin").clone();
    // alice's sessions by the definitions, and, since the statement no
    // longer pinned a session name, every session it may have let in.
    let ids: Vec<&str> = d["Condition"]["StringLike"]["aws:userid"]
        .as_array()
        .unwrap_or_else(|| panic!("{d}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&format!("{role_id}:alice").as_str())
            && ids.contains(&format!("{role_id}:*").as_str()),
        "{d}"
    );
}

/// Class 15.2: removing jit's last statement left an empty statement list,
/// which IAM rejects: the revoke failed and access stayed.
#[test]
fn removing_the_last_trust_statement_leaves_a_policy_that_allows_nobody() {
    let only_jit = r#"{"Version":"2012-10-17","Statement":[{"Sid":"JitAliceAdmin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    let (repo, moto) = setup(only_jit);
    // No request explains the statement: it is revoked.
    let out = jit(&repo, &moto, DURING, &["plan"]);
    assert!(
        stdout(&out).contains("- revoke  alice-admin"),
        "{}",
        stdout(&out)
    );
    apply(&repo, &moto, DURING);
    let statements = trust(&moto);
    assert_eq!(statements.len(), 1, "{statements:?}");
    let nobody = &statements[0];
    assert_eq!(nobody["Effect"], "Deny");
    assert_eq!(nobody["Principal"]["AWS"], "*");
    assert!(
        nobody["Action"].to_string().contains("sts:AssumeRole"),
        "{nobody}"
    );
    settled(&repo, &moto, DURING);

    // A later grant takes the place of the stand-in.
    request_admin(&repo, "bob-admin", "bob", "1h");
    apply(&repo, &moto, DURING);
    let sids: Vec<Value> = trust(&moto).iter().map(|s| s["Sid"].clone()).collect();
    assert_eq!(sids, ["JitBobAdmin"]);
    // And its end leaves the stand-in again.
    apply(&repo, &moto, "2026-11-23T10:30:00Z");
    assert_eq!(trust(&moto).len(), 1);
    assert_eq!(trust(&moto)[0]["Effect"], "Deny");
    settled(&repo, &moto, "2026-11-23T10:30:00Z");
}

/// Class 15.3: an oversized request of alice blocked the rewrite of her
/// other, live grant when its contract gained `require_mfa`.
#[test]
fn a_live_grant_is_tightened_even_when_another_grant_does_not_fit() {
    let (repo, moto) = setup(EC2_TRUST);
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request db", &["bob"]);
    apply(&repo, &moto, DURING);
    let before = moto.get_user_policy("alice", "jit-alice-db").unwrap();
    assert!(!before.contains("MultiFactorAuthPresent"));

    // The owners add require_mfa; alice asks for far too much in another request.
    repo.write(
        "contracts/db.hcl",
        &CONTRACTS_HCL.replacen(
            "  require_reason   = true\n",
            "  require_reason   = true\n  require_mfa      = true\n",
            1,
        ),
    );
    repo.commit(
        "erin",
        "2026-11-23T09:35:00Z",
        "MFA for db-read",
        &["frank"],
    );
    let resources: Vec<String> = (0..60)
        .map(|i| format!("\"arn:aws:rds:us-east-1:123456789012:db:prod-shard-{i:03}\""))
        .collect();
    repo.write(
        "requests/alice-big.hcl",
        &format!(
            "request \"alice-big\" {{\n  requester = \"alice\"\n  contract  = \"db-read\"\n  duration  = \"1h\"\n  reason    = \"INC-2\"\n  resources = [{}]\n}}\n",
            resources.join(", ")
        ),
    );
    repo.commit("alice", "2026-11-23T09:36:00Z", "Big request", &["bob"]);
    let out = jit(
        &repo,
        &moto,
        "2026-11-23T09:40:00Z",
        &["apply", "--auto-approve", "--no-push"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("alice-big: inline policies of user/alice"),
        "{}",
        stderr(&out)
    );
    let after = moto.get_user_policy("alice", "jit-alice-db").unwrap();
    assert!(after.contains("MultiFactorAuthPresent"), "{after}");
    assert_eq!(moto.list_user_policies("alice"), ["jit-alice-db"]);
}

/// Apply writes in parallel, but every trust statement is a read-edit-write
/// of its role's whole trust policy: writes to one role go one after the
/// other, so parallel grants and revokes never lose each other's statement.
#[test]
fn parallel_writes_to_one_role_never_lose_a_trust_statement() {
    let (repo, moto) = setup(EC2_TRUST);
    // As many as the 2,048-character trust policy quota holds.
    let users = ["alice", "bob", "frank", "mallory", "a-1", "a1"];
    for (i, user) in users.iter().enumerate() {
        request_admin(&repo, &format!("ops-{i}"), user, "1h");
    }
    let out = jit(
        &repo,
        &moto,
        DURING,
        &[
            "apply",
            "--auto-approve",
            "--no-push",
            "--concurrency",
            "10",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let statements = trust(&moto);
    for i in 0..users.len() {
        let sid = format!("JitOpsZ{i}");
        assert!(
            jit_statement(&statements, &sid).is_some(),
            "{sid} lost in {statements:?}"
        );
    }
    settled(&repo, &moto, DURING);

    // All end together: every statement goes, the EC2 one stays.
    apply(&repo, &moto, "2026-11-23T10:30:00Z");
    let statements = trust(&moto);
    assert_eq!(statements.len(), 1, "{statements:?}");
    assert_eq!(statements[0]["Sid"], "Ec2");
    settled(&repo, &moto, "2026-11-23T10:30:00Z");
}
