//! DESIGN §2: every way around the approval rules must fail. Git-only: these
//! run `jit status --json`, which judges approvals from history alone.
//!
//! The standard repo (tests/common/repo.rs): team eng = alice, mallory;
//! dba = bob, carol; security = erin, frank (the admins and every contract's
//! owners). Contracts: db-read (requesters eng + dba, approvers dba, 1
//! approval, max 4h), db-two (approvers dba + security, 2 approvals), db-auto
//! (auto_approve). The root commit is at 08:00 by erin.

mod common;

use common::repo::*;
use serde_json::Value;

const NOW: &str = "2026-11-23T09:30:00Z";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Asserts `request` is pending (not active) in `state`, with every needle in
/// its detail.
fn assert_pending(s: &Value, request: &str, state: &str, needles: &[&str]) {
    assert!(
        !active(s).iter().any(|r| r == request),
        "{request} must not be active:\n{s:#}"
    );
    let detail =
        pending_detail(s, request).unwrap_or_else(|| panic!("{request} is not pending:\n{s:#}"));
    assert!(
        detail.starts_with(&format!("{state}: ")),
        "{request} should be {state}, got: {detail}"
    );
    for n in needles {
        assert!(detail.contains(n), "expected `{n}` in: {detail}");
    }
}

/// The active grant for `request`; panics if it is not active.
fn grant<'a>(s: &'a Value, request: &str) -> &'a Value {
    s["active"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["request"] == request)
        .unwrap_or_else(|| panic!("{request} is not active:\n{s:#}"))
}

/// Asserts `request` is active with this window and these approvers.
fn assert_active(s: &Value, request: &str, start: &str, end: &str, approvers: &[&str]) {
    let g = grant(s, request);
    assert_eq!(g["start"], start, "start of {request}: {g:#}");
    assert_eq!(g["end"], end, "end of {request}: {g:#}");
    let got: Vec<&str> = g["approved_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(got, approvers, "approvers of {request}: {g:#}");
}

/// A request file with extra attributes (e.g. `not_before = "..."`).
fn request_with(
    name: &str,
    requester: &str,
    contract: &str,
    duration: &str,
    extra: &str,
) -> String {
    request(name, requester, contract, duration).replace("}\n", &format!("  {extra}\n}}\n"))
}

/// alice's db-read request, written and committed by `author` at `date`.
fn alice_requests(repo: &Repo, author: &str, date: &str, duration: &str, approvers: &[&str]) {
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", duration),
    );
    repo.commit(author, date, "Request db access", approvers);
}

/// Team dba with mallory in it.
fn people_with_mallory_in_dba() -> String {
    let people = PEOPLE_HCL.replace(
        r#"team "dba" { members = ["bob", "carol"] }"#,
        r#"team "dba" { members = ["bob", "carol", "mallory"] }"#,
    );
    assert_ne!(people, PEOPLE_HCL);
    people
}

/// db-read with max_duration 8h instead of 4h.
fn contracts_db_read_8h() -> String {
    let c = CONTRACTS_HCL.replacen(
        r#"max_duration     = "4h""#,
        r#"max_duration     = "8h""#,
        1,
    );
    assert_ne!(c, CONTRACTS_HCL);
    c
}

/// db-read approvable by team:eng too.
fn contracts_db_read_eng_approves() -> String {
    let c = CONTRACTS_HCL.replacen(
        r#"approvers        = ["team:dba"]"#,
        r#"approvers        = ["team:dba", "team:eng"]"#,
        1,
    );
    assert_ne!(c, CONTRACTS_HCL);
    c
}

/// jit.hcl with one settings attribute changed.
fn jit_hcl_with(from: &str, to: &str) -> String {
    let j = JIT_HCL.replace(from, to);
    assert_ne!(j, JIT_HCL);
    j
}

const DAVE: &str = r#"
user "dave" {
  email = "dave@acme.example"
  aws   = "arn:aws:iam::123456789012:user/dave"
}
"#;

/// A contract mallory would like: auto-approved, for her alone, owned by eng.
const MINE_CONTRACT: &str = r#"contract "mine" {
  role          = "rds-read"
  resources     = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters    = ["user:mallory"]
  min_approvals = 0
  auto_approve  = true
  max_duration  = "4h"
  owners        = ["team:eng"]
}
"#;

// ---------------------------------------------------------------------------
// Approvers: who counts
// ---------------------------------------------------------------------------

#[test]
fn approved_request_is_active() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    let s = repo.status(NOW);
    assert_eq!(active(&s), ["alice-db"]);
    assert_eq!(s["active"][0]["end"], "2026-11-23T11:00:00Z");
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
    let g = grant(&s, "alice-db");
    assert_eq!(g["requester"], "alice");
    assert_eq!(g["principal"], "arn:aws:iam::123456789012:user/alice");
    assert_eq!(g["contract"], "db-read");
    assert_eq!(g["role"], "rds-read");
    assert_eq!(g["time_left"], "1h30m");
    assert!(s["pending"].as_array().unwrap().is_empty(), "{s:#}");
}

#[test]
fn self_approval_does_not_count() {
    let repo = Repo::standard();
    // bob is in team:dba, the approvers; he cannot approve his own request.
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert!(active(&s).is_empty());
    let detail = pending_detail(&s, "bob-db").unwrap();
    assert!(
        detail.contains("needs 1 more approval from team:dba"),
        "{detail}"
    );
    assert!(
        detail.contains("bob cannot approve their own change"),
        "{detail}"
    );
}

