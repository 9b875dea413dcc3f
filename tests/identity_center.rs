//! mode = "identity_center" end to end: the real binary, a real git repo, and
//! IAM Identity Center + Identity Store on ONE shared moto_server. Every test
//! has an account of its own there (jit reaches it through AssumeRole; moto
//! gives each account its own instance).

mod common;
#[path = "common/sso.rs"]
mod sso_api;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;
use sso_api::Sso;

static MOTO: LazyLock<Moto> = LazyLock::new(Moto::start);
static NEXT_ACCOUNT: AtomicUsize = AtomicUsize::new(1);

const DEFINED_AT: &str = "2026-11-23T08:00:00Z";
const APPROVED_AT: &str = "2026-11-23T09:00:00Z";
const DURING: &str = "2026-11-23T09:30:00Z";
const AFTER: &str = "2026-11-23T11:05:00Z";

const ROLES: &str = r#"role "s3-read" {
  statement {
    actions   = ["s3:GetObject"]
    resources = []
  }
}
"#;

/// One test's world: the account grants land in (the instance is in
/// another, `mgmt`), the instance, the repo.
struct World {
    account: String,
    instance: String,
    store: String,
    sso: Sso,
    repo: Repo,
    /// Identity Store ids by UserName.
    alice_id: String,
}

fn jit_hcl(mgmt: &str, account: &str, instance: &str, store: &str, extra_settings: &str) -> String {
    format!(
        r#"settings {{
  branch = "main"
  approval = "trailers"
  admins = ["team:security"]
  bot {{
    name  = "jit"
    email = "jit@acme.example"
  }}
{extra_settings}}}

account "mgmt" {{
  id       = "{mgmt}"
  role_arn = "arn:aws:iam::{mgmt}:role/jit-reconciler"
}}

account "dev" {{
  id       = "{account}"
  role_arn = "arn:aws:iam::{account}:role/jit-reconciler"
}}

identity_center {{
  instance_arn      = "{instance}"
  identity_store_id = "{store}"
  region            = "us-east-1"
  account           = "mgmt"
}}
"#
    )
}

fn people(account: &str) -> String {
    format!(
        r#"user "alice" {{
  email = "alice@acme.example"
  sso   = "alice@acme.example"
}}
user "dave" {{
  email = "dave@acme.example"
  sso   = "dave@acme.example"
}}
user "bob" {{
  email = "bob@acme.example"
  aws   = "arn:aws:iam::{account}:user/bob"
}}
user "erin" {{
  email = "erin@acme.example"
  aws   = "arn:aws:iam::{account}:user/erin"
}}
team "eng" {{ members = ["alice", "dave"] }}
team "dba" {{ members = ["bob"] }}
team "security" {{ members = ["erin"] }}
"#
    )
}

fn contract(account: &str) -> String {
    format!(
        r#"contract "data-read" {{
  role          = "s3-read"
  resources     = ["arn:aws:s3:::data-{account}-*"]
  requesters    = ["team:eng"]
  approvers     = ["team:dba"]
  max_duration  = "4h"
  mode          = "identity_center"
  account       = "dev"
  owners        = ["team:security"]
}}
"#
    )
}

/// A fresh account with alice in its Identity Store, and the definitions
/// (with `extra_settings` inside the settings block) committed as the root.
fn world_with(extra_settings: &str) -> World {
    let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
    let base = 2 * (n + std::process::id() as usize % 1000 * 1000);
    let (mgmt, account) = (format!("3{base:011}"), format!("3{:011}", base + 1));
    let sso = Sso::new(&MOTO.endpoint(), &mgmt);
    let (instance, store) = sso.instance();
    let alice_id = sso.create_user(&store, "alice@acme.example");
    let repo = Repo::empty();
    repo.write(
        "jit.hcl",
        &jit_hcl(&mgmt, &account, &instance, &store, extra_settings),
    );
    repo.write("people.hcl", &people(&mgmt));
    repo.write("roles/s3-read.hcl", ROLES);
    repo.write("contracts/data-read.hcl", &contract(&account));
    repo.commit("erin", DEFINED_AT, "Access definitions", &[]);
    World {
        account,
        instance,
        store,
        sso,
        repo,
        alice_id,
    }
}

fn world() -> World {
    world_with("")
}

impl World {
    fn request(&self, name: &str, requester: &str, duration: &str) {
        self.repo.write(
            &format!("requests/{name}.hcl"),
            &request(name, requester, "data-read", duration),
        );
        self.repo
            .commit(requester, APPROVED_AT, "Request data access", &["bob"]);
    }

