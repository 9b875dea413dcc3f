//! Reads the branch's first-parent history into an audit [`History`] in one
//! streaming pass. Only the chain of commit ids is held; a commit is read in
//! full only when its top-level `requests/`, `archive/` or definitions entries
//! differ from its first parent's (compared by tree entry id, so the
//! thousands of commits that touch neither cost one tree lookup each).
//!
//! [`stream`] gives the events of [`super::ordered_events`] in the same
//! order without holding the history: a version's events are built when it
//! ends and wait in a reorder buffer until no commit still to be read and no
//! open version can produce an earlier one (commit times in git are not
//! monotonic, so the bound is the earliest time any later commit records,
//! [`Link::earliest`], and the earliest an open version can still give).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use git2::{Commit, Oid, Repository};

use super::{
    ArchiveTrailers, DefinitionChange, EndedBy, Ending, Event, History, Lifecycle, StrayArchive,
};
use crate::approval::{self, Evidence, Object, Verdict};
use crate::config::{Definitions, Request, validate};
use crate::git::history::{self, Judge, Link, RawTree, Replayed};
use crate::git::{self as jitgit};
use crate::lifecycle::{Effect, PathLog, Version};

/// Reads the audit history of a replayed branch: the same chain,
/// definitions replay and request judgement as `plan` (one lifecycle model).
pub fn read(repo: &Repository, replayed: Replayed) -> anyhow::Result<History> {
    walk(repo, replayed, None)
}

/// The events of the history of a replayed branch at `now`, given to `emit`
/// one at a time in the order of [`super::ordered_events`]; only open
/// versions and the events that may not go out yet are held. The returned
/// history has no lifecycles, strays or changes (they went out as events).
pub fn stream(
    repo: &Repository,
    replayed: Replayed,
    now: DateTime<Utc>,
    emit: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> anyhow::Result<History> {
    // later[i]: the earliest time the commits from position i on record.
    let mut later = vec![i64::MAX; replayed.chain.len() + 1];
    for (i, link) in replayed.chain.iter().enumerate().rev() {
        later[i] = later[i + 1].min(link.earliest);
    }
    let stream = Stream {
        now,
        waiting: BinaryHeap::new(),
        strays: 0,
        changes: 0,
        open_floor: BTreeSet::new(),
        later,
        emit,
        scratch: Vec::new(),
    };
    walk(repo, replayed, Some(stream))
}

fn walk(
    repo: &Repository,
    replayed: Replayed,
    stream: Option<Stream<'_>>,
) -> anyhow::Result<History> {
    let Replayed {
        branch,
        head,
        chain,
        defs,
        mut approvals,
    } = replayed;
    let odb = repo.odb()?;
    let mut walker = Walker {
        repo,
        odb: &odb,
        judge: Judge::new(repo, &defs, &mut approvals),
        out: History {
            branch,
            approved_branch: defs.effective.settings.branch.clone(),
            head,
            commits: chain.len(),
            examined: 0,
            lifecycles: Vec::new(),
            changes: Vec::new(),
            strays: Vec::new(),
        },
        open: BTreeMap::new(),
        closed: Vec::new(),
        versions: 0,
        logs: BTreeMap::new(),
        last_requests: None,
        stream,
    };
    let mut previous: Option<&Link> = None;
    let mut raw_defs: Option<Definitions> = None;
    for (position, link) in chain.iter().enumerate() {
        let (defs_changed, requests_changed, archive_changed) = match previous {
            None => (true, true, true),
            Some(p) => (
                link.defs_changed,
                p.requests != link.requests,
                p.archive != link.archive,
            ),
        };
        if defs_changed || requests_changed || archive_changed {
            walker.out.examined += 1;
            let commit = repo.find_commit(link.oid)?;
            if defs_changed {
                let new_raw = history::definitions_at(repo, &commit.tree()?)?;
                if let Some(old) = &raw_defs {
                    walker.definitions(position, &commit, old, &new_raw)?;
                }
                raw_defs = Some(new_raw);
            }
            let old_requests = previous.and_then(|p| p.requests);
            walker
                .requests(position, &commit, old_requests, link.requests)
                .with_context(|| {
                    format!("reading requests at commit {}", jitgit::short(link.oid))
                })?;
            if let Some(stream) = &mut walker.stream {
                stream.flush(Some(position + 1))?;
            }
        }
        previous = Some(link);
    }
    walker.judge_open_now(&defs.effective);
    for (_, open) in std::mem::take(&mut walker.open) {
        walker.close(open.index, open.lc)?;
    }
    match &mut walker.stream {
        Some(stream) => stream.flush(None)?,
        None => {
            walker.closed.sort_by_key(|(index, _)| *index);
            walker.out.lifecycles = walker.closed.into_iter().map(|(_, lc)| lc).collect();
        }
    }
    Ok(walker.out)
}

/// Events built but not yet safe to emit, and what bounds the ones to come.
struct Stream<'e> {
    now: DateTime<Utc>,
    /// By their place in the order: (time, source kind, source, index in source).
    waiting: BinaryHeap<Reverse<Waiting>>,
    strays: usize,
    changes: usize,
    /// (earliest time it can still give, index) of each open version.
    open_floor: BTreeSet<(DateTime<Utc>, usize)>,
    /// The earliest time the commits from each chain position on record.
    later: Vec<i64>,
    emit: &'e mut dyn FnMut(Event) -> anyhow::Result<()>,
    scratch: Vec<Event>,
}

