//! Many accounts on one moto_server: each account is reached through STS
//! AssumeRole (moto gives every account id its own IAM), accounts are read
//! concurrently, an account jit cannot read is reported while the others
//! converge, and `--account` restricts a run to some accounts.

mod common;

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

/// Accounts jit can read; one more (`broken`) it cannot. 19 + 1: the
/// issue's 20-account setup.
const GOOD: usize = 19;
const BROKEN_ID: &str = "999999999999";
/// A trust policy moto stores as given and jit cannot decode: reading the
/// account fails, every time, without retries or timeouts.
const BAD_ROLE: &str = "unreadable";
const GOOD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"sts:AssumeRole"}]}"#;

const DEFINED_AT: &str = "2026-11-23T05:00:00Z";
const OLD_APPROVED_AT: &str = "2026-11-23T06:00:00Z";
const APPROVED_AT: &str = "2026-11-23T09:00:00Z";
const DURING: &str = "2026-11-23T09:30:00Z";

fn id(i: usize) -> String {
    format!("1000000000{i:02}")
}

fn user(i: usize) -> String {
    format!("u{i}")
}

fn definitions() -> (String, String) {
    let mut jit = String::from(
        r#"settings {
  branch = "main"
  approval = "trailers"
  admins = ["team:security"]
  bot {
    name  = "jit"
    email = "jit@acme.example"
  }
}
"#,
    );
    let mut people = String::new();
    let accounts = (0..GOOD)
        .map(|i| (format!("acct-{i}"), id(i), user(i)))
        .chain([(
            "broken".to_string(),
            BROKEN_ID.to_string(),
            "ub".to_string(),
        )]);
    let mut eng = Vec::new();
    for (name, id, u) in accounts {
        jit.push_str(&format!(
            "\naccount \"{name}\" {{\n  id       = \"{id}\"\n  role_arn = \"arn:aws:iam::{id}:role/jit-reconciler\"\n}}\n"
        ));
        people.push_str(&format!(
            "user \"{u}\" {{\n  email = \"{u}@acme.example\"\n  aws   = \"arn:aws:iam::{id}:user/{u}\"\n}}\n"
        ));
        eng.push(format!("\"{u}\""));
    }
    for (u, i) in [("bob", id(0)), ("erin", id(0))] {
        people.push_str(&format!(
            "user \"{u}\" {{\n  email = \"{u}@acme.example\"\n  aws   = \"arn:aws:iam::{i}:user/{u}\"\n}}\n"
        ));
    }
    people.push_str(&format!(
        "\nteam \"eng\" {{ members = [{}] }}\nteam \"dba\" {{ members = [\"bob\"] }}\nteam \"security\" {{ members = [\"erin\"] }}\n",
        eng.join(", ")
    ));
    (jit, people)
}

const CONTRACT: &str = r#"contract "read" {
  role          = "rds-read"
  resources     = ["*"]
  requesters    = ["team:eng"]
  approvers     = ["team:dba"]
  min_approvals = 1
  max_duration  = "4h"
  owners        = ["team:security"]
}
"#;

/// One moto holding every account (users created in each through moto's
/// account header), an access repo with one live request per account, and
/// an expired one in acct-0 and in `broken`.
fn setup() -> (Repo, Moto) {
    let moto = Moto::start();
    for i in 0..GOOD {
        moto.account(&id(i)).create_user(&user(i));
    }
    let broken = moto.account(BROKEN_ID);
    broken.create_user("ub");
    broken.create_role(BAD_ROLE, "not json");

    let repo = Repo::empty();
    let (jit, people) = definitions();
    repo.write("jit.hcl", &jit);
    repo.write("people.hcl", &people);
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write("contracts/read.hcl", CONTRACT);
    repo.commit("erin", DEFINED_AT, "Access definitions", &[]);

    for (name, u) in [("r0-old", "u0"), ("rb-old", "ub")] {
        repo.write(
            &format!("requests/{name}.hcl"),
            &request(name, u, "read", "1h"),
        );
        repo.commit(u, OLD_APPROVED_AT, "Request read access", &["bob"]);
    }
    let live = (0..GOOD).map(|i| (format!("r{i}"), user(i)));
    for (name, u) in live.chain([("rb".to_string(), "ub".to_string())]) {
        repo.write(
            &format!("requests/{name}.hcl"),
            &request(&name, &u, "read", "2h"),
        );
        repo.commit(&u, APPROVED_AT, "Request read access", &["bob"]);
    }
    repo.push();
    (repo, moto)
}

