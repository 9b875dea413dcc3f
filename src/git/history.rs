//! Reads the branch's first-parent history into what is in force now:
//! the effective (approved) definitions, and for each request file the
//! commit that introduced its current content and whether that was approved.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use git2::{Commit, ObjectType, Oid, Repository, Tree};

use super::github::{GithubClient, Review};
use super::graph::CommitGraph;
use crate::approval::{self, Evidence, Identity, Object, Verdict};
use crate::config::{
    self, AccessRepo, ApprovalMode, Definitions, Duration, Request, SourceFile, validate,
};
use crate::diag::{self, Diagnostic};
use crate::lifecycle::{Effect, PathLog, Version};

/// The access repo as jit sees it at the branch head.
#[derive(Debug)]
pub struct Snapshot {
    pub branch: String,
    pub head: Oid,
    /// The files at head, as written (approved or not).
    pub head_repo: AccessRepo,
    /// Problems found reading the files at head (syntax, types, names, paths
    /// that cannot be files of the access repo). Cross-references are checked
    /// against the definitions in force, by the planner: an unapproved
    /// definitions change must not invalidate anything.
    pub diags: Vec<Diagnostic>,
    /// The definitions in force: the last approved version of each object.
    pub effective: Definitions,
    /// Definition changes at head that are not (yet) in force.
    pub unapproved: Vec<UnapprovedChange>,
    pub requests: Vec<RequestRecord>,
    /// The commit that put the approved `settings.branch` in force.
    pub branch_set_at: Oid,
    /// First-parent commits read (for stats).
    pub commits_walked: usize,
    /// Tree objects the history reader loaded: one root tree per commit, one
    /// `requests/` tree per commit that changed it since the oldest live
    /// request's last creation, one read of the definitions per commit that
    /// changed them. Linear in history size.
    pub trees_read: usize,
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
    /// The request as in the file, with `duration` fixed to the one approved.
    pub request: Request,
    /// The blob of the request file's current content (what an ending ends).
    pub blob: Oid,
    /// The first-parent commit whose approval counts for the current content
    /// (the one that wrote it, or, after a revert, the one that approved it).
    pub commit: Oid,
    /// That commit's time: the approval time.
    pub approved_at: DateTime<Utc>,
    /// The duration as approved: the request's own, or its contract's
    /// default in the definitions in force then. Computed once: it is both
    /// the one checked against caps and the one the window uses.
    pub duration: Option<Duration>,
    pub verdict: Verdict,
    /// The approvers' emails as recorded (for the archive trailers).
    pub approver_emails: Vec<String>,
    /// Why this version was invalid against the definitions in force at its
    /// approving commit: it never grants (re-propose it).
    pub invalid_then: Option<String>,
}

/// One first-parent commit, as the readers need it.
#[derive(Debug, Clone)]
pub struct Link {
    pub oid: Oid,
    /// The id of its `requests/` tree.
    pub requests: Option<Oid>,
    /// The id of its `archive/` entry.
    pub archive: Option<Oid>,
    /// Whether its definitions entries differ from its first parent's.
    pub defs_changed: bool,
    /// A lower bound (unix seconds) of every time the commit records: its
    /// author and commit times and any `Jit-Granted` trailer. What a
    /// streaming reader must still expect from commits not read yet.
    /// `i64::MIN` (no bound) unless the chain was read with
    /// [`Times::Read`].
    pub earliest: i64,
}

/// Whether [`read_chain`] reads each commit's times into [`Link::earliest`].
/// Only the streaming audit orders by them; scanning every commit message
/// for `Jit-Granted` trailers is most of what an archived history costs a
/// plan, so the others skip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Read,
    Skip,
}

/// Reads the branch jit should follow, starting from the checked-out one,
/// and following only approved `settings.branch` switches whose new branch
/// contains the approving commit. An unusable switch is reported and jit
/// stays where it is.
pub fn read_branch(repo: &Repository) -> anyhow::Result<Snapshot> {
    let (replayed, refused) = follow_branch(repo, Times::Skip)?;
    let mut snapshot = finish(repo, replayed)?;
    snapshot.unapproved.extend(refused);
    Ok(snapshot)
}

/// A branch's history read as far as its definitions: the chain, the
/// definitions in force along it, and the approvals looked up on the way.
pub struct Replayed {
    pub branch: String,
    pub head: Oid,
    pub chain: Vec<Link>,
    pub defs: DefinitionsWalk,
    pub approvals: Approvals,
}

/// Reads `branch`'s chain up to `head` and replays its definitions.
pub fn replay_branch(
    repo: &Repository,
    branch: &str,
    head: Oid,
    times: Times,
) -> anyhow::Result<Replayed> {
    let chain = read_chain(repo, head, times)?;
    let mut approvals = Approvals::default();
    let defs = walk_definitions(repo, &chain, &mut approvals)?;
    log::debug!(
        "{branch}: {} first-parent commits, {} definition versions in force over time, {} refused changes",
        chain.len(),
        defs.history.len(),
        defs.refused.len()
    );
    Ok(Replayed {
        branch: branch.to_string(),
        head,
        chain,
        defs,
        approvals,
    })
}

/// The branch jit follows (see [`read_branch`]), replayed, and the switch
/// that did not take effect, if one did not.
pub fn follow_branch(
    repo: &Repository,
    times: Times,
) -> anyhow::Result<(Replayed, Option<UnapprovedChange>)> {
    let (start, head) = super::start_branch(repo)?;
    let mut replayed = replay_branch(repo, &start, head, times)?;
    let mut visited = vec![start];
    loop {
        let wanted = replayed.defs.effective.settings.branch.clone();
        if wanted == replayed.branch {
            return Ok((replayed, None));
        }
        let approving = replayed.defs.branch_set_at;
        let usable = match super::resolve_branch(repo, &wanted) {
            Ok(tip) if visited.contains(&wanted) => Err(format!(
                "`{wanted}` leads back to a branch already read (tip {})",
                super::short(tip)
            )),
            Ok(tip) if super::on_first_parent_chain(repo, tip, approving)? => Ok(tip),
            Ok(_) => Err(format!(
                "branch `{wanted}`'s first-parent history does not contain the approving commit {}",
                super::short(approving)
            )),
            Err(e) => Err(format!("{e:#}")),
        };
        match usable {
            Ok(tip) => {
                visited.push(wanted.clone());
                replayed = replay_branch(repo, &wanted, tip, times)?;
            }
            Err(why) => {
                log::warn!("staying on {}: {why}", replayed.branch);
                let refused = UnapprovedChange {
                    object: Object::Settings,
                    commit: approving,
                    reason: format!(
                        "settings.branch = {wanted:?} does not take effect ({why}); jit stays on `{}`",
                        replayed.branch
                    ),
                };
                return Ok((replayed, Some(refused)));
            }
        }
    }
}

