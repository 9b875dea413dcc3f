//! The `expired` and `revoked` events the branch's history records: jit's
//! archive commits (authored by the settings bot, with `Jit-*` trailers),
//! whoever made them (`jit apply`, `jit revoke`, another runner).

use chrono::{DateTime, TimeZone, Utc};
use git2::Repository;

use super::Event;
use crate::audit::ArchiveTrailers;
use crate::config::Definitions;

/// At most this many first-parent commits are looked at per run.
const MAX_COMMITS: usize = 2000;

/// The events of the archive commits on the first-parent history of
/// `branch` (local) made at or after `since`, newest first.
pub fn events(
    repo: &Repository,
    branch: &str,
    defs: &Definitions,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<Event>> {
    let mut out = Vec::new();
    let Ok(tip) = repo.refname_to_id(&format!("refs/heads/{branch}")) else {
        return Ok(out);
    };
    let mut commit = repo.find_commit(tip)?;
    for _ in 0..MAX_COMMITS {
        let at = Utc
            .timestamp_opt(commit.time().seconds(), 0)
            .single()
            .unwrap_or(since);
        if at < since {
            break;
        }
        let by_bot = commit
            .author()
            .email()
            .is_ok_and(|e| e.eq_ignore_ascii_case(&defs.settings.bot.email));
        if by_bot
            && let Some(t) =
                ArchiveTrailers::parse(&String::from_utf8_lossy(commit.message_bytes()))
            && let Some(e) = super::events::archived(defs, &t, &commit.id().to_string(), at)
        {
            out.push(e);
        }
        match commit.parent(0) {
            Ok(p) => commit = p,
            Err(_) => break,
        }
    }
    Ok(out)
}
