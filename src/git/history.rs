//! Reads the branch's first-parent history into what is in force now:
//! the effective (approved) definitions, and for each request file the
//! commit that introduced its current content and whether that was approved.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use git2::{Commit, Oid, Repository, Tree};

use super::github::{GithubClient, Review};
use crate::approval::{self, Evidence, Identity, Object, Verdict};
use crate::config::{self, AccessRepo, ApprovalMode, Definitions, Duration, Request};
use crate::diag::{self, Diagnostic};

/// The access repo as jit sees it at the branch head.
#[derive(Debug)]
pub struct Snapshot {
    pub branch: String,
    pub head: Oid,
    /// The files at head, as written (approved or not).
    pub head_repo: AccessRepo,
    /// Problems found parsing the files at head (syntax, types, names).
    /// Cross-references are checked against the definitions in force, by the
    /// planner: an unapproved definitions change must not invalidate anything.
    pub diags: Vec<Diagnostic>,
    /// The definitions in force: the last approved version of each object.
    pub effective: Definitions,
    /// Definition changes at head that are not (yet) in force.
    pub unapproved: Vec<UnapprovedChange>,
    pub requests: Vec<RequestRecord>,
    /// First-parent commits read (for stats).
    pub commits_walked: usize,
    /// GitHub API calls made (approval = "github").
    pub forge_calls: usize,
}

#[derive(Debug, Clone)]
pub struct UnapprovedChange {
    pub object: Object,
    pub commit: Oid,
    pub reason: String,
}

/// A request file at head and how its current content got there.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub request: Request,
    /// The blob of the request file's current content (what an ending ends).
    pub blob: Oid,
    /// The first-parent commit that introduced the current content.
    pub commit: Oid,
    /// That commit's time: the approval time.
    pub approved_at: DateTime<Utc>,
    /// The duration as approved: the request's own, or its contract's
    /// default in the definitions in force then (a later change of the
    /// default must not stretch an approved window).
    pub duration: Option<Duration>,
    pub verdict: Verdict,
    /// The approvers' emails as recorded (for the archive trailers).
    pub approver_emails: Vec<String>,
}

/// Reads the snapshot at `head` of `branch`.
pub fn read(repo: &Repository, branch: &str, head: Oid) -> anyhow::Result<Snapshot> {
    let chain = first_parent_chain(repo, head)?;
    let head_commit = repo.find_commit(head)?;
    let head_tree = head_commit.tree()?;
    let files = super::read_files(repo, &head_tree, super::is_live)?;
    let (head_repo, mut diags) = config::parse_files(&files);
    diag::sort(&mut diags);
    let anchor = head_repo.defs.settings.trust_anchor.as_deref();
    let chain = from_anchor(repo, chain, anchor)?;

    let mut approvals = Approvals::default();
    let defs_walk = walk_definitions(repo, &chain, &mut approvals)?;
    if defs_walk.effective.settings.trust_anchor.as_deref() != anchor {
        anyhow::bail!(
            "settings.trust_anchor = {:?} at the head of {branch} is not approved: the settings change that set it needs the admins' approval",
            anchor.unwrap_or_default()
        );
    }
    log::debug!(
        "{branch}: {} first-parent commits, {} definition versions in force over time, {} refused changes",
        chain.len(),
        defs_walk.history.len(),
        defs_walk.refused.len()
    );
    let requests = resolve_requests(
        repo,
        &chain,
        &head_tree,
        &head_repo,
        &defs_walk,
        &mut approvals,
    )?;

    let mut unapproved = Vec::new();
    for object in approval::changed_objects(&defs_walk.effective, &head_repo.defs) {
        let (commit, reason) = defs_walk
            .refused
            .get(&object)
            .cloned()
            .unwrap_or((head, "not approved".to_string()));
        unapproved.push(UnapprovedChange {
            object,
            commit,
            reason,
        });
    }

    Ok(Snapshot {
        branch: branch.to_string(),
        head,
        head_repo,
        diags,
        effective: defs_walk.effective,
        unapproved,
        requests,
        commits_walked: chain.len(),
        forge_calls: approvals.github.as_ref().map_or(0, |g| g.calls),
    })
}