#[test]
fn self_approval_with_the_email_in_another_case_does_not_count() {
    let repo = Repo::standard();
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit_message(
        "bob",
        "2026-11-23T09:00:00Z",
        "Request\n\nApproved-by: Bob <BOB@ACME.Example>\n",
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "bob-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "bob cannot approve their own change",
        ],
    );
}

#[test]
fn requester_approving_plus_another_allowed_approver_is_approved() {
    let repo = Repo::standard();
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:00:00Z", "Request", &["bob", "carol"]);
    let s = repo.status(NOW);
    // Only carol counts; bob's own approval is not listed as an approver.
    assert_active(
        &s,
        "bob-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["carol"],
    );
}

#[test]
fn approval_by_a_user_outside_the_contracts_approvers_does_not_count() {
    let repo = Repo::standard();
    // erin is an admin and owns the contract, but db-read's approvers are team:dba.
    alice_requests(
        &repo,
        "alice",
        "2026-11-23T09:00:00Z",
        "1h",
        &["erin", "mallory"],
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "erin is not an allowed approver",
            "mallory is not an allowed approver",
        ],
    );
}

#[test]
fn approval_by_an_email_that_is_not_a_declared_user_does_not_count() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    // A stranger, bob's *name* with someone else's address, and jit's bot.
    repo.commit_message(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request\n\n\
         Approved-by: Dave <dave@acme.example>\n\
         Approved-by: Bob <bob@evil.example>\n\
         Approved-by: jit <jit@acme.example>\n",
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "dave@acme.example is not a declared user",
            "bob@evil.example is not a declared user",
            "jit@acme.example is not a declared user",
        ],
    );
}

#[test]
fn approval_email_matches_ignoring_case() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit_message(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request\n\nApproved-by: Bob <BOB@Acme.EXAMPLE>\n",
    );
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
}

#[test]
fn author_email_matches_ignoring_case() {
    let repo = Repo::standard();
    // Author email `Alice@acme.example` is alice.
    alice_requests(&repo, "Alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
}

#[test]
fn the_same_approver_twice_counts_once() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-two.hcl",
        &request("alice-two", "alice", "db-two", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob", "bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-two",
        "awaiting_approval",
        &["needs 1 more approval from team:dba, team:security"],
    );
}

#[test]
fn the_same_approver_in_two_cases_counts_once() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-two.hcl",
        &request("alice-two", "alice", "db-two", "1h"),
    );
    repo.commit_message(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request\n\nApproved-by: Bob <bob@acme.example>\nApproved-by: Robert <BOB@ACME.EXAMPLE>\n",
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-two",
        "awaiting_approval",
        &["needs 1 more approval from team:dba, team:security"],
    );
}

#[test]
fn two_distinct_allowed_approvers_meet_min_approvals() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-two.hcl",
        &request("alice-two", "alice", "db-two", "2h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob", "erin"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-two",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob", "erin"],
    );
}

#[test]
fn the_requester_does_not_count_toward_min_approvals() {
    let repo = Repo::standard();
    repo.write(
        "requests/bob-two.hcl",
        &request("bob-two", "bob", "db-two", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:00:00Z", "Request", &["bob", "carol"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "bob-two",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba, team:security",
            "bob cannot approve their own change",
        ],
    );
}

#[test]
fn approvals_count_only_as_trailers_of_the_message() {
    let repo = Repo::standard();
    // In the body, followed by another paragraph: not a trailer.
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit_message(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request\n\nApproved-by: Bob <bob@acme.example>\n\nThanks!\n",
    );
    // As the subject line (the PR title, which the requester writes).
    repo.write(
        "requests/alice-db2.hcl",
        &request("alice-db2", "alice", "db-read", "1h"),
    );
    repo.commit_message(
        "alice",
        "2026-11-23T09:05:00Z",
        "Approved-by: Bob <bob@acme.example>",
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["needs 1 more approval from team:dba"],
    );
    assert_pending(
        &s,
        "alice-db2",
        "awaiting_approval",
        &["needs 1 more approval from team:dba"],
    );
}

// ---------------------------------------------------------------------------
// Forged identity: the requester must be the author
// ---------------------------------------------------------------------------

#[test]
fn requester_named_in_the_file_must_be_the_commit_author() {
    let repo = Repo::standard();
    // mallory asks in alice's name (e.g. to get alice's access used or abused).
    alice_requests(
        &repo,
        "mallory",
        "2026-11-23T09:00:00Z",
        "1h",
        &["bob", "carol"],
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (mallory)"],
    );
}

#[test]
fn author_who_is_not_a_declared_user_cannot_request() {
    let repo = Repo::standard();
    alice_requests(&repo, "eve", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (eve@acme.example)"],
    );
}

// ---------------------------------------------------------------------------
// Stale approvals: the approval is of the content
// ---------------------------------------------------------------------------

