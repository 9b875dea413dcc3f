//! `approval = "github"` against a local fake of GitHub's REST API: the PR
//! behind the commit, its reviews, and every way an approval must not count.

mod common;

use common::github::{FakeGithub, REPO, reviews_json};
use common::repo::*;

const NOW: &str = "2026-11-23T09:30:00Z";
const HEAD: &str = "1111111111111111111111111111111111111111";
const OLD_HEAD: &str = "2222222222222222222222222222222222222222";

/// The standard repo in github mode, every user with a `<name>-gh` login.
fn github_repo() -> Repo {
    let repo = Repo::empty();
    let settings = JIT_HCL.replace(
        "approval = \"trailers\"",
        &format!("approval = \"github\"\n  github_repository = \"{REPO}\""),
    );
    assert_ne!(settings, JIT_HCL);
    repo.write("jit.hcl", &settings);
    let mut people = PEOPLE_HCL.to_string();
    for u in ["alice", "bob", "carol", "erin", "frank", "mallory"] {
        people = people.replace(
            &format!("email = \"{u}@acme.example\""),
            &format!("email = \"{u}@acme.example\"\n  github = \"{u}-gh\""),
        );
    }
    repo.write("people.hcl", &people);
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write("contracts/db.hcl", CONTRACTS_HCL);
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    repo
}

/// alice's request, squash-merged as one commit; returns its sha.
fn alice_request(repo: &Repo) -> String {
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access (#12)",
        &[],
    )
}

fn status(repo: &Repo, gh: &FakeGithub) -> (bool, serde_json::Value, String) {
    let out = repo.jit(&["status", "--json", "--now", NOW], &gh.env());
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, stderr(&out))
}

fn pending(repo: &Repo, gh: &FakeGithub) -> String {
    let (ok, s, err) = status(repo, gh);
    assert!(ok, "{err}");
    assert!(active(&s).is_empty(), "should not be active: {s}");
    pending_detail(&s, "alice-db").expect("alice-db pending")
}

#[test]
fn approved_on_the_final_head_is_active() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(12, &[("bob-gh", "APPROVED", HEAD)]);
    let (ok, s, err) = status(&repo, &gh);
    assert!(ok, "{err}");
    assert_eq!(active(&s), ["alice-db"]);
    assert_eq!(s["active"][0]["approved_by"], serde_json::json!(["bob"]));
}

#[test]
fn changes_requested_then_approved_counts() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(
        12,
        &[
            ("bob-gh", "CHANGES_REQUESTED", OLD_HEAD),
            ("bob-gh", "APPROVED", HEAD),
            ("bob-gh", "COMMENTED", HEAD),
        ],
    );
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db"]);
}

#[test]
fn a_dismissed_approval_does_not_count() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(
        12,
        &[("bob-gh", "APPROVED", HEAD), ("bob-gh", "DISMISSED", HEAD)],
    );
    let detail = pending(&repo, &gh);
    assert!(
        detail.contains("needs 1 more approval from team:dba") && detail.contains("dismissed"),
        "{detail}"
    );
}

#[test]
fn an_approval_of_an_older_push_is_stale() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(12, &[("bob-gh", "APPROVED", OLD_HEAD)]);
    let detail = pending(&repo, &gh);
    assert!(detail.contains("older push"), "{detail}");
}

#[test]
fn approval_by_someone_the_contract_does_not_allow() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(
        12,
        &[
            ("erin-gh", "APPROVED", HEAD),
            ("stranger", "APPROVED", HEAD),
        ],
    );
    let detail = pending(&repo, &gh);
    assert!(
        detail.contains("erin is not an allowed approver"),
        "{detail}"
    );
    assert!(
        detail.contains("@stranger is not a declared user"),
        "{detail}"
    );
}

#[test]
fn the_author_cannot_approve_their_own_pull_request() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    // bob is a DBA (an allowed approver) asking for himself.
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    let sha = repo.commit("bob", "2026-11-23T09:00:00Z", "Request (#13)", &[]);
    gh.pull(&sha, 13, "bob-gh", HEAD);
    gh.reviews(13, &[("bob-gh", "APPROVED", HEAD)]);
    let (ok, s, err) = status(&repo, &gh);
    assert!(ok, "{err}");
    let detail = pending_detail(&s, "bob-db").unwrap();
    assert!(
        detail.contains("bob cannot approve their own change"),
        "{detail}"
    );
}

