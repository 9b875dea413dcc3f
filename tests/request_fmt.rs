//! `jit request new` and `jit fmt` on real temp repos (tests/common/repo.rs's
//! standard repo, with `git config user.email alice@acme.example`: alice is
//! in team eng, which db-read allows; its approvers are team dba = bob, carol).

mod common;

use std::path::Path;

use common::repo::*;
use jit::config::{AccessRepo, parse_files};

const NOW: &str = "2026-11-23T09:00:00Z";
const ORDERS: &str = "arn:aws:rds:us-east-1:123456789012:db:prod-orders";

fn alice_repo() -> Repo {
    let repo = Repo::standard();
    repo.git(&["config", "user.email", "alice@acme.example"]);
    repo
}

fn new_request(repo: &Repo, args: &[&str]) -> std::process::Output {
    let mut all = vec!["request", "new", "--now", NOW];
    all.extend_from_slice(args);
    repo.jit(&all, &[])
}

fn request_files(repo: &Repo) -> Vec<String> {
    match std::fs::read_dir(repo.work.join("requests")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn model(dir: &Path) -> AccessRepo {
    let files = jit::worktree::read_hcl_files(dir).unwrap();
    parse_files(&files).0
}

fn assert_same_model(a: &AccessRepo, b: &AccessRepo) {
    assert_eq!(a.defs, b.defs);
    assert_eq!(a.requests, b.requests);
}

// ---------------------------------------------------------------------------
// jit request new
// ---------------------------------------------------------------------------

#[test]
fn request_new_writes_a_file_that_validate_accepts() {
    let repo = alice_repo();
    let out = new_request(
        &repo,
        &[
            "--contract",
            "db-read",
            "--duration",
            "2h",
            "--reason",
            "INC-7: slow \"orders\" queries",
            "--resource",
            ORDERS,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let name = "alice-db-read-20261123-0900";
    let path = format!("requests/{name}.hcl");
    assert_eq!(
        repo.read(&path),
        format!(
            "request \"{name}\" {{\n  requester = \"alice\"\n  contract  = \"db-read\"\n  duration  = \"2h\"\n  reason    = \"INC-7: slow \\\"orders\\\" queries\"\n  resources = [\"{ORDERS}\"]\n}}\n"
        )
    );

    let validate = repo.jit(&["validate"], &[]);
    assert!(validate.status.success(), "{}", stderr(&validate));
    assert!(
        stdout(&validate).contains("1 requests"),
        "{}",
        stdout(&validate)
    );
    let check = repo.jit(&["fmt", "--check"], &[]);
    assert!(
        !stdout(&check).contains(&path),
        "the written file is canonical: {}",
        stdout(&check)
    );

    let text = stdout(&out);
    for step in [
        format!("git switch -c request/{name}"),
        format!("git add {path}"),
        "git commit -m \"".to_string(),
        format!("git push -u origin request/{name}"),
        "needs 1 approval from team:dba (bob, carol)".to_string(),
    ] {
        assert!(text.contains(&step), "missing {step:?} in:\n{text}");
    }
}

#[test]
fn request_new_defaults_to_the_contract_duration_and_names_the_flags() {
    let repo = alice_repo();
    let out = new_request(
        &repo,
        &[
            "--contract",
            "db-auto",
            "--name",
            "quick-look",
            "--not-before",
            "2026-11-24T10:00:00+01:00",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = repo.read("requests/quick-look.hcl");
    assert!(text.contains("duration   = \"1h\""), "{text}");
    assert!(
        text.contains("not_before = \"2026-11-24T09:00:00Z\""),
        "{text}"
    );
    assert!(
        !text.contains("reason"),
        "db-auto does not require one: {text}"
    );
    assert!(
        stdout(&out).contains("auto-approved on merge"),
        "{}",
        stdout(&out)
    );
    assert!(repo.jit(&["validate"], &[]).status.success());
}

#[test]
fn request_new_takes_the_requester_from_a_flag() {
    let repo = Repo::standard(); // user.email is test@acme.example: nobody
    let out = new_request(&repo, &["--contract", "db-read", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("test@acme.example") && err.contains("--requester"),
        "{err}"
    );
    assert!(request_files(&repo).is_empty());

    let out = new_request(
        &repo,
        &[
            "--requester",
            "bob",
            "--contract",
            "db-read",
            "--reason",
            "x",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(repo.exists("requests/bob-db-read-20261123-0900.hcl"));
    // bob is a dba himself: only carol can approve.
    assert!(stdout(&out).contains("(carol)"), "{}", stdout(&out));
}

#[test]
fn request_new_refuses_an_unknown_contract() {
    let repo = alice_repo();
    let out = new_request(
        &repo,
        &["--contract", "db-write", "--reason", "x", "--name", "a"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("requests/a.hcl:3:3: error: unknown contract `db-write`")
            && err.contains("db-read"),
        "{err}"
    );
    assert!(request_files(&repo).is_empty());
}

#[test]
fn request_new_refuses_a_duration_above_the_maximum() {
    let repo = alice_repo();
    let out = new_request(
        &repo,
        &[
            "--contract",
            "db-read",
            "--reason",
            "x",
            "--duration",
            "5h",
            "--name",
            "a",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "requests/a.hcl:4:3: error: duration 5h exceeds contract `db-read` max_duration 4h"
        ),
        "{err}"
    );
    assert!(request_files(&repo).is_empty());
}

#[test]
fn request_new_refuses_a_resource_outside_the_contract() {
    let repo = alice_repo();
    let out = new_request(
        &repo,
        &[
            "--contract",
            "db-read",
            "--reason",
            "x",
            "--resource",
            ORDERS,
            "--resource",
            "arn:aws:rds:us-east-1:123456789012:db:staging-orders",
            "--name",
            "a",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("requests/a.hcl:6:3: error: resource `arn:aws:rds:us-east-1:123456789012:db:staging-orders` is not matched"),
        "{err}"
    );
    assert!(request_files(&repo).is_empty());
}

#[test]
fn request_new_refuses_a_requester_the_contract_does_not_allow() {
    let repo = alice_repo();
    // db-read's requesters are eng and dba; erin is in security only.
    let out = new_request(
        &repo,
        &[
            "--requester",
            "erin",
            "--contract",
            "db-read",
            "--reason",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not allowed by contract `db-read`"));
}

#[test]
fn request_new_without_flags_off_a_terminal_names_the_missing_flag() {
    let repo = alice_repo();
    let out = new_request(&repo, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("missing --contract") && err.contains("db-read"),
        "{err}"
    );

    let out = new_request(&repo, &["--contract", "db-read"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("missing --reason"),
        "{}",
        stderr(&out)
    );
    assert!(request_files(&repo).is_empty());
}

#[test]
fn request_new_refuses_bad_flags_and_existing_files() {
    let repo = alice_repo();
    let base = ["--contract", "db-read", "--reason", "x"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        new_request(&repo, &args)
    };
    let out = with(&["--duration", "2 hours"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--duration"), "{}", stderr(&out));
    let out = with(&["--not-before", "tomorrow"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--not-before"), "{}", stderr(&out));
    let out = with(&["--name", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--name"), "{}", stderr(&out));

    assert!(with(&["--name", "mine"]).status.success());
    let before = repo.read("requests/mine.hcl");
    let out = with(&["--name", "mine", "--duration", "3h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(repo.read("requests/mine.hcl"), before);
}

// ---------------------------------------------------------------------------
// jit fmt
// ---------------------------------------------------------------------------

#[test]
fn fmt_check_exit_codes() {
    let repo = Repo::standard();
    // The standard fixtures are hand-written: unaligned, blocks not separated.
    let out = repo.jit(&["fmt", "--check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let listed = stdout(&out);
    for f in ["jit.hcl", "people.hcl", "contracts/db.hcl"] {
        assert!(listed.lines().any(|l| l == f), "{f} not in:\n{listed}");
    }
    assert_eq!(repo.read("jit.hcl"), JIT_HCL, "--check changes nothing");

    let before = model(&repo.work);
    let out = repo.jit(&["fmt"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), listed, "fmt lists the files it rewrote");
    assert_same_model(&before, &model(&repo.work));

    let out = repo.jit(&["fmt", "--check"], &[]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    assert!(repo.jit(&["validate"], &[]).status.success());
}

#[test]
fn fmt_rewrites_a_messy_file_keeping_comments_and_meaning() {
    let repo = alice_repo();
    let messy = "\n\n# Why alice needs this.\nrequest \"messy\" {\n\trequester=\"alice\"   \n    contract = \"db-read\" # the usual\n  duration =\"2h\"  // short\n\n\n\n  reason = \"INC-3: $${not} really\" \n  resources = [\n\"arn:aws:rds:us-east-1:123456789012:db:prod-a\",\n        # b too\n    \"arn:aws:rds:us-east-1:123456789012:db:prod-b\",\n  ]\n}\n\n\n";
    repo.write("requests/messy.hcl", messy);
    let before = model(&repo.work);

    let out = repo.jit(&["fmt"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().any(|l| l == "requests/messy.hcl"));
    let formatted = repo.read("requests/messy.hcl");
    assert_eq!(
        formatted,
        "# Why alice needs this.\nrequest \"messy\" {\n  requester = \"alice\"\n  contract  = \"db-read\" # the usual\n  duration  = \"2h\"      // short\n\n  reason = \"INC-3: $${not} really\"\n  resources = [\n    \"arn:aws:rds:us-east-1:123456789012:db:prod-a\",\n    # b too\n    \"arn:aws:rds:us-east-1:123456789012:db:prod-b\",\n  ]\n}\n"
    );
    assert_same_model(&before, &model(&repo.work));

    // Idempotent: a second run changes nothing and lists nothing.
    let again = repo.jit(&["fmt"], &[]);
    assert!(again.status.success());
    assert_eq!(stdout(&again), "");
    assert_eq!(repo.read("requests/messy.hcl"), formatted);
    assert!(repo.jit(&["fmt", "--check"], &[]).status.success());
}

#[test]
fn fmt_reports_a_syntax_error_and_leaves_that_file_alone() {
    let repo = alice_repo();
    let broken = "team \"ops\" {\n  members = [\"alice\"\n}\n";
    repo.write("teams/ops.hcl", broken);
    repo.write("archive/2026/11/old.hcl", "request   \"old\"   {}\n");

    let out = repo.jit(&["fmt"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("teams/ops.hcl:") && l.contains(": error: syntax error")),
        "{err}"
    );
    assert_eq!(repo.read("teams/ops.hcl"), broken);
    // The other files were still formatted; archived requests are history.
    assert!(
        stdout(&out).lines().any(|l| l == "people.hcl"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        repo.read("archive/2026/11/old.hcl"),
        "request   \"old\"   {}\n"
    );

    let out = repo.jit(&["fmt", "--check"], &[]);
    assert_eq!(out.status.code(), Some(1));
}