/// Reads the snapshot at `head` of `branch`.
pub fn read(repo: &Repository, branch: &str, head: Oid) -> anyhow::Result<Snapshot> {
    finish(repo, replay_branch(repo, branch, head, Times::Skip)?)
}

/// Reads the requests along a replayed branch, and the files at its head.
fn finish(repo: &Repository, replayed: Replayed) -> anyhow::Result<Snapshot> {
    let Replayed {
        branch,
        head,
        chain,
        defs: defs_walk,
        mut approvals,
    } = replayed;
    let branch = branch.as_str();
    let head_tree = repo.find_commit(head)?.tree()?;
    let (files, mut diags) = super::read_files(repo, &head_tree, super::is_live)?;
    let (head_repo, parse_diags) = config::parse_files(&files);
    diags.extend(parse_diags);
    diag::sort(&mut diags);

    let live: BTreeSet<String> = head_repo
        .requests
        .keys()
        .map(|name| format!("requests/{name}.hcl"))
        .collect();
    let mut judge = Judge::new(repo, &defs_walk, &mut approvals);
    let mut requests_trees = 0;
    let logs = read_requests(repo, &chain, &mut judge, &live, &mut requests_trees)?;
    let trees_read = chain.len() + requests_trees + defs_walk.trees_read;
    log::debug!("{branch}: {} commits, {trees_read} trees read", chain.len());

    let mut requests = Vec::new();
    for (name, req) in &head_repo.requests {
        let Some((version, verdict)) = logs
            .get(&format!("requests/{name}.hcl"))
            .and_then(PathLog::judged)
        else {
            continue;
        };
        let mut request = req.clone();
        request.duration = version.duration;
        requests.push(RequestRecord {
            request,
            blob: version.blob,
            commit: version.commit,
            approved_at: version.approved_at,
            duration: version.duration,
            approver_emails: match verdict {
                Verdict::Approved { .. } => version.approver_emails.clone(),
                Verdict::Pending { .. } => Vec::new(),
            },
            verdict,
            invalid_then: version.invalid_then.clone(),
        });
    }

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
        branch_set_at: defs_walk.branch_set_at,
        effective: defs_walk.effective,
        unapproved,
        requests,
        commits_walked: chain.len(),
        trees_read,
        forge_calls: approvals.github.as_ref().map_or(0, |g| g.calls),
    })
}

/// The first-parent chain from the root to `head`, oldest first, with what
/// decides whether a commit needs reading. One tree read per commit; only
/// ids are held, never commits or trees.
pub fn read_chain(repo: &Repository, head: Oid, times: Times) -> anyhow::Result<Vec<Link>> {
    super::ensure_full_history(repo)?;
    // Without times, git's commit-graph (when the clone has one) gives each
    // commit's tree and first parent without reading the commit itself.
    let graph = match times {
        Times::Skip => CommitGraph::open(repo),
        Times::Read => None,
    };
    let walk = || -> anyhow::Result<Vec<Link>> {
        if let Some(chain) = graph
            .as_ref()
            .map(|g| chain_with(repo, head, times, Some(g)))
            .transpose()?
            .flatten()
        {
            return Ok(chain);
        }
        // No graph, or one that disagrees with the objects: every commit is read.
        chain_with(repo, head, times, None)?.context("the graph-less walk gives up on nothing")
    };
    walk().context("walking the branch's history")
}

/// The chain, following `graph` from the first commit it lists; `None` when
/// the graph disagrees with the objects or holds a loop (a broken file).
fn chain_with(
    repo: &Repository,
    head: Oid,
    times: Times,
    graph: Option<&CommitGraph>,
) -> anyhow::Result<Option<Vec<Link>>> {
    // Commits and root trees are read in place from the object store, as
    // `git log` does: nothing is parsed beyond the lines and entries needed.
    // Newest first: each commit's definitions are compared with its parent's
    // (the next one read), so only one fingerprint is held.
    enum Next {
        Object(Oid),
        Graph(u32),
    }
    let odb = repo.odb()?;
    let mut chain: Vec<Link> = Vec::new();
    let mut newer: Option<Vec<(Vec<u8>, Vec<u8>)>> = None;
    let mut next = Some(Next::Object(head));
    let mut followed = 0;
    while let Some(step) = next {
        let (oid, tree, parent, earliest) = match step {
            Next::Object(oid) => {
                let (tree, parent, earliest) = commit_header(&odb, oid, times)?;
                let listed = graph.and_then(|g| Some((g, g.position(oid)?)));
                let parent = match listed {
                    // The first commit the graph lists is checked against
                    // its object: a graph of other objects is not used.
                    Some((g, at)) => {
                        let Some(entry) = g.commit(at) else {
                            return Ok(None);
                        };
                        let listed_parent = match entry.parent {
                            Some(p) => match g.commit(p) {
                                Some(p) => Some(p.oid),
                                None => return Ok(None),
                            },
                            None => None,
                        };
                        if (entry.tree, listed_parent) != (tree, parent) {
                            return Ok(None);
                        }
                        entry.parent.map(Next::Graph)
                    }
                    None => parent.map(Next::Object),
                };
                (oid, tree, parent, earliest)
            }
            Next::Graph(at) => {
                // A first-parent chain is never longer than the graph: a
                // longer one goes round a loop only a broken file can hold.
                followed += 1;
                let Some(entry) = graph
                    .filter(|g| followed <= g.commits())
                    .and_then(|g| g.commit(at))
                else {
                    return Ok(None);
                };
                (
                    entry.oid,
                    entry.tree,
                    entry.parent.map(Next::Graph),
                    i64::MIN,
                )
            }
        };
        let tree = RawTree::read(&odb, tree)?;
        let (mut requests, mut archive, mut fingerprint) = (None, None, Vec::new());
        for e in tree.entries() {
            match e.name {
                b"requests" if e.mode == 0o40000 => requests = Oid::from_bytes(e.id).ok(),
                b"requests" => {}
                b"archive" => archive = Oid::from_bytes(e.id).ok(),
                name if name.starts_with(b".") => {}
                name => fingerprint.push((name.to_vec(), e.id.to_vec())),
            }
        }
        if let (Some(child), Some(newer)) = (chain.last_mut(), &newer) {
            child.defs_changed = *newer != fingerprint;
        }
        chain.push(Link {
            oid,
            requests,
            archive,
            // The root commit sets them; the others are compared above.
            defs_changed: true,
            earliest,
        });
        newer = Some(fingerprint);
        next = parent;
    }
    chain.reverse();
    chain.shrink_to_fit();
    Ok(Some(chain))
}

