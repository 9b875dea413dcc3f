//! The apply side of the security rules (DESIGN §4–§5), each against the
//! real binary, a real git repo with a bare origin and IAM on moto_server:
//! exit codes, plan files as confirmations, and endings that stick
//! (occupied archive paths, interrupted revokes, rejected pushes, renewals
//! landing while an archive push is retried).

mod common;

use common::moto::Moto;
use common::repo::*;
use serde_json::Value;

const APPROVED_AT: &str = "2026-11-23T09:00:00Z";
const DURING: &str = "2026-11-23T09:30:00Z";
const REVOKE_AT: &str = "2026-11-23T09:45:00Z";
const AFTER: &str = "2026-11-23T12:00:00Z";

/// A standard repo plus `extra` files committed (unapproved) by mallory,
/// alice's 2h request approved by bob, all pushed; a moto with the users.
fn setup(extra: &[(&str, &str)]) -> (Repo, Moto) {
    let moto = Moto::start();
    for u in ["alice", "bob", "carol"] {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    if !extra.is_empty() {
        for (path, text) in extra {
            repo.write(path, text);
        }
        repo.commit("mallory", "2026-11-23T08:30:00Z", "Some files", &[]);
    }
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    repo.commit("alice", APPROVED_AT, "Request db access", &["bob"]);
    repo.push();
    (repo, moto)
}

fn jit(repo: &Repo, moto: &Moto, now: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    repo.jit(&all, &moto.env())
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "jit failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn apply(repo: &Repo, moto: &Moto, now: &str) -> std::process::Output {
    ok(jit(repo, moto, now, &["apply", "--auto-approve"]))
}

fn plan_json(dir_repo: &Repo, moto: &Moto, now: &str) -> Value {
    let out = jit(dir_repo, moto, now, &["plan", "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan JSON: {e}\n{}{}", stdout(&out), stderr(&out)))
}

/// (action, request) of each planned action.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["request"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(a: &str, r: &str) -> (String, String) {
    (a.to_string(), r.to_string())
}

/// Whether origin's `main` has a file (or folder) at `path`.
fn on_origin(repo: &Repo, path: &str) -> bool {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo.origin)
        .args(["cat-file", "-e", &format!("main:{path}")])
        .output()
        .unwrap();
    out.status.success()
}

/// Another runner (a clone of origin) commits `files` as `author` at `date`
/// with `Approved-by:` trailers, and pushes; this clone has not fetched it.
fn push_from_elsewhere(
    repo: &Repo,
    files: &[(&str, &str)],
    author: &str,
    date: &str,
    subject: &str,
    approvers: &[&str],
) -> tempfile::TempDir {
    let other = tempfile::tempdir().unwrap();
    let clone = other.path().join("c");
    run_git(
        other.path(),
        &[
            "clone",
            "--quiet",
            repo.origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    for (path, text) in files {
        let p = clone.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    run_git(&clone, &["add", "-A"]);
    let mut message = subject.to_string();
    if !approvers.is_empty() {
        message.push_str("\n\n");
        for a in approvers {
            message.push_str(&format!("Approved-by: {a} <{a}@acme.example>\n"));
        }
    }
    let email = format!("{author}@acme.example");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["commit", "--quiet", "-m", &message])
        .env("GIT_AUTHOR_NAME", author)
        .env("GIT_AUTHOR_EMAIL", &email)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_NAME", "Forge")
        .env("GIT_COMMITTER_EMAIL", "forge@acme.example")
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_git(&clone, &["push", "--quiet", "origin", "main"]);
    other
}

fn origin_subjects(repo: &Repo) -> Vec<String> {
    repo.origin_git(&["log", "--format=%s", "main"])
        .lines()
        .map(str::to_string)
        .collect()
}

// ---- 9.14 exit codes -------------------------------------------------------

#[test]
fn every_error_exits_1_usage_errors_included_and_2_means_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jit"))
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .env_remove("JIT_NOW")
            .output()
            .unwrap()
    };
    for args in [
        &["plan", "--detailed-exitcode", "--detialed-exitcode"][..],
        &["--bogus", "plan"],
        &["plan", "--format", "yaml"],
        &["audit", "--verify", "--tolerance", "soon"],
        &["apply", "a.json", "b.json"],
        &["revoke", "x"],
        &["frobnicate"],
        &[],
        &["--now", "yesterday", "validate"],
        &["status"],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "jit {args:?} must exit 1:\n{}",
            stderr(&out)
        );
        assert!(!stderr(&out).is_empty(), "jit {args:?} says why");
    }
    for args in [
        &["--help"][..],
        &["--version"],
        &["plan", "--help"],
        &["help", "apply"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "jit {args:?}");
        assert!(!stdout(&out).is_empty(), "jit {args:?} prints on stdout");
    }
}