/// The part of the chain from the trust anchor on: the anchor's definitions
/// are trusted as the root's would be. The anchor must be a first-parent
/// ancestor; whether the setting itself was approved is checked after the walk.
pub fn from_anchor(
    repo: &Repository,
    chain: Vec<Oid>,
    anchor: Option<&str>,
) -> anyhow::Result<Vec<Oid>> {
    let Some(anchor) = anchor else {
        return Ok(chain);
    };
    let oid = repo
        .revparse_single(anchor)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(|_| {
            anyhow::anyhow!("settings.trust_anchor {anchor:?} is not a commit in this repository")
        })?;
    match chain.iter().position(|c| *c == oid) {
        Some(i) => Ok(chain[i..].to_vec()),
        None => anyhow::bail!(
            "settings.trust_anchor {anchor:?} is not on the branch's first-parent history"
        ),
    }
}

/// First-parent commits from the root to `head`, oldest first.
/// Follows first parents only, so only ids are held, never commits or trees.
pub fn first_parent_chain(repo: &Repository, head: Oid) -> anyhow::Result<Vec<Oid>> {
    let mut chain = vec![head];
    let mut commit = repo
        .find_commit(head)
        .context("walking the branch's history")?;
    while let Ok(parent) = commit.parent_id(0) {
        chain.push(parent);
        commit = repo
            .find_commit(parent)
            .context("walking the branch's history")?;
    }
    chain.reverse();
    Ok(chain)
}

pub struct DefinitionsWalk {
    pub effective: Definitions,
    /// For each position in the chain where the effective definitions changed,
    /// the definitions in force from then on.
    pub history: Vec<(usize, Definitions)>,
    /// The latest refused change per object.
    pub refused: BTreeMap<Object, (Oid, String)>,
}

impl DefinitionsWalk {
    /// The definitions in force before the commit at `position`.
    pub fn before(&self, position: usize) -> &Definitions {
        let i = self.history.partition_point(|(p, _)| *p < position);
        &self.history[i.saturating_sub(1)].1
    }
}

/// What identifies the definitions in a tree without reading them: the ids of
/// the top-level entries other than requests/ and archive/.
pub fn definitions_fingerprint(tree: &Tree) -> Vec<(String, Oid)> {
    tree.iter()
        .filter_map(|e| Some((e.name().ok()?.to_string(), e.id())))
        .filter(|(n, _)| n != "requests" && n != "archive" && !n.starts_with('.'))
        .collect()
}

pub fn definitions_at(repo: &Repository, tree: &Tree) -> anyhow::Result<Definitions> {
    let files = super::read_files(repo, tree, super::is_definitions)?;
    Ok(config::parse_files(&files).0.defs)
}

/// Replays every definitions change from the root: each stands only if the
/// definitions in force before it say its approvals suffice.
pub fn walk_definitions(
    repo: &Repository,
    chain: &[Oid],
    approvals: &mut Approvals,
) -> anyhow::Result<DefinitionsWalk> {
    let root = repo.find_commit(chain[0])?;
    let root_tree = root.tree()?;
    let mut raw = definitions_at(repo, &root_tree)?;
    let mut fingerprint = definitions_fingerprint(&root_tree);
    let mut walk = DefinitionsWalk {
        effective: raw.clone(),
        history: vec![(0, raw.clone())],
        refused: BTreeMap::new(),
    };
    for (position, oid) in chain.iter().enumerate().skip(1) {
        let commit = repo.find_commit(*oid)?;
        let tree = commit.tree()?;
        let next = definitions_fingerprint(&tree);
        if next == fingerprint {
            continue;
        }
        fingerprint = next;
        let new_raw = definitions_at(repo, &tree)?;
        let changed = approval::changed_objects(&raw, &new_raw);
        if !changed.is_empty() {
            let before = walk.effective.clone();
            let ev = approvals.evidence(repo, &commit, &before, None)?;
            let mut adopted = false;
            for object in changed {
                match approval::judge_definition_change(&before, &object, &ev) {
                    Verdict::Approved { .. } => {
                        approval::adopt(&mut walk.effective, &new_raw, &object);
                        walk.refused.remove(&object);
                        adopted = true;
                    }
                    Verdict::Pending { reason } => {
                        walk.refused.insert(object, (*oid, reason));
                    }
                }
            }
            if adopted {
                walk.history.push((position, walk.effective.clone()));
            }
        }
        raw = new_raw;
    }
    Ok(walk)
}

