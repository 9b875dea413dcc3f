//! `jit audit`: events from the branch's git history, `--verify` checks of
//! history and IAM, and the Markdown evidence report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::{self, Filter};
use crate::cli::{Ctx, Outcome, Ui, reported_if};
use crate::config::Duration;
use crate::iam::aws::AwsCloud;
use crate::render::audit as render;
use crate::{git, reconcile};

/// Show who had access to what, when, approved by whom and why, from the
/// branch's first-parent history: requested, approved, granted, expired,
/// revoked, withdrawn and changed (contract, role and other definition edits).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only events at or after TIME (RFC 3339, or a date such as 2026-11-01, meaning its start in UTC).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,

    /// Only events before TIME (RFC 3339, or a date such as 2026-12-01).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,

    /// Only events involving USER: as requester, as the one who acted, or as an approver.
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// Only events about CONTRACT (grants under it, and edits to it).
    #[arg(long, value_name = "CONTRACT")]
    contract: Option<String>,

    /// Only events about request NAME.
    #[arg(long, value_name = "NAME")]
    request: Option<String>,

    /// Output format: table for people, json (JSON Lines: one object per
    /// line), csv (with a header row), markdown (the evidence report).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,

    /// Check every grant: revocation committed within --tolerance of its end,
    /// nothing ended but left unarchived, no jit-* object in IAM past its
    /// window, every grant validly approved. Exit 1 with the list when anything is wrong.
    #[arg(long)]
    verify: bool,

    /// How late after a window's end a revocation may be committed before --verify flags it.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    tolerance: Duration,

    /// With --verify: check history only, not IAM.
    #[arg(long, requires = "verify")]
    no_iam: bool,

    /// Write the evidence report (Markdown) for the period to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    Duration::parse(text)
}

/// RFC 3339, or a bare date meaning its midnight in UTC.
fn parse_when(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    crate::cli::parse_time(text).with_context(|| format!("--{flag}"))
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let filter = Filter {
        since: args
            .since
            .as_deref()
            .map(|t| parse_when("since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| parse_when("until", t))
            .transpose()?,
        user: args.user.clone(),
        contract: args.contract.clone(),
        request: args.request.clone(),
    };
    let repo = git::open(&ctx.dir)?;
    let wants_report = args.report.is_some() || args.format == Format::Markdown;
    let streams = !args.verify && !wants_report;
    // The branch plan follows (approved switches only), read the same way;
    // only the stream orders by commit times as it goes.
    let times = if streams {
        git::history::Times::Read
    } else {
        git::history::Times::Skip
    };
    let (replayed, _) = git::history::follow_branch(&repo, times)?;
    let now = ctx.now;

    if streams {
        return events(&repo, replayed, now, &filter, args.format, ui);
    }
    let history = audit::walk::read(&repo, replayed)?;

    let mut violations = Vec::new();
    let mut iam_checked = false;
    if args.verify || wants_report {
        violations = audit::verify_history(&history, now, args.tolerance);
        if args.verify && !args.no_iam {
            let mut cloud = AwsCloud::new(ctx.now)?;
            let (_, plan) = reconcile::plan_now(&ctx.dir, &mut cloud, now)
                .context("reading IAM for --verify (use --no-iam to check history only)")?;
            violations.extend(audit::verify_iam(&plan, &history));
            iam_checked = true;
        }
        violations.retain(|v| filter.violation(v));
    }

    if wants_report {
        let report = audit::report(
            &history,
            now,
            &filter,
            args.tolerance,
            violations.clone(),
            iam_checked,
        );
        let text = render::markdown(&report);
        match &args.report {
            Some(path) => {
                std::fs::write(path, &text)
                    .with_context(|| format!("writing the report to {}", path.display()))?;
                ui.err(&format!(
                    "Wrote the evidence report ({} grant(s), {} exception(s)) to {}\n",
                    report.grants.len(),
                    report.violations.len(),
                    path.display()
                ));
            }
            None => ui.out(&text)?,
        }
    }

    if args.verify {
        let grants: Vec<_> = audit::grants(&history, now)
            .into_iter()
            .filter(|g| filter.grant(g))
            .collect();
        let mut counts = audit::counts(&grants, args.tolerance);
        counts.iam_checked = iam_checked;
        // With a report on stdout, the verdict goes to stderr.
        let text = render::violations_text(&violations, &counts);
        match args.format {
            Format::Json if args.report.is_none() => {
                ui.out(&render::json_lines(&violations))?;
                ui.err(&text);
            }
            Format::Csv if args.report.is_none() => {
                ui.out(&render::violations_csv(&violations))?;
                ui.err(&text);
            }
            Format::Markdown => ui.err(&text),
            _ if args.report.is_some() => ui.err(&text),
            _ => ui.out(&text)?,
        }
        return reported_if(!violations.is_empty());
    }
    if wants_report {
        return Ok(Outcome::Success);
    }

    Ok(Outcome::Success)
}

/// The events, streamed from history: JSON Lines and CSV as they come (one
/// event at a time, straight to stdout), the table once all are in.
fn events(
    repo: &git2::Repository,
    replayed: git::history::Replayed,
    now: DateTime<Utc>,
    filter: &Filter,
    format: Format,
    ui: &Ui,
) -> anyhow::Result<Outcome> {
    match format {
        Format::Json => write_behind(
            || {
                Ok(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::io::stdout().lock(),
                ))
            },
            render::write_json_line,
            |emit| audit::walk::stream(repo, replayed, now, &mut |e| emit(e, filter)),
        )?,
        // Through the same stream as Ui::out (styles stripped where colour is off).
        Format::Csv => write_behind(
            || {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, anstream::stdout().lock());
                render::write_events_csv_header(&mut out)?;
                Ok(out)
            },
            render::write_events_csv_row,
            |emit| audit::walk::stream(repo, replayed, now, &mut |e| emit(e, filter)),
        )?,
        _ => {
            let mut events = Vec::new();
            audit::walk::stream(repo, replayed, now, &mut |e| {
                if filter.event(&e) {
                    events.push(e);
                }
                Ok(())
            })?;
            ui.out(&render::events_table(&events))?;
        }
    }
    Ok(Outcome::Success)
}

/// Runs `produce` here while another thread writes what it emits to the
/// output `start` opens there: the walk and the output use both cores.
/// Events go across in batches; a failed write (a closed pipe) stops the
/// walk and is the error returned.
fn write_behind<W: Write>(
    start: impl FnOnce() -> std::io::Result<W> + Send,
    write: fn(&mut W, &audit::Event) -> std::io::Result<()>,
    produce: impl FnOnce(
        &mut dyn FnMut(audit::Event, &Filter) -> anyhow::Result<()>,
    ) -> anyhow::Result<audit::History>,
) -> anyhow::Result<()> {
    const BATCH: usize = 256;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<audit::Event>>(16);
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut out = start()?;
            for batch in rx {
                for event in &batch {
                    write(&mut out, event)?;
                }
            }
            out.flush()
        });
        let mut batch = Vec::with_capacity(BATCH);
        let produced = produce(&mut |event, filter| {
            if filter.event(&event) {
                batch.push(event);
                if batch.len() == BATCH {
                    tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .map_err(|_| anyhow::anyhow!("the output stopped"))?;
                }
            }
            Ok(())
        });
        if produced.is_ok() {
            let _ = tx.send(batch);
        }
        drop(tx);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the output thread failed"))?;
        written?;
        produced.map(|_| ())
    })
}