#[test]
fn changing_an_approved_request_needs_approval_again() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    assert_active(
        &repo.status(NOW),
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );

    // alice stretches it to 4h without approval: the old approval is stale,
    // and the old window (09:00-10:00) is not carried over.
    alice_requests(&repo, "alice", "2026-11-23T09:40:00Z", "4h", &[]);
    for now in ["2026-11-23T09:45:00Z", "2026-11-23T10:30:00Z"] {
        let s = repo.status(now);
        assert!(active(&s).is_empty(), "{s:#}");
        assert_pending(
            &s,
            "alice-db",
            "awaiting_approval",
            &["needs 1 more approval from team:dba"],
        );
    }

    // An approval on top of the unapproved edit covers only the diff carol
    // saw (4h -> 3h), not the unapproved stretch before it: still pending,
    // naming the approving commit (DESIGN §2, approval covers the diff).
    alice_requests(&repo, "alice", "2026-11-23T10:00:00Z", "3h", &["carol"]);
    let s = repo.status("2026-11-23T10:30:00Z");
    assert_pending(&s, "alice-db", "awaiting_approval", &["never approved"]);

    // Deleted and proposed again: approved as usual, active from that commit.
    repo.remove("requests/alice-db.hcl");
    repo.commit("alice", "2026-11-23T10:05:00Z", "Withdraw", &[]);
    alice_requests(&repo, "alice", "2026-11-23T10:10:00Z", "3h", &["carol"]);
    assert_active(
        &repo.status("2026-11-23T10:30:00Z"),
        "alice-db",
        "2026-11-23T10:10:00Z",
        "2026-11-23T13:10:00Z",
        &["carol"],
    );
}

#[test]
fn reverting_to_the_approved_content_needs_approval_again() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "4h", &[]);
    alice_requests(&repo, "alice", "2026-11-23T09:20:00Z", "2h", &[]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["needs 1 more approval from team:dba", "restored"],
    );
    // From the restored content, an approved change counts as usual.
    alice_requests(&repo, "alice", "2026-11-23T09:25:00Z", "3h", &["bob"]);
    assert_active(
        &repo.status(NOW),
        "alice-db",
        "2026-11-23T09:25:00Z",
        "2026-11-23T12:25:00Z",
        &["bob"],
    );
}

#[test]
fn restoring_an_archived_request_needs_approval_again() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    let text = repo.read("requests/alice-db.hcl");
    repo.remove("requests/alice-db.hcl");
    repo.write("archive/2026/11/alice-db.hcl", &text);
    repo.commit("jit", "2026-11-23T10:00:00Z", "jit: expire alice-db", &[]);
    // alice puts the very same file back (e.g. `git revert` of jit's commit).
    repo.remove("archive/2026/11/alice-db.hcl");
    repo.write("requests/alice-db.hcl", &text);
    repo.commit(
        "alice",
        "2026-11-23T10:10:00Z",
        "Revert \"jit: expire alice-db\"",
        &[],
    );
    let s = repo.status("2026-11-23T10:20:00Z");
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["needs 1 more approval from team:dba"],
    );
}

#[test]
fn a_commit_approves_only_its_authors_requests() {
    let repo = Repo::standard();
    // alice's commit carries bob's request too; carol approves the lot.
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Requests", &["carol"]);
    let s = repo.status(NOW);
    assert_eq!(active(&s), ["alice-db"]);
    assert_pending(
        &s,
        "bob-db",
        "awaiting_approval",
        &["requester `bob` is not the author of the change (alice)"],
    );
}

#[test]
fn someone_else_editing_an_approved_request_makes_it_pending() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    // mallory edits alice's approved request; carol approves the edit.
    alice_requests(&repo, "mallory", "2026-11-23T09:10:00Z", "4h", &["carol"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (mallory)"],
    );
}

#[test]
fn later_unrelated_commits_keep_the_approval_and_its_window() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.commit("bob", "2026-11-23T09:10:00Z", "Request", &["carol"]);
    repo.write("README.md", "The access repo.\n");
    repo.commit("erin", "2026-11-23T09:20:00Z", "Docs", &[]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
    assert_active(
        &s,
        "bob-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["carol"],
    );
}

#[test]
fn approved_at_is_the_commit_time_not_the_author_date() {
    let repo = Repo::standard();
    // The author date is the author's to choose; the commit date is the forge's.
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit_dated(
        "alice",
        "2026-11-23T12:00:00Z",
        "2026-11-23T09:00:00Z",
        "Request\n\nApproved-by: Bob <bob@acme.example>\n",
    );
    repo.write(
        "requests/alice-db2.hcl",
        &request("alice-db2", "alice", "db-read", "1h"),
    );
    repo.commit_dated(
        "alice",
        "2026-11-23T06:00:00Z",
        "2026-11-23T09:10:00Z",
        "Request\n\nApproved-by: Bob <bob@acme.example>\n",
    );
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
    assert_active(
        &s,
        "alice-db2",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["bob"],
    );
}

// ---------------------------------------------------------------------------
// auto_approve
// ---------------------------------------------------------------------------

#[test]
fn auto_approve_contract_needs_no_approvals() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-auto.hcl",
        &request("alice-auto", "alice", "db-auto", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-auto",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &[],
    );
}

