//! The effectful shell around git: reading files and history at commits,
//! approvals from trailers, and jit's own archive commits.

pub mod archive;
pub mod endings;
pub mod github;
pub mod graph;
pub mod history;
pub mod lease;

use std::path::Path;

use anyhow::{Context, anyhow};
use git2::{ObjectType, Oid, Repository, Tree};

use crate::config::{self, SourceFile, parse::FileKind};
use crate::diag::{Diagnostic, Loc, Subject};

pub fn open(dir: &Path) -> anyhow::Result<Repository> {
    Repository::open(dir).with_context(|| {
        format!(
            "{} is not a git repository (the access repo must be one)",
            dir.display()
        )
    })
}

/// The branch jit starts reading from: the checked-out branch; on a
/// detached HEAD (CI checkouts), the branch the checked-out `jit.hcl` names
/// (default `main`), provided the checked-out commit is on its first-parent
/// history. Only a start: the history reader follows approved switches.
pub fn start_branch(repo: &Repository) -> anyhow::Result<(String, Oid)> {
    ensure_full_history(repo)?;
    if let Ok(head) = repo.head()
        && head.is_branch()
        && let Ok(name) = head.shorthand()
    {
        let name = name.to_string();
        return Ok((name.clone(), resolve_branch(repo, &name)?));
    }
    let (branch, tip) = branch_head(repo)?;
    let Some(checked_out) = repo.head().ok().and_then(|h| h.target()) else {
        return Ok((branch, tip));
    };
    if on_first_parent_chain(repo, tip, checked_out)? {
        return Ok((branch, tip));
    }
    anyhow::bail!(
        "HEAD is detached at {}, which is not on the first-parent history of branch `{branch}` (settings.branch); check out the branch jit should follow: git checkout -B {branch} origin/{branch}",
        short(checked_out)
    )
}

/// Refuses a shallow clone: approvals are judged from the whole first-parent
/// history (definitions are replayed from the root), which such a clone cuts
/// off.
pub fn ensure_full_history(repo: &Repository) -> anyhow::Result<()> {
    anyhow::ensure!(
        !repo.is_shallow(),
        "{} is a shallow clone: jit judges every approval from the branch's whole history; fetch all of it (git fetch --unshallow; actions/checkout: fetch-depth: 0; GitLab: GIT_DEPTH: \"0\")",
        repo.path().display()
    );
    Ok(())
}

/// Whether `target` is on the first-parent chain ending at `tip`.
pub fn on_first_parent_chain(repo: &Repository, tip: Oid, target: Oid) -> anyhow::Result<bool> {
    let mut commit = repo.find_commit(tip)?;
    loop {
        if commit.id() == target {
            return Ok(true);
        }
        match commit.parent_id(0) {
            Ok(parent) => commit = repo.find_commit(parent)?,
            Err(_) => return Ok(false),
        }
    }
}