#[test]
fn detailed_exitcode_is_2_only_for_changes() {
    let (repo, moto) = setup(&[]);
    let out = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "changes");
    apply(&repo, &moto, DURING);
    let out = jit(&repo, &moto, DURING, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "no changes");
    let out = jit(
        &repo,
        &moto,
        DURING,
        &["plan", "--detailed-exitcode", "--out"],
    );
    assert_eq!(out.status.code(), Some(1), "a missing value is an error");
}

// ---- plan files --------------------------------------------------------------

#[test]
fn a_plan_file_whose_commit_is_not_a_commit_id_is_refused_without_a_panic() {
    let (repo, moto) = setup(&[]);
    let planfile = repo.work.join("../plan.json");
    ok(jit(
        &repo,
        &moto,
        DURING,
        &["plan", "--out", planfile.to_str().unwrap()],
    ));
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&planfile).unwrap()).unwrap();
    for commit in ["aéééééééééééééééééé", "abc", ""] {
        plan["commit"] = Value::from(commit);
        std::fs::write(&planfile, plan.to_string()).unwrap();
        let out = jit(&repo, &moto, DURING, &["apply", planfile.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{commit:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("not a git commit id"), "{err}");
    }
    assert!(
        moto.list_user_policies("alice").is_empty(),
        "nothing applied"
    );
}

#[test]
fn an_edited_plan_file_cannot_widen_a_grant() {
    let (repo, moto) = setup(&[]);
    let planfile = repo.work.join("../plan.json");
    let planfile = planfile.to_str().unwrap();
    ok(jit(&repo, &moto, DURING, &["plan", "--out", planfile]));
    let original = std::fs::read_to_string(planfile).unwrap();
    let plan: Value = serde_json::from_str(&original).unwrap();

    // Between CI jobs, someone widens the stored document.
    let mut widened = plan.clone();
    let doc = widened["actions"][0]["iam"]["document"]
        .as_str()
        .unwrap()
        .replace("rds:Describe*", "*")
        .replace("arn:aws:rds:us-east-1:123456789012:db:prod-*", "*");
    widened["actions"][0]["iam"]["document"] = Value::from(doc);
    std::fs::write(planfile, widened.to_string()).unwrap();
    let out = jit(&repo, &moto, DURING, &["apply", planfile]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not match the plan jit derives"), "{err}");
    assert!(err.contains("iam.document"), "{err}");
    assert!(
        moto.list_user_policies("alice").is_empty(),
        "nothing applied"
    );

    // ... or adds a grant for someone else, or stretches the window.
    let mut added = plan.clone();
    let mut extra = plan["actions"][0].clone();
    extra["request"] = Value::from("carol-db");
    extra["target"] = Value::from("inline policy jit-carol-db on user/carol");
    extra["iam"]["target"]["user"] = Value::from("carol");
    extra["iam"]["target"]["policy"] = Value::from("jit-carol-db");
    added["actions"].as_array_mut().unwrap().push(extra);
    let mut stretched = plan.clone();
    stretched["actions"][0]["end"] = Value::from("2026-11-30T11:00:00Z");
    // ... or moves the plan's time, whose windows jit would re-derive.
    let mut moved = plan.clone();
    moved["now"] = Value::from("2026-11-24T09:30:00Z");
    for edited in [added, stretched, moved] {
        std::fs::write(planfile, edited.to_string()).unwrap();
        let out = jit(&repo, &moto, DURING, &["apply", planfile]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("does not match the plan jit derives")
                || stderr(&out).contains("is in the future"),
            "{}",
            stderr(&out)
        );
    }
    assert!(moto.list_user_policies("alice").is_empty());
    assert!(moto.list_user_policies("carol").is_empty());

    // The plan as written applies.
    std::fs::write(planfile, &original).unwrap();
    ok(jit(&repo, &moto, DURING, &["apply", planfile]));
    assert_eq!(moto.list_user_policies("alice"), ["jit-alice-db"]);
    let doc = moto.get_user_policy("alice", "jit-alice-db").unwrap();
    assert!(doc.contains("rds:Describe*"), "{doc}");
}

// ---- 15.1 durable endings ------------------------------------------------------

#[test]
fn a_folder_at_the_archive_path_never_blocks_the_move_of_a_revoked_request() {
    let (repo, moto) = setup(&[("archive/2026/11/alice-db.hcl/keep.txt", "mine\n")]);
    apply(&repo, &moto, DURING);
    let out = jit(
        &repo,
        &moto,
        REVOKE_AT,
        &["revoke", "alice-db", "--reason", "INC-2 leaked key"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "an error for that path: {err}");
    assert!(
        err.contains("archive/2026/11/alice-db.hcl is already taken by a folder"),
        "{err}"
    );
    assert!(moto.list_user_policies("alice").is_empty(), "revoked");
    assert!(
        !on_origin(&repo, "requests/alice-db.hcl"),
        "the move happened"
    );
    assert!(on_origin(&repo, "archive/2026/11/alice-db-2.hcl"));
    assert!(
        on_origin(&repo, "archive/2026/11/alice-db.hcl/keep.txt"),
        "the folder in the way is left alone"
    );
    let message = repo.origin_git(&["log", "-1", "--format=%B", "main"]);
    for line in [
        "Jit-Outcome: revoked",
        "Jit-Archived-As: archive/2026/11/alice-db-2.hcl",
    ] {
        assert!(message.contains(line), "{line:?} in:\n{message}");
    }
    // Access never comes back.
    let plan = plan_json(&repo, &moto, "2026-11-23T10:00:00Z");
    assert!(actions(&plan).is_empty(), "{plan}");
}

#[test]
fn a_file_where_the_archive_folder_should_be_never_blocks_an_expiry() {
    let (repo, moto) = setup(&[("archive/2026", "not a folder\n")]);
    apply(&repo, &moto, DURING);
    let out = jit(&repo, &moto, AFTER, &["apply", "--auto-approve"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "an error for that path: {err}");
    assert!(
        err.contains("archive/2026 is a file where a folder should be"),
        "{err}"
    );
    assert!(moto.list_user_policies("alice").is_empty());
    assert!(
        !on_origin(&repo, "requests/alice-db.hcl"),
        "removed from requests/"
    );
    assert_eq!(
        repo.origin_git(&["show", "main:archive/2026"]),
        "not a folder\n",
        "the file in the way is left alone"
    );
    let message = repo.origin_git(&["log", "-1", "--format=%an%n%B", "main"]);
    for line in [
        "jit: expire alice-db",
        "Jit-Outcome: expired",
        "Jit-Archived-As: none (removed from requests/)",
    ] {
        assert!(message.contains(line), "{line:?} in:\n{message}");
    }
    let out = jit(&repo, &moto, AFTER, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_revoke_interrupted_before_its_archive_commit_is_never_granted_again() {
    let (repo, moto) = setup(&[]);
    apply(&repo, &moto, DURING);
    // The run dies after IAM and before the archive commit lands: the
    // branch cannot be updated.
    let lock = repo.work.join(".git/refs/heads/main.lock");
    std::fs::write(&lock, "").unwrap();
    let out = jit(
        &repo,
        &moto,
        REVOKE_AT,
        &["revoke", "alice-db", "--reason", "INC-3 compromised laptop"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(moto.list_user_policies("alice").is_empty(), "IAM revoked");
    std::fs::remove_file(&lock).unwrap();
    assert!(on_origin(&repo, "requests/alice-db.hcl"));

    // Any other runner (a fresh clone of origin) plans the ending, not a grant.
    let elsewhere = tempfile::tempdir().unwrap();
    let clone = elsewhere.path().join("c");
    run_git(
        elsewhere.path(),
        &[
            "clone",
            "--quiet",
            repo.origin.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jit"))
        .arg("-C")
        .arg(&clone)
        .args(["--now", "2026-11-23T09:50:00Z", "plan", "--json"])
        .envs(moto.env())
        .output()
        .unwrap();
    let plan: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(actions(&plan), [pair("archive", "alice-db")], "{plan}");
    // status says so too: never active while the ending is recorded.
    let s = repo.status("2026-11-23T09:50:00Z");
    assert!(active(&s).is_empty(), "{s:#}");
    let detail = pending_detail(&s, "alice-db").unwrap();
    assert!(detail.contains("INC-3 compromised laptop"), "{detail}");

    // The next apply here archives it as revoked, with the recorded reason.
    apply(&repo, &moto, "2026-11-23T09:50:00Z");
    assert!(
        moto.list_user_policies("alice").is_empty(),
        "never re-granted"
    );
    assert!(!on_origin(&repo, "requests/alice-db.hcl"));
    let message = repo.origin_git(&["log", "-1", "--format=%B", "main"]);
    for line in [
        "jit: revoke alice-db",
        "Jit-Outcome: revoked",
        "Jit-Reason: INC-3 compromised laptop",
        "Jit-Revoked-By: Test <test@acme.example>",
    ] {
        assert!(message.contains(line), "{line:?} in:\n{message}");
    }
    let record = repo.origin_git(&["log", "-1", "--format=%an%n%B", "jit-endings"]);
    assert!(record.contains("Jit-Request: alice-db"), "{record}");
}

#[test]
fn a_rejected_push_never_drops_an_unpushed_archive_commit() {
    let (repo, moto) = setup(&[]);
    apply(&repo, &moto, DURING);
    ok(jit(
        &repo,
        &moto,
        AFTER,
        &["apply", "--auto-approve", "--no-push"],
    ));
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "main"]).trim(),
        "jit: expire alice-db"
    );
    // Origin moves on meanwhile: the next push is rejected.
    let _other = push_from_elsewhere(
        &repo,
        &[("docs/readme.txt", "hello\n")],
        "carol",
        "2026-11-23T11:30:00Z",
        "carol",
        &[],
    );
    let out = apply(&repo, &moto, AFTER);
    let subjects = origin_subjects(&repo);
    assert_eq!(
        subjects[..2],
        ["jit: expire alice-db", "carol"],
        "{subjects:?}\n{}",
        stderr(&out)
    );
    assert!(on_origin(&repo, "archive/2026/11/alice-db.hcl"));
    assert!(!on_origin(&repo, "requests/alice-db.hcl"));
    assert!(repo.exists("docs/readme.txt"), "the work tree follows");
}

// ---- 15.4 archive retry ----------------------------------------------------------

#[test]
fn a_retried_archive_move_leaves_a_renewal_that_landed_meanwhile() {
    let (repo, moto) = setup(&[]);
    apply(&repo, &moto, DURING);
    // alice's renewal (new content, approved) lands on origin while this
    // runner plans the expiry of the old version.
    let renewal = request("alice-db", "alice", "db-read", "3h").replace("INC-1", "INC-9");
    let _other = push_from_elsewhere(
        &repo,
        &[("requests/alice-db.hcl", &renewal)],
        "alice",
        "2026-11-23T11:30:00Z",
        "Renew db access",
        &["bob"],
    );
    apply(&repo, &moto, AFTER);
    assert_eq!(
        repo.origin_git(&["show", "main:requests/alice-db.hcl"]),
        renewal,
        "the renewal stays"
    );
    assert!(!on_origin(&repo, "archive/2026/11/alice-db.hcl"));
    assert_eq!(origin_subjects(&repo)[0], "Renew db access");
    // ... and the next run grants it.
    let plan = plan_json(&repo, &moto, AFTER);
    assert_eq!(actions(&plan), [pair("grant", "alice-db")], "{plan}");
    assert_eq!(plan["actions"][0]["end"], "2026-11-23T14:30:00Z");
}