#[test]
fn auto_approve_still_requires_the_requester_to_be_the_author() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-auto.hcl",
        &request("alice-auto", "alice", "db-auto", "1h"),
    );
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Request", &[]);
    repo.write(
        "requests/bob-auto.hcl",
        &request("bob-auto", "bob", "db-auto", "1h"),
    );
    repo.commit("eve", "2026-11-23T09:05:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert!(active(&s).is_empty(), "{s:#}");
    assert_pending(
        &s,
        "alice-auto",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (mallory)"],
    );
    assert_pending(
        &s,
        "bob-auto",
        "awaiting_approval",
        &["requester `bob` is not the author of the change (eve@acme.example)"],
    );
}

#[test]
fn auto_approve_request_written_by_the_bot_is_pending() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-auto.hcl",
        &request("alice-auto", "alice", "db-auto", "1h"),
    );
    repo.commit("jit", "2026-11-23T09:00:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert_pending(&s, "alice-auto", "awaiting_approval", &["jit's bot"]);
}

// ---------------------------------------------------------------------------
// Merge commits
// ---------------------------------------------------------------------------

#[test]
fn merge_commit_requester_is_the_side_branch_author() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.merge_commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

#[test]
fn merge_commit_approved_at_is_the_merge_time() {
    let repo = Repo::standard();
    repo.branch("pr");
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit("alice", "2026-11-23T08:30:00Z", "Request", &[]);
    repo.merge_branch("pr", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
}

#[test]
fn merge_of_someone_elses_request_is_pending() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.merge_commit("mallory", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (mallory)"],
    );
}

#[test]
fn trailers_on_the_side_commit_of_a_merge_do_not_count() {
    let repo = Repo::standard();
    repo.branch("pr");
    // The requester writes the trailer into her own commit; the forge's merge has none.
    alice_requests(&repo, "alice", "2026-11-23T08:50:00Z", "1h", &["bob"]);
    repo.merge_branch("pr", "2026-11-23T09:00:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["needs 1 more approval from team:dba"],
    );
}

#[test]
fn merge_requester_is_whoever_last_changed_the_file_not_the_branch_tip() {
    let repo = Repo::standard();
    repo.branch("pr");
    alice_requests(&repo, "mallory", "2026-11-23T08:40:00Z", "1h", &[]);
    repo.write("README.md", "Docs.\n");
    repo.commit("alice", "2026-11-23T08:50:00Z", "Docs", &[]);
    repo.merge_branch("pr", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["requester `alice` is not the author of the change (mallory)"],
    );
}

#[test]
fn merge_where_the_requester_last_changed_the_file_is_approved() {
    let repo = Repo::standard();
    repo.branch("pr");
    alice_requests(&repo, "mallory", "2026-11-23T08:40:00Z", "1h", &[]);
    // alice writes the content that is merged; mallory's later commit is elsewhere.
    alice_requests(&repo, "alice", "2026-11-23T08:50:00Z", "2h", &[]);
    repo.write("README.md", "Docs.\n");
    repo.commit("mallory", "2026-11-23T08:55:00Z", "Docs", &[]);
    repo.merge_branch("pr", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

#[test]
fn merge_self_approval_does_not_count() {
    let repo = Repo::standard();
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "1h"),
    );
    repo.merge_commit("bob", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "bob-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "bob cannot approve their own change",
        ],
    );
}

#[test]
fn merge_of_a_bot_authored_side_commit_is_pending() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.merge_commit("jit", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(&s, "alice-db", "awaiting_approval", &["jit's bot"]);
}

// ---------------------------------------------------------------------------
// jit's bot can only end access
// ---------------------------------------------------------------------------

#[test]
fn bot_commit_cannot_grant_even_with_approvals() {
    let repo = Repo::standard();
    alice_requests(
        &repo,
        "jit",
        "2026-11-23T09:00:00Z",
        "1h",
        &["bob", "carol"],
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["written by jit's bot, which can only end access"],
    );
}

#[test]
fn bot_is_recognised_by_email_ignoring_case() {
    let repo = Repo::standard();
    // Author email `JIT@acme.example`.
    alice_requests(&repo, "JIT", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(&s, "alice-db", "awaiting_approval", &["jit's bot"]);
}

#[test]
fn bot_editing_an_approved_request_ends_it() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    alice_requests(&repo, "jit", "2026-11-23T09:10:00Z", "4h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(&s, "alice-db", "awaiting_approval", &["jit's bot"]);
}

#[test]
fn bot_archiving_a_request_ends_it() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    let text = repo.read("requests/alice-db.hcl");
    repo.remove("requests/alice-db.hcl");
    repo.write("archive/2026/11/alice-db.hcl", &text);
    repo.commit("jit", "2026-11-23T09:20:00Z", "jit: revoke alice-db", &[]);
    let s = repo.status(NOW);
    assert!(listed(&s).is_empty(), "{s:#}");
}

#[test]
fn bot_commit_cannot_change_a_definition() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.commit("jit", "2026-11-23T09:00:00Z", "Widen", &["erin", "frank"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["duration 6h exceeds contract `db-read` max_duration 4h"],
    );
}

// ---------------------------------------------------------------------------
// Definitions are guarded: contracts (owners)
// ---------------------------------------------------------------------------

#[test]
fn widening_a_contract_without_owner_approval_does_not_take_effect() {
    let repo = Repo::standard();
    // dba are the contract's approvers, not its owners.
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "Longer db access",
        &["bob", "carol"],
    );
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["duration 6h exceeds contract `db-read` max_duration 4h"],
    );
}

#[test]
fn widening_a_contract_with_owner_approval_takes_effect() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.commit("bob", "2026-11-23T09:00:00Z", "Longer db access", &["erin"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T15:10:00Z",
        &["bob"],
    );
}

