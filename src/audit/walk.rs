//! Reads the branch's first-parent history into an audit [`History`] in one
//! streaming pass. Only the chain of commit ids is held; a commit is read in
//! full only when its top-level `requests/`, `archive/` or definitions entries
//! differ from its first parent's (compared by tree entry id, so the
//! thousands of commits that touch neither cost one tree lookup each).

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use git2::{Commit, Oid, Repository, Tree};

use super::{ArchiveTrailers, DefinitionChange, EndedBy, Ending, History, Lifecycle, StrayArchive};
use crate::approval::{self, Evidence, Object, Verdict};
use crate::config::{self, Definitions, SourceFile, validate};
use crate::git::history::{self, Approvals, DefinitionsWalk};
use crate::git::{self as jitgit};

/// The ids that decide whether a commit needs reading.
#[derive(PartialEq)]
struct Fingerprint {
    requests: Option<Oid>,
    archive: Option<Oid>,
    /// Top-level entries other than requests/, archive/ and dot-files: the definitions.
    definitions: Vec<(String, Oid)>,
}

impl Fingerprint {
    fn of(tree: &Tree) -> Fingerprint {
        let id = |name: &str| tree.get_name(name).map(|e| e.id());
        Fingerprint {
            requests: id("requests"),
            archive: id("archive"),
            definitions: history::definitions_fingerprint(tree),
        }
    }
}

/// Reads the audit history of `branch` up to `head`.
pub fn read(repo: &Repository, branch: &str, head: Oid) -> anyhow::Result<History> {
    let chain = history::first_parent_chain(repo, head)?;
    let head_defs = history::definitions_at(repo, &repo.find_commit(head)?.tree()?)?;
    let anchor = head_defs.settings.trust_anchor.as_deref();
    let chain = history::from_anchor(repo, chain, anchor)?;
    let mut approvals = Approvals::default();
    let defs = history::walk_definitions(repo, &chain, &mut approvals)?;
    if defs.effective.settings.trust_anchor.as_deref() != anchor {
        anyhow::bail!(
            "settings.trust_anchor = {:?} at the head of {branch} is not approved: the settings change that set it needs the admins' approval",
            anchor.unwrap_or_default()
        );
    }
    let mut walker = Walker {
        repo,
        defs: &defs,
        approvals,
        out: History {
            branch: branch.to_string(),
            approved_branch: defs.effective.settings.branch.clone(),
            head,
            commits: chain.len(),
            examined: 0,
            lifecycles: Vec::new(),
            changes: Vec::new(),
            strays: Vec::new(),
        },
        open: BTreeMap::new(),
    };
    let mut previous: Option<Fingerprint> = None;
    let mut raw_defs: Option<Definitions> = None;
    for (position, oid) in chain.iter().enumerate() {
        let commit = repo.find_commit(*oid)?;
        let tree = commit.tree()?;
        let now = Fingerprint::of(&tree);
        let (defs_changed, requests_changed, archive_changed) = match &previous {
            None => (true, true, true),
            Some(p) => (
                p.definitions != now.definitions,
                p.requests != now.requests,
                p.archive != now.archive,
            ),
        };
        if defs_changed || requests_changed || archive_changed {
            walker.out.examined += 1;
            if defs_changed {
                let new_raw = history::definitions_at(repo, &tree)?;
                if let Some(old) = &raw_defs {
                    walker.definitions(position, &commit, old, &new_raw)?;
                }
                raw_defs = Some(new_raw);
            }
            let old_requests = previous.as_ref().and_then(|p| p.requests);
            walker
                .requests(position, &commit, old_requests, now.requests)
                .with_context(|| format!("reading requests at commit {}", jitgit::short(*oid)))?;
        }
        previous = Some(now);
    }
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

struct Walker<'a> {
    repo: &'a Repository,
    defs: &'a DefinitionsWalk,
    /// Trailers, or the forge's reviews in github mode.
    approvals: Approvals,
    out: History,
    /// Request path -> index of its open lifecycle.
    open: BTreeMap<String, usize>,
}

