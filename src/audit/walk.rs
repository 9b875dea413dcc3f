//! Reads the branch's first-parent history into an audit [`History`] in one
//! streaming pass. Only the chain of commit ids is held; a commit is read in
//! full only when its top-level `requests/`, `archive/` or definitions entries
//! differ from its first parent's (compared by tree entry id, so the
//! thousands of commits that touch neither cost one tree lookup each).

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use git2::{Commit, Oid, Repository};

use super::{ArchiveTrailers, DefinitionChange, EndedBy, Ending, History, Lifecycle, StrayArchive};
use crate::approval::{self, Evidence, Object, Verdict};
use crate::config::{Definitions, validate};
use crate::git::history::{self, Judge, Link, RawTree, Replayed};
use crate::git::{self as jitgit};
use crate::lifecycle::{Effect, PathLog, Version};

/// Reads the audit history of a replayed branch: the same chain,
/// definitions replay and request judgement as `plan` (one lifecycle model).
pub fn read(repo: &Repository, replayed: Replayed) -> anyhow::Result<History> {
    let Replayed {
        branch,
        head,
        chain,
        defs,
        mut approvals,
    } = replayed;
    let mut walker = Walker {
        repo,
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
        logs: BTreeMap::new(),
        last_requests: None,
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
        }
        previous = Some(link);
    }
    walker.judge_open_now(&defs.effective);
    Ok(walker.out)
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

struct Walker<'a, 'r> {
    repo: &'r Repository,
    /// Judges request versions exactly as plan does.
    judge: Judge<'a, 'r>,
    out: History,
    /// Request path -> index of its open lifecycle.
    open: BTreeMap<String, usize>,
    /// Request path -> its life since last removed (what is in force).
    logs: BTreeMap<String, PathLog>,
    /// The last `requests/` tree read: the next change's old side.
    last_requests: Option<(Oid, RawTree)>,
}

impl Walker<'_, '_> {
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
            self.out.changes.push(DefinitionChange {
                object,
                commit: commit.id(),
                at: history::commit_time(commit),
                author: author.clone(),
                subject: subject(commit),
                verdict,
                role,
            });
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
                _ => old.map(|id| RawTree::read(self.repo, id)).transpose()?,
            };
            let new_tree = new.map(|id| RawTree::read(self.repo, id)).transpose()?;
            let deltas = history::request_deltas(old_tree.as_ref(), new_tree.as_ref());
            self.last_requests = new.zip(new_tree);
            for (file, old_blob, new_blob) in deltas {
                let path = format!("requests/{file}");
                let mut replaced = None;
                if old_blob.is_some()
                    && let Some(index) = self.open.remove(&path)
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
                    self.end(index, commit, before, &path, how)?;
                    replaced = Some(self.out.lifecycles[index].commit);
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
                    let lc = lifecycle(self.repo, &version, &effect, commit, before, replaced);
                    self.open.insert(path, self.out.lifecycles.len());
                    self.out.lifecycles.push(lc);
                }
            }
        }
        if let Some(t) = trailers {
            self.out.strays.push(StrayArchive {
                commit: commit.id(),
                at: history::commit_time(commit),
                trailers: t,
            });
        }
        Ok(())
    }

    fn end(
        &mut self,
        index: usize,
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
        // Only open versions are judged again at the end: hold no more.
        self.out.lifecycles[index].request_as_judged = None;
        self.out.lifecycles[index].ending = Some(Ending {
            how,
            commit: commit.id(),
            at: history::commit_time(commit),
            by,
            reason,
        });
        Ok(())
    }

    /// Open versions must also be valid against the definitions in force
    /// now, as plan requires.
    fn judge_open_now(&mut self, now: &Definitions) {
        let now_errors = validate::validate_definitions(now);
        for index in self.open.values() {
            let lc = &mut self.out.lifecycles[*index];
            if lc.invalid.is_some() || !lc.verdict.is_approved() {
                continue;
            }
            let Some(request) = &lc.request_as_judged else {
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
/// approval when it took effect, pending otherwise.
fn lifecycle(
    repo: &Repository,
    version: &Version,
    effect: &Effect,
    commit: &Commit,
    before: &Definitions,
    replaces: Option<Oid>,
) -> Lifecycle {
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
    Lifecycle {
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
        request_as_judged: fixed,
    }
}
