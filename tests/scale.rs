//! History cost: the reader loads a number of tree objects linear in the
//! history, never one lookup per live request per commit. Counted, not
//! timed (timings are the benchmark's job: scripts/bench.sh).

mod common;

use common::repo::*;

/// (commits, trees read) from the history reader's debug line.
fn trees_read(repo: &Repo) -> (usize, usize) {
    let out = repo.jit(
        &["status", "--json", "--now", "2026-11-23T09:30:00Z"],
        &[("RUST_LOG".into(), "jit::git::history=debug".into())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("trees read"))
        .unwrap_or_else(|| panic!("no trees-read line in:\n{err}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let n = numbers.len();
    (numbers[n - 2], numbers[n - 1])
}

#[test]
fn tree_reads_grow_linearly_with_live_requests() {
    let (small_commits, small) = trees_read(&repo_with_archived(0, 50));
    let (large_commits, large) = trees_read(&repo_with_archived(0, 150));
    assert_eq!((small_commits, large_commits), (51, 151));
    // One root tree and one requests/ tree per commit, plus the definitions.
    assert!(
        small <= 2 * small_commits + 2,
        "{small} trees for {small_commits} commits"
    );
    assert!(
        large <= 2 * large_commits + 2,
        "{large} trees for {large_commits} commits"
    );
    // A per-path lookup per commit would read ~9x more for 3x the requests.
    assert!(large * 10 <= small * 33, "{small} -> {large}: not linear");
}

/// A repo with `archived` requests that came and went (added, then removed
/// as jit's archive move does), then `live` live ones, one commit each
/// (auto-approved).
fn repo_with_archived(archived: usize, live: usize) -> Repo {
    let repo = Repo::standard();
    for i in 0..archived {
        let path = format!("requests/old-{i}.hcl");
        repo.write(
            &path,
            &request(&format!("old-{i}"), "alice", "db-auto", "1h"),
        );
        repo.commit("alice", "2026-11-01T09:00:00Z", "Request", &[]);
        repo.remove(&path);
        repo.commit("alice", "2026-11-01T10:00:00Z", "Archive", &[]);
    }
    for i in 0..live {
        repo.write(
            &format!("requests/r-{i}.hcl"),
            &request(&format!("r-{i}"), "alice", "db-auto", "1h"),
        );
        repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    }
    repo
}

#[test]
fn archived_history_costs_one_tree_per_commit_and_no_requests_reads() {
    let (none_commits, none) = trees_read(&repo_with_archived(0, 20));
    let (many_commits, many) = trees_read(&repo_with_archived(60, 20));
    assert_eq!(many_commits - none_commits, 120);
    // Only the root tree of each archived commit: `requests/` is read back
    // from the head only as far as the live requests' creations.
    assert_eq!(
        many - none,
        120,
        "{none} trees for {none_commits} commits, {many} for {many_commits}"
    );
}

#[test]
fn a_commit_graph_changes_no_answer() {
    let repo = repo_with_archived(5, 5);
    // A merge on the first-parent chain, and a commit after the graph.
    repo.branch("side");
    repo.write(
        "requests/side.hcl",
        &request("side", "alice", "db-auto", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:05:00Z", "Side", &[]);
    repo.merge_branch("side", "2026-11-23T09:06:00Z", "Side", &[]);
    let before = repo.status("2026-11-23T09:30:00Z");
    repo.git(&["commit-graph", "write", "--reachable"]);
    repo.write(
        "requests/late.hcl",
        &request("late", "alice", "db-auto", "1h"),
    );
    repo.commit("alice", "2026-11-23T09:10:00Z", "Late", &[]);
    let after_graph = repo.status("2026-11-23T09:30:00Z");
    std::fs::remove_file(repo.work.join(".git/objects/info/commit-graph")).unwrap();
    let without = repo.status("2026-11-23T09:30:00Z");
    assert_eq!(after_graph, without);
    assert_eq!(active(&before).len() + 1, active(&without).len());
    assert!(active(&without).contains(&"late".to_string()), "{without}");
}
