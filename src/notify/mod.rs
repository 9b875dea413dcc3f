//! Notifications (DESIGN §8): `notify "<name>"` targets in the approved
//! settings, the events that are due for them, their payloads (Slack Block
//! Kit or signed JSON), delivery with retries, and the ledger that keeps one
//! event of one grant from being sent twice across runs.
//!
//! [`events`] and [`payload`] are pure (values in, values out); [`ledger`]
//! (git) and [`send`] (HTTP) are the effectful edges the CLI calls once the
//! run's work is done. Delivery never fails a run: problems are logged.

pub mod archived;
pub mod events;
pub mod ledger;
pub mod payload;
pub mod send;

pub use events::{Event, GrantFacts};

use crate::config::{Definitions, Notify};

/// The notify targets that may be delivered to: valid, and filtering only
/// on contracts that exist. An invalid target is delivered nothing (fail
/// closed); `validate` and `plan` report why.
pub fn usable_targets(defs: &Definitions) -> Vec<&Notify> {
    defs.settings
        .notify
        .values()
        .filter(|n| {
            let ok = n.meta.errors().is_empty()
                && n.contracts.iter().all(|c| defs.contracts.contains_key(c));
            if !ok {
                log::warn!("notify `{}` is invalid: nothing is delivered to it", n.name);
            }
            ok
        })
        .collect()
}

/// Where a run's notifications go and how its records are kept.
pub struct Run<'a> {
    pub repo: &'a git2::Repository,
    pub defs: &'a Definitions,
    /// Author of the ledger's commits.
    pub bot: &'a crate::config::Bot,
    /// The run's clock (`--now`): due times and the ledger's times.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Push the ledger to origin (off with `--no-push`).
    pub push: bool,
    /// The commit page address before the id (e.g.
    /// `https://github.com/acme/access/commit/`), for Slack links.
    pub commit_url: Option<String>,
    /// Reads a secret by its `secret_env` name (the process environment).
    pub secret: &'a dyn Fn(&str) -> Option<String>,
    pub retry: send::Retry,
}

/// What a run delivered.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub sent: usize,
    pub failed: usize,
}

/// The commit page prefix for Slack links: the forge named by the settings
/// (`GITHUB_SERVER_URL` for GitHub Enterprise, as GitHub Actions sets it).
pub fn commit_url(defs: &Definitions) -> Option<String> {
    let repo = defs.settings.github_repository.as_deref()?;
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    Some(format!("{}/{repo}/commit/", server.trim_end_matches('/')))
}

