//! Credentials never leave the process: with sentinel values for the AWS
//! secret key, the session token and `GITHUB_TOKEN`, and `RUST_LOG=trace`
//! (the AWS SDK's and the HTTP stack's own logs included), no output, plan
//! file, commit or ref jit writes holds any of them.

mod common;

use common::github::{FakeGithub, REPO};
use common::moto::Moto;
use common::repo::*;

const SECRET: &str = "SENTINELsecretKEY0123456789abcdefghijklmn";
const SESSION_TOKEN: &str = "SENTINELsessionTOKEN0123456789abcdefghijkl";
const GITHUB_TOKEN: &str = "ghp_SENTINELgithubTOKEN0123456789abcdef";
const DURING: &str = "2026-11-23T09:30:00Z";
const AFTER: &str = "2026-11-23T12:00:00Z";

/// moto's environment with sentinel credentials (moto accepts any) and
/// every log switched on.
fn env(moto: &Moto, gh: &FakeGithub) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_SECRET_ACCESS_KEY")
        .collect();
    env.extend(gh.env().into_iter().filter(|(k, _)| k != "GITHUB_TOKEN"));
    for (k, v) in [
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        ("RUST_LOG", "trace"),
    ] {
        env.push((k.into(), v.into()));
    }
    env
}

fn assert_clean(what: &str, text: &str) {
    for (name, secret) in [
        ("AWS secret key", SECRET),
        ("session token", SESSION_TOKEN),
        ("GitHub token", GITHUB_TOKEN),
    ] {
        assert!(
            !text.contains(secret),
            "{what} holds the {name}:\n{}",
            &text[text.find(secret).unwrap().saturating_sub(300)..]
                .chars()
                .take(600)
                .collect::<String>()
        );
    }
}

fn run(repo: &Repo, env: &[(String, String)], args: &[&str]) -> String {
    let out = repo.jit(args, env);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_clean(&format!("jit {}", args.join(" ")), &all);
    all
}

#[test]
fn no_credential_reaches_logs_plans_errors_or_commits() {
    let moto = Moto::start();
    let gh = FakeGithub::start();
    for u in ["alice", "bob", "carol", "erin"] {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request db", &["carol"]);
    repo.push();
    let env = env(&moto, &gh);

    // The trace logs are on: the SDK signed and sent requests with them.
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("plan.json");
    let plan_path = plan_file.to_str().unwrap();
    let plan = run(&repo, &env, &["--now", DURING, "plan", "--out", plan_path]);
    // The SDK's own trace logs are in the output (signing and the wire),
    // so the check below covers them too.
    assert!(
        plan.contains("aws_sigv4") && plan.contains("aws_smithy"),
        "expected the SDK's trace logs:\n{}",
        &plan[..plan.len().min(3000)]
    );
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert_clean("the plan file", &saved);
    run(&repo, &env, &["--now", DURING, "apply", plan_path]);
    run(&repo, &env, &["--now", DURING, "status"]);
    run(&repo, &env, &["--now", AFTER, "apply", "--auto-approve"]);
    run(&repo, &env, &["--now", AFTER, "audit", "--verify"]);

    // An error from IAM (a user that does not exist) and one from GitHub
    // (github mode, the fake answering 401) carry no credential either.
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "frank", "db-read", "1h"),
    );
    repo.commit("frank", "2026-11-23T11:00:00Z", "Request db", &["carol"]);
    run(
        &repo,
        &env,
        &["--now", "2026-11-23T11:30:00Z", "apply", "--auto-approve"],
    );
    let settings = repo.read("jit.hcl").replace(
        "approval = \"trailers\"",
        &format!("approval = \"github\"\n  github_repository = \"{REPO}\""),
    );
    repo.write("jit.hcl", &settings);
    repo.commit(
        "erin",
        "2026-11-23T11:40:00Z",
        "Use GitHub reviews",
        &["bob"],
    );
    gh.route(
        &format!("/repos/{REPO}/commits/"),
        401,
        &[],
        r#"{"message":"Bad credentials"}"#,
    );
    run(&repo, &env, &["--now", "2026-11-23T11:45:00Z", "plan"]);

    // Every commit, ref and object jit wrote, here and on origin.
    for git in [
        repo.git(&["log", "--all", "-p", "--format=%H%n%B"]),
        repo.origin_git(&["log", "--all", "-p"]),
    ] {
        assert_clean("git history", &git);
    }
}