#[test]
fn contract_owner_cannot_approve_their_own_contract_change() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.commit(
        "erin",
        "2026-11-23T09:00:00Z",
        "Longer db access",
        &["erin"],
    );
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["duration 6h exceeds contract `db-read` max_duration 4h"],
    );
}

#[test]
fn adding_approvers_to_a_contract_without_owner_approval_does_not_take_effect() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_eng_approves());
    repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "Let eng approve",
        &["alice", "bob"],
    );
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "mallory is not an allowed approver",
        ],
    );
}

#[test]
fn adding_approvers_to_a_contract_with_owner_approval_takes_effect() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_eng_approves());
    repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "Let eng approve",
        &["frank"],
    );
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["mallory"],
    );
}

#[test]
fn changing_a_contracts_owners_is_judged_by_the_old_owners() {
    let repo = Repo::standard();
    // mallory makes eng the owners and widens in one commit; alice (eng) approves.
    let contracts = contracts_db_read_8h().replacen(
        r#"owners           = ["team:security"]"#,
        r#"owners           = ["team:eng"]"#,
        1,
    );
    repo.write("contracts/db.hcl", &contracts);
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Take over", &["alice"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["duration 6h exceeds contract `db-read` max_duration 4h"],
    );
}

#[test]
fn approver_added_to_a_contract_cannot_approve_in_the_same_commit() {
    let repo = Repo::standard();
    // The owner approves the contract change, but the request in the same
    // commit is judged against the contract in force before it.
    repo.write("contracts/db.hcl", &contracts_db_read_eng_approves());
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Let eng approve, and my request",
        &["erin", "mallory"],
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "mallory is not an allowed approver",
        ],
    );
    // The contract change itself is in force from then on.
    repo.write(
        "requests/alice-db2.hcl",
        &request("alice-db2", "alice", "db-read", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:10:00Z", "Request", &["mallory"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db2",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["mallory"],
    );
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["mallory is not an allowed approver"],
    );
}

#[test]
fn new_contract_without_admin_approval_is_not_in_force() {
    let repo = Repo::standard();
    repo.write("contracts/mine.hcl", MINE_CONTRACT);
    repo.commit("mallory", "2026-11-23T09:00:00Z", "My contract", &["alice"]);
    repo.write(
        "requests/mallory-db.hcl",
        &request("mallory-db", "mallory", "mine", "2h"),
    );
    repo.commit("mallory", "2026-11-23T09:10:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert_pending(&s, "mallory-db", "invalid", &["unknown contract `mine`"]);

    // A later, properly approved change elsewhere does not sweep it in.
    repo.write("people.hcl", &format!("{PEOPLE_HCL}{DAVE}"));
    repo.commit("erin", "2026-11-23T09:20:00Z", "Add dave", &["frank"]);
    let s = repo.status(NOW);
    assert_pending(&s, "mallory-db", "invalid", &["unknown contract `mine`"]);
}

#[test]
fn definitions_in_a_top_level_dotfile_are_guarded_too() {
    let repo = Repo::standard();
    // The same contract as above, hidden in `.mine.hcl`, committed without approval.
    repo.write(".mine.hcl", MINE_CONTRACT);
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Tidy up", &[]);
    // erin adds a user; frank (admin) approves erin's diff, which does not
    // show mallory's file.
    repo.write("people.hcl", &format!("{PEOPLE_HCL}{DAVE}"));
    repo.commit("erin", "2026-11-23T09:10:00Z", "Add dave", &["frank"]);
    repo.write(
        "requests/mallory-db.hcl",
        &request("mallory-db", "mallory", "mine", "2h"),
    );
    repo.commit("mallory", "2026-11-23T09:20:00Z", "Request", &[]);
    let s = repo.status(NOW);
    assert!(active(&s).is_empty(), "{s:#}");
    assert_pending(&s, "mallory-db", "invalid", &["unknown contract `mine`"]);
}

#[test]
fn contract_change_in_a_merge_approved_by_an_owner_takes_effect() {
    let repo = Repo::standard();
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.merge_commit("bob", "2026-11-23T09:00:00Z", "Longer db access", &["erin"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T15:10:00Z",
        &["bob"],
    );
}

#[test]
fn contract_change_author_cannot_approve_it_through_a_merge() {
    let repo = Repo::standard();
    repo.branch("pr");
    repo.write("contracts/db.hcl", &contracts_db_read_8h());
    repo.commit("frank", "2026-11-23T08:40:00Z", "Longer db access", &[]);
    repo.write("README.md", "Docs.\n");
    repo.commit("erin", "2026-11-23T08:50:00Z", "Docs", &[]);
    repo.merge_branch("pr", "2026-11-23T09:00:00Z", "Longer db access", &["frank"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "6h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["duration 6h exceeds contract `db-read` max_duration 4h"],
    );
}

#[test]
fn unapproved_contract_tightening_does_not_end_approved_access() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    // mallory, unapproved, cuts db-read to 1h.
    let contracts = CONTRACTS_HCL.replacen(
        r#"max_duration     = "4h""#,
        r#"max_duration     = "1h""#,
        1,
    );
    repo.write("contracts/db.hcl", &contracts);
    repo.commit("mallory", "2026-11-23T09:10:00Z", "Shorter", &[]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

// ---------------------------------------------------------------------------
// Definitions are guarded: users and teams (admins)
// ---------------------------------------------------------------------------

#[test]
fn joining_a_team_without_admin_approval_does_not_take_effect() {
    let repo = Repo::standard();
    repo.write("people.hcl", &people_with_mallory_in_dba());
    // Approved by the team's own members, who are not admins.
    repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "Join dba",
        &["bob", "carol"],
    );
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["mallory is not an allowed approver"],
    );
}

#[test]
fn joining_a_team_with_admin_approval_takes_effect() {
    let repo = Repo::standard();
    repo.write("people.hcl", &people_with_mallory_in_dba());
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Join dba", &["erin"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["mallory"],
    );
}

#[test]
fn joining_a_team_and_approving_in_the_same_commit_does_not_count() {
    let repo = Repo::standard();
    // Even with an admin approving the team change, mallory's approval of the
    // request in the same commit is judged against the teams before it.
    repo.write("people.hcl", &people_with_mallory_in_dba());
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "mallory joins dba; my request",
        &["erin", "mallory"],
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &[
            "needs 1 more approval from team:dba",
            "mallory is not an allowed approver",
        ],
    );
    // The team change was approved by an admin, so it is in force afterwards.
    repo.write(
        "requests/alice-db2.hcl",
        &request("alice-db2", "alice", "db-read", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:10:00Z", "Request", &["mallory"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db2",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["mallory"],
    );
}

#[test]
fn changing_a_users_email_without_admin_approval_does_not_take_effect() {
    let repo = Repo::standard();
    // mallory points bob's identity at an address she controls.
    let people = PEOPLE_HCL.replace(
        r#"email = "bob@acme.example""#,
        r#"email = "mallory2@acme.example""#,
    );
    assert_ne!(people, PEOPLE_HCL);
    repo.write("people.hcl", &people);
    repo.commit(
        "mallory",
        "2026-11-23T09:00:00Z",
        "Fix bob's email",
        &["carol"],
    );
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit_message(
        "alice",
        "2026-11-23T09:10:00Z",
        "Request\n\nApproved-by: Bob <mallory2@acme.example>\n",
    );
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["mallory2@acme.example is not a declared user"],
    );
}