fn jit(repo: &Repo, moto: &Moto, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--now", DURING];
    all.extend_from_slice(args);
    repo.jit(&all, &moto.env())
}

fn plan_json(repo: &Repo, moto: &Moto, extra: &[&str]) -> (Value, Option<i32>) {
    let mut args = vec!["plan", "--json"];
    args.extend_from_slice(extra);
    let out = jit(repo, moto, &args);
    let plan = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)));
    (plan, out.status.code())
}

/// (action, request, account) of every planned action, sorted.
fn actions(plan: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("request"), s("account"))
        })
        .collect();
    out.sort();
    out
}

fn errors(plan: &Value) -> Vec<String> {
    plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

fn granted(moto: &Moto, i: usize) -> bool {
    moto.account(&id(i))
        .list_user_policies(&user(i))
        .contains(&format!("jit-r{i}"))
}

fn expected_everywhere_but_broken() -> Vec<(String, String, String)> {
    let mut want: Vec<_> = (0..GOOD)
        .map(|i| ("grant".to_string(), format!("r{i}"), id(i)))
        .chain([("archive".to_string(), "r0-old".to_string(), id(0))])
        .collect();
    want.sort();
    want
}

#[test]
fn an_unreadable_account_is_reported_and_the_others_converge() {
    let (repo, moto) = setup();

    let (plan, code) = plan_json(&repo, &moto, &[]);
    assert_eq!(code, Some(1), "an unreadable account fails the run");
    let errs = errors(&plan);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with(&format!("account broken ({BROKEN_ID}): "))
            && errs[0].contains(BAD_ROLE),
        "{errs:#?}"
    );
    // Everything else is planned; nothing in the broken account, not even
    // the archive of its expired request (its IAM objects were not checked).
    assert_eq!(actions(&plan), expected_everywhere_but_broken());
    assert_eq!(plan["summary"]["grant"], GOOD);
    assert_eq!(plan["summary"]["archive"], 1);

    // One account at a time plans the same.
    let (serial, code) = plan_json(&repo, &moto, &["--parallelism", "1"]);
    assert_eq!(code, Some(1));
    assert_eq!(actions(&serial), actions(&plan));
    assert_eq!(errors(&serial), errs);

    let out = jit(&repo, &moto, &["apply", "--auto-approve"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains("account broken (999999999999)"));
    for i in 0..GOOD {
        assert!(granted(&moto, i), "r{i} granted in acct-{i}");
    }
    assert!(moto.account(BROKEN_ID).list_user_policies("ub").is_empty());
    repo.git(&["pull", "--quiet", "--ff-only", "origin", "main"]);
    assert!(
        !repo.exists("requests/r0-old.hcl"),
        "archived in a good account"
    );
    assert!(
        repo.exists("requests/rb-old.hcl"),
        "an expired request in an unreadable account is not archived"
    );

    // A re-run has nothing left to do for the readable accounts.
    let (again, code) = plan_json(&repo, &moto, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(actions(&again), vec![]);
    assert_eq!(errors(&again), errs);

    // Once the account can be read, it converges too.
    moto.account(BROKEN_ID)
        .update_assume_role_policy(BAD_ROLE, GOOD_TRUST);
    let out = jit(&repo, &moto, &["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        moto.account(BROKEN_ID).list_user_policies("ub"),
        vec!["jit-rb"]
    );
    repo.git(&["pull", "--quiet", "--ff-only", "origin", "main"]);
    assert!(!repo.exists("requests/rb-old.hcl"));
    let (done, code) = plan_json(&repo, &moto, &[]);
    assert_eq!(
        (actions(&done), errors(&done), code),
        (vec![], vec![], Some(0))
    );
}

#[test]
fn account_restricts_a_run_to_the_named_accounts() {
    let (repo, moto) = setup();

    // The broken account is not in this shard: the run succeeds.
    let shard = ["--account", "acct-0", "--account", "acct-2"];
    let (plan, code) = plan_json(&repo, &moto, &shard);
    assert_eq!(code, Some(0), "{plan:#}");
    let mut want = vec![
        ("archive".to_string(), "r0-old".to_string(), id(0)),
        ("grant".to_string(), "r0".to_string(), id(0)),
        ("grant".to_string(), "r2".to_string(), id(2)),
    ];
    want.sort();
    assert_eq!(actions(&plan), want);
    assert_eq!(errors(&plan), Vec::<String>::new());

    let mut args = vec!["apply", "--auto-approve", "--parallelism", "1"];
    args.extend_from_slice(&shard);
    let out = jit(&repo, &moto, &args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let granted_now: Vec<usize> = (0..GOOD).filter(|&i| granted(&moto, i)).collect();
    assert_eq!(granted_now, vec![0, 2]);
    repo.git(&["pull", "--quiet", "--ff-only", "origin", "main"]);
    assert!(!repo.exists("requests/r0-old.hcl"));
    assert!(
        repo.exists("requests/rb-old.hcl"),
        "other accounts are left alone"
    );

    // Another shard picks up its own accounts only.
    let out = jit(
        &repo,
        &moto,
        &["apply", "--auto-approve", "--account", "acct-1"],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let granted_now: Vec<usize> = (0..GOOD).filter(|&i| granted(&moto, i)).collect();
    assert_eq!(granted_now, vec![0, 1, 2]);

    // A saved plan of a shard is applied by the same shard; applied by a
    // run over every account it is not the plan jit derives, and refused.
    let file = repo.work.join("../acct-3.plan");
    let file = file.to_str().unwrap();
    let out = jit(
        &repo,
        &moto,
        &["plan", "--account", "acct-3", "--out", file],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = jit(&repo, &moto, &["apply", file]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!granted(&moto, 3), "a refused plan file applies nothing");
    let out = jit(&repo, &moto, &["apply", file, "--account", "acct-3"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let granted_now: Vec<usize> = (0..GOOD).filter(|&i| granted(&moto, i)).collect();
    assert_eq!(granted_now, vec![0, 1, 2, 3]);

    // The broken account alone fails alone.
    let (plan, code) = plan_json(&repo, &moto, &["--account", "broken"]);
    assert_eq!(code, Some(1));
    assert_eq!(actions(&plan), vec![]);
    assert_eq!(errors(&plan).len(), 1, "{plan:#}");

    // An account the definitions do not declare is a clear error.
    let out = jit(&repo, &moto, &["plan", "--account", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--account nosuch: no account of that name") && err.contains("acct-0"),
        "{err}"
    );

    // status shows the grants that land in the named accounts only.
    let status = |extra: &[&str]| -> (Vec<String>, Vec<String>) {
        let mut args = vec!["status", "--json"];
        args.extend_from_slice(extra);
        let out = jit(&repo, &moto, &args);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let view: Value = serde_json::from_slice(&out.stdout).unwrap();
        let names = |key: &str| -> Vec<String> {
            let mut names: Vec<String> = view[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["request"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        };
        (names("active"), names("pending"))
    };
    let (all, _) = status(&[]);
    assert_eq!(all.len(), GOOD + 1, "{all:?}");
    assert_eq!(
        status(&["--account", "acct-1"]),
        (vec!["r1".into()], vec![])
    );
    assert_eq!(
        status(&["--account", "broken"]),
        (vec!["rb".into()], vec!["rb-old".into()])
    );

    // A command that covers every account refuses --account, never ignores it.
    for command in [
        &["audit"][..],
        &["revoke", "r1", "--reason", "x"],
        &["validate"],
    ] {
        let mut args = command.to_vec();
        args.extend_from_slice(&["--account", "acct-1"]);
        let out = jit(&repo, &moto, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("`jit {}` covers every account", command[0])),
            "{err}"
        );
    }
    assert!(granted(&moto, 1), "the refused revoke changed nothing");
}