/// Where an event goes in [`super::ordered_events`]'s order: by time, then
/// lifecycles before strays before changes, each in history order, then
/// the event's place among its source's events.
type Place = (DateTime<Utc>, u8, usize, usize);

struct Waiting(Place, Event);

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// Lifecycles first, then stray archive commits, then definitions changes.
const LIFECYCLE: u8 = 0;
const STRAY: u8 = 1;
const CHANGE: u8 = 2;

impl Stream<'_> {
    fn wait(&mut self, kind: u8, source: usize) {
        for (k, event) in self.scratch.drain(..).enumerate() {
            self.waiting
                .push(Reverse(Waiting((event.time, kind, source, k), event)));
        }
    }

    /// Emits every waiting event earlier than anything still to come: the
    /// commits from chain position `next` on (`None`: none, the walk is
    /// over) and the open versions.
    fn flush(&mut self, next: Option<usize>) -> anyhow::Result<()> {
        let later = next.map_or(i64::MAX, |p| self.later[p]);
        let open = self.open_floor.first().map(|(t, _)| *t);
        while let Some(Reverse(Waiting((time, ..), _))) = self.waiting.peek() {
            // Commit times are whole seconds: before second `later` is before all of it.
            let ready = time.timestamp() < later && open.is_none_or(|o| *time < o);
            if !ready {
                break;
            }
            let Some(Reverse(Waiting(_, event))) = self.waiting.pop() else {
                break;
            };
            (self.emit)(event)?;
        }
        Ok(())
    }
}

fn time_of(t: git2::Time) -> DateTime<Utc> {
    Utc.timestamp_opt(t.seconds(), 0)
        .single()
        .unwrap_or_default()
}

fn subject(commit: &Commit) -> String {
    String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
        .trim()
        .to_string()
}

/// The declared user who authored a change, else the email (or `@login`).
fn author_label(defs: &Definitions, ev: &Evidence) -> String {
    approval::author_of(defs, ev).map_or_else(
        || {
            ev.author_login
                .as_ref()
                .map_or_else(|| ev.author_email.clone(), |l| format!("@{l}"))
        },
        str::to_string,
    )
}

/// `Name <email>` (as `Jit-Revoked-By` writes it) -> the declared user, else as written.
fn who_named(defs: &Definitions, text: &str) -> String {
    let email = match (text.find('<'), text.rfind('>')) {
        (Some(a), Some(b)) if a < b => &text[a + 1..b],
        _ => text,
    };
    defs.user_by_email(email)
        .map_or_else(|| text.to_string(), |u| u.name.clone())
}