/// For each request at head, finds the first-parent commit that introduced
/// its current content (walking back only as far as the oldest one) and
/// judges that commit's approvals.
fn resolve_requests(
    repo: &Repository,
    chain: &[Oid],
    head_tree: &Tree,
    head_repo: &AccessRepo,
    defs_walk: &DefinitionsWalk,
    approvals: &mut Approvals,
) -> anyhow::Result<Vec<RequestRecord>> {
    let mut unresolved: BTreeMap<String, Oid> = BTreeMap::new();
    for name in head_repo.requests.keys() {
        let path = format!("requests/{name}.hcl");
        if let Some(blob) = super::blob_at(head_tree, &path) {
            unresolved.insert(path, blob);
        }
    }
    let mut found: Vec<(String, Oid, usize)> = Vec::new();
    let mut position = chain.len();
    while !unresolved.is_empty() && position > 0 {
        position -= 1;
        let commit = repo.find_commit(chain[position])?;
        let parent_tree = match position {
            0 => None,
            _ => Some(repo.find_commit(chain[position - 1])?.tree()?),
        };
        let tree = commit.tree()?;
        let subtree = |t: &Tree| t.get_name("requests").map(|e| e.id());
        if let Some(pt) = &parent_tree
            && subtree(pt) == subtree(&tree)
        {
            continue;
        }
        let introduced: Vec<String> = unresolved
            .iter()
            .filter(|(path, blob)| {
                parent_tree.as_ref().and_then(|pt| super::blob_at(pt, path)) != Some(**blob)
            })
            .map(|(path, _)| path.clone())
            .collect();
        for path in introduced {
            if let Some(blob) = unresolved.remove(&path) {
                found.push((path, blob, position));
            }
        }
    }

    let mut out = Vec::new();
    for (path, blob, position) in found {
        let name = path
            .trim_start_matches("requests/")
            .trim_end_matches(".hcl");
        let request = head_repo.requests[name].clone();
        let commit = repo.find_commit(chain[position])?;
        let before = defs_walk.before(position);
        let ev = approvals.evidence(repo, &commit, before, Some(&path))?;
        let verdict = approval::judge_request(before, &request, &ev);
        let approver_emails = match &verdict {
            Verdict::Approved { approvers } => approvers
                .iter()
                .filter_map(|u| before.users.get(u).map(|u| u.email.clone()))
                .collect(),
            Verdict::Pending { .. } => Vec::new(),
        };
        out.push(RequestRecord {
            duration: before.duration_of(&request),
            request,
            blob,
            commit: commit.id(),
            approved_at: commit_time(&commit),
            verdict,
            approver_emails,
        });
    }
    out.sort_by(|a, b| a.request.name.cmp(&b.request.name));
    Ok(out)
}

pub fn commit_time(commit: &Commit) -> DateTime<Utc> {
    Utc.timestamp_opt(commit.time().seconds(), 0)
        .single()
        .unwrap_or_default()
}

/// Where approvals come from, by the approval mode in force before each
/// commit (so switching modes is itself a guarded settings change).
#[derive(Default)]
pub struct Approvals {
    github: Option<GithubClient>,
}

impl Approvals {
    pub fn evidence(
        &mut self,
        repo: &Repository,
        commit: &Commit,
        before: &Definitions,
        path: Option<&str>,
    ) -> anyhow::Result<Evidence> {
        let mut ev = evidence(repo, commit, before, path)?;
        if before.settings.approval != ApprovalMode::Github {
            return Ok(ev);
        }
        let client = match &mut self.github {
            Some(c) => c,
            None => {
                let repository = before.settings.github_repository.as_deref().ok_or_else(|| {
                    anyhow::anyhow!("settings.approval = \"github\" needs settings.github_repository = \"owner/name\"")
                })?;
                self.github.insert(GithubClient::from_env(repository)?)
            }
        };
        ev.approvals.clear();
        match client.review(&commit.id().to_string())? {
            Review::Found {
                number,
                author,
                approvals,
                ignored,
            } => {
                ev.author_login = Some(author);
                ev.approvals = approvals.into_iter().map(Identity::Login).collect();
                ev.ignored = ignored;
                ev.commit = format!("{} (PR #{number})", commit.id());
            }
            Review::NoPullRequest => {
                ev.unavailable = Some(format!(
                    "no pull request produced commit {}; in github mode changes must come through an approved pull request",
                    super::short(commit.id())
                ));
            }
        }
        Ok(ev)
    }
}