/// A commit's tree, first parent, and the earliest time it records (see
/// [`Link::earliest`]; `i64::MIN` with [`Times::Skip`]), from its raw bytes.
fn commit_header(
    odb: &git2::Odb,
    oid: Oid,
    times: Times,
) -> anyhow::Result<(Oid, Option<Oid>, i64)> {
    let object = odb.read(oid)?;
    anyhow::ensure!(
        object.kind() == ObjectType::Commit,
        "object {oid} is not a commit"
    );
    // A full id: `Oid::from_str` would pad a short one with zeros.
    let hex = |h: &[u8]| {
        std::str::from_utf8(h)
            .ok()
            .filter(|h| h.len() == 40)
            .and_then(|h| Oid::from_str(h).ok())
    };
    // git reads `tree` from the first line and parents only from the lines
    // right after it: a `parent` line further down is an extra header (fsck
    // lets it through), not a parent.
    let (mut line, mut rest) = split_line(object.data());
    let tree = line
        .strip_prefix(b"tree ")
        .and_then(hex)
        .with_context(|| format!("commit {oid} names no tree"))?;
    let mut parent = None;
    loop {
        (line, rest) = split_line(rest);
        let Some(id) = line.strip_prefix(b"parent ") else {
            break;
        };
        let id = hex(id).with_context(|| format!("commit {oid} has a malformed parent"))?;
        parent = parent.or(Some(id));
    }
    if times == Times::Skip {
        // The header's other lines (and the message) are for the times.
        return Ok((tree, parent, i64::MIN));
    }
    let (mut author, mut committer) = (None, None);
    // Up to the blank line that ends the header; what follows is the message.
    while !line.is_empty() {
        if let Some(signature) = line.strip_prefix(b"author ") {
            author = author.or(Some(signature_time(signature)));
        } else if let Some(signature) = line.strip_prefix(b"committer ") {
            committer = committer.or(Some(signature_time(signature)));
        }
        (line, rest) = split_line(rest);
    }
    let message = rest;
    let mut earliest = author
        .flatten()
        .unwrap_or(i64::MIN)
        .min(committer.flatten().unwrap_or(i64::MIN));
    if let Some(granted) = earliest_granted_trailer(message) {
        earliest = earliest.min(granted);
    }
    Ok((tree, parent, earliest))
}

/// The first line of `rest` (without its `\n`) and what follows it.
fn split_line(rest: &[u8]) -> (&[u8], &[u8]) {
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    }
}

/// The time of a signature line (`Name <email> 1795424400 +0000`) as the
/// readers see it (a time chrono cannot hold reads as the epoch); `None`
/// when it does not parse plainly (the caller then assumes the earliest).
fn signature_time(line: &[u8]) -> Option<i64> {
    let count = |c: u8| line.iter().filter(|&&b| b == c).count();
    if count(b'<') != 1 || count(b'>') != 1 {
        return None;
    }
    let after = &line[line.iter().position(|&b| b == b'>')? + 1..];
    let digits = after.trim_ascii_start();
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let seconds: i64 = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
    // Negative, huge or odd times: say nothing (the earliest), never too late.
    (end > 0 && Utc.timestamp_opt(seconds, 0).single().is_some()).then_some(seconds)
}

