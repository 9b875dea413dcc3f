//! The effectful shell around git: reading files and history at commits,
//! approvals from trailers, and jit's own archive commits.

pub mod archive;
pub mod endings;
pub mod github;
pub mod history;

use std::path::Path;

use anyhow::{Context, anyhow};
use git2::{ObjectType, Oid, Repository, Tree};

use crate::config::{self, SourceFile, parse::FileKind};

pub fn open(dir: &Path) -> anyhow::Result<Repository> {
    Repository::open(dir).with_context(|| {
        format!(
            "{} is not a git repository (the access repo must be one)",
            dir.display()
        )
    })
}

/// The branch named by `settings.branch` in the checked-out commit's `jit.hcl`
/// (default `main`), and its head commit. This is only a candidate: the
/// history reader checks it against the *approved* settings.
pub fn branch_head(repo: &Repository) -> anyhow::Result<(String, Oid)> {
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let mut branch = "main".to_string();
    if let Some(tree) = head_tree {
        let files = read_files(repo, &tree, |p| p == "jit.hcl")?;
        let (parsed, _) = config::parse_files(&files);
        branch = parsed.defs.settings.branch;
    }
    Ok((branch.clone(), resolve_branch(repo, &branch)?))
}

pub fn resolve_branch(repo: &Repository, branch: &str) -> anyhow::Result<Oid> {
    let reference = repo.find_branch(branch, git2::BranchType::Local).map_err(|_| {
        let remote = format!("origin/{branch}");
        match repo.find_branch(&remote, git2::BranchType::Remote) {
            Ok(_) => anyhow!(
                "branch `{branch}` (settings.branch) is not checked out locally; CI checkouts are often detached: run `git checkout -B {branch} {remote}` first"
            ),
            Err(_) => anyhow!("branch `{branch}` (settings.branch) does not exist in this repository"),
        }
    })?;
    reference
        .get()
        .target()
        .ok_or_else(|| anyhow!("branch `{branch}` has no commit"))
}

/// The `*.hcl` files of a tree whose path passes `keep`, as source files.
pub fn read_files(
    repo: &Repository,
    tree: &Tree,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Ok;
        };
        let path = format!("{dir}{name}");
        // Hidden entries are not part of the access repo (as on disk, see worktree.rs).
        if name.starts_with('.') {
            return git2::TreeWalkResult::Skip;
        }
        if entry.kind() == Some(ObjectType::Tree) {
            return if dir.is_empty() && name == "archive" {
                git2::TreeWalkResult::Skip
            } else {
                git2::TreeWalkResult::Ok
            };
        }
        if name.ends_with(".hcl") && keep(&path) {
            match repo.find_blob(entry.id()) {
                Ok(blob) => out.push(SourceFile {
                    path,
                    text: String::from_utf8_lossy(blob.content()).into_owned(),
                }),
                Err(e) => failure = Some(e),
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(out)
}

/// Definitions and requests files: everything but the archive.
pub fn is_live(path: &str) -> bool {
    matches!(
        config::parse::file_kind(path),
        FileKind::Definitions | FileKind::Request
    )
}

pub fn is_definitions(path: &str) -> bool {
    config::parse::file_kind(path) == FileKind::Definitions
}

/// The id of the blob at `path` in `tree`, if any.
pub fn blob_at(tree: &Tree, path: &str) -> Option<Oid> {
    tree.get_path(Path::new(path)).ok().map(|e| e.id())
}

pub fn short(oid: Oid) -> String {
    oid.to_string()[..10].to_string()
}
