//! One model of a request file's life, shared by plan, status and audit.
//! Pure: the history reader feeds it one change of one path at a time, each
//! version already judged on the commit that wrote it.
//!
//! The rules (DESIGN §2):
//! - A version takes effect only if its commit is approved *and* the file's
//!   content before that commit is the content in force: an approval covers
//!   the diff its approvers saw, never an earlier unapproved change.
//! - After an unapproved change the path stays pending, naming the first
//!   unapproved commit, until a revert brings the content back to the version
//!   in force (from there approvals count again), or the file is removed.
//! - An ending is durable: once the file held something else, the version in
//!   force never grants again without a new approval, even if restored.
//! - Removing the file ends whatever was in force (no approval needed: it
//!   only ends access).
//! - A version that took effect while invalid against the definitions in
//!   force at its commit grants nothing, ever (a sleeper stays asleep).

use chrono::{DateTime, Utc};
use git2::Oid;

use crate::approval::Verdict;
use crate::config::{Duration, Request};

/// One content of `requests/<name>.hcl`, judged on the commit that wrote it.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub path: String,
    pub blob: Oid,
    /// The first-parent commit that wrote this content.
    pub commit: Oid,
    /// That commit's time: the approval time.
    pub approved_at: DateTime<Utc>,
    /// The parsed request (`None`: the file holds no valid request block).
    pub request: Option<Request>,
    /// The approvals of the commit, judged against the definitions in force before it.
    pub verdict: Verdict,
    /// Why the version is invalid against the definitions in force at its
    /// commit (parse errors, caps, resources, its contract or role), if so.
    pub invalid_then: Option<String>,
    /// The duration, computed once at approval: the request's own or its
    /// contract's default then. Both the caps and the window use this one.
    pub duration: Option<Duration>,
    /// The approvers' emails as recorded (for archive trailers).
    pub approver_emails: Vec<String>,
}

impl Version {
    /// start = max(approved_at, not_before), end = start + duration.
    pub fn window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let duration = self.duration?;
        let not_before = self.request.as_ref().and_then(|r| r.not_before);
        let start = not_before.map_or(self.approved_at, |nb| nb.max(self.approved_at));
        Some((start, start + duration.to_delta()))
    }
}

/// What a change did to a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The new version is in force.
    TookEffect,
    /// The content is back to the version in force by an unapproved commit:
    /// approvals count again from here, but the ended grant does not come
    /// back (why, for the plan).
    Reverted(String),
    /// The new version is not in force, and why.
    Pending(String),
    /// The file was removed: whatever was in force has ended.
    Removed,
}

/// The life of one request path since it was last removed.
#[derive(Debug, Clone, Default)]
pub struct PathLog {
    in_force: Option<Version>,
    current: Option<Version>,
    /// Why `current` is not in force (when it is not).
    pending: Option<String>,
    /// The first commit since the version in force whose change did not take effect.
    diverged: Option<Oid>,
}

impl PathLog {
    /// Applies one commit's change of the path: `old` is the blob before it,
    /// `new` the version it wrote (`None`: removed, or no longer a request file).
    pub fn apply(&mut self, old: Option<Oid>, new: Option<Version>) -> Effect {
        let Some(version) = new else {
            *self = PathLog::default();
            return Effect::Removed;
        };
        let in_force_blob = self.in_force.as_ref().map(|v| v.blob);
        let covered = old == in_force_blob || in_force_blob == Some(version.blob);
        let effect = if version.verdict.is_approved() && covered {
            self.in_force = Some(version.clone());
            self.diverged = None;
            Effect::TookEffect
        } else if in_force_blob == Some(version.blob) {
            // Back to the approved content, but that grant has ended (the
            // file held something else): an ending is durable, so it needs
            // approval again. From here, approved changes count as usual.
            self.diverged = None;
            let reason = match &version.verdict {
                Verdict::Pending { reason } => reason.as_str(),
                Verdict::Approved { .. } => "not approved",
            };
            Effect::Reverted(format!(
                "{reason} (restored to the approved content after an unapproved change; the old approval ended with that change)"
            ))
        } else {
            let first = *self.diverged.get_or_insert(version.commit);
            Effect::Pending(match &version.verdict {
                Verdict::Approved { .. } => format!(
                    "approved in {}, but its content before that commit was never approved (changed in {}): an approval covers only the diff its approvers saw; revert to the approved version, or delete the file, and propose it again",
                    crate::git::short(version.commit),
                    crate::git::short(first),
                ),
                Verdict::Pending { reason } => reason.clone(),
            })
        };
        self.pending = match &effect {
            Effect::Pending(reason) | Effect::Reverted(reason) => Some(reason.clone()),
            _ => None,
        };
        self.current = Some(version);
        effect
    }