/// The earliest `Jit-Granted` trailer time in a raw commit message, read as
/// the audit reads archive trailers; `i64::MIN` when one is there but does
/// not read as a time the audit would see the same way.
fn earliest_granted_trailer(message: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"jit-granted";
    if !message
        .windows(KEY.len())
        .any(|w| w.eq_ignore_ascii_case(KEY))
    {
        return None;
    }
    let Some(text) = std::str::from_utf8(message).ok() else {
        return Some(i64::MIN);
    };
    let Ok(trailers) = git2::message_trailers_strs(text) else {
        return Some(i64::MIN);
    };
    let mut earliest = None::<i64>;
    for (key, value) in trailers.iter() {
        if key.eq_ignore_ascii_case("jit-granted") {
            let t = DateTime::parse_from_rfc3339(value.trim())
                .map_or(i64::MIN, |t| t.with_timezone(&Utc).timestamp());
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
    }
    // A key spelled so the trailer parser did not read it: assume the earliest.
    Some(earliest.unwrap_or(i64::MIN))
}

pub struct DefinitionsWalk {
    pub effective: Definitions,
    /// For each position in the chain where the effective definitions changed,
    /// the definitions in force from then on.
    pub history: Vec<(usize, Definitions)>,
    /// The latest refused change per object.
    pub refused: BTreeMap<Object, (Oid, String)>,
    /// The commit that put the approved `settings.branch` in force.
    pub branch_set_at: Oid,
    /// The trust anchor in force, and the commit whose approval set it.
    pub anchor: Option<(Oid, Oid)>,
    /// Definitions read (one per commit that changed them, per replay).
    pub trees_read: usize,
}

impl DefinitionsWalk {
    /// The definitions in force before the commit at `position`.
    pub fn before(&self, position: usize) -> &Definitions {
        let i = self.history.partition_point(|(p, _)| *p < position);
        &self.history[i.saturating_sub(1)].1
    }

    /// The definitions in force at the commit at `position` (after its own
    /// approved changes), and their index in `history`.
    pub fn at(&self, position: usize) -> (usize, &Definitions) {
        let i = self.history.partition_point(|(p, _)| *p <= position);
        let i = i.saturating_sub(1);
        (i, &self.history[i].1)
    }
}

/// The definitions in a tree; unreadable files are skipped (they are
/// reported at head).
pub fn definitions_at(repo: &Repository, tree: &Tree) -> anyhow::Result<Definitions> {
    let (files, _) = super::read_files(repo, tree, super::is_definitions)?;
    Ok(config::parse_files(&files).0.defs)
}

/// A trust anchor adopted at `set`: the definitions at `anchor` are trusted
/// from there on, as the root's are.
#[derive(Debug, Clone, Copy)]
struct Pin {
    anchor: usize,
    set: usize,
}

/// Replays every definitions change from the root: each stands only if the
/// definitions in force before it say its approvals suffice, and the object's
/// content before it is the content in force (an approval covers only the
/// diff its approvers saw). An approved change of `settings.trust_anchor`
/// restarts the replay from the anchor (which must be on the chain before
/// the commit that sets it), as a new trusted start.
pub fn walk_definitions(
    repo: &Repository,
    chain: &[Link],
    approvals: &mut Approvals,
) -> anyhow::Result<DefinitionsWalk> {
    let mut pins: Vec<Pin> = Vec::new();
    loop {
        match replay(repo, chain, approvals, &pins)? {
            Ok(walk) => return Ok(walk),
            Err(pin) => {
                // A later anchor supersedes earlier ones at or after it.
                pins.retain(|p| p.anchor < pin.anchor);
                pins.push(pin);
            }
        }
    }
}

fn replay(
    repo: &Repository,
    chain: &[Link],
    approvals: &mut Approvals,
    pins: &[Pin],
) -> anyhow::Result<Result<DefinitionsWalk, Pin>> {
    let last_set = pins.iter().map(|p| p.set).max();
    let tree_at =
        |i: usize| -> anyhow::Result<Tree<'_>> { Ok(repo.find_commit(chain[i].oid)?.tree()?) };
    let mut raw = definitions_at(repo, &tree_at(0)?)?;
    let mut walk = DefinitionsWalk {
        effective: raw.clone(),
        history: vec![(0, raw.clone())],
        refused: BTreeMap::new(),
        branch_set_at: chain[0].oid,
        anchor: None,
        trees_read: 1,
    };
    // The first commit since the version in force whose change did not take effect.
    let mut diverged: BTreeMap<Object, Oid> = BTreeMap::new();
    for (position, link) in chain.iter().enumerate().skip(1) {
        let reset = pins.iter().find(|p| p.anchor == position);
        if !link.defs_changed && reset.is_none() {
            continue;
        }
        let new_raw = if link.defs_changed {
            walk.trees_read += 1;
            definitions_at(repo, &tree_at(position)?)?
        } else {
            raw.clone()
        };
        if let Some(pin) = reset {
            // The anchor's definitions are trusted as they are.
            walk.effective = new_raw.clone();
            walk.history.push((position, new_raw.clone()));
            walk.refused.clear();
            diverged.clear();
            walk.anchor = Some((link.oid, chain[pin.set].oid));
            walk.branch_set_at = link.oid;
            raw = new_raw;
            continue;
        }
        let changed = approval::changed_objects(&raw, &new_raw);
        if changed.is_empty() {
            raw = new_raw;
            continue;
        }
        let commit = repo.find_commit(link.oid)?;
        let before = walk.effective.clone();
        let pinned = pins.iter().any(|p| p.set == position);
        let mut evidence = None;
        let mut adopted = false;
        for object in &changed {
            let verdict = if pinned && *object == Object::Settings {
                // Approved by the definitions in force when it was made.
                Verdict::Approved {
                    approvers: Vec::new(),
                }
            } else {
                let ev = match &evidence {
                    Some(ev) => ev,
                    None => evidence.insert(approvals.evidence(repo, &commit, &before, None)?),
                };
                approval::judge_definition_change(&before, object, ev)
            };
            let covers = pinned || approval::same(&raw, &before, object);
            match verdict {
                Verdict::Approved { .. } if covers => {
                    approval::adopt(&mut walk.effective, &new_raw, object);
                    walk.refused.remove(object);
                    diverged.remove(object);
                    adopted = true;
                }
                Verdict::Approved { .. } => {
                    let first = diverged.get(object).copied().unwrap_or(link.oid);
                    walk.refused.insert(
                        object.clone(),
                        (
                            first,
                            format!(
                                "approved in {}, but {object} was changed before without approval in {}: an approval covers only the diff its approvers saw; revert that change (or get it approved) and propose this one again",
                                super::short(link.oid),
                                super::short(first)
                            ),
                        ),
                    );
                }
                Verdict::Pending { reason } => {
                    diverged.entry(object.clone()).or_insert(link.oid);
                    walk.refused.insert(object.clone(), (link.oid, reason));
                }
            }
        }
        for object in &changed {
            if approval::same(&new_raw, &walk.effective, object) {
                walk.refused.remove(object);
                diverged.remove(object);
            }
        }
        if before.settings != walk.effective.settings {
            let new_anchor = walk.effective.settings.trust_anchor.clone();
            if before.settings.trust_anchor != new_anchor && last_set.is_none_or(|s| position > s) {
                match anchor_position(chain, position, new_anchor.as_deref()) {
                    Some(anchor) => {
                        return Ok(Err(Pin {
                            anchor,
                            set: position,
                        }));
                    }
                    None => {
                        walk.effective.settings = before.settings.clone();
                        walk.refused.insert(
                            Object::Settings,
                            (
                                link.oid,
                                format!(
                                    "settings.trust_anchor = {:?} is not a commit on the branch's first-parent history before {}",
                                    new_anchor.as_deref().unwrap_or_default(),
                                    super::short(link.oid)
                                ),
                            ),
                        );
                        adopted = walk.effective != before;
                    }
                }
            }
            if before.settings.branch != walk.effective.settings.branch {
                walk.branch_set_at = link.oid;
            }
        }
        if adopted {
            walk.history.push((position, walk.effective.clone()));
        }
        raw = new_raw;
    }
    Ok(Ok(walk))
}

/// The chain position of a trust anchor set at `set`: a commit id (at least
/// 7 hex digits, a unique prefix) strictly before it. No anchor: the root.
fn anchor_position(chain: &[Link], set: usize, anchor: Option<&str>) -> Option<usize> {
    let Some(anchor) = anchor else {
        return Some(0);
    };
    let anchor = anchor.trim().to_ascii_lowercase();
    if anchor.len() < 7 || anchor.len() > 40 || !anchor.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut found = chain[..set]
        .iter()
        .enumerate()
        .filter(|(_, l)| l.oid.to_string().starts_with(&anchor))
        .map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// Judges request versions on the commits that wrote them.
pub struct Judge<'a, 'r> {
    repo: &'r Repository,
    defs: &'a DefinitionsWalk,
    approvals: &'a mut Approvals,
    /// Errors of the definitions in force, per `history` index (computed once).
    defs_errors: BTreeMap<usize, Vec<Diagnostic>>,
}

impl<'a, 'r> Judge<'a, 'r> {
    pub fn new(
        repo: &'r Repository,
        defs: &'a DefinitionsWalk,
        approvals: &'a mut Approvals,
    ) -> Judge<'a, 'r> {
        Judge {
            repo,
            defs,
            approvals,
            defs_errors: BTreeMap::new(),
        }
    }

    pub fn definitions(&self) -> &'a DefinitionsWalk {
        self.defs
    }

    /// Approvals of a definitions change (no path) or a request change.
    pub fn evidence(
        &mut self,
        commit: &Commit,
        before: &Definitions,
        path: Option<&str>,
    ) -> anyhow::Result<Evidence> {
        self.approvals.evidence(self.repo, commit, before, path)
    }

    /// The version `blob` of `path` written by the commit at `position`:
    /// approvals judged against the definitions in force before it, validity
    /// and duration against those in force at it.
    pub fn version(
        &mut self,
        position: usize,
        commit: &Commit,
        path: &str,
        blob: Oid,
    ) -> anyhow::Result<Version> {
        let name = stem(path).to_string();
        let before = self.defs.before(position);
        let (index, at) = self.defs.at(position);
        let (request, parse_error) = self.parse(path, &name, blob)?;
        let (verdict, duration, invalid_then) = match &request {
            None => (
                Verdict::Pending {
                    reason: format!(
                        "the file holds no valid request: {}",
                        parse_error.as_deref().unwrap_or("no request block")
                    ),
                },
                None,
                parse_error,
            ),
            Some(req) => {
                let ev = self
                    .approvals
                    .evidence(self.repo, commit, before, Some(path))?;
                let verdict = approval::judge_request(before, req, &ev);
                let duration = at.duration_of(req);
                let mut fixed = req.clone();
                fixed.duration = duration;
                let defs_errors = self
                    .defs_errors
                    .entry(index)
                    .or_insert_with(|| validate::validate_definitions(at));
                let invalid = parse_error
                    .or_else(|| {
                        validate::validate_request(at, &fixed)
                            .iter()
                            .find(|d| d.is_error())
                            .map(|d| d.to_string())
                    })
                    .or_else(|| crate::plan::definitions_problem(at, defs_errors, req));
                (verdict, duration, invalid)
            }
        };
        let approver_emails = match &verdict {
            Verdict::Approved { approvers } => approvers
                .iter()
                .filter_map(|u| before.users.get(u).map(|u| u.email.clone()))
                .collect(),
            Verdict::Pending { .. } => Vec::new(),
        };
        Ok(Version {
            name,
            path: path.to_string(),
            blob,
            commit: commit.id(),
            approved_at: commit_time(commit),
            request,
            verdict,
            invalid_then,
            duration,
            approver_emails,
        })
    }

    /// The request in a blob, or why there is none (or why it is broken).
    fn parse(
        &self,
        path: &str,
        name: &str,
        blob: Oid,
    ) -> anyhow::Result<(Option<Request>, Option<String>)> {
        // The size from the object's header: an oversized blob is never
        // loaded into memory.
        let (size, _) = self.repo.odb()?.read_header(blob)?;
        if size > super::MAX_FILE_BYTES {
            return Ok((
                None,
                Some(format!(
                    "{path} is {size} bytes, over the limit of {}",
                    super::MAX_FILE_BYTES
                )),
            ));
        }
        let blob = self.repo.find_blob(blob)?;
        let Ok(text) = std::str::from_utf8(blob.content()) else {
            return Ok((None, Some(format!("{path} is not UTF-8"))));
        };
        let (parsed, diags) = config::parse_files(&[SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        }]);
        let error = diags.iter().find(|d| d.is_error()).map(|d| d.to_string());
        Ok((parsed.requests.get(name).cloned(), error))
    }
}

