//! DESIGN §2: every way around the approval rules must fail. Git-only: these
//! run `jit status --json`, which judges approvals from history alone.

mod common;

use common::repo::*;

const NOW: &str = "2026-11-23T09:30:00Z";

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
