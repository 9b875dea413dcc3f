//! IAM objects in the account that are malformed or not jit's (issue 11.4):
//! odd `jit-*` policy names and documents, trust policies with foreign and
//! jit-looking Sids, principals as a string or a list, Statement as an
//! object, a role named like a jit object, managed policies under other
//! paths. `plan` never fails on them and does what DESIGN §3 says: a
//! jit-owned object with no active grant is revoked, anything else is never
//! touched; `apply` converges (the next plan has no changes).
//!
//! One moto_server for the whole file; each test has an account of its own
//! (jit reaches it by AssumeRole, the test's own client by moto's
//! `x-moto-account-id` header).

mod common;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::moto::{Iam, Moto};
use common::repo::*;
use serde_json::{Value, json};

static MOTO: LazyLock<Moto> = LazyLock::new(Moto::start);
static NEXT_ACCOUNT: AtomicUsize = AtomicUsize::new(1);

const DURING: &str = "2026-11-23T09:30:00Z";

struct World {
    account: String,
    iam: Iam,
    repo: Repo,
}

/// A fresh account with users alice and bob and a role `db-admin`, and the
/// standard definitions (with an assume_role contract on db-admin) in it.
fn world(trust: &Value) -> World {
    let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
    let account = format!("4{:05}{:06}", std::process::id() % 100_000, n);
    let iam = MOTO.account(&account);
    for u in ["alice", "bob", "carol", "erin"] {
        iam.create_user(u);
    }
    iam.create_role("db-admin", &trust.to_string());
    let repo = Repo::empty();
    let jit_hcl = JIT_HCL.replace(
        "  id = \"123456789012\"\n",
        &format!(
            "  id = \"{account}\"\n  role_arn = \"arn:aws:iam::{account}:role/jit-reconciler\"\n"
        ),
    );
    assert_ne!(jit_hcl, JIT_HCL);
    repo.write("jit.hcl", &jit_hcl);
    repo.write("people.hcl", &PEOPLE_HCL.replace("123456789012", &account));
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write(
        "contracts/db.hcl",
        &format!(
            "{}\ncontract \"db-admin\" {{\n  role         = \"rds-read\"\n  resources    = [\"arn:aws:rds:us-east-1:{account}:db:prod-*\"]\n  approvers    = [\"team:dba\"]\n  max_duration = \"4h\"\n  mode         = \"assume_role\"\n  role_arn     = \"arn:aws:iam::{account}:role/db-admin\"\n  owners       = [\"team:security\"]\n}}\n",
            CONTRACTS_HCL.replace("123456789012", &account)
        ),
    );
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    World { account, iam, repo }
}

impl World {
    fn request(&self, name: &str, requester: &str, contract: &str) {
        self.repo.write(
            &format!("requests/{name}.hcl"),
            &request(name, requester, contract, "2h"),
        );
        self.repo
            .commit(requester, "2026-11-23T09:00:00Z", "Access", &["carol"]);
    }

    fn jit(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--now", DURING];
        all.extend_from_slice(args);
        self.repo.jit(&all, &MOTO.env())
    }