/// The logs of the `live` request paths: every change of each since it was
/// last created, judged in chain order. `requests/` is diffed commit by
/// commit from the head back, only as far as the oldest of those creations:
/// what came before a path was last created never reaches its log (a removal
/// ends a log), so a long archived history costs no `requests/` reads.
pub fn read_requests(
    repo: &Repository,
    chain: &[Link],
    judge: &mut Judge,
    live: &BTreeSet<String>,
    trees_read: &mut usize,
) -> anyhow::Result<BTreeMap<String, PathLog>> {
    type Change = (String, Option<Oid>, Option<Oid>);
    // Newest first: the positions that changed a live path, and how.
    let mut found: Vec<(usize, Vec<Change>)> = Vec::new();
    let mut open: BTreeSet<&str> = live.iter().map(String::as_str).collect();
    let odb = repo.odb()?;
    let mut newer = match chain.last() {
        Some(head) if !open.is_empty() => head.requests.map(|id| RawTree::read(&odb, id)),
        _ => None,
    }
    .transpose()?;
    *trees_read += usize::from(newer.is_some());
    let mut position = chain.len();
    while !open.is_empty() && position > 0 {
        position -= 1;
        let id = chain[position].requests;
        let older_id = position.checked_sub(1).and_then(|p| chain[p].requests);
        if position > 0 && older_id == id {
            continue;
        }
        let older = older_id
            .map(|id| RawTree::read_after(&odb, id, newer.as_ref()))
            .transpose()?;
        *trees_read += usize::from(older.is_some());
        let mut changes = Vec::new();
        for (file, old, new) in request_deltas(older.as_ref(), newer.as_ref()) {
            let path = format!("requests/{file}");
            if open.contains(path.as_str()) {
                if old.is_none() {
                    open.remove(path.as_str());
                }
                changes.push((path, old, new));
            }
        }
        if !changes.is_empty() {
            found.push((position, changes));
        }
        newer = older;
    }

    let mut logs: BTreeMap<String, PathLog> = BTreeMap::new();
    for (position, changes) in found.into_iter().rev() {
        let commit = repo.find_commit(chain[position].oid)?;
        for (path, old, new) in changes {
            let version = new
                .map(|blob| judge.version(position, &commit, &path, blob))
                .transpose()?;
            let log = logs.entry(path.clone()).or_default();
            if log.apply(old, version) == Effect::Removed {
                logs.remove(&path);
            }
        }
    }
    Ok(logs)
}

/// A tree object's raw bytes: its entries are read in place, never parsed
/// into a list (a `requests/` tree of thousands of entries is read once per
/// commit that changed it).
pub struct RawTree<'o> {
    /// The object as the store holds it (not copied); `None`: no entries.
    object: Option<git2::OdbObject<'o>>,
    /// Where each entry ends in its data, in order (found when it was checked).
    ends: Vec<usize>,
}

/// One entry of a [`RawTree`].
struct RawEntry<'t> {
    mode: u32,
    name: &'t [u8],
    id: &'t [u8],
}

impl<'o> RawTree<'o> {
    pub fn read(odb: &'o git2::Odb, id: Oid) -> anyhow::Result<RawTree<'o>> {
        RawTree::checked(odb, id, None)
    }

    /// No entries.
    fn empty() -> RawTree<'o> {
        RawTree {
            object: None,
            ends: Vec::new(),
        }
    }

    fn data(&self) -> &[u8] {
        self.object.as_ref().map_or(&[], |o| o.data())
    }

    /// Reads a tree that likely shares most of its bytes with `previous`
    /// (the same directory one commit earlier): the entries it shares with
    /// it at its start and end, byte for byte, are not checked again.
    pub fn read_after(
        odb: &'o git2::Odb,
        id: Oid,
        previous: Option<&RawTree>,
    ) -> anyhow::Result<RawTree<'o>> {
        RawTree::checked(odb, id, previous)
    }

    /// Reads a tree and checks every entry is well formed: a malformed tree
    /// is an error, as libgit2's parser makes it, never a shorter tree.
    fn checked(
        odb: &'o git2::Odb,
        id: Oid,
        previous: Option<&RawTree>,
    ) -> anyhow::Result<RawTree<'o>> {
        let object = odb.read(id)?;
        anyhow::ensure!(
            object.kind() == ObjectType::Tree,
            "object {id} is not a tree"
        );
        let data = object.data();
        let (old, old_ends) = previous.map_or((&[][..], &[][..]), |p| (p.data(), &p.ends[..]));
        // Leading entries byte for byte the previous tree's are its (checked) entries.
        let same_start = common_prefix(old, data);
        let shared = old_ends.partition_point(|&e| e <= same_start);
        let mut ends = old_ends[..shared].to_vec();
        let mut at = shared.checked_sub(1).map_or(0, |i| old_ends[i]);
        // So are trailing ones, from a place that starts an entry in both.
        let same_end = common_suffix(old, data);
        while at < data.len() {
            let left = data.len() - at;
            if left <= same_end {
                let there = old.len() - left;
                let starts = there == 0 || old_ends.binary_search(&there).is_ok();
                if starts {
                    let from = old_ends.partition_point(|&e| e <= there);
                    ends.extend(old_ends[from..].iter().map(|&e| e - there + at));
                    break;
                }
            }
            let Some((_, next)) = next_entry(&data[at..]) else {
                anyhow::bail!("tree {id} is malformed (run git fsck)");
            };
            at = data.len() - next.len();
            ends.push(at);
        }
        Ok(RawTree {
            object: Some(object),
            ends,
        })
    }

    /// `<octal mode> <name>\0<20-byte id>`, in git's order (checked when read).
    fn entries(&self) -> impl Iterator<Item = RawEntry<'_>> {
        let mut rest = self.data();
        std::iter::from_fn(move || {
            let (entry, next) = next_entry(rest)?;
            rest = next;
            Some(entry)
        })
    }
}