    /// The version in the file now and the verdict that counts for it: the
    /// version in force (approved) when nothing changed it since, else the
    /// current one pending, with why.
    pub fn judged(&self) -> Option<(Version, Verdict)> {
        let current = self.current.as_ref()?;
        match (&self.in_force, &self.pending) {
            (Some(v), None) if v.blob == current.blob => Some((v.clone(), v.verdict.clone())),
            (_, pending) => Some((
                current.clone(),
                Verdict::Pending {
                    reason: pending.clone().unwrap_or_else(|| "not approved".into()),
                },
            )),
        }
    }

    /// The version in force, if any.
    pub fn in_force(&self) -> Option<&Version> {
        self.in_force.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    fn version(blob: u8, commit: u8, approved: bool) -> Version {
        Version {
            name: "r".into(),
            path: "requests/r.hcl".into(),
            blob: oid(blob),
            commit: oid(commit),
            approved_at: DateTime::default(),
            request: None,
            verdict: if approved {
                Verdict::Approved {
                    approvers: vec!["bob".into()],
                }
            } else {
                Verdict::Pending {
                    reason: "needs approval".into(),
                }
            },
            invalid_then: None,
            duration: None,
            approver_emails: Vec::new(),
        }
    }

    #[test]
    fn an_approved_version_takes_effect() {
        let mut log = PathLog::default();
        assert_eq!(
            log.apply(None, Some(version(1, 10, true))),
            Effect::TookEffect
        );
        assert!(log.judged().unwrap().1.is_approved());
    }

    #[test]
    fn an_approval_never_covers_earlier_unapproved_content() {
        let mut log = PathLog::default();
        log.apply(None, Some(version(1, 10, false)));
        let effect = log.apply(Some(oid(1)), Some(version(2, 11, true)));
        assert!(matches!(effect, Effect::Pending(r) if r.contains("never approved")));
        assert!(!log.judged().unwrap().1.is_approved());
    }

    #[test]
    fn an_unapproved_edit_ends_the_grant_until_reverted() {
        let mut log = PathLog::default();
        log.apply(None, Some(version(1, 10, true)));
        log.apply(Some(oid(1)), Some(version(2, 11, false)));
        assert!(!log.judged().unwrap().1.is_approved());
        // An approved edit on top of the unapproved one is still pending.
        log.apply(Some(oid(2)), Some(version(3, 12, true)));
        assert!(!log.judged().unwrap().1.is_approved());
        // A revert brings back the content in force, but not its ended grant.
        assert!(matches!(
            log.apply(Some(oid(3)), Some(version(1, 13, false))),
            Effect::Reverted(_)
        ));
        assert!(!log.judged().unwrap().1.is_approved());
        // From there, changes are approved as usual.
        assert_eq!(
            log.apply(Some(oid(1)), Some(version(4, 14, true))),
            Effect::TookEffect
        );
        assert!(log.judged().unwrap().1.is_approved());
    }

    #[test]
    fn an_approved_revert_to_the_approved_content_takes_effect() {
        let mut log = PathLog::default();
        log.apply(None, Some(version(1, 10, true)));
        log.apply(Some(oid(1)), Some(version(2, 11, false)));
        assert_eq!(
            log.apply(Some(oid(2)), Some(version(1, 12, true))),
            Effect::TookEffect
        );
        assert_eq!(log.judged().unwrap().0.commit, oid(12));
    }

    #[test]
    fn removal_resets_the_path() {
        let mut log = PathLog::default();
        log.apply(None, Some(version(1, 10, false)));
        assert_eq!(log.apply(Some(oid(1)), None), Effect::Removed);
        assert!(log.judged().is_none());
        assert_eq!(
            log.apply(None, Some(version(2, 12, true))),
            Effect::TookEffect
        );
    }
}