// ---------------------------------------------------------------------------
// Definitions are guarded: roles (owners of every contract using them)
// ---------------------------------------------------------------------------

/// A guardrail that makes a role granting `iam:*` an error in every contract
/// using it: how a role change shows in `status` without IAM.
const NO_IAM_GUARDRAIL: &str = r#"guardrail "no-iam" {
  description  = "No IAM actions"
  deny_actions = ["iam:*"]
}
"#;

/// A contract on rds-read owned by team:dba (the others are owned by security).
const DBA_OWNED_CONTRACT: &str = r#"contract "dev-db" {
  role          = "rds-read"
  resources     = ["arn:aws:rds:us-east-1:123456789012:db:dev-*"]
  approvers     = ["team:security"]
  min_approvals = 1
  max_duration  = "2h"
  owners        = ["team:dba"]
}
"#;

fn roles_with_iam() -> String {
    let r = ROLES_HCL.replace(
        r#"actions   = ["rds:Describe*"]"#,
        r#"actions   = ["rds:Describe*", "iam:*"]"#,
    );
    assert_ne!(r, ROLES_HCL);
    r
}

#[test]
fn widening_a_role_without_owner_approval_does_not_take_effect() {
    let repo = Repo::standard_with(&[("guardrails.hcl", NO_IAM_GUARDRAIL)]);
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write("roles/rds-read.hcl", &roles_with_iam());
    repo.commit("mallory", "2026-11-23T09:10:00Z", "More actions", &["bob"]);
    let s = repo.status(NOW);
    // The old role stands: the contract is fine and the grant goes on.
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

#[test]
fn widening_a_role_with_owner_approval_takes_effect() {
    let repo = Repo::standard_with(&[("guardrails.hcl", NO_IAM_GUARDRAIL)]);
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write("roles/rds-read.hcl", &roles_with_iam());
    repo.commit(
        "mallory",
        "2026-11-23T09:10:00Z",
        "More actions",
        &["frank"],
    );
    let s = repo.status(NOW);
    // The new role is in force, and the guardrail now rejects the contract.
    assert_pending(
        &s,
        "alice-db",
        "invalid",
        &["contract `db-read` has an error", "grants `iam:*`"],
    );
}

#[test]
fn role_change_needs_the_owners_of_every_contract_using_it() {
    // security owns db-read; dba owns dev-db: security alone is not enough.
    let repo = Repo::standard_with(&[
        ("guardrails.hcl", NO_IAM_GUARDRAIL),
        ("contracts/dev.hcl", DBA_OWNED_CONTRACT),
    ]);
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write("roles/rds-read.hcl", &roles_with_iam());
    repo.commit(
        "mallory",
        "2026-11-23T09:10:00Z",
        "More actions",
        &["frank"],
    );
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );

    // With both owners approving, it takes effect.
    let repo = Repo::standard_with(&[
        ("guardrails.hcl", NO_IAM_GUARDRAIL),
        ("contracts/dev.hcl", DBA_OWNED_CONTRACT),
    ]);
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write("roles/rds-read.hcl", &roles_with_iam());
    repo.commit(
        "mallory",
        "2026-11-23T09:10:00Z",
        "More actions",
        &["frank", "carol"],
    );
    let s = repo.status(NOW);
    assert_pending(&s, "alice-db", "invalid", &["grants `iam:*`"]);
}