/// The first entry of a raw tree and what follows it; `None` at the end or
/// at a malformed entry. The mode is octal digits (an optional leading `+`,
/// as `u32::from_str_radix` reads it), the name ends at the first NUL.
fn next_entry(rest: &[u8]) -> Option<(RawEntry<'_>, &[u8])> {
    let space = rest.iter().position(|&b| b == b' ')?;
    let digits = rest[..space].strip_prefix(b"+").unwrap_or(&rest[..space]);
    if digits.is_empty() {
        return None;
    }
    let mut mode: u32 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        mode = mode.checked_mul(8)?.checked_add(u32::from(d - b'0'))?;
    }
    let after = &rest[space + 1..];
    let nul = after.iter().position(|&b| b == 0)?;
    let (name, tail) = (&after[..nul], &after[nul + 1..]);
    if name.is_empty() || tail.len() < 20 {
        return None;
    }
    let (id, next) = tail.split_at(20);
    Some((RawEntry { mode, name, id }, next))
}

/// How many leading bytes two slices share (eight at a time).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// How many trailing bytes two slices share (eight at a time).
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[n - i - 8..n - i].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[n - i - 8..n - i].try_into().expect("8 bytes"));
        if x != y {
            return i + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

/// The request files (`<name>.hcl`, regular blobs, directly in the tree)
/// whose blob differs between two `requests/` trees: (file, old, new). One
/// merge of the two sorted entry lists, like `git diff-tree`: no lookups.
pub fn request_deltas(
    old: Option<&RawTree>,
    new: Option<&RawTree>,
) -> Vec<(String, Option<Oid>, Option<Oid>)> {
    const TREE: u32 = 0o40000;
    /// A request file's blob, or `None` for any other entry.
    fn request(e: &RawEntry) -> Option<Oid> {
        let regular = matches!(e.mode, 0o100644 | 0o100755);
        (regular && std::str::from_utf8(e.name).is_ok_and(super::is_request_file_name))
            .then(|| Oid::from_bytes(e.id).ok())
            .flatten()
    }
    /// Git's tree order: names compared as bytes, a tree as if it ended in `/`.
    fn order(a: &RawEntry, b: &RawEntry) -> std::cmp::Ordering {
        let term = |e: &RawEntry| if e.mode == TREE { b'/' } else { 0 };
        let common = a.name.len().min(b.name.len());
        a.name[..common].cmp(&b.name[..common]).then_with(|| {
            let next = |e: &RawEntry| e.name.get(common).copied().unwrap_or(term(e));
            next(a).cmp(&next(b))
        })
    }
    let mut out = Vec::new();
    let mut push = |e: &RawEntry, old: Option<Oid>, new: Option<Oid>| {
        if old != new {
            out.push((String::from_utf8_lossy(e.name).into_owned(), old, new));
        }
    };
    // Only the first entries by name are read, as `read_files` reads them
    // at head, so a flood of files costs the same as the limit: the merge
    // reads each tree up to the end of its last entry counted.
    fn capped(t: &RawTree) -> usize {
        if t.ends.len() <= config::parse::MAX_REQUEST_FILES {
            return t.data().len();
        }
        let mut counted = 0;
        let mut start = 0;
        for &end in &t.ends {
            let dot = next_entry(&t.data()[start..]).is_some_and(|(e, _)| e.name.starts_with(b"."));
            counted += usize::from(!dot);
            start = end;
            if counted == config::parse::MAX_REQUEST_FILES {
                break;
            }
        }
        start
    }
    let empty = RawTree::empty();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let (old_len, new_len) = (capped(old), capped(new));
    let (mut i, mut j) = (0, 0);
    loop {
        // Entries byte for byte the same on both sides are the same entry
        // in the merge: skip the run (a commit that adds one file to a
        // tree of thousands compares bytes, never parses the rest).
        let same = common_prefix(&old.data()[i..old_len], &new.data()[j..new_len]);
        let k = old.ends.partition_point(|&e| e <= i + same);
        if let Some(&end) = k.checked_sub(1).map(|k| &old.ends[k])
            && end > i
        {
            j += end - i;
            i = end;
        }
        let (a, b) = (&old.data()[i..old_len], &new.data()[j..new_len]);
        // Names starting with `.` are not read (as at head).
        let dot = |rest: &[u8]| {
            next_entry(rest)
                .filter(|(e, _)| e.name.starts_with(b"."))
                .map(|(_, next)| rest.len() - next.len())
        };
        if let Some(skip) = dot(a) {
            i += skip;
            continue;
        }
        if let Some(skip) = dot(b) {
            j += skip;
            continue;
        }
        match (next_entry(a), next_entry(b)) {
            (None, None) => break,
            (Some((e, rest)), None) => {
                push(&e, request(&e), None);
                i += a.len() - rest.len();
            }
            (None, Some((f, rest))) => {
                push(&f, None, request(&f));
                j += b.len() - rest.len();
            }
            (Some((e, ra)), Some((f, rb))) => match order(&e, &f) {
                std::cmp::Ordering::Less => {
                    push(&e, request(&e), None);
                    i += a.len() - ra.len();
                }
                std::cmp::Ordering::Greater => {
                    push(&f, None, request(&f));
                    j += b.len() - rb.len();
                }
                std::cmp::Ordering::Equal => {
                    if e.id != f.id || e.mode != f.mode {
                        push(&e, request(&e), request(&f));
                    }
                    i += a.len() - ra.len();
                    j += b.len() - rb.len();
                }
            },
        }
    }
    out
}

/// `requests/x.hcl` -> `x`.
pub fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".hcl").unwrap_or(file)
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
        approvals: approved_by(&String::from_utf8_lossy(commit.message_raw_bytes()))
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