    fn jit(&self, now: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--now", now];
        all.extend_from_slice(args);
        self.repo.jit(&all, &MOTO.env())
    }

    fn plan(&self, now: &str) -> (Value, Option<i32>) {
        let out = self.jit(now, &["plan", "--json"]);
        let plan = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)));
        (plan, out.status.code())
    }

    fn apply(&self, now: &str) -> std::process::Output {
        let out = self.jit(now, &["apply", "--auto-approve", "--no-push"]);
        assert!(
            out.status.success(),
            "apply failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        out
    }

    fn arn(&self, name: &str) -> Option<String> {
        self.sso.arn_of(&self.instance, name)
    }

    fn names(&self) -> Vec<String> {
        self.sso
            .permission_sets(&self.instance)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }
}

/// (action, request, target) of every planned action.
fn actions(plan: &Value) -> Vec<(String, String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("request"), s("target"))
        })
        .collect()
}

fn act(a: &str, r: &str, t: &str) -> (String, String, String) {
    (a.into(), r.into(), t.into())
}

fn errors(plan: &Value) -> Vec<String> {
    plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn grant_is_a_permission_set_assigned_in_the_account_and_expiry_removes_it() {
    let w = world();
    w.request("alice-data", "alice", "2h");

    let out = w.jit(DURING, &["plan"]);
    let text = stdout(&out);
    let principal = format!("sso:{}:user/alice@acme.example", w.account);
    assert!(
        text.contains(&format!(
            "+ grant   alice-data  {principal}  s3-read  until 2026-11-23T11:00:00Z"
        )),
        "{text}{}",
        stderr(&out)
    );
    let (plan, _) = w.plan(DURING);
    assert_eq!(
        actions(&plan),
        [act("grant", "alice-data", "permission set jit-alice-data")]
    );
    assert_eq!(plan["actions"][0]["account"], w.account.as_str());
    // Plan reads Identity Center once, by pages: an IAM page per account,
    // the list of permission sets (none yet) and one GetUserId.
    assert_eq!(plan["stats"]["iam_calls"], 4, "{}", plan["stats"]);

    // A plan file is re-derived, and applied.
    let file = w.repo.work.join("plan.json");
    let out = w.jit(DURING, &["plan", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.jit(DURING, &["apply", file.to_str().unwrap(), "--no-push"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let arn = w.arn("jit-alice-data").expect("permission set created");
    let ps = w.sso.describe(&w.instance, &arn);
    assert_eq!(ps["SessionDuration"], "PT2H", "the window's length");
    let policy = w
        .sso
        .inline_policy(&w.instance, &arn)
        .expect("inline policy");
    let st = &policy["Statement"][0];
    assert_eq!(st["Action"], serde_json::json!(["s3:GetObject"]));
    assert_eq!(
        st["Resource"],
        serde_json::json!([format!("arn:aws:s3:::data-{}-*", w.account)])
    );
    assert_eq!(
        st["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
        "2026-11-23T09:00:00Z"
    );
    assert_eq!(
        st["Condition"]["DateLessThan"]["aws:CurrentTime"],
        "2026-11-23T11:00:00Z"
    );
    assert_eq!(
        w.sso.assignments(&w.instance, &arn, &w.account),
        [w.alice_id.as_str()]
    );
    // Provisioned (moto lists the caller's account rather than the target
    // one, so only that it is, not where).
    assert!(!w.sso.provisioned_accounts(&w.instance, &arn).is_empty());

    // Converged: nothing more to do.
    let again = w.jit(DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        stdout(&again),
        stderr(&again)
    );

    // status names the Identity Store user and account.
    let status = w.repo.status(DURING);
    assert_eq!(status["active"][0]["principal"], principal.as_str());

    // After the window: audit --verify sees the permission set outlive it.
    let verify = w.jit(AFTER, &["audit", "--verify"]);
    assert!(
        !verify.status.success() && stdout(&verify).contains("jit-alice-data"),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    let (plan, _) = w.plan(AFTER);
    assert_eq!(
        actions(&plan),
        [
            act("revoke", "alice-data", "permission set jit-alice-data"),
            act(
                "archive",
                "alice-data",
                "requests/alice-data.hcl -> archive/2026/11/alice-data.hcl"
            ),
        ]
    );
    w.apply(AFTER);
    assert_eq!(w.arn("jit-alice-data"), None, "permission set deleted");
    assert!(
        w.sso.assignments(&w.instance, &arn, &w.account).is_empty(),
        "assignment deleted"
    );
    let message = w.repo.git(&["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!("Jit-Principal: {principal}"))
            && message.contains("Jit-Outcome: expired"),
        "{message}"
    );
    let verify = w.jit(AFTER, &["audit", "--verify"]);
    assert!(
        verify.status.success(),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
}

#[test]
fn drift_in_policy_session_assignments_and_managed_policies_is_repaired() {
    let w = world();
    w.request("alice-data", "alice", "3h");
    w.apply(DURING);
    let arn = w.arn("jit-alice-data").unwrap();
    let carol = w.sso.create_user(&w.store, "carol@acme.example");

    // Someone widens the grant four ways.
    let mut policy = w.sso.inline_policy(&w.instance, &arn).unwrap();
    policy["Statement"][0]["Action"] = serde_json::json!(["s3:*"]);
    w.sso.put_inline_policy(&w.instance, &arn, &policy);
    w.sso.set_session_duration(&w.instance, &arn, "PT12H");
    w.sso.assign(&w.instance, &arn, &w.account, &carol);
    w.sso.attach_managed_policy(
        &w.instance,
        &arn,
        "arn:aws:iam::aws:policy/AdministratorAccess",
    );

    let (plan, _) = w.plan(DURING);
    assert_eq!(
        actions(&plan),
        [act("update", "alice-data", "permission set jit-alice-data")]
    );
    let detail = plan["actions"][0]["detail"].as_str().unwrap();
    for what in [
        "Action",
        "Assignments",
        "ManagedPolicies",
        "SessionDuration",
    ] {
        assert!(detail.contains(what), "{detail}");
    }
    w.apply(DURING);
    let policy = w.sso.inline_policy(&w.instance, &arn).unwrap();
    assert_eq!(
        policy["Statement"][0]["Action"],
        serde_json::json!(["s3:GetObject"])
    );
    assert_eq!(w.sso.describe(&w.instance, &arn)["SessionDuration"], "PT3H");
    assert_eq!(
        w.sso.assignments(&w.instance, &arn, &w.account),
        [w.alice_id.as_str()]
    );
    assert!(w.sso.managed_policies(&w.instance, &arn).is_empty());
    let again = w.jit(DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));

    // The assignment removed by hand is put back.
    w.sso.call(
        "sso",
        "SWBExternalService.DeleteAccountAssignment",
        serde_json::json!({"InstanceArn": w.instance, "PermissionSetArn": arn, "TargetId": w.account,
            "TargetType": "AWS_ACCOUNT", "PrincipalType": "USER", "PrincipalId": w.alice_id}),
    )
    .unwrap();
    w.apply(DURING);
    assert_eq!(
        w.sso.assignments(&w.instance, &arn, &w.account),
        [w.alice_id.as_str()]
    );
}

#[test]
fn a_missing_identity_store_user_is_an_error_for_that_grant_only() {
    let w = world();
    w.request("alice-data", "alice", "1h");
    w.request("dave-data", "dave", "1h");

    let (plan, code) = w.plan(DURING);
    assert_eq!(code, Some(1), "an error fails the run");
    assert_eq!(
        actions(&plan),
        [act("grant", "alice-data", "permission set jit-alice-data")]
    );
    let errs = errors(&plan);
    assert!(
        errs.iter().any(|e| e.starts_with("dave-data: ")
            && e.contains("Identity Store user `dave@acme.example`")),
        "{errs:#?}"
    );
    let out = w.jit(DURING, &["apply", "--auto-approve", "--no-push"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(w.names(), ["jit-alice-data"]);
}

#[test]
fn two_grants_for_one_user_are_separate_permission_sets() {
    let w = world();
    w.request("alice-one", "alice", "2h");
    w.request("alice-two", "alice", "2h");
    w.apply(DURING);
    assert_eq!(w.names(), ["jit-alice-one", "jit-alice-two"]);

    let out = w.jit(
        DURING,
        &["revoke", "alice-one", "--reason", "done early", "--no-push"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(w.names(), ["jit-alice-two"], "ending one leaves the other");
    let arn = w.arn("jit-alice-two").unwrap();
    assert_eq!(
        w.sso.assignments(&w.instance, &arn, &w.account),
        [w.alice_id.as_str()]
    );
    let again = w.jit(DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        stdout(&again),
        stderr(&again)
    );
}

#[test]
fn permission_sets_jit_did_not_create_are_left_alone_and_unknown_jit_ones_revoked() {
    let w = world();
    let admins = w.sso.create_permission_set(&w.instance, "Admins");
    w.sso.assign(&w.instance, &admins, &w.account, &w.alice_id);
    let orphan = w.sso.create_permission_set(&w.instance, "jit-nobody-asked");
    w.sso.assign(&w.instance, &orphan, &w.account, &w.alice_id);
    w.sso
        .call(
            "sso",
            "SWBExternalService.ProvisionPermissionSet",
            serde_json::json!({"InstanceArn": w.instance, "PermissionSetArn": orphan,
            "TargetType": "AWS_ACCOUNT", "TargetId": w.account}),
        )
        .unwrap();

    let (plan, _) = w.plan(DURING);
    assert_eq!(
        actions(&plan),
        [act(
            "revoke",
            "nobody-asked",
            "permission set jit-nobody-asked"
        )]
    );
    w.apply(DURING);
    assert_eq!(w.names(), ["Admins"]);
    assert_eq!(
        w.sso.assignments(&w.instance, &admins, &w.account),
        [w.alice_id.as_str()]
    );
    let again = w.jit(DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn long_request_names_get_distinct_short_permission_set_names() {
    let w = world();
    let a = "alice-platform-oncall-incident-1234";
    let b = "alice-platform-oncall-incident-1235";
    w.request(a, "alice", "1h");
    w.request(b, "alice", "1h");
    w.apply(DURING);
    let names = w.names();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_ne!(names[0], names[1]);
    for n in &names {
        assert!(n.len() <= 32 && n.starts_with("jit-alice-platfor"), "{n}");
    }
    let again = w.jit(DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn quotas_are_plan_errors_and_nothing_is_written() {
    // The instance holds two permission sets and may hold two.
    let w = world_with("  quotas {\n    permission_sets = 2\n  }\n");
    w.sso.create_permission_set(&w.instance, "Admins");
    w.sso.create_permission_set(&w.instance, "ReadOnly");
    w.request("alice-data", "alice", "1h");
    let (plan, code) = w.plan(DURING);
    assert_eq!(code, Some(1));
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    let errs = errors(&plan);
    assert!(
        errs.iter().any(|e| e.starts_with("alice-data: ")
            && e.contains("over its quota of 2 (settings.quotas.permission_sets)")),
        "{errs:#?}"
    );

    // An inline policy over the role inline quota.
    let w = world_with("  quotas {\n    role_inline = 100\n  }\n");
    w.request("alice-data", "alice", "1h");
    let (plan, code) = w.plan(DURING);
    assert_eq!(code, Some(1));
    assert!(actions(&plan).is_empty());
    let errs = errors(&plan);
    assert!(
        errs.iter().any(|e| e
            .starts_with("alice-data: the inline policy of permission set jit-alice-data")
            && e.contains("settings.quotas.role_inline")),
        "{errs:#?}"
    );
    let out = w.jit(DURING, &["apply", "--auto-approve", "--no-push"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(w.names().is_empty(), "never half-applied");
}

#[test]
fn the_identity_center_block_is_admin_guarded_and_fails_closed() {
    let w = world();
    w.request("alice-data", "alice", "3h");
    w.apply(DURING);
    let jit_hcl = w.repo.read("jit.hcl");

    // Pointing jit at another instance is a settings change: not in force
    // until the admins approve it.
    w.repo.write(
        "jit.hcl",
        &jit_hcl.replace(&w.instance, "arn:aws:sso:::instance/ssoins-elsewhere0000"),
    );
    w.repo
        .commit("alice", "2026-11-23T09:40:00Z", "Move instance", &["bob"]);
    let (plan, _) = w.plan("2026-11-23T09:45:00Z");
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    assert!(
        plan["unapproved"][0]
            .as_str()
            .is_some_and(|u| u.starts_with("settings changed in ")),
        "{}",
        plan["unapproved"]
    );

    // Reverted; then an approved block jit cannot fully read grants
    // nothing: the live grant is revoked, and the error names the block.
    w.repo.write("jit.hcl", &jit_hcl);
    w.repo
        .commit("alice", "2026-11-23T09:46:00Z", "Revert", &[]);
    w.repo.write(
        "jit.hcl",
        &jit_hcl.replace("  region ", "  colour = \"red\"\n  region "),
    );
    w.repo
        .commit("bob", "2026-11-23T09:50:00Z", "Colour", &["erin"]);
    let (plan, code) = w.plan("2026-11-23T09:55:00Z");
    assert_eq!(code, Some(1));
    assert_eq!(
        actions(&plan),
        [act("revoke", "alice-data", "permission set jit-alice-data")]
    );
    assert!(
        errors(&plan)
            .iter()
            .any(|e| e.contains("the identity_center block")
                && e.contains("unknown attribute `colour`")),
        "{:#?}",
        errors(&plan)
    );
}