#[test]
fn the_requester_must_be_the_pull_request_author() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "mallory-gh", HEAD);
    gh.reviews(12, &[("bob-gh", "APPROVED", HEAD)]);
    let detail = pending(&repo, &gh);
    assert!(
        detail.contains("requester `alice` is not the author of the change (mallory)"),
        "{detail}"
    );
}

#[test]
fn a_commit_without_a_pull_request_is_not_approved() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.no_pull(&sha);
    let detail = pending(&repo, &gh);
    assert!(
        detail.contains("no pull request produced commit"),
        "{detail}"
    );
}

#[test]
fn reviews_are_read_across_pages() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    let page2 = format!(
        "{}/repos/{REPO}/pulls/12/reviews?per_page=100&page=2",
        gh.url
    );
    gh.route(
        &format!("/repos/{REPO}/pulls/12/reviews?per_page=100"),
        200,
        &[(
            "Link",
            &format!("<{page2}>; rel=\"next\", <{page2}>; rel=\"last\""),
        )],
        &reviews_json(&[("erin-gh", "COMMENTED", HEAD)]).to_string(),
    );
    gh.route(
        &format!("/repos/{REPO}/pulls/12/reviews?per_page=100&page=2"),
        200,
        &[],
        &reviews_json(&[("carol-gh", "APPROVED", HEAD)]).to_string(),
    );
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db"]);
}

#[test]
fn rate_limits_are_reported_with_their_reset_time() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.route(
        &format!("/repos/{REPO}/commits/{sha}/pulls"),
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1795424400"),
        ],
        r#"{"message":"API rate limit exceeded"}"#,
    );
    let (ok, _, err) = status(&repo, &gh);
    assert!(
        !ok,
        "a GitHub failure must fail the run, not silently un-approve"
    );
    assert!(
        err.contains("rate limit exceeded") && err.contains("resets at 2026-11-23T"),
        "{err}"
    );
}

#[test]
fn bad_credentials_are_a_clear_error() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.route(
        &format!("/repos/{REPO}/commits/{sha}/pulls"),
        401,
        &[],
        r#"{"message":"Bad credentials"}"#,
    );
    let (ok, _, err) = status(&repo, &gh);
    assert!(!ok);
    assert!(err.contains("401") && err.contains("GITHUB_TOKEN"), "{err}");
}

#[test]
fn merge_commits_are_looked_up_by_the_merge_sha() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    let merge = repo.merge_commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    gh.pull(&merge, 14, "alice-gh", HEAD);
    gh.reviews(14, &[("carol-gh", "APPROVED", HEAD)]);
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db"]);
}

#[test]
fn rebase_merges_find_the_merged_pull_request_of_each_commit() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    // A rebase merge puts the PR's commits on main one by one; GitHub lists
    // the PR for each of them, with merge_commit_sha = the last one.
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    let first = repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    repo.write("notes.txt", "not an hcl file");
    let last = repo.commit("alice", "2026-11-23T09:00:00Z", "Notes", &[]);
    let body = serde_json::json!([{
        "number": 15, "user": {"login": "alice-gh"}, "head": {"sha": HEAD},
        "merged_at": "2026-11-23T09:00:00Z", "merge_commit_sha": last,
    }]);
    gh.route(
        &format!("/repos/{REPO}/commits/{first}/pulls"),
        200,
        &[],
        &body.to_string(),
    );
    gh.reviews(15, &[("bob-gh", "APPROVED", HEAD)]);
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db"]);
}

#[test]
fn lookups_are_cached_per_commit() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.write(
        "requests/alice-db-2.hcl",
        &request("alice-db-2", "alice", "db-read", "1h"),
    );
    let sha = repo.commit("alice", "2026-11-23T09:00:00Z", "Two requests", &[]);
    gh.pull(&sha, 16, "alice-gh", HEAD);
    gh.reviews(16, &[("bob-gh", "APPROVED", HEAD)]);
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db", "alice-db-2"]);
    let calls = gh.requests();
    assert_eq!(
        calls.len(),
        2,
        "one pulls lookup and one reviews page for two files: {calls:?}"
    );
}