/// Approvals and authorship of a first-parent commit from its trailers.
/// For a merge commit the author is the one who last changed `path` on the
/// merged side; for a definitions change (no path), every author on the
/// merged side counts as an author, so none of them can approve it.
pub fn evidence(
    repo: &Repository,
    commit: &Commit,
    defs: &Definitions,
    path: Option<&str>,
) -> anyhow::Result<Evidence> {
    let mut co_authors = Vec::new();
    let author_commit = match (commit.parent_count(), path) {
        (0 | 1, _) => commit.clone(),
        (_, Some(path)) => {
            side_author_commit(repo, commit, path)?.unwrap_or_else(|| commit.clone())
        }
        (_, None) => {
            let side = side_commits(repo, commit)?;
            co_authors = side
                .iter()
                .map(|c| c.author().email().unwrap_or_default().to_string())
                .collect();
            side.into_iter().next().unwrap_or_else(|| commit.clone())
        }
    };
    let author_email = author_commit
        .author()
        .email()
        .unwrap_or_default()
        .to_string();
    let bot = &defs.settings.bot.email;
    let by_bot = author_email.eq_ignore_ascii_case(bot)
        || commit
            .author()
            .email()
            .unwrap_or_default()
            .eq_ignore_ascii_case(bot);
    Ok(Evidence {
        commit: commit.id().to_string(),
        author_email,
        author_login: None,
        approvals: approved_by(commit.message().unwrap_or_default())
            .into_iter()
            .map(Identity::Email)
            .collect(),
        by_bot,
        unavailable: None,
        ignored: Vec::new(),
        co_authors,
    })
}

/// The commits a merge brings in (reachable from its other parents, not its
/// first), newest first.
fn side_commits<'r>(repo: &'r Repository, merge: &Commit<'r>) -> anyhow::Result<Vec<Commit<'r>>> {
    let mut walk = repo.revwalk()?;
    for p in merge.parent_ids().skip(1) {
        walk.push(p)?;
    }
    walk.hide(merge.parent_id(0)?)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL)?;
    walk.map(|oid| Ok(repo.find_commit(oid?)?)).collect()
}

/// The emails of a message's `Approved-by: Name <email>` trailers.
pub fn approved_by(message: &str) -> Vec<String> {
    let Ok(trailers) = git2::message_trailers_strs(message) else {
        return Vec::new();
    };
    trailers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("approved-by"))
        .map(|(_, v)| match (v.find('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].trim().to_string(),
            _ => v.trim().to_string(),
        })
        .collect()
}

/// On the merged side of a merge commit, the newest commit whose tree has
/// `path` as it is in the merge and whose first parent does not.
fn side_author_commit<'r>(
    repo: &'r Repository,
    merge: &Commit<'r>,
    path: &str,
) -> anyhow::Result<Option<Commit<'r>>> {
    let target = super::blob_at(&merge.tree()?, path);
    for c in side_commits(repo, merge)? {
        let here = super::blob_at(&c.tree()?, path);
        let parent = match c.parent_count() {
            0 => None,
            _ => super::blob_at(&c.parent(0)?.tree()?, path),
        };
        if here == target && parent != target {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_approved_by_trailers() {
        let msg = "Add request\n\nSome body.\n\nApproved-by: Bob <bob@acme.example>\nApproved-by: carol@acme.example\nSigned-off-by: X <x@y>\n";
        assert_eq!(approved_by(msg), ["bob@acme.example", "carol@acme.example"]);
    }

    #[test]
    fn trailers_must_be_in_the_last_paragraph() {
        let msg = "Subject\n\nApproved-by: Bob <bob@acme.example>\n\nMore text after.\n";
        assert!(approved_by(msg).is_empty());
    }
}