struct Walker<'a, 'r, 'e, 'o> {
    repo: &'r Repository,
    odb: &'o git2::Odb<'r>,
    /// Judges request versions exactly as plan does.
    judge: Judge<'a, 'r>,
    out: History,
    /// Request path -> its open version.
    open: BTreeMap<String, Open>,
    /// Ended versions, by index (not streaming).
    closed: Vec<(usize, Lifecycle)>,
    /// Versions opened so far: the next one's index.
    versions: usize,
    /// Request path -> its life since last removed (what is in force).
    logs: BTreeMap<String, PathLog>,
    /// The last `requests/` tree read: the next change's old side.
    last_requests: Option<(Oid, RawTree<'o>)>,
    /// Streaming: events go out as they are final, nothing else is kept.
    stream: Option<Stream<'e>>,
}

/// A version still in `requests/`.
struct Open {
    /// Its place in history order.
    index: usize,
    lc: Lifecycle,
    /// The request as judged (duration fixed at approval), to check it
    /// against the definitions in force now.
    judged: Option<Request>,
}

impl Walker<'_, '_, '_, '_> {
    /// Judges each object the commit changed, as walk_definitions does.
    fn definitions(
        &mut self,
        position: usize,
        commit: &Commit,
        old: &Definitions,
        new: &Definitions,
    ) -> anyhow::Result<()> {
        let changed = approval::changed_objects(old, new);
        if changed.is_empty() {
            return Ok(());
        }
        let before = self.judge.definitions().before(position);
        let ev = self.judge.evidence(commit, before, None)?;
        let author = author_label(before, &ev);
        for object in changed {
            let verdict = approval::judge_definition_change(before, &object, &ev);
            let role = match &object {
                Object::Role(r) => Some(r.clone()),
                Object::Contract(c) => new
                    .contracts
                    .get(c)
                    .or_else(|| old.contracts.get(c))
                    .map(|c| c.role.clone()),
                _ => None,
            };
            let change = DefinitionChange {
                object,
                commit: commit.id(),
                at: history::commit_time(commit),
                author: author.clone(),
                subject: subject(commit),
                verdict,
                role,
            };
            match &mut self.stream {
                Some(stream) => {
                    stream.scratch.push(super::change_event(&change));
                    stream.changes += 1;
                    stream.wait(CHANGE, stream.changes - 1);
                }
                None => self.out.changes.push(change),
            }
        }
        Ok(())
    }

    /// Closes the versions the commit removed or replaced and opens the ones it wrote.
    fn requests(
        &mut self,
        position: usize,
        commit: &Commit,
        old: Option<Oid>,
        new: Option<Oid>,
    ) -> anyhow::Result<()> {
        let before = self.judge.definitions().before(position);
        let by_bot = commit
            .author()
            .email()
            .unwrap_or_default()
            .eq_ignore_ascii_case(&before.settings.bot.email);
        let mut trailers = if by_bot {
            ArchiveTrailers::parse(commit.message().unwrap_or_default())
        } else {
            None
        };
        if old != new {
            let old_tree = match self.last_requests.take() {
                Some((id, tree)) if Some(id) == old => Some(tree),
                _ => old.map(|id| RawTree::read(self.odb, id)).transpose()?,
            };
            let new_tree = new
                .map(|id| RawTree::read_after(self.odb, id, old_tree.as_ref()))
                .transpose()?;
            let deltas = history::request_deltas(old_tree.as_ref(), new_tree.as_ref());
            self.last_requests = new.zip(new_tree);
            for (file, old_blob, new_blob) in deltas {
                let path = format!("requests/{file}");
                let mut replaced = None;
                if old_blob.is_some()
                    && let Some(open) = self.open.remove(&path)
                {
                    let how = match (new_blob, by_bot) {
                        (Some(_), _) => EndedBy::Changed,
                        (None, true) => {
                            let name = history::stem(&path);
                            match trailers.take_if(|t| t.request == name) {
                                Some(t) => EndedBy::Archive(Box::new(t)),
                                None => EndedBy::ArchiveWithoutTrailers,
                            }
                        }
                        (None, false) => EndedBy::Deleted,
                    };
                    replaced = Some(open.lc.commit);
                    self.end(open, commit, before, &path, how)?;
                }
                let version = new_blob
                    .map(|blob| self.judge.version(position, commit, &path, blob))
                    .transpose()?;
                let log = self.logs.entry(path.clone()).or_default();
                let effect = log.apply(old_blob, version.clone());
                if effect == Effect::Removed {
                    self.logs.remove(&path);
                }
                if let Some(version) = version {
                    let (lc, judged) =
                        lifecycle(self.repo, &version, &effect, commit, before, replaced);
                    let index = self.versions;
                    self.versions += 1;
                    if let Some(stream) = &mut self.stream {
                        // Its events so far and to come: none earlier than these.
                        let floor = lc.requested_at.min(lc.approved_at);
                        stream.open_floor.insert((floor, index));
                    }
                    self.open.insert(path, Open { index, lc, judged });
                }
            }
        }
        if let Some(t) = trailers {
            let stray = StrayArchive {
                commit: commit.id(),
                at: history::commit_time(commit),
                trailers: t,
            };
            match &mut self.stream {
                Some(stream) => {
                    super::stray_events(&stray, &mut stream.scratch);
                    stream.strays += 1;
                    stream.wait(STRAY, stream.strays - 1);
                }
                None => self.out.strays.push(stray),
            }
        }
        Ok(())
    }