// ---------------------------------------------------------------------------
// Definitions are guarded: settings (admins)
// ---------------------------------------------------------------------------

#[test]
fn settings_change_without_admin_approval_does_not_take_effect() {
    let repo = Repo::standard();
    // mallory makes eng the admins (alice approves), then has eng let her into dba.
    repo.write(
        "jit.hcl",
        &jit_hcl_with(r#"admins = ["team:security"]"#, r#"admins = ["team:eng"]"#),
    );
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Admins", &["alice"]);
    repo.write("people.hcl", &people_with_mallory_in_dba());
    repo.commit("mallory", "2026-11-23T09:05:00Z", "Join dba", &["alice"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["mallory is not an allowed approver"],
    );
}

#[test]
fn settings_change_with_admin_approval_takes_effect() {
    let repo = Repo::standard();
    repo.write(
        "jit.hcl",
        &jit_hcl_with(r#"admins = ["team:security"]"#, r#"admins = ["team:eng"]"#),
    );
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Admins", &["frank"]);
    // eng are the admins now: alice's approval lets mallory into dba.
    repo.write("people.hcl", &people_with_mallory_in_dba());
    repo.commit("mallory", "2026-11-23T09:05:00Z", "Join dba", &["alice"]);
    alice_requests(&repo, "alice", "2026-11-23T09:10:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:10:00Z",
        "2026-11-23T10:10:00Z",
        &["mallory"],
    );
}

#[test]
fn bot_email_change_without_admin_approval_does_not_take_effect() {
    let repo = Repo::standard();
    // If it stood, jit's own commits would no longer be recognised as the bot's.
    repo.write(
        "jit.hcl",
        &jit_hcl_with(
            r#"email = "jit@acme.example""#,
            r#"email = "robot@acme.example""#,
        ),
    );
    repo.commit("mallory", "2026-11-23T09:00:00Z", "Bot", &["alice"]);
    alice_requests(&repo, "jit", "2026-11-23T09:10:00Z", "1h", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(&s, "alice-db", "awaiting_approval", &["jit's bot"]);
}

#[test]
fn unapproved_branch_change_does_not_redirect_history() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write(
        "jit.hcl",
        &jit_hcl_with(r#"branch = "main""#, r#"branch = "evil""#),
    );
    let main_head = repo.commit("mallory", "2026-11-23T09:05:00Z", "Branch", &[]);
    // An unprotected branch where mallory writes her own trailers.
    repo.branch("evil");
    repo.write(
        "requests/mallory-db.hcl",
        &request("mallory-db", "mallory", "db-read", "4h"),
    );
    repo.commit("mallory", "2026-11-23T09:10:00Z", "Request", &["bob"]);
    repo.git(&["checkout", "--quiet", "main"]);
    let s = repo.status(NOW);
    assert_eq!(s["commit"], main_head.as_str(), "{s:#}");
    assert!(!listed(&s).contains(&"mallory-db".to_string()), "{s:#}");
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

#[test]
fn unapproved_approval_mode_change_does_not_stop_jit() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write(
        "jit.hcl",
        &jit_hcl_with(r#"approval = "trailers""#, r#"approval = "github""#),
    );
    repo.commit("mallory", "2026-11-23T09:05:00Z", "Approval mode", &[]);
    let out = repo.jit(&["status", "--json", "--now", NOW], &[]);
    assert!(out.status.success(), "jit status failed: {}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_active(
        &s,
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
}

// ---------------------------------------------------------------------------
// The window: not_before, expiry, deletion
// ---------------------------------------------------------------------------

#[test]
fn not_before_delays_the_start() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request_with(
            "alice-db",
            "alice",
            "db-read",
            "1h",
            r#"not_before = "2026-11-23T10:00:00Z""#,
        ),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "not_started",
        &["starts 2026-11-23T10:00:00Z"],
    );
    assert_active(
        &repo.status("2026-11-23T10:00:00Z"),
        "alice-db",
        "2026-11-23T10:00:00Z",
        "2026-11-23T11:00:00Z",
        &["bob"],
    );
    assert_pending(
        &repo.status("2026-11-23T11:00:00Z"),
        "alice-db",
        "ended",
        &["ended 2026-11-23T11:00:00Z"],
    );
}

#[test]
fn not_before_earlier_than_the_approval_starts_at_the_approval() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request_with(
            "alice-db",
            "alice",
            "db-read",
            "1h",
            r#"not_before = "2026-11-23T07:00:00Z""#,
        ),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    assert_active(
        &repo.status(NOW),
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
}

#[test]
fn not_before_does_not_make_an_unapproved_request_wait_as_approved() {
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request_with(
            "alice-db",
            "alice",
            "db-read",
            "1h",
            r#"not_before = "2026-11-23T10:00:00Z""#,
        ),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["mallory"]);
    for now in [NOW, "2026-11-23T10:30:00Z"] {
        assert_pending(
            &repo.status(now),
            "alice-db",
            "awaiting_approval",
            &["mallory is not an allowed approver"],
        );
    }
}

#[test]
fn grant_is_active_from_start_until_just_before_end() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["bob"]);
    assert_pending(
        &repo.status("2026-11-23T08:59:59Z"),
        "alice-db",
        "not_started",
        &["starts 2026-11-23T09:00:00Z"],
    );
    for now in ["2026-11-23T09:00:00Z", "2026-11-23T09:59:59Z"] {
        assert_active(
            &repo.status(now),
            "alice-db",
            "2026-11-23T09:00:00Z",
            "2026-11-23T10:00:00Z",
            &["bob"],
        );
    }
    for now in ["2026-11-23T10:00:00Z", "2026-11-24T09:00:00Z"] {
        let s = repo.status(now);
        assert!(active(&s).is_empty(), "{s:#}");
        assert_pending(&s, "alice-db", "ended", &["ended 2026-11-23T10:00:00Z"]);
    }
}

#[test]
fn default_duration_applies_when_the_request_names_none() {
    let repo = Repo::standard();
    let text = request("alice-db", "alice", "db-read", "1h").replace("  duration  = \"1h\"\n", "");
    assert!(!text.contains("duration"));
    repo.write("requests/alice-db.hcl", &text);
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    // db-read's default_duration is 1h.
    assert_active(
        &repo.status(NOW),
        "alice-db",
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
        &["bob"],
    );
}

#[test]
fn later_default_duration_change_does_not_stretch_an_approved_window() {
    let repo = Repo::standard();
    let text = request("alice-db", "alice", "db-read", "1h").replace("  duration  = \"1h\"\n", "");
    repo.write("requests/alice-db.hcl", &text);
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["bob"]);
    let contracts = CONTRACTS_HCL.replacen(
        r#"default_duration = "1h""#,
        r#"default_duration = "4h""#,
        1,
    );
    assert_ne!(contracts, CONTRACTS_HCL);
    repo.write("contracts/db.hcl", &contracts);
    repo.commit("bob", "2026-11-23T09:10:00Z", "Longer default", &["erin"]);
    let s = repo.status("2026-11-23T10:30:00Z");
    assert!(active(&s).is_empty(), "{s:#}");
    assert_pending(&s, "alice-db", "ended", &["ended 2026-11-23T10:00:00Z"]);
}