    fn plan(&self) -> Value {
        let out = self.jit(&["plan", "--json"]);
        assert!(
            out.status.success(),
            "plan failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)))
    }

    fn apply(&self) {
        let out = self.jit(&["apply", "--auto-approve", "--no-push"]);
        assert!(
            out.status.success(),
            "apply failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }

    fn settled(&self) {
        let out = self.jit(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "not converged:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }

    fn trust(&self) -> Value {
        serde_json::from_str(&self.iam.get_role_trust_policy("db-admin")).unwrap()
    }
}

/// (action, target) of every planned action.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_string(),
                a["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn allow(action: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": "*"})
}

/// Inline policies: `jit-` + something that is not a request name (upper
/// case, dots, nothing at all), a valid name of no request, a Statement
/// written as an object, a huge document; beside them foreign policies
/// (`JIT-…`, `keep-jit-x`). The jit-owned ones are revoked, the others
/// never touched, and the live grant of a real request is made alongside.
#[test]
fn odd_jit_inline_policies_are_revoked_and_foreign_ones_never_touched() {
    let w = world(&json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]}));
    let huge: Vec<Value> = (0..300)
        .map(|i| json!({"Sid": format!("S{i}"), "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::b/{i}")}))
        .collect();
    let owned = [
        (
            "alice",
            "jit-Not.A_Request",
            doc(json!([allow("s3:GetObject")])),
        ),
        ("alice", "jit-", doc(json!([allow("s3:PutObject")]))),
        ("alice", "jit-ghost-1", doc(allow("iam:*"))),
        ("bob", "jit-huge", doc(Value::Array(huge))),
        ("bob", "jit-alice-inc-1", doc(json!([allow("*")]))),
    ];
    let foreign = [
        ("alice", "JIT-upper", doc(json!([allow("s3:GetObject")]))),
        ("alice", "keep-jit-x", doc(allow("s3:GetObject"))),
        ("bob", "jitty", doc(json!([allow("s3:GetObject")]))),
    ];
    for (user, name, d) in owned.iter().chain(&foreign) {
        w.iam.put_user_policy(user, name, d);
    }
    // A role named like a jit object, with a jit-looking inline policy name
    // that is jit's (revoked) and a foreign one (kept).
    w.iam.create_role(
        "jit-alice-inc-1",
        &doc(json!([{"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])),
    );
    w.iam.put_role_policy(
        "jit-alice-inc-1",
        "keep-me",
        &doc(json!([allow("s3:GetObject")])),
    );
    w.iam.put_role_policy(
        "jit-alice-inc-1",
        "jit-x",
        &doc(json!([allow("s3:GetObject")])),
    );
    w.request("alice-inc-1", "alice", "db-read");

    let plan = w.plan();
    let acts = actions(&plan);
    let revoked: Vec<&str> = acts
        .iter()
        .filter(|(a, _)| a == "revoke")
        .map(|(_, t)| t.as_str())
        .collect();
    for (user, name, _) in &owned {
        let target = format!("inline policy {name} on user/{user}");
        assert!(
            revoked.contains(&target.as_str()),
            "{target} is jit's and explains no active grant: revoke it\n{acts:?}"
        );
    }
    assert!(
        revoked.contains(&"inline policy jit-x on role/jit-alice-inc-1"),
        "{acts:?}"
    );
    assert!(
        acts.contains(&(
            "grant".to_string(),
            "inline policy jit-alice-inc-1 on user/alice".to_string()
        )),
        "{acts:?}"
    );
    assert_eq!(revoked.len(), owned.len() + 1, "{acts:?}");
    for (_, name, _) in &foreign {
        assert!(
            !acts.iter().any(|(_, t)| t.contains(name)),
            "{name}: {acts:?}"
        );
    }
    assert!(!acts.iter().any(|(_, t)| t.contains("keep-me")), "{acts:?}");

    w.apply();
    for (user, name, _) in &owned {
        let left = w.iam.get_user_policy(user, name);
        // bob's copy of alice's grant is a stray too: the grant is alice's.
        assert!(left.is_none(), "{user}/{name} was revoked");
    }
    for (user, name, d) in &foreign {
        let kept: Value =
            serde_json::from_str(&w.iam.get_user_policy(user, name).unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::from_str::<Value>(d).unwrap(),
            "{user}/{name} untouched"
        );
    }
    assert_eq!(w.iam.list_role_policies("jit-alice-inc-1"), ["keep-me"]);
    assert_eq!(
        w.iam.list_user_policies("alice"),
        ["JIT-upper", "jit-alice-inc-1", "keep-jit-x"]
    );
    w.settled();
}

/// Trust policies: Statement as an object, principals as a string and as a
/// list, a statement with no Sid, a foreign Sid, `Jit` alone and
/// jit-looking Sids that decode to no request. jit's statements that no
/// grant explains are removed, the others kept exactly; a grant is added
/// beside them; apply converges.
#[test]
fn trust_policies_with_foreign_and_jit_looking_sids() {
    // Statement as an object, principal as a string.
    let trust = json!({"Version": "2012-10-17", "Statement": {
        "Sid": "JitGhost", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
        "Action": "sts:AssumeRole"
    }});
    let w = world(&trust);
    let a = &w.account;
    let foreign = vec![
        json!({"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        json!({"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{a}:user/bob"), format!("arn:aws:iam::{a}:root")]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        json!({"Sid": "jitLower", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:user/carol")}, "Action": "sts:AssumeRole"}),
    ];
    // First the object form alone: plan reads it (and would revoke JitGhost).
    let plan = w.plan();
    assert!(
        actions(&plan)
            .iter()
            .any(|(act, t)| act == "revoke" && t.contains("JitGhost")),
        "{:?}",
        actions(&plan)
    );
    let mut statements = foreign.clone();
    statements.extend([
        json!({"Sid": "Jit", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:user/alice")}, "Action": "sts:AssumeRole"}),
        json!({"Sid": "JitZ9z", "Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
        json!({"Sid": "JitGhost", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:user/alice")}, "Action": "sts:AssumeRole"}),
    ]);
    w.iam
        .update_assume_role_policy("db-admin", &doc(Value::Array(statements)));
    w.request("alice-admin-1", "alice", "db-admin");

    let plan = w.plan();
    let acts = actions(&plan);
    for sid in ["Jit", "JitZ9z", "JitGhost"] {
        let target = format!("trust statement {sid} on role/db-admin");
        assert!(
            acts.contains(&("revoke".to_string(), target.clone())),
            "{target} is jit's and explains no grant: {acts:?}"
        );
    }
    assert!(
        acts.iter()
            .any(|(act, t)| act == "grant" && t.starts_with("trust statement Jit")),
        "{acts:?}"
    );
    assert!(
        acts.iter().all(|(act, t)| act == "revoke"
            || act == "grant"
            || t == "inline policy jit-session-revocations on role/db-admin"),
        "{acts:?}"
    );
    assert!(
        !acts
            .iter()
            .any(|(_, t)| t.contains("Ec2") || t.contains("jitLower")),
        "{acts:?}"
    );

    w.apply();
    let after = w.trust();
    let list = after["Statement"].as_array().unwrap();
    for f in &foreign {
        assert!(
            list.contains(f),
            "foreign statement kept as it was: {f}\n{after}"
        );
    }
    let sids: Vec<&str> = list.iter().filter_map(|s| s["Sid"].as_str()).collect();
    for gone in ["Jit", "JitZ9z", "JitGhost"] {
        assert!(!sids.contains(&gone), "{gone} removed: {sids:?}");
    }
    assert!(
        sids.iter()
            .any(|s| s.starts_with("Jit") && !["Jit", "JitZ9z", "JitGhost"].contains(s)),
        "alice's grant is a trust statement: {sids:?}"
    );
    w.settled();
}

/// Managed policies: `jit-*` under /jit/ is jit's (revoked: detached and
/// deleted, attached or not); `jit-*` under any other path, and a /jit/
/// policy not named `jit-…`, are never touched.
#[test]
fn managed_policies_under_other_paths_are_never_touched() {
    let w = world(&json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]}));
    let d = doc(json!([allow("s3:GetObject")]));
    let owned_attached = w.iam.create_policy("jit-ghost-1", "/jit/", &d);
    let owned_loose = w.iam.create_policy("jit-ghost-2", "/jit/", &d);
    let other_path = w.iam.create_policy("jit-ghost-3", "/other/", &d);
    let root_path = w.iam.create_policy("jit-ghost-4", "/", &d);
    let not_jit = w.iam.create_policy("keep-4", "/jit/", &d);
    for arn in [&owned_attached, &other_path, &root_path, &not_jit] {
        w.iam.attach_user_policy("alice", arn);
    }
    let plan = w.plan();
    let acts = actions(&plan);
    let expected = [
        "managed policy /jit/jit-ghost-1 on user/alice",
        "managed policy /jit/jit-ghost-2 (unattached)",
    ];
    assert_eq!(
        acts,
        expected.map(|t| ("revoke".to_string(), t.to_string())),
        "only jit's /jit/jit-* policies are revoked"
    );
    for name in ["jit-ghost-3", "jit-ghost-4", "keep-4"] {
        assert!(
            !acts.iter().any(|(_, t)| t.contains(name)),
            "{name}: {acts:?}"
        );
    }
    w.apply();
    assert!(w.iam.get_policy_document(&owned_attached).is_none());
    assert!(w.iam.get_policy_document(&owned_loose).is_none());
    let mut attached = w.iam.list_attached_user_policies("alice");
    attached.sort();
    let mut expected = vec![other_path.clone(), root_path.clone(), not_jit.clone()];
    expected.sort();
    assert_eq!(attached, expected);
    w.settled();
}