    fn end(
        &mut self,
        mut open: Open,
        commit: &Commit,
        before: &Definitions,
        path: &str,
        how: EndedBy,
    ) -> anyhow::Result<()> {
        let (by, reason) = match &how {
            EndedBy::Archive(t) => (
                t.revoked_by.as_deref().map_or_else(
                    || before.settings.bot.name.clone(),
                    |r| who_named(before, r),
                ),
                t.reason.clone(),
            ),
            EndedBy::ArchiveWithoutTrailers => (before.settings.bot.name.clone(), None),
            EndedBy::Deleted | EndedBy::Changed => {
                // For a merged pull request, the author is whoever changed the file on its side.
                // Authorship only (no forge calls): whoever changed the file on a merged side.
                let ev = history::evidence(self.repo, commit, before, Some(path))?;
                (author_label(before, &ev), Some(subject(commit)))
            }
        };
        open.lc.ending = Some(Ending {
            how,
            commit: commit.id(),
            at: history::commit_time(commit),
            by,
            reason,
        });
        self.close(open.index, open.lc)
    }

    /// A version whose events are final: kept, or (streaming) its events
    /// wait for their turn and it is dropped.
    fn close(&mut self, index: usize, lc: Lifecycle) -> anyhow::Result<()> {
        match &mut self.stream {
            Some(stream) => {
                stream
                    .open_floor
                    .remove(&(lc.requested_at.min(lc.approved_at), index));
                super::lifecycle_events(&lc, stream.now, &mut stream.scratch);
                stream.wait(LIFECYCLE, index);
            }
            None => self.closed.push((index, lc)),
        }
        Ok(())
    }

