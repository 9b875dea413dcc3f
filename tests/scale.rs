//! History cost: the reader loads a number of tree objects linear in the
//! history, never one lookup per live request per commit. Counted, not
//! timed (timings are the benchmark's job: scripts/bench.sh).

mod common;

use common::repo::*;

/// A repo with `n` live requests, one commit each (auto-approved).
fn repo_with(n: usize) -> Repo {
    let repo = Repo::standard();
    for i in 0..n {
        repo.write(
            &format!("requests/r-{i}.hcl"),
            &request(&format!("r-{i}"), "alice", "db-auto", "1h"),
        );
        repo.commit("alice", "2026-11-23T09:00:00Z", "Request", &[]);
    }
    repo
}

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
    let (small_commits, small) = trees_read(&repo_with(50));
    let (large_commits, large) = trees_read(&repo_with(150));
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