/// The branch named by `settings.branch` in the checked-out commit's `jit.hcl`
/// (default `main`), and its head commit. This is only a candidate: the
/// history reader checks it against the *approved* settings.
pub fn branch_head(repo: &Repository) -> anyhow::Result<(String, Oid)> {
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let mut branch = "main".to_string();
    if let Some(tree) = head_tree {
        let (files, _) = read_files(repo, &tree, |p| p == "jit.hcl")?;
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

/// Files larger than this are not read (an error for that path alone).
pub const MAX_FILE_BYTES: usize = config::parse::MAX_FILE_BYTES;

/// The `*.hcl` files of a tree whose path passes `keep`, as source files,
/// and a diagnostic for every entry that cannot be one: a gitlink or
/// symlink, a non-UTF-8 or oversized file, anything under `requests/` that
/// is not a regular `requests/<name>.hcl`. Each is an error for its path
/// alone; no entry stops the read.
pub fn read_files(
    repo: &Repository,
    tree: &Tree,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<(Vec<SourceFile>, Vec<Diagnostic>)> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut failure = None;
    let wants_requests = keep("requests/x.hcl");
    let odb = repo.odb()?;
    let mut requests_seen = 0;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        let path = format!("{dir}{name}");
        // Hidden entries are not part of the access repo (as on disk, see worktree.rs).
        if name.starts_with('.') {
            return git2::TreeWalkResult::Skip;
        }
        let in_requests = dir == "requests/";
        if entry.kind() == Some(ObjectType::Tree) {
            if dir.is_empty() && (name == "archive" || name == "requests" && !wants_requests) {
                return git2::TreeWalkResult::Skip;
            }
            if in_requests {
                if wants_requests {
                    diags.push(path_error(
                        &format!("{path}/"),
                        "is a folder: only regular files directly under requests/ are requests; move it out of requests/",
                    ));
                }
                return git2::TreeWalkResult::Skip;
            }
            return git2::TreeWalkResult::Ok;
        }
        if in_requests {
            if !wants_requests {
                return git2::TreeWalkResult::Ok;
            }
            // A flood of files is not read past the limit (git orders
            // entries by name, so the same files are read each time).
            requests_seen += 1;
            if requests_seen > config::parse::MAX_REQUEST_FILES {
                return git2::TreeWalkResult::Ok;
            }
            if !is_request_file_name(&name) {
                diags.push(path_error(
                    &path,
                    "is not a request: only files named requests/<name>.hcl (a name matching ^[a-z0-9][a-z0-9-]{0,62}$) are requests",
                ));
                return git2::TreeWalkResult::Ok;
            }
        } else if !name.ends_with(".hcl") || !keep(&path) {
            return git2::TreeWalkResult::Ok;
        }
        let kind = match entry.kind() {
            Some(ObjectType::Blob) if entry.filemode() == 0o120000 => "a symbolic link",
            Some(ObjectType::Blob) => "",
            Some(ObjectType::Commit) => "a submodule (gitlink)",
            _ => "not a file",
        };
        if !kind.is_empty() {
            diags.push(path_error(&path, &format!("is {kind}, not a regular file; it is ignored")));
            return git2::TreeWalkResult::Ok;
        }
        // The size comes from the object's header: an oversized blob is
        // never loaded into memory.
        match odb.read_header(entry.id()) {
            Ok((size, _)) if size > MAX_FILE_BYTES => {
                diags.push(path_error(
                    &path,
                    &format!("is {size} bytes, over the limit of {MAX_FILE_BYTES}; it is ignored"),
                ));
                return git2::TreeWalkResult::Ok;
            }
            Ok(_) => {}
            Err(e) => {
                failure = Some(e);
                return git2::TreeWalkResult::Ok;
            }
        }
        match repo.find_blob(entry.id()) {
            Ok(blob) => match std::str::from_utf8(blob.content()) {
                Ok(text) => out.push(SourceFile {
                    path,
                    text: text.to_string(),
                }),
                Err(e) => diags.push(path_error(
                    &path,
                    &format!("is not UTF-8 (invalid byte at offset {}); it is ignored", e.valid_up_to()),
                )),
            },
            Err(e) => failure = Some(e),
        }
        git2::TreeWalkResult::Ok
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    if requests_seen > config::parse::MAX_REQUEST_FILES {
        diags.push(config::parse::too_many_requests(requests_seen));
    }
    Ok((out, diags))
}

/// The blob of every request file (`requests/<name>.hcl`, any entry kind)
/// of a tree, by request name: what PR mode compares byte for byte.
pub fn request_blobs(
    repo: &Repository,
    tree: &Tree,
) -> anyhow::Result<std::collections::BTreeMap<String, Oid>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(entry) = tree.get_name("requests") else {
        return Ok(out);
    };
    let Ok(requests) = repo.find_tree(entry.id()) else {
        return Ok(out);
    };
    for e in requests.iter() {
        if let Ok(file) = std::str::from_utf8(e.name_bytes())
            && is_request_file_name(file)
        {
            out.insert(file.trim_end_matches(".hcl").to_string(), e.id());
        }
    }
    Ok(out)
}

/// `<name>.hcl` with a valid request name.
pub fn is_request_file_name(file: &str) -> bool {
    file.strip_suffix(".hcl")
        .is_some_and(config::parse::is_valid_name)
}

/// An error about a path as a whole, about the request it would be if any.
fn path_error(path: &str, message: &str) -> Diagnostic {
    let subject = path
        .strip_prefix("requests/")
        .filter(|f| is_request_file_name(f))
        .map_or(Subject::Other, |f| {
            Subject::Request(f.trim_end_matches(".hcl").to_string())
        });
    Diagnostic::error(Loc::file(path), format!("{path} {message}")).about(subject)
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
    let mut s = oid.to_string();
    s.truncate(10);
    s
}