/// Delivers the due `events` to every usable target once: filters (events,
/// contracts, lead time), skips what the ledger holds and what happened
/// before a target was first seen, sends, records the outcome in the
/// ledger and pushes it. Never fails the run: every problem is logged.
pub fn deliver(run: &Run, events: &[Event]) -> Report {
    let targets = usable_targets(run.defs);
    let mut report = Report::default();
    if targets.is_empty() || events.is_empty() {
        return report;
    }
    let mut ledger = match ledger::load(run.repo) {
        Ok(l) => l,
        Err(e) => {
            // Without the records, delivering could repeat events: skip.
            log::error!(
                "notifications skipped: cannot read {}: {e:#}",
                ledger::BRANCH
            );
            return report;
        }
    };
    // The real clock: receivers check the timestamp against theirs.
    let timestamp = chrono::Utc::now().timestamp();
    let mut deliveries = Vec::new();
    let mut queued = std::collections::BTreeSet::new();
    for target in targets {
        let since = ledger.since(&target.name, run.now);
        let key = match &target.secret_env {
            Some(var) => match (run.secret)(var).filter(|s| !s.is_empty()) {
                Some(k) => Some(k),
                None => {
                    log::error!(
                        "notify `{}`: environment variable {var} (secret_env) is not set: nothing is sent to it",
                        target.name
                    );
                    continue;
                }
            },
            None => None,
        };
        for event in events {
            let id = event.delivery_id();
            if event.at < since
                || !events::due(target, event, run.now)
                || !ledger.wants(&target.name, &id)
                || !queued.insert((target.name.clone(), id.clone()))
            {
                continue;
            }
            let body = match target.format {
                crate::config::NotifyFormat::Json => payload::json_body(event),
                crate::config::NotifyFormat::Slack => {
                    let url = run
                        .commit_url
                        .as_ref()
                        .map(|u| format!("{u}{}", event.commit));
                    payload::slack_body(event, url.as_deref())
                }
            };
            let headers =
                payload::headers(event, timestamp, &body, key.as_deref().map(str::as_bytes));
            deliveries.push(send::Delivery {
                target: target.name.clone(),
                id,
                event: format!("{} {}", event.event.as_str(), event.request),
                url: target.url.clone(),
                headers,
                body,
            });
        }
    }
    let results = send::deliver_all(&deliveries, &run.retry);
    for (d, result) in deliveries.iter().zip(results) {
        ledger.record(&d.target, &d.id, result.is_ok(), run.now);
        match result {
            Ok(()) => {
                report.sent += 1;
                log::info!("notify {}: sent {} (delivery {})", d.target, d.event, d.id);
            }
            Err(why) => {
                report.failed += 1;
                log::warn!(
                    "notify {}: could not deliver {} to {} (delivery {}): {why}",
                    d.target,
                    d.event,
                    send::redacted(&d.url),
                    d.id
                );
            }
        }
    }
    if let Err(e) = ledger::save(run.repo, &ledger, run.bot, run.now) {
        log::warn!(
            "could not record notifications in {}: {e:#}",
            ledger::BRANCH
        );
    } else if run.push
        && let Err(e) = ledger::push(run.repo, run.bot, run.now)
    {
        log::warn!("could not push {}: {e:#}", ledger::BRANCH);
    }
    report
}

/// The process environment as the source of secrets.
pub fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// After `jit apply` (or a reconcile step): the events the run made due
/// and those its branch's archive commits record, delivered. `applied` is
/// what apply did (empty when there was nothing to do).
pub fn after_apply(
    world: &crate::reconcile::World,
    plan: &crate::plan::Plan,
    applied: &events::Applied,
    now: chrono::DateTime<chrono::Utc>,
    push: bool,
) -> Report {
    let defs = &world.snapshot.effective;
    if usable_targets(defs).is_empty() {
        return Report::default();
    }
    let held: std::collections::BTreeSet<String> = world
        .iam
        .values()
        .flat_map(|s| s.owned.iter().filter_map(|o| o.target.request()))
        .collect();
    let mut due = events::after_apply(&world.snapshot, &world.endings, plan, applied, &held, now);
    match archived::events(
        &world.repo,
        &plan.branch,
        defs,
        now - chrono::TimeDelta::days(7),
    ) {
        Ok(more) => due.extend(more),
        Err(e) => log::warn!("notifications: could not read the archive commits: {e:#}"),
    }
    deliver(
        &Run {
            repo: &world.repo,
            defs,
            bot: &defs.settings.bot,
            now,
            push,
            commit_url: commit_url(defs),
            secret: &env_secret,
            retry: send::Retry::default(),
        },
        &due,
    )
}

#[cfg(test)]
mod tests {
    use crate::config::{SourceFile, parse_files};

    #[test]
    fn invalid_targets_are_delivered_nothing() {
        let text = r#"
contract "c" {
  role = "r"
}
notify "ok" {
  url = "https://example.com/a"
  format = "slack"
}
notify "bad-format" {
  url = "https://example.com/b"
  format = "xml"
}
notify "unknown-contract" {
  url = "https://example.com/c"
  format = "slack"
  contracts = ["nope"]
}
notify "unknown-attr" {
  url = "https://example.com/d"
  format = "slack"
  retries = 3
}
"#;
        let (repo, _) = parse_files(&[SourceFile {
            path: "jit.hcl".into(),
            text: text.into(),
        }]);
        let names: Vec<&str> = super::usable_targets(&repo.defs)
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["ok"]);
    }
}
