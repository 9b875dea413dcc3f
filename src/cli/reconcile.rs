//! `jit reconcile [--watch]`: jit as a long-lived service. Each step
//! fetches the branch, plans and applies (as `jit apply --auto-approve`),
//! announces what happened, then sleeps until the next window starts or
//! ends, or `--interval` passes, whichever is first (kube-rs's
//! `requeue_after`). SIGTERM and SIGINT end the loop between steps: a step
//! is never cut between its IAM writes and its archive commit.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::cli::{Ctx, Outcome, Ui, reported_if};
use crate::git::{archive, endings};
use crate::iam::aws::AwsCloud;
use crate::plan::{ActionKind, Plan};
use crate::{apply, notify, plan, reconcile};

/// Run jit as a service: fetch the branch, plan, apply, and (with --watch)
/// repeat, waking at the next window start or end. Stop it with SIGTERM or
/// SIGINT: the current step finishes first.
///
/// With `--now`, the clock starts at that time and runs at real speed
/// (for drills and tests).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep running: one step, then the next when due, until stopped.
    #[arg(long)]
    watch: bool,

    /// The longest sleep between two steps (like 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_interval)]
    interval: Duration,

    /// Serve /healthz and Prometheus /metrics on ADDR (like 127.0.0.1:9100).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,

    /// /healthz fails when the last successful step is older than this
    /// (default: three intervals).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    unhealthy_after: Option<Duration>,

    /// Commit archive moves locally but do not push them to origin (nor fetch).
    #[arg(long)]
    no_push: bool,

    /// IAM writes in flight at once per account (as `jit apply`).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    concurrency: u16,
}