impl Walker<'_> {
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
        let before = self.defs.before(position);
        let ev = self.approvals.evidence(self.repo, commit, before, None)?;
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
        let before = self.defs.before(position);
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
            let old_tree = old.map(|id| self.repo.find_tree(id)).transpose()?;
            let new_tree = new.map(|id| self.repo.find_tree(id)).transpose()?;
            let diff = self
                .repo
                .diff_tree_to_tree(old_tree.as_ref(), new_tree.as_ref(), None)?;
            let mut deltas: Vec<(String, Option<Oid>, Option<Oid>)> = Vec::new();
            for d in diff.deltas() {
                let Some(path) = d.new_file().path().or(d.old_file().path()) else {
                    continue;
                };
                let path = format!("requests/{}", path.to_string_lossy());
                if config::parse::file_kind(&path) != config::parse::FileKind::Request {
                    continue;
                }
                let id = |f: git2::DiffFile| Some(f.id()).filter(|id| !id.is_zero());
                deltas.push((path, id(d.old_file()), id(d.new_file())));
            }
            for (path, old_blob, new_blob) in deltas {
                let mut replaced = None;
                if old_blob.is_some()
                    && let Some(index) = self.open.remove(&path)
                {
                    let how = match (new_blob, by_bot) {
                        (Some(_), _) => EndedBy::Changed,
                        (None, true) => {
                            let name = stem(&path);
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
                if let Some(blob) = new_blob {
                    let lc = self.version(position, commit, &path, blob, replaced)?;
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
        self.out.lifecycles[index].ending = Some(Ending {
            how,
            commit: commit.id(),
            at: history::commit_time(commit),
            by,
            reason,
        });
        Ok(())
    }

    /// A new version of a request: parsed, judged against the definitions in
    /// force before its commit.
    fn version(
        &mut self,
        position: usize,
        commit: &Commit,
        path: &str,
        blob: Oid,
        replaces: Option<Oid>,
    ) -> anyhow::Result<Lifecycle> {
        let text = String::from_utf8_lossy(self.repo.find_blob(blob)?.content()).into_owned();
        let (parsed, diags) = config::parse_files(&[SourceFile {
            path: path.to_string(),
            text,
        }]);
        // Judged, and its window fixed, by the definitions in force before its
        // commit: a later change of the contract must not stretch an approved window.
        let before = self.defs.before(position);
        let ev = self
            .approvals
            .evidence(self.repo, commit, before, Some(path))?;
        let author = author_label(before, &ev);
        let approved_at = history::commit_time(commit);
        let mut lc = Lifecycle {
            request: stem(path).to_string(),
            path: path.to_string(),
            commit: commit.id(),
            requested_at: time_of(commit.author().when()),
            approved_at,
            author,
            replaces,
            contract: String::new(),
            requester: String::new(),
            principal: None,
            role: None,
            resources: Vec::new(),
            reason: String::new(),
            invalid: None,
            verdict: Verdict::Pending {
                reason: "the file holds no valid request block".into(),
            },
            window: None,
            ending: None,
        };
        let first_error = diags.iter().find(|d| d.is_error()).map(|d| d.to_string());
        let Some(req) = parsed.requests.values().next() else {
            lc.invalid = Some(first_error.unwrap_or_else(|| "no request block".into()));
            return Ok(lc);
        };
        lc.contract = req.contract.clone();
        lc.requester = req.requester.clone();
        lc.reason = req.reason.clone();
        lc.verdict = approval::judge_request(before, req, &ev);
        lc.invalid = first_error.or_else(|| {
            validate::validate_request(before, req)
                .iter()
                .find(|d| d.is_error())
                .map(|d| d.to_string())
        });
        lc.principal = before.users.get(&req.requester).map(|u| u.aws.clone());
        if let Some(contract) = before.contracts.get(&req.contract) {
            lc.role = Some(contract.role.clone());
            lc.resources = if req.resources.is_empty() {
                contract.resources.clone()
            } else {
                req.resources.clone()
            };
            if let Some(duration) = before.duration_of(req) {
                let start = req.not_before.map_or(approved_at, |nb| nb.max(approved_at));
                lc.window = Some((start, start + duration.to_delta()));
            }
        } else {
            lc.resources = req.resources.clone();
        }
        Ok(lc)
    }
}

/// `requests/x.hcl` -> `x`.
fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".hcl").unwrap_or(file)
}
