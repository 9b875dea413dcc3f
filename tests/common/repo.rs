//! Real git repositories for tests: an access repo checked out on `main`
//! with a bare `origin`, commits with chosen authors, times and
//! `Approved-by:` trailers (as a forge writes them on merge).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The standard small access repo most tests start from.
pub const JIT_HCL: &str = r#"settings {
  branch = "main"
  approval = "trailers"
  admins = ["team:security"]
  bot {
    name  = "jit"
    email = "jit@acme.example"
  }
}

account "prod" {
  id = "123456789012"
}
"#;

pub const PEOPLE_HCL: &str = r#"user "alice" {
  email = "alice@acme.example"
  aws   = "arn:aws:iam::123456789012:user/alice"
}
user "bob" {
  email = "bob@acme.example"
  aws   = "arn:aws:iam::123456789012:user/bob"
}
user "carol" {
  email = "carol@acme.example"
  aws   = "arn:aws:iam::123456789012:user/carol"
}
user "erin" {
  email = "erin@acme.example"
  aws   = "arn:aws:iam::123456789012:user/erin"
}
user "frank" {
  email = "frank@acme.example"
  aws   = "arn:aws:iam::123456789012:user/frank"
}
user "mallory" {
  email = "mallory@acme.example"
  aws   = "arn:aws:iam::123456789012:user/mallory"
}

team "eng" { members = ["alice", "mallory"] }
team "dba" { members = ["bob", "carol"] }
team "security" { members = ["erin", "frank"] }
"#;

pub const ROLES_HCL: &str = r#"role "rds-read" {
  description = "Read-only RDS"
  statement {
    actions   = ["rds:Describe*"]
    resources = []
  }
}
"#;

pub const CONTRACTS_HCL: &str = r#"contract "db-read" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  requesters       = ["team:eng", "team:dba"]
  approvers        = ["team:dba"]
  min_approvals    = 1
  max_duration     = "4h"
  default_duration = "1h"
  require_reason   = true
  owners           = ["team:security"]
}

contract "db-two" {
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  approvers        = ["team:dba", "team:security"]
  min_approvals    = 2
  max_duration     = "4h"
  owners           = ["team:security"]
}

contract "db-auto" {
  role          = "rds-read"
  resources     = ["arn:aws:rds:us-east-1:123456789012:db:prod-*"]
  min_approvals = 0
  auto_approve  = true
  max_duration  = "1h"
  owners        = ["team:security"]
}
"#;

/// A request file for `contract`, `duration` long.
pub fn request(name: &str, requester: &str, contract: &str, duration: &str) -> String {
    format!(
        "request \"{name}\" {{\n  requester = \"{requester}\"\n  contract  = \"{contract}\"\n  duration  = \"{duration}\"\n  reason    = \"INC-1: testing\"\n}}\n"
    )
}

pub struct Repo {
    _dir: tempfile::TempDir,
    pub work: PathBuf,
    pub origin: PathBuf,
}

impl Repo {
    /// An empty repo on `main` with a bare origin.
    pub fn empty() -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("jit-repo-")
            .tempdir()
            .expect("temp dir");
        let origin = dir.path().join("origin.git");
        let work = dir.path().join("access");
        run_git(
            dir.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        run_git(
            dir.path(),
            &["init", "--quiet", "-b", "main", work.to_str().unwrap()],
        );
        let repo = Repo {
            _dir: dir,
            work,
            origin,
        };
        repo.git(&["remote", "add", "origin", repo.origin.to_str().unwrap()]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@acme.example"]);
        repo
    }

    /// The standard definitions as the root (trusted) commit, by erin (security).
    pub fn standard() -> Repo {
        let repo = Repo::empty();
        repo.write("jit.hcl", JIT_HCL);
        repo.write("people.hcl", PEOPLE_HCL);
        repo.write("roles/rds-read.hcl", ROLES_HCL);
        repo.write("contracts/db.hcl", CONTRACTS_HCL);
        repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
        repo
    }

    pub fn write(&self, path: &str, text: &str) {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.work.join(path)).unwrap()
    }