    /// Open versions must also be valid against the definitions in force
    /// now, as plan requires.
    fn judge_open_now(&mut self, now: &Definitions) {
        let now_errors = validate::validate_definitions(now);
        for open in self.open.values_mut() {
            let lc = &mut open.lc;
            if lc.invalid.is_some() || !lc.verdict.is_approved() {
                continue;
            }
            let Some(request) = &open.judged else {
                continue;
            };
            lc.invalid = validate::validate_request(now, request)
                .iter()
                .find(|d| d.is_error())
                .map(|d| d.to_string())
                .or_else(|| crate::plan::definitions_problem(now, &now_errors, request))
                .map(|why| format!("invalid against the definitions in force now: {why}"));
        }
    }
}

/// A lifecycle for a version, with the verdict that counts: its own
/// approval when it took effect, pending otherwise; and the request as
/// judged (its duration fixed at approval).
fn lifecycle(
    repo: &Repository,
    version: &Version,
    effect: &Effect,
    commit: &Commit,
    before: &Definitions,
    replaces: Option<Oid>,
) -> (Lifecycle, Option<Request>) {
    let counted = version;
    let verdict = match effect {
        Effect::Pending(reason) | Effect::Reverted(reason) => Verdict::Pending {
            reason: reason.clone(),
        },
        _ => counted.verdict.clone(),
    };
    let request = version.request.as_ref();
    let contract = request.and_then(|r| before.contracts.get(&r.contract));
    let author = history::evidence(
        // Authorship only, as the version was judged: no forge call here.
        repo,
        commit,
        before,
        Some(&version.path),
    )
    .map(|ev| author_label(before, &ev))
    .unwrap_or_default();
    let mut fixed = request.cloned();
    if let Some(r) = &mut fixed {
        r.duration = counted.duration;
    }
    let lc = Lifecycle {
        request: version.name.clone(),
        path: version.path.clone(),
        commit: commit.id(),
        requested_at: time_of(commit.author().when()),
        approved_at: counted.approved_at,
        author,
        replaces,
        contract: request.map(|r| r.contract.clone()).unwrap_or_default(),
        requester: request.map(|r| r.requester.clone()).unwrap_or_default(),
        principal: request.and_then(|r| {
            let u = before.users.get(&r.requester)?;
            Some(contract.map_or_else(
                || u.aws.clone(),
                |c| crate::config::validate::principal_of(before, u, c),
            ))
        }),
        role: contract.map(|c| c.role.clone()),
        resources: match (request, contract) {
            (Some(r), Some(c)) if r.resources.is_empty() => c.resources.clone(),
            (Some(r), _) => r.resources.clone(),
            (None, _) => Vec::new(),
        },
        reason: request.map(|r| r.reason.clone()).unwrap_or_default(),
        invalid: counted.invalid_then.clone(),
        verdict,
        window: counted.window(),
        ending: None,
    };
    (lc, fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[(&str, &str)] = &[
        (
            "jit.hcl",
            "settings {\n  branch = \"main\"\n  approval = \"trailers\"\n  admins = [\"user:alice\"]\n  bot {\n    name  = \"jit\"\n    email = \"jit@acme.example\"\n  }\n}\naccount \"prod\" {\n  id = \"123456789012\"\n}\n",
        ),
        (
            "people.hcl",
            "user \"alice\" {\n  email = \"alice@acme.example\"\n  aws   = \"arn:aws:iam::123456789012:user/alice\"\n}\nuser \"bob\" {\n  email = \"bob@acme.example\"\n  aws   = \"arn:aws:iam::123456789012:user/bob\"\n}\n",
        ),
        (
            "roles/read.hcl",
            "role \"read\" {\n  description = \"read\"\n  statement {\n    actions   = [\"s3:GetObject\"]\n    resources = []\n  }\n}\n",
        ),
        (
            "contracts/auto.hcl",
            "contract \"auto\" {\n  role = \"read\"\n  resources = [\"arn:aws:s3:::b/*\"]\n  min_approvals = 0\n  auto_approve = true\n  max_duration = \"4h\"\n  default_duration = \"1h\"\n  owners = [\"user:alice\"]\n}\n",
        ),
    ];

    fn request(name: &str, user: &str) -> String {
        format!(
            "request \"{name}\" {{\n  requester = \"{user}\"\n  contract  = \"auto\"\n  reason    = \"why\"\n}}\n"
        )
    }

    /// (author, minutes after 08:00, message, files written, files removed).
    type TestCommit<'a> = (&'a str, i64, &'a str, Vec<(String, String)>, Vec<&'a str>);

    /// A first-parent history of (author, time, message, files written,
    /// files removed) commits on `main`; times are minutes after 08:00.
    fn history(commits: &[TestCommit]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut files: BTreeMap<String, String> = DEFS
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let mut parent: Option<Oid> = None;
        let base = 1_795_420_800; // 2026-11-23T08:00:00Z
        for (i, (author, minutes, message, write, remove)) in commits.iter().enumerate() {
            if i > 0 {
                files.extend(write.iter().cloned());
                for r in remove {
                    files.remove(*r);
                }
            }
            let mut index = git2::Index::new().unwrap();
            for (path, text) in &files {
                let blob = repo.blob(text.as_bytes()).unwrap();
                let mut entry = git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode: 0o100644,
                    uid: 0,
                    gid: 0,
                    file_size: 0,
                    id: blob,
                    flags: 0,
                    flags_extended: 0,
                    path: path.as_bytes().to_vec(),
                };
                entry.flags = path.len().min(0xfff) as u16;
                index.add(&entry).unwrap();
            }
            let tree = repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap();
            let when = git2::Time::new(base + minutes * 60, 0);
            let sig =
                git2::Signature::new(author, &format!("{author}@acme.example"), &when).unwrap();
            let parents: Vec<Commit> = parent
                .iter()
                .map(|p| repo.find_commit(*p).unwrap())
                .collect();
            let parents: Vec<&Commit> = parents.iter().collect();
            let id = repo
                .commit(
                    Some("refs/heads/main"),
                    &sig,
                    &sig,
                    message,
                    &tree,
                    &parents,
                )
                .unwrap();
            parent = Some(id);
        }
        repo.set_head("refs/heads/main").unwrap();
        dir
    }