/// The emails of a message's `Approved-by: Name <email>` trailers, read
/// from the raw message: only its final paragraph counts, and only when
/// every line of it is a trailer (`Key: value`, or a continuation line). A
/// `---` line, comment lines or a `Conflicts:` block are ordinary lines:
/// they never end the message early, and a paragraph holding one is not a
/// trailer block.
pub fn approved_by(raw: &str) -> Vec<String> {
    let lines: Vec<&str> = raw.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
    for line in lines {
        if line.trim().is_empty() {
            paragraphs.push(Vec::new());
        } else if let Some(last) = paragraphs.last_mut() {
            last.push(line);
        }
    }
    paragraphs.retain(|p| !p.is_empty());
    // The first paragraph is the subject: a message of one paragraph has no trailers.
    let [_, .., last] = paragraphs.as_slice() else {
        return Vec::new();
    };
    let is_trailer = |line: &str| {
        line.split_once(':').is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    let continuation = |line: &str| line.starts_with([' ', '\t']);
    if !is_trailer(last[0]) || !last.iter().all(|l| is_trailer(l) || continuation(l)) {
        return Vec::new();
    }
    last.iter()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("approved-by"))
        .map(|(_, v)| match (v.find('<'), v.rfind('>')) {
            (Some(a), Some(b)) if a < b => v[a + 1..b].trim().to_string(),
            _ => v.trim().to_string(),
        })
        .filter(|e| !e.is_empty())
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
    use std::os::unix::fs::PermissionsExt;

    fn links(chain: &[Link]) -> Vec<(Oid, Option<Oid>, Option<Oid>, bool)> {
        chain
            .iter()
            .map(|l| (l.oid, l.requests, l.archive, l.defs_changed))
            .collect()
    }

    #[test]
    fn the_commit_graph_is_followed_only_while_it_agrees_with_the_objects() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let sig =
            git2::Signature::new("a", "a@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let mut head: Option<Oid> = None;
        for i in 0..12 {
            let requests = tree(&repo, &odb, &[(&format!("r-{i}.hcl"), "x", 0o100644)]);
            let mut root = repo.treebuilder(None).unwrap();
            let requests = odb.write(ObjectType::Tree, requests.data()).unwrap();
            root.insert("requests", requests, 0o040000).unwrap();
            let defs = repo.blob(format!("{}", i / 4).as_bytes()).unwrap();
            root.insert("jit.hcl", defs, 0o100644).unwrap();
            let root = repo.find_tree(root.write().unwrap()).unwrap();
            let parents: Vec<_> = head.iter().map(|h| repo.find_commit(*h).unwrap()).collect();
            let parents: Vec<_> = parents.iter().collect();
            head = Some(repo.commit(None, &sig, &sig, "c", &root, &parents).unwrap());
            if i == 8 {
                repo.reference("refs/heads/main", head.unwrap(), true, "")
                    .unwrap();
                crate::git::graph::tests::git(&repo, &["commit-graph", "write", "--reachable"]);
            }
        }
        let head = head.unwrap();
        let objects = chain_with(&repo, head, Times::Skip, None).unwrap().unwrap();
        let graph = CommitGraph::open(&repo).expect("written above");
        let followed = chain_with(&repo, head, Times::Skip, Some(&graph)).unwrap();
        assert_eq!(links(&followed.expect("the graph agrees")), links(&objects));

        // A graph that records another tree for a commit is not used.
        let path = dir.path().join("objects/info/commit-graph");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = graph.position(objects[8].oid).unwrap() as usize;
        let cdat = bytes.windows(4).position(|w| w == b"CDAT").unwrap();
        let offset = u64::from_be_bytes(bytes[cdat + 4..cdat + 12].try_into().unwrap()) as usize;
        bytes[offset + at * 36] ^= 1;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let forged = CommitGraph::open(&repo).unwrap();
        assert_eq!(
            chain_with(&repo, head, Times::Skip, Some(&forged))
                .unwrap()
                .map(|c| c.len()),
            None
        );
        assert_eq!(
            links(&read_chain(&repo, head, Times::Skip).unwrap()),
            links(&objects)
        );
    }

    #[test]
    fn parents_are_the_lines_right_after_the_tree_as_git_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let sig = "a <a@example.com> 1700000000 +0000";
        let write = |text: String| odb.write(ObjectType::Commit, text.as_bytes()).unwrap();
        let older = write(format!(
            "tree {tree}\nauthor {sig}\ncommitter {sig}\n\nroot\n"
        ));
        // A `parent` header after the committer is not a parent for git
        // (nor for libgit2): this commit is a root.
        let root = write(format!(
            "tree {tree}\nauthor {sig}\ncommitter {sig}\nparent {older}\n\nsecond root\n"
        ));
        assert_eq!(repo.find_commit(root).unwrap().parent_count(), 0);
        let child = write(format!(
            "tree {tree}\nparent {root}\nauthor {sig}\ncommitter {sig}\n\nchild\n"
        ));
        for times in [Times::Skip, Times::Read] {
            let chain = chain_with(&repo, child, times, None).unwrap().unwrap();
            let oids: Vec<Oid> = chain.iter().map(|l| l.oid).collect();
            assert_eq!(oids, [root, child], "{times:?}");
        }
        let broken = write(format!("tree {tree}\nparent 12ab\nauthor {sig}\n\nx\n"));
        let err = chain_with(&repo, broken, Times::Skip, None).unwrap_err();
        assert!(format!("{err:#}").contains("malformed parent"), "{err:#}");
        let treeless = write(format!("author {sig}\ntree {tree}\n\nx\n"));
        let err = chain_with(&repo, treeless, Times::Skip, None).unwrap_err();
        assert!(format!("{err:#}").contains("names no tree"), "{err:#}");
    }

    /// A `requests/` tree holding these entries: (name, content, filemode).
    fn tree<'o>(
        repo: &Repository,
        odb: &'o git2::Odb,
        entries: &[(&str, &str, i32)],
    ) -> RawTree<'o> {
        let mut b = repo.treebuilder(None).unwrap();
        for (name, content, mode) in entries {
            let id = if *mode == 0o040000 {
                let mut sub = repo.treebuilder(None).unwrap();
                sub.insert("a.hcl", repo.blob(content.as_bytes()).unwrap(), 0o100644)
                    .unwrap();
                sub.write().unwrap()
            } else {
                repo.blob(content.as_bytes()).unwrap()
            };
            b.insert(name, id, *mode).unwrap();
        }
        let id = b.write().unwrap();
        let raw = RawTree::read(odb, id).unwrap();
        // The raw reader sees what libgit2's parser sees.
        let parsed = repo.find_tree(id).unwrap();
        let ours: Vec<_> = raw
            .entries()
            .map(|e| {
                (
                    e.name.to_vec(),
                    e.mode as i32,
                    Oid::from_bytes(e.id).unwrap(),
                )
            })
            .collect();
        let theirs: Vec<_> = parsed
            .iter()
            .map(|e| (e.name_bytes().to_vec(), e.filemode(), e.id()))
            .collect();
        assert_eq!(ours, theirs);
        raw
    }

    /// A tree whose bytes end mid-entry is an error, never a tree with
    /// fewer entries (which would read as requests removed or added).
    #[test]
    fn a_malformed_tree_is_an_error_not_a_shorter_tree() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = repo.blob(b"x").unwrap();
        let mut good = b"100644 a.hcl\0".to_vec();
        good.extend_from_slice(blob.as_bytes());
        let odb = repo.odb().unwrap();
        let ok = odb.write(ObjectType::Tree, &good).unwrap();
        assert_eq!(RawTree::read(&odb, ok).unwrap().entries().count(), 1);
        let mut bad = good.clone();
        bad.extend_from_slice(b"100644 b.hcl\0short");
        let bad = odb.write(ObjectType::Tree, &bad).unwrap();
        let err = RawTree::read(&odb, bad).err().expect("malformed tree");
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn request_deltas_follow_only_regular_request_files() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let old = tree(
            &repo,
            &odb,
            &[
                ("a.hcl", "1", 0o100644),
                ("b.hcl", "1", 0o100644),
                ("c.hcl", "1", 0o100644),
                ("d.hcl", "1", 0o100644),
                ("x.hcl", "1", 0o040000),
                ("Bad.hcl", "1", 0o100644),
            ],
        );
        let new = tree(
            &repo,
            &odb,
            &[
                ("a.hcl", "1", 0o100644),
                ("b.hcl", "2", 0o100644),
                ("c.hcl", "1", 0o120000),
                ("e.hcl", "1", 0o100755),
                ("x.hcl", "1", 0o100644),
                ("Bad.hcl", "2", 0o100644),
            ],
        );
        let blob = |s: &str| Some(repo.blob(s.as_bytes()).unwrap());
        let got = request_deltas(Some(&old), Some(&new));
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["b.hcl", "c.hcl", "d.hcl", "e.hcl", "x.hcl"]);
        assert_eq!(got[0], ("b.hcl".into(), blob("1"), blob("2")));
        // A symlink is no request: the file is gone.
        assert_eq!(got[1], ("c.hcl".into(), blob("1"), None));
        assert_eq!(got[2], ("d.hcl".into(), blob("1"), None));
        assert_eq!(got[3], ("e.hcl".into(), None, blob("1")));
        assert_eq!(got[4], ("x.hcl".into(), None, blob("1")));
        assert!(request_deltas(Some(&old), Some(&old)).is_empty());
        assert_eq!(request_deltas(None, Some(&new)).len(), 4);
    }

    /// Skipping identical bytes gives what a plain merge of every entry
    /// gives: trees of hundreds of entries, one to a few changed, added or
    /// removed anywhere (first, last, middle), ids sharing long prefixes.
    #[test]
    fn request_deltas_skip_only_identical_entries() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let mut seed: u64 = 7;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let raw = |entries: &BTreeMap<String, [u8; 20]>| {
            let mut data = Vec::new();
            for (name, id) in entries {
                data.extend_from_slice(format!("100644 {name}\0").as_bytes());
                data.extend_from_slice(id);
            }
            let id = odb.write(ObjectType::Tree, &data).unwrap();
            RawTree::read(&odb, id).unwrap()
        };
        for round in 0..200 {
            let n = 1 + next() as usize % 300;
            let mut old: BTreeMap<String, [u8; 20]> = BTreeMap::new();
            for i in 0..n {
                // Ids differ only in their last byte: long shared runs.
                let mut id = [0x20u8; 20];
                id[19] = (next() % 3) as u8;
                old.insert(format!("r-{}.hcl", i * 7 % 1000), id);
            }
            let mut new = old.clone();
            let names: Vec<String> = old.keys().cloned().collect();
            for _ in 0..1 + next() % 3 {
                match next() % 3 {
                    0 => {
                        new.remove(&names[next() as usize % names.len()]);
                    }
                    1 => {
                        new.insert(format!("r-{}.hcl", next() % 1000), [0x21; 20]);
                    }
                    _ => {
                        let name = &names[next() as usize % names.len()];
                        let mut id = new.get(name).copied().unwrap_or([0; 20]);
                        id[19] ^= 0x55;
                        new.insert(name.clone(), id);
                    }
                }
            }
            if round % 10 == 0 {
                new.remove(&names[0]);
                new.remove(names.last().unwrap());
            }
            let mut want = Vec::new();
            for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
                let (a, b) = (old.get(name), new.get(name));
                if a != b {
                    let id = |x: Option<&[u8; 20]>| x.map(|x| Oid::from_bytes(x).unwrap());
                    want.push((name.clone(), id(a), id(b)));
                }
            }
            let (a, b) = (raw(&old), raw(&new));
            assert_eq!(request_deltas(Some(&a), Some(&b)), want, "round {round}");
            let back: Vec<_> = want.iter().map(|(n, x, y)| (n.clone(), *y, *x)).collect();
            assert_eq!(request_deltas(Some(&b), Some(&a)), back, "round {round}");
        }
    }

    #[test]
    fn reads_approved_by_trailers() {
        let msg = "Add request\n\nSome body.\n\nApproved-by: Bob <bob@acme.example>\nApproved-by: carol@acme.example\nSigned-off-by: X <x@y>\n";
        assert_eq!(approved_by(msg), ["bob@acme.example", "carol@acme.example"]);
    }

    #[test]
    fn a_dash_line_never_ends_the_message_early() {
        let msg = "Subject\n\nApproved-by: Bob <bob@acme.example>\n---\n\nMore text.\n";
        assert!(approved_by(msg).is_empty());
        let msg = "Subject\n\nBody\n\nApproved-by: Bob <bob@acme.example>\n---\n";
        assert!(approved_by(msg).is_empty());
        let msg = "Subject\n\nApproved-by: Bob <bob@acme.example>\n\n# a comment\n";
        assert!(approved_by(msg).is_empty());
        let msg = "Subject\n\nApproved-by: Bob <bob@acme.example>\n\nConflicts:\n\tjit.hcl\n";
        assert!(approved_by(msg).is_empty());
        let msg = "Approved-by: Bob <bob@acme.example>\n";
        assert!(approved_by(msg).is_empty(), "a subject is not a trailer");
        let msg = "Subject\r\n\r\nApproved-by: Bob <bob@acme.example>\r\n";
        assert_eq!(approved_by(msg), ["bob@acme.example"]);
    }

    #[test]
    fn trailers_must_be_in_the_last_paragraph() {
        let msg = "Subject\n\nApproved-by: Bob <bob@acme.example>\n\nMore text after.\n";
        assert!(approved_by(msg).is_empty());
    }
}
