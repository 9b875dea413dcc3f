//! Every attack of the security reviews in one access repo: `jit plan`
//! keeps running, grants exactly the legitimate requests, and `jit apply`
//! leaves IAM holding only those.

mod common;

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

const NOW: &str = "2026-11-23T09:30:00Z";

fn people_with_mallory_admin() -> String {
    PEOPLE_HCL.replace(
        r#"team "security" { members = ["erin", "frank"] }"#,
        r#"team "security" { members = ["erin", "frank", "mallory"] }"#,
    )
}

/// A repo where alice's and carol's requests are legitimate and everything
/// else is an attack.
fn attacked_repo() -> Repo {
    let repo = Repo::standard();

    // Legitimate: alice, approved by bob; carol, approved by bob.
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", "2026-11-23T08:05:00Z", "Request", &["bob"]);
    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-read", "2h"),
    );
    repo.commit("carol", "2026-11-23T08:06:00Z", "Request", &["bob"]);

    // Trust anchor takeover: mallory makes herself admin, anchors there.
    repo.write("people.hcl", &people_with_mallory_admin());
    let sneaky = repo.commit("mallory", "2026-11-23T08:10:00Z", "Join", &[]);
    repo.write(
        "jit.hcl",
        &JIT_HCL.replace(
            "  admins = [\"team:security\"]",
            &format!("  admins = [\"team:security\"]\n  trust_anchor = \"{sneaky}\""),
        ),
    );
    repo.commit("mallory", "2026-11-23T08:11:00Z", "Anchor", &["mallory"]);

    // Approval laundering: an unapproved widening, then an approved edit.
    let wide = CONTRACTS_HCL.replacen("db:prod-*", "db:*", 1);
    repo.write("contracts/db.hcl", &wide);
    repo.commit("mallory", "2026-11-23T08:12:00Z", "Widen", &[]);
    repo.write(
        "contracts/db.hcl",
        &wide.replacen(
            "require_reason   = true",
            "require_reason   = true\n  description      = \"db\"",
            1,
        ),
    );
    repo.commit("frank", "2026-11-23T08:13:00Z", "Describe", &["erin"]);

    // Wildcard widening and a request outside the contract (a sleeper).
    let wide_request = request("mallory-db", "mallory", "db-read", "2h").replace(
        "}\n",
        "  resources = [\"arn:aws:rds:us-east-1:123456789012:db:*\"]\n}\n",
    );
    repo.write("requests/mallory-db.hcl", &wide_request);
    repo.commit("mallory", "2026-11-23T08:14:00Z", "Wide", &["bob"]);

    // Trailers above a `---` line.
    repo.write(
        "requests/mallory-dash.hcl",
        &request("mallory-dash", "mallory", "db-read", "1h"),
    );
    repo.commit_message(
        "mallory",
        "2026-11-23T08:15:00Z",
        "Request\n\nApproved-by: Bob <bob@acme.example>\n---\n\nnotes\n",
    );

    // Request laundering: unapproved, then an approved one-line fix.
    repo.write(
        "requests/mallory-fix.hcl",
        &request("mallory-fix", "mallory", "db-read", "1h"),
    );
    repo.commit("mallory", "2026-11-23T08:16:00Z", "Request", &[]);
    repo.write(
        "requests/mallory-fix.hcl",
        &request("mallory-fix", "mallory", "db-read", "1h").replace("INC-1", "INC-2"),
    );
    repo.commit("mallory", "2026-11-23T08:17:00Z", "Fix", &["bob"]);

    // Stray files claiming alice's name, a gitlink and a symlink.
    let text = request("alice-db", "alice", "db-read", "4h");
    repo.write("requests/zz/alice-db.hcl", &text);
    repo.write("requests/aaa.hcl", &text);
    let head = repo.head();
    repo.git(&["add", "-A"]);
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{head},requests/sub.hcl"),
    ]);
    repo.git_as(
        "mallory",
        "2026-11-23T08:18:00Z",
        &["commit", "--quiet", "-m", "Strays"],
    );
    std::os::unix::fs::symlink("../people.hcl", repo.work.join("contracts/link.hcl")).unwrap();
    repo.commit("mallory", "2026-11-23T08:19:00Z", "Link", &[]);

    // A branch redirect to a branch that does not exist.
    let jit_hcl = repo.read("jit.hcl");
    repo.write(
        "jit.hcl",
        &jit_hcl.replace("branch = \"main\"", "branch = \"mallory\""),
    );
    repo.commit("mallory", "2026-11-23T08:20:00Z", "Redirect", &[]);
    repo.push();
    repo
}

#[test]
fn a_repo_with_every_attack_grants_only_the_legitimate_requests() {
    let moto = Moto::start();
    for u in ["alice", "bob", "carol", "erin", "frank", "mallory"] {
        moto.create_user(u);
    }
    let repo = attacked_repo();
    let out = repo.jit(&["--now", NOW, "plan", "--json"], &moto.env());
    let plan: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)));
    let mut grants: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "grant")
        .map(|a| a["request"].as_str().unwrap())
        .collect();
    grants.sort();
    assert_eq!(grants, ["alice-db", "carol-db"], "{plan:#}");
    // Invalid files make the run fail at the end, but never stop it.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let out = repo.jit(&["--now", NOW, "apply", "--auto-approve"], &moto.env());
    assert!(
        stdout(&out).contains("alice-db"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let mut holders: Vec<String> = ["alice", "bob", "carol", "erin", "frank", "mallory"]
        .iter()
        .flat_map(|u| {
            moto.list_user_policies(u)
                .into_iter()
                .map(move |p| format!("{u}:{p}"))
        })
        .collect();
    holders.sort();
    assert_eq!(holders, ["alice:jit-alice-db", "carol:jit-carol-db"]);
    let alice = moto.get_user_policy("alice", "jit-alice-db").unwrap();
    assert!(
        alice.contains("db:prod-*"),
        "the widening is not in force: {alice}"
    );
}