    pub fn exists(&self, path: &str) -> bool {
        self.work.join(path).exists()
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.work.join(path)).unwrap();
    }

    /// Commits everything as `author` (a user name: email `<author>@acme.example`)
    /// at `date`, with an `Approved-by:` trailer per approver name. Returns the sha.
    pub fn commit(&self, author: &str, date: &str, subject: &str, approvers: &[&str]) -> String {
        self.git(&["add", "-A"]);
        let message = message(subject, approvers);
        self.git_as(
            author,
            date,
            &["commit", "--quiet", "--allow-empty", "-m", &message],
        );
        self.head()
    }

    /// A merge commit (as a forge's "merge" button): `author` commits the
    /// current changes on a side branch, then the forge merges it with `--no-ff`.
    pub fn merge_commit(
        &self,
        author: &str,
        date: &str,
        subject: &str,
        approvers: &[&str],
    ) -> String {
        self.git(&["checkout", "--quiet", "-b", "side"]);
        self.git(&["add", "-A"]);
        self.git_as(author, date, &["commit", "--quiet", "-m", subject]);
        self.git(&["checkout", "--quiet", "main"]);
        let message = message(&format!("Merge pull request: {subject}"), approvers);
        self.git_as(
            "forge",
            date,
            &["merge", "--quiet", "--no-ff", "-m", &message, "side"],
        );
        self.git(&["branch", "--quiet", "-D", "side"]);
        self.head()
    }

    pub fn git_as(&self, author: &str, date: &str, args: &[&str]) -> String {
        let email = format!("{author}@acme.example");
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(args)
            .env("GIT_AUTHOR_NAME", author)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_NAME", "Forge")
            .env("GIT_COMMITTER_EMAIL", "forge@acme.example")
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn git(&self, args: &[&str]) -> String {
        run_git(&self.work, args)
    }

    pub fn origin_git(&self, args: &[&str]) -> String {
        run_git(&self.origin, args)
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn push(&self) {
        self.git(&["push", "--quiet", "origin", "main"]);
    }

    /// Runs jit on this repo with extra environment (e.g. moto's).
    pub fn jit(&self, args: &[&str], env: &[(String, String)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jit"));
        cmd.arg("-C")
            .arg(&self.work)
            .args(args)
            .env_remove("JIT_NOW")
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run jit")
    }

    /// `jit status --json` at `now`, parsed.
    pub fn status(&self, now: &str) -> serde_json::Value {
        let out = self.jit(&["status", "--json", "--now", now], &[]);
        assert!(
            out.status.success(),
            "jit status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }
}

fn message(subject: &str, approvers: &[&str]) -> String {
    let mut m = subject.to_string();
    if !approvers.is_empty() {
        m.push_str("\n\n");
        for a in approvers {
            let mut cap = a.chars();
            let name: String = cap
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + cap.as_str())
                .unwrap_or_default();
            m.push_str(&format!("Approved-by: {name} <{a}@acme.example>\n"));
        }
    }
    m
}

pub fn run_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The names in a status JSON's `active` list.
pub fn active(status: &serde_json::Value) -> Vec<String> {
    status["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["request"].as_str().unwrap().to_string())
        .collect()
}

/// The `detail` of a pending request in a status JSON.
pub fn pending_detail(status: &serde_json::Value, request: &str) -> Option<String> {
    status["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["request"] == request)
        .map(|p| {
            format!(
                "{}: {}",
                p["state"].as_str().unwrap(),
                p["detail"].as_str().unwrap()
            )
        })
}

/// Helpers for the approval suite: raw commit messages, separate author and
/// commit times, and pull-request branches merged by the forge.
impl Repo {
    /// The standard definitions plus `extra` files (path, text), as the root
    /// (trusted) commit, by erin (security).
    pub fn standard_with(extra: &[(&str, &str)]) -> Repo {
        let repo = Repo::empty();
        repo.write("jit.hcl", JIT_HCL);
        repo.write("people.hcl", PEOPLE_HCL);
        repo.write("roles/rds-read.hcl", ROLES_HCL);
        repo.write("contracts/db.hcl", CONTRACTS_HCL);
        for (path, text) in extra {
            repo.write(path, text);
        }
        repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
        repo
    }

    /// Commits everything with exactly `message` (trailers included) as
    /// `author` (email `<author>@acme.example`) at `date`. Returns the sha.
    pub fn commit_message(&self, author: &str, date: &str, message: &str) -> String {
        self.commit_dated(author, date, date, message)
    }

    /// Like `commit_message`, with the author date (which the author chooses)
    /// apart from the commit date (which the forge writes on merge).
    pub fn commit_dated(
        &self,
        author: &str,
        author_date: &str,
        commit_date: &str,
        message: &str,
    ) -> String {
        self.git(&["add", "-A"]);
        let email = format!("{author}@acme.example");
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(["commit", "--quiet", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_NAME", author)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_AUTHOR_DATE", author_date)
            .env("GIT_COMMITTER_NAME", "Forge")
            .env("GIT_COMMITTER_EMAIL", "forge@acme.example")
            .env("GIT_COMMITTER_DATE", commit_date)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git commit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.head()
    }

    /// Starts a pull-request branch `name` at the current commit and checks it out.
    pub fn branch(&self, name: &str) {
        self.git(&["checkout", "--quiet", "-b", name]);
    }

    /// The forge merges `branch` into `main` with `--no-ff` at `date`, with an
    /// `Approved-by:` trailer per approver name on the merge commit, and
    /// deletes the branch. Returns the merge commit's sha.
    pub fn merge_branch(
        &self,
        branch: &str,
        date: &str,
        subject: &str,
        approvers: &[&str],
    ) -> String {
        self.git(&["checkout", "--quiet", "main"]);
        let message = message(&format!("Merge pull request: {subject}"), approvers);
        self.git_as(
            "forge",
            date,
            &["merge", "--quiet", "--no-ff", "-m", &message, branch],
        );
        self.git(&["branch", "--quiet", "-D", branch]);
        self.head()
    }
}

/// Every request a status JSON mentions, active or pending.
pub fn listed(status: &serde_json::Value) -> Vec<String> {
    ["active", "pending"]
        .iter()
        .flat_map(|k| status[*k].as_array().unwrap().iter())
        .map(|r| r["request"].as_str().unwrap().to_string())
        .collect()
}