    fn streamed(dir: &std::path::Path, now: DateTime<Utc>) -> Vec<Event> {
        let repo = Repository::open(dir).unwrap();
        let (replayed, _) = history::follow_branch(&repo, history::Times::Read).unwrap();
        let mut out = Vec::new();
        stream(&repo, replayed, now, &mut |e| {
            out.push(e);
            Ok(())
        })
        .unwrap();
        out
    }

    fn sorted(dir: &std::path::Path, now: DateTime<Utc>) -> Vec<Event> {
        let repo = Repository::open(dir).unwrap();
        let (replayed, _) = history::follow_branch(&repo, history::Times::Read).unwrap();
        super::super::events(&read(&repo, replayed).unwrap(), now)
    }

    /// Commits whose times go back (earlier than their parents), an
    /// archive commit recording a grant long before, a stray archive and a
    /// definitions change at the same time as a request: the stream gives
    /// exactly the sorted order, which is not the order the walk meets them.
    #[test]
    fn streamed_events_keep_the_sorted_order_when_commit_times_go_back() {
        let file =
            |name: &str, user: &str| vec![(format!("requests/{name}.hcl"), request(name, user))];
        let archive =
            |name: &str| vec![(format!("archive/2026/11/{name}.hcl"), request(name, "bob"))];
        let trailers = |name: &str, granted: &str| {
            format!(
                "jit: expire {name}\n\nJit-Request: {name}\nJit-Granted: {granted}\nJit-Outcome: expired\n"
            )
        };
        let contract = vec![(
            "contracts/auto.hcl".to_string(),
            DEFS[3].1.replace("\"4h\"", "\"8h\""),
        )];
        let dir = history(&[
            ("alice", 0, "Access definitions", vec![], vec![]),
            ("alice", 120, "late one", file("a-late", "alice"), vec![]),
            // Earlier than its parent: its events go before a-late's.
            ("bob", 30, "early one", file("b-early", "bob"), vec![]),
            (
                "bob",
                60,
                &trailers("b-early", "2026-11-23T08:31:00Z"),
                archive("b-early"),
                vec!["requests/b-early.hcl"],
            ),
            // A stray archive commit recording a grant before everything.
            (
                "jit",
                130,
                &trailers("ghost", "2026-11-23T07:00:00Z"),
                archive("ghost"),
                vec![],
            ),
            // A contract change at 10:00, as a-late's request, and a request at 09:00 after it.
            ("alice", 120, "contract: 8h", contract, vec![]),
            ("alice", 60, "mid one", file("c-mid", "alice"), vec![]),
            ("alice", 140, "done", vec![], vec!["requests/c-mid.hcl"]),
        ]);
        let now = "2026-11-23T12:00:00Z".parse().unwrap();
        let got = streamed(dir.path(), now);
        let want = sorted(dir.path(), now);
        let show = |es: &[Event]| {
            es.iter()
                .map(|e| {
                    format!(
                        "{} {} {}",
                        super::super::ts(e.time),
                        e.event.as_str(),
                        e.request.as_deref().or(e.object.as_deref()).unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&got), show(&want));
        assert_eq!(got, want);
        // The history really goes back in time: the first event is the
        // stray's grant, read fifth; b-early's come before a-late's.
        let order = show(&got);
        assert_eq!(order[0], "2026-11-23T07:00:00Z granted ghost");
        let pos = |s: &str| order.iter().position(|o| o == s).unwrap();
        assert!(
            pos("2026-11-23T08:30:00Z requested b-early")
                < pos("2026-11-23T10:00:00Z requested a-late")
        );
        assert!(
            pos("2026-11-23T09:00:00Z requested c-mid")
                < pos("2026-11-23T10:00:00Z requested a-late")
        );
        // Ties: a lifecycle's event before a change at the same time.
        assert!(
            pos("2026-11-23T10:00:00Z granted a-late")
                < pos("2026-11-23T10:00:00Z changed contract:auto")
        );
        assert!(got.windows(2).all(|w| w[0].time <= w[1].time));
    }
}
