//! `jit plan --base REF`: what a pull request's branch adds, judged by the
//! definitions in force at the base, and who still must approve. Git only.

mod common;

use common::repo::*;

fn pr_repo() -> Repo {
    let repo = Repo::standard();
    repo.git(&["checkout", "--quiet", "-b", "request"]);
    repo
}

fn plan(repo: &Repo, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["plan", "--base", "main"];
    args.extend_from_slice(extra);
    repo.jit(&args, &[])
}

#[test]
fn a_new_request_shows_what_it_grants_and_who_must_approve() {
    let repo = pr_repo();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    let out = plan(&repo, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("+ request alice-db (added)"), "{text}");
    assert!(
        text.contains("grants   rds-read to arn:aws:iam::123456789012:user/alice"),
        "{text}"
    );
    assert!(
        text.contains("for      2h (inline_policy, contract db-read)"),
        "{text}"
    );
    assert!(
        text.contains("needs 1 approval from team:dba (bob, carol)"),
        "{text}"
    );
    assert_eq!(plan(&repo, &["--detailed-exitcode"]).status.code(), Some(2));
}

#[test]
fn an_approver_asking_for_themselves_is_told_they_cannot_approve() {
    let repo = pr_repo();
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:00:00Z", "Request", &[]);
    let text = stdout(&plan(&repo, &[]));
    assert!(
        text.contains(
            "needs 1 approval from team:dba (carol); bob cannot approve their own request"
        ),
        "{text}"
    );
}

#[test]
fn an_invalid_request_fails_the_check() {
    let repo = pr_repo();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "9h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    let out = plan(&repo, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("requests/alice-db.hcl:4:3: error: duration 9h exceeds contract `db-read` max_duration 4h"), "{}", stderr(&out));
}

#[test]
fn the_branch_cannot_widen_its_own_contract() {
    let repo = pr_repo();
    repo.write(
        "contracts/db.hcl",
        &CONTRACTS_HCL.replace("max_duration     = \"4h\"", "max_duration     = \"8h\""),
    );
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "6h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Widen and request", &[]);
    let out = plan(&repo, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "judged by the base's contract (4h)"
    );
    let text = stdout(&out);
    assert!(
        text.contains("contract `db-read`: needs approval from team:security"),
        "{text}"
    );
}

#[test]
fn markdown_is_a_clean_pr_comment() {
    let repo = pr_repo();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    let out = plan(&repo, &["--format", "markdown"]);
    let md = stdout(&out);
    assert!(md.starts_with("### jit plan for this pull request"), "{md}");
    assert!(
        md.contains("<details><summary>Show details</summary>") && md.contains("</details>"),
        "{md}"
    );
    assert!(
        md.contains("| `alice-db` | added | rds-read → arn:aws:iam::123456789012:user/alice |"),
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "no ANSI codes");
    assert_eq!(
        md,
        stdout(&plan(&repo, &["--format", "markdown"])),
        "stable output"
    );
}

#[test]
fn json_lists_requests_and_definition_changes() {
    let repo = pr_repo();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.write(
        "people.hcl",
        &PEOPLE_HCL.replace(
            "team \"dba\" { members = [\"bob\", \"carol\"] }",
            "team \"dba\" { members = [\"bob\", \"carol\", \"mallory\"] }",
        ),
    );
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Join dba", &[]);
    let out = plan(&repo, &["--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["requests"][0]["request"], "alice-db");
    assert_eq!(doc["requests"][0]["valid"], true);
    assert_eq!(doc["definition_changes"][0]["object"], "team `dba`");
    assert!(
        doc["definition_changes"][0]["needs"]
            .as_str()
            .unwrap()
            .contains("team:security")
    );
}