#[test]
fn deleting_the_request_file_ends_it() {
    let repo = Repo::standard();
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "2h", &["bob"]);
    repo.write(
        "requests/bob-db.hcl",
        &request("bob-db", "bob", "db-read", "2h"),
    );
    repo.commit("bob", "2026-11-23T09:05:00Z", "Request", &["carol"]);
    assert_eq!(active(&repo.status(NOW)), ["alice-db", "bob-db"]);
    // alice ends her own; anyone may end access, even without approval.
    repo.remove("requests/alice-db.hcl");
    repo.commit("alice", "2026-11-23T09:10:00Z", "Done", &[]);
    repo.remove("requests/bob-db.hcl");
    repo.commit("mallory", "2026-11-23T09:15:00Z", "Revoke bob", &[]);
    let s = repo.status(NOW);
    assert!(listed(&s).is_empty(), "{s:#}");
}

#[test]
fn an_approved_trust_anchor_starts_the_walk_there() {
    let repo = Repo::standard();
    // Early history without approvals: mallory made herself a DBA unapproved.
    repo.write(
        "people.hcl",
        &PEOPLE_HCL.replace(
            "members = [\"bob\", \"carol\"]",
            "members = [\"bob\", \"carol\", \"mallory\"]",
        ),
    );
    let anchor = repo.commit("mallory", "2026-11-23T08:10:00Z", "Imported history", &[]);
    // The admins decide to trust the state at `anchor`.
    let settings = JIT_HCL.replace(
        "  admins = [\"team:security\"]",
        &format!("  admins = [\"team:security\"]\n  trust_anchor = \"{anchor}\""),
    );
    repo.write("jit.hcl", &settings);
    repo.commit(
        "erin",
        "2026-11-23T08:20:00Z",
        "Trust the imported state",
        &["frank"],
    );
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &["mallory"]);
    assert_eq!(
        active(&repo.status("2026-11-23T09:30:00Z")),
        ["alice-db"],
        "mallory is a DBA from the anchor on"
    );
}

#[test]
fn an_unapproved_trust_anchor_is_refused() {
    let repo = Repo::standard();
    repo.write(
        "people.hcl",
        &PEOPLE_HCL.replace(
            "members = [\"bob\", \"carol\"]",
            "members = [\"bob\", \"carol\", \"mallory\"]",
        ),
    );
    let sneaky = repo.commit("mallory", "2026-11-23T08:10:00Z", "Join dba", &[]);
    let settings = JIT_HCL.replace(
        "  admins = [\"team:security\"]",
        &format!("  admins = [\"team:security\"]\n  trust_anchor = \"{sneaky}\""),
    );
    repo.write("jit.hcl", &settings);
    repo.commit(
        "mallory",
        "2026-11-23T08:20:00Z",
        "Trust my commit",
        &["bob"],
    );
    // Bob is no admin: the anchor is not in force, jit keeps running, and
    // mallory's unapproved membership stays out.
    alice_requests(&repo, "alice", "2026-11-23T09:00:00Z", "1h", &["mallory"]);
    let s = repo.status(NOW);
    assert_pending(
        &s,
        "alice-db",
        "awaiting_approval",
        &["mallory is not an allowed approver"],
    );
}