#[test]
fn a_contract_change_needs_its_owners_approval_on_github() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    // mallory widens db-read so that eng can approve, approved only by bob (not an owner).
    repo.write(
        "contracts/db.hcl",
        &CONTRACTS_HCL.replace(
            "approvers        = [\"team:dba\"]",
            "approvers        = [\"team:eng\"]",
        ),
    );
    let change = repo.commit("mallory", "2026-11-23T08:30:00Z", "Widen (#20)", &[]);
    gh.pull(&change, 20, "mallory-gh", HEAD);
    gh.reviews(20, &[("bob-gh", "APPROVED", HEAD)]);
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    let req = repo.commit("alice", "2026-11-23T09:00:00Z", "Request (#21)", &[]);
    gh.pull(&req, 21, "alice-gh", HEAD);
    gh.reviews(21, &[("mallory-gh", "APPROVED", HEAD)]);
    let detail = pending(&repo, &gh);
    assert!(
        detail.contains("needs 1 more approval from team:dba"),
        "the widened contract is not in force: {detail}"
    );
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(12, &[("bob-gh", "APPROVED", HEAD)]);
    let pulls = format!("/repos/{REPO}/commits/{sha}/pulls");
    gh.fail(&pulls, 2);
    assert_eq!(active(&status(&repo, &gh).1), ["alice-db"]);
    assert_eq!(
        gh.requests().iter().filter(|p| **p == pulls).count(),
        3,
        "two 502s, then the answer"
    );
}

#[test]
fn persistent_server_errors_fail_the_run() {
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.fail(&format!("/repos/{REPO}/commits/{sha}/pulls"), 100);
    let (ok, _, err) = status(&repo, &gh);
    assert!(!ok);
    assert!(err.contains("502"), "{err}");
}

#[test]
fn under_injected_faults_approvals_are_read_or_the_run_fails_never_guessed() {
    use common::faults::{Fault, FaultProxy, Schedule};
    let (repo, gh) = (github_repo(), FakeGithub::start());
    let sha = alice_request(&repo);
    gh.pull(&sha, 12, "alice-gh", HEAD);
    gh.reviews(12, &[("bob-gh", "APPROVED", HEAD)]);
    // carol's request: a PR nobody approved.
    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-read", "2h"),
    );
    let carol = repo.commit("carol", "2026-11-23T09:05:00Z", "Request (#13)", &[]);
    gh.pull(&carol, 13, "carol-gh", OLD_HEAD);
    gh.reviews(13, &[("mallory-gh", "COMMENTED", OLD_HEAD)]);
    let upstream = gh.url.trim_start_matches("http://").parse().unwrap();
    let kinds = [
        Fault::Internal,
        Fault::Unavailable,
        Fault::Slow,
        Fault::DropBefore,
        Fault::DropAfter,
    ];
    let (mut answered, mut failed, mut faults) = (0, 0, 0);
    for seed in 1..=8u64 {
        let proxy = FaultProxy::start(upstream, Schedule::random(seed, 0.2, &kinds));
        let mut env = gh.env();
        env[0].1 = proxy.endpoint();
        let out = repo.jit(&["status", "--json", "--now", NOW], &env);
        faults += proxy.stats().injected();
        if out.status.success() {
            answered += 1;
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(active(&json), ["alice-db"], "seed {seed}: {json}");
        } else {
            failed += 1;
            let err = stderr(&out);
            assert!(
                err.contains("GitHub") || err.contains("github"),
                "seed {seed}: {err}"
            );
            assert!(
                stdout(&out).is_empty(),
                "seed {seed}: a failed run prints no status"
            );
        }
    }
    assert!(faults > 0, "faults were injected");
    println!(
        "FIGURES github {{\"runs\":8,\"answered\":{answered},\"failed\":{failed},\"faults\":{faults}}}"
    );
}