/// `30s`, `5m`, `1h`, `1h30m`, `1d`: a positive duration.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => {
                return Err(format!(
                    "`{text}`: use a number and s, m, h or d, like 30s or 5m"
                ));
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}`: a number must come before `{c}`"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(format!(
            "`{text}`: use a positive number and s, m, h or d, like 30s or 5m"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// What the service reports on /metrics and /healthz.
#[derive(Debug, Default)]
struct Metrics {
    steps: u64,
    active_grants: usize,
    grants: u64,
    revocations: u64,
    archived: u64,
    last_success: Option<Instant>,
    errors: std::collections::BTreeMap<&'static str, u64>,
    notifications_sent: u64,
    notifications_failed: u64,
}

impl Metrics {
    fn error(&mut self, kind: &'static str) {
        *self.errors.entry(kind).or_default() += 1;
    }

    fn prometheus(&self, started: Instant) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in lines {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        let one = |v: String| vec![(String::new(), v)];
        metric(
            "jit_active_grants",
            "gauge",
            "Grants active at the last step.",
            one(self.active_grants.to_string()),
        );
        metric(
            "jit_grants_total",
            "counter",
            "Grants written to IAM.",
            one(self.grants.to_string()),
        );
        metric(
            "jit_revocations_total",
            "counter",
            "IAM objects revoked.",
            one(self.revocations.to_string()),
        );
        metric(
            "jit_archived_total",
            "counter",
            "Requests moved to archive/.",
            one(self.archived.to_string()),
        );
        metric(
            "jit_steps_total",
            "counter",
            "Reconcile steps run.",
            one(self.steps.to_string()),
        );
        let since = self.last_success.unwrap_or(started).elapsed().as_secs_f64();
        metric(
            "jit_seconds_since_last_success",
            "gauge",
            "Seconds since the last successful step (since start before the first).",
            one(format!("{since:.3}")),
        );
        let kinds = ["fetch", "read", "plan", "apply", "archive"];
        metric(
            "jit_errors_total",
            "counter",
            "Errors by kind.",
            kinds
                .iter()
                .map(|k| {
                    (
                        format!("{{kind=\"{k}\"}}"),
                        self.errors.get(k).copied().unwrap_or(0).to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "jit_notifications_total",
            "counter",
            "Notification deliveries by result.",
            vec![
                (
                    "{result=\"sent\"}".into(),
                    self.notifications_sent.to_string(),
                ),
                (
                    "{result=\"failed\"}".into(),
                    self.notifications_failed.to_string(),
                ),
            ],
        );
        out
    }
}

/// The clock of a run: real time, or (with --now) that time advancing at
/// real speed.
struct Clock {
    offset: chrono::TimeDelta,
}

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

pub fn run(ctx: &Ctx, _ui: &Ui, args: Args, fixed_now: bool) -> anyhow::Result<Outcome> {
    let clock = Clock {
        offset: if fixed_now {
            ctx.now - Utc::now()
        } else {
            chrono::TimeDelta::zero()
        },
    };
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let started = Instant::now();
    let threshold = args.unhealthy_after.unwrap_or(args.interval * 3);
    crate::runtime::block_on(listen_for_signals(stop.clone(), wake.clone()))?;
    if let Some(addr) = args.listen {
        let bound = crate::runtime::block_on(serve(addr, metrics.clone(), started, threshold))?;
        tracing::info!(addr = %bound, "serving /healthz and /metrics");
    }
    loop {
        let now = clock.now();
        let result = step(
            ctx,
            now,
            !args.no_push,
            usize::from(args.concurrency),
            &metrics,
        );
        let failed = match &result {
            Ok(s) => s.failed,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "step failed");
                true
            }
        };
        if !args.watch {
            return match result {
                Ok(s) => reported_if(s.failed),
                Err(e) => Err(e),
            };
        }
        let next = result.as_ref().ok().and_then(|s| s.next_change);
        let sleep = next
            .map(|t| (t - clock.now()).to_std().unwrap_or_default() + Duration::from_millis(200))
            .map_or(args.interval, |d| d.min(args.interval));
        tracing::info!(
            failed,
            sleep_ms = u64::try_from(sleep.as_millis()).unwrap_or(u64::MAX),
            next_window_change = next.map(crate::policy::iam_time).unwrap_or_default(),
            "sleeping until the next step"
        );
        if stop.load(Ordering::SeqCst) {
            break;
        }
        crate::runtime::block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = wake.notified() => {}
            }
        });
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    tracing::info!("stopped by signal after finishing the current step");
    Ok(Outcome::Success)
}

/// SIGTERM and SIGINT set `stop` and wake the sleeper; a step in progress
/// runs to its end (the loop looks at `stop` only between steps).
async fn listen_for_signals(stop: Arc<AtomicBool>, wake: Arc<Notify>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    crate::runtime::get().spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping after the current step"),
            _ = int.recv() => tracing::info!("SIGINT: stopping after the current step"),
        }
        stop.store(true, Ordering::SeqCst);
        wake.notify_one();
    });
    Ok(())
}

/// What one step did.
struct Step {
    failed: bool,
    /// The next time a window starts or ends, after now.
    next_change: Option<DateTime<Utc>>,
}

/// Fast-forwards the local branch to origin's, unless it holds commits
/// origin lacks (archive moves to push; apply pushes them).
fn fetch(dir: &std::path::Path) -> anyhow::Result<()> {
    let repo = crate::git::open(dir)?;
    if repo.find_remote("origin").is_err() {
        return Ok(());
    }
    let (branch, local) = crate::git::start_branch(&repo)?;
    let workdir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    archive::git(
        &workdir,
        &[
            "fetch",
            "--quiet",
            "origin",
            &format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
        ],
    )?;
    let remote = repo.refname_to_id(&format!("refs/remotes/origin/{branch}"))?;
    if remote != local && repo.graph_descendant_of(remote, local)? {
        archive::advance_branch(&repo, &branch, remote)?;
        tracing::info!(branch, to = %remote, "fetched");
    }
    Ok(())
}

fn step(
    ctx: &Ctx,
    now: DateTime<Utc>,
    push: bool,
    concurrency: usize,
    metrics: &Mutex<Metrics>,
) -> anyhow::Result<Step> {
    let record = |f: &dyn Fn(&mut Metrics)| {
        if let Ok(mut m) = metrics.lock() {
            f(&mut m)
        }
    };
    record(&|m| m.steps += 1);
    // One runner at a time: a step that finds the lease taken waits for the
    // next one.
    let _lease = if push {
        crate::git::lease::acquire(&ctx.dir, "reconcile", Duration::ZERO).inspect_err(|_| {
            record(&|m| m.error("lease"));
        })?
    } else {
        None
    };
    if push && let Err(e) = fetch(&ctx.dir) {
        record(&|m| m.error("fetch"));
        tracing::warn!(error = %format!("{e:#}"), "fetch failed; reconciling what is here");
    }
    let mut cloud = AwsCloud::new(now)?;
    let (world, plan) = match reconcile::plan_scoped(&ctx.dir, &mut cloud, now, &ctx.scope) {
        Ok(x) => x,
        Err(e) => {
            record(&|m| m.error("read"));
            return Err(e);
        }
    };
    for e in &plan.errors {
        tracing::warn!(error = %e, "plan error");
    }
    if !plan.errors.is_empty() {
        record(&|m| m.error("plan"));
    }
    let bot = world.snapshot.effective.settings.bot.clone();
    if push
        && endings::unpushed(&world.repo)
        && let Err(e) = endings::push(&world.repo, &bot)
    {
        tracing::warn!(error = %format!("{e:#}"), "could not push ending records");
    }
    let active = crate::status::status(&world.snapshot, &world.endings, now, world.scope.as_ref())
        .active
        .len();
    record(&|m| m.active_grants = active);
    let mut failed = false;
    let (done, failures, error) = if plan.has_changes() {
        let result = apply::apply(
            &world.repo,
            &plan,
            &world.snapshot.effective.accounts,
            &mut cloud,
            &bot,
            now,
            push,
            crate::iam::Limits {
                accounts: ctx.scope.parallelism,
                per_account: concurrency,
            },
            &mut |progress| tracing::info!(action = progress.line(), "applied"),
        );
        match result {
            Ok(a) => {
                let grants = count(&plan, &a.done, ActionKind::Grant);
                let revocations = count(&plan, &a.done, ActionKind::Revoke);
                let archived = a.archived.len() as u64;
                record(&|m| {
                    m.grants += grants;
                    m.revocations += revocations;
                    m.archived += archived;
                });
                if !a.failed.is_empty() {
                    record(&|m| m.error("apply"));
                    failed = true;
                }
                if !a.archive_errors.is_empty() {
                    record(&|m| m.error("archive"));
                }
                tracing::info!(
                    changes = a.done.len(),
                    failed = a.failed.len(),
                    archived,
                    grants,
                    revocations,
                    "applied"
                );
                (a.done, a.failed, None)
            }
            Err(e) => {
                record(&|m| m.error("apply"));
                failed = true;
                tracing::error!(error = %format!("{e:#}"), "apply failed");
                (Vec::new(), Vec::new(), Some(format!("{e:#}")))
            }
        }
    } else {
        if push
            && archive::unpushed(&world.repo, &plan.branch)
            && let Err(e) = archive::push(&world.repo, &plan.branch, &bot)
        {
            record(&|m| m.error("archive"));
            tracing::warn!(error = %format!("{e:#}"), "could not push earlier archive commits");
        }
        tracing::info!(commit = %plan.commit, "no changes");
        (Vec::new(), Vec::new(), None)
    };
    let applied = notify::events::Applied {
        done: &done,
        failed: &failures,
        error,
    };
    let sent = notify::after_apply(&world, &plan, &applied, now, push);
    let next_change = next_change(&world, now);
    record(&|m| {
        m.notifications_sent += sent.sent as u64;
        m.notifications_failed += sent.failed as u64;
        if !failed {
            m.last_success = Some(Instant::now());
        }
    });
    Ok(Step {
        failed,
        next_change,
    })
}

fn count(plan: &Plan, done: &[String], kind: ActionKind) -> u64 {
    plan.actions
        .iter()
        .filter(|a| a.action == kind)
        .filter_map(|a| a.iam.as_ref().map(|c| (a, c)))
        .filter(|(a, c)| {
            done.contains(&format!("{:?} {} ({})", a.action, a.request, c.target).to_lowercase())
        })
        .count() as u64
}

/// The earliest window start or end after `now` among the approved requests.
fn next_change(world: &reconcile::World, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    world
        .snapshot
        .requests
        .iter()
        .filter(|r| r.verdict.is_approved())
        .filter_map(plan::window)
        .flat_map(|(s, e)| [s, e])
        .filter(|t| *t > now)
        .min()
}

/// Serves /healthz and /metrics: a small HTTP/1.1 responder, one request
/// per connection. Returns the bound address (port 0 picks a free one).
async fn serve(
    addr: SocketAddr,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    threshold: Duration,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}"))?;
    let bound = listener.local_addr()?;
    crate::runtime::get().spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            crate::runtime::get().spawn(async move {
                // The request head, up to its blank line (8 KiB at most).
                let mut buf = Vec::new();
                let read_head = async {
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                };
                if tokio::time::timeout(Duration::from_secs(5), read_head).await.is_err() {
                    return;
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head
                    .lines()
                    .next()
                    .and_then(|l| {
                        let mut parts = l.split(' ');
                        (parts.next() == Some("GET")).then(|| parts.next()).flatten()
                    })
                    .unwrap_or("");
                let (status, kind, body) = {
                    let m = metrics.lock().map(|m| (m.prometheus(started), m.last_success));
                    match (path, m) {
                        ("/metrics", Ok((text, _))) => ("200 OK", "text/plain; version=0.0.4", text),
                        ("/healthz", Ok((_, last))) => {
                            let age = last.unwrap_or(started).elapsed();
                            if age <= threshold {
                                ("200 OK", "text/plain", "ok\n".to_string())
                            } else {
                                let why = match last {
                                    Some(_) => format!("last successful step {}s ago (threshold {}s)\n", age.as_secs(), threshold.as_secs()),
                                    None => format!("no successful step in {}s (threshold {}s)\n", age.as_secs(), threshold.as_secs()),
                                };
                                ("503 Service Unavailable", "text/plain", why)
                            }
                        }
                        _ => ("404 Not Found", "text/plain", "not found: try /healthz or /metrics\n".to_string()),
                    }
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5").is_err());
        assert!(parse_interval("m").is_err());
        assert!(parse_interval("5x").is_err());
    }
}
