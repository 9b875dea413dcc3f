//! `jit plan`: what apply would do now, Terraform style.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{Ctx, Outcome, Ui, reported_if};
use crate::config::{self, validate};
use crate::iam::aws::AwsCloud;
use crate::plan::Plan;
use crate::{git, pr, reconcile, render};

/// Show the grants, updates, revocations and archive moves that `jit apply`
/// would make now, and the requests still pending.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Save the plan to FILE for `jit apply FILE`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Print the plan as JSON (same as --format json).
    #[arg(long)]
    json: bool,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,

    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,

    /// PR mode: what this branch adds relative to REF, and who still must approve.
    #[arg(long, value_name = "REF")]
    base: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let format = if args.json { Format::Json } else { args.format };
    if let Some(base) = &args.base {
        return run_pr(ctx, ui, base, format, args.detailed_exitcode);
    }
    let mut cloud = AwsCloud::new(ctx.now)?;
    let (_, plan) = reconcile::plan_scoped(&ctx.dir, &mut cloud, ctx.now, &ctx.scope)?;
    show(ui, &plan, format)?;
    if let Some(path) = &args.out {
        std::fs::write(path, render::json(&plan))
            .with_context(|| format!("writing plan to {}", path.display()))?;
        if format == Format::Text {
            ui.out(&format!(
                "\nSaved the plan to {}. To apply exactly this plan: jit apply {}\n",
                path.display(),
                path.display()
            ))?;
        }
    }
    outcome(&plan, args.detailed_exitcode)
}

/// PR mode: the checked-out commit against `base`, from git alone (no IAM).
fn run_pr(
    ctx: &Ctx,
    ui: &Ui,
    base: &str,
    format: Format,
    detailed: bool,
) -> anyhow::Result<Outcome> {
    let repo = git::open(&ctx.dir)?;
    let base_oid = repo
        .revparse_single(base)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| {
            format!("--base {base}: no such commit (fetch it first, e.g. git fetch origin main)")
        })?
        .id();
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .context("reading HEAD")?;
    let snapshot = git::history::read(&repo, base, base_oid)?;
    let (files, mut diags) = git::read_files(&repo, &head.tree()?, git::is_live)?;
    let (head_repo, parse_diags) = config::parse_files(&files);
    diags.extend(parse_diags);
    diags.extend(validate::validate(&head_repo));
    let base_blobs = git::request_blobs(&repo, &repo.find_commit(base_oid)?.tree()?)?;
    let head_blobs = git::request_blobs(&repo, &head.tree()?)?;
    let plan = pr::pr_plan(
        &snapshot,
        &head_repo,
        &diags,
        &head.id().to_string(),
        pr::Sides {
            base: &base_blobs,
            head: &head_blobs,
        },
        ctx.now,
    );
    match format {
        Format::Json => ui.out(&format!("{}\n", serde_json::to_string_pretty(&plan)?))?,
        Format::Markdown => ui.out(&render::pr::markdown(&plan))?,
        Format::Text => ui.out(&render::pr::text(&plan))?,
    }
    if format != Format::Json {
        for e in &plan.errors {
            ui.err(&format!(
                "{} {e}\n",
                ui.paint(render::Tone::Remove, "error:")
            ));
        }
    }
    notify_pending(&repo, &snapshot, &head_repo, &plan, &head_blobs, ctx.now);
    reported_if(!plan.errors.is_empty())?;
    Ok(if detailed && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

/// `pending` for the requests this PR proposes that wait for approvers,
/// to the targets of the definitions in force at the base (a PR cannot
/// add a target of its own).
fn notify_pending(
    repo: &git2::Repository,
    base: &git::history::Snapshot,
    head: &config::AccessRepo,
    plan: &pr::PrPlan,
    head_blobs: &std::collections::BTreeMap<String, git2::Oid>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let defs = &base.effective;
    if crate::notify::usable_targets(defs).is_empty() {
        return;
    }
    let proposed: Vec<crate::notify::events::Proposed> = plan
        .requests
        .iter()
        .filter(|r| r.valid && r.change != "removed")
        .filter_map(|r| {
            let contract = defs
                .contracts
                .get(&r.contract)
                .filter(|c| !c.auto_approve)?;
            let approvers = defs
                .expand(&contract.approvers)
                .into_iter()
                .filter(|u| *u != r.requester)
                .filter_map(|u| defs.users.get(&u).map(|u| u.email.clone()))
                .collect();
            Some(crate::notify::events::Proposed {
                request: r.request.clone(),
                contract: r.contract.clone(),
                requester: r.requester.clone(),
                principal: r.principal.clone(),
                resources: r.resources.clone(),
                reason: head
                    .requests
                    .get(&r.request)
                    .map(|q| q.reason.clone())
                    .unwrap_or_default(),
                approvers,
                needs: r.needs.clone(),
                blob: head_blobs.get(&r.request)?.to_string(),
                head: plan.head.clone(),
            })
        })
        .collect();
    let run = crate::notify::Run {
        repo,
        defs,
        bot: &defs.settings.bot,
        now,
        push: true,
        commit_url: crate::notify::commit_url(defs),
        secret: &crate::notify::env_secret,
        retry: Default::default(),
    };
    crate::notify::deliver(&run, &crate::notify::events::pending(&proposed, now));
}

/// Prints the plan, and its errors on stderr.
pub fn show(ui: &Ui, plan: &Plan, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => ui.out(&render::json(plan))?,
        Format::Markdown => ui.out(&render::markdown::plan(plan))?,
        Format::Text => {
            ui.out(&render::text::plan(plan, &|code, text| {
                ui.paint(code, text)
            }))?;
        }
    }
    if format != Format::Json {
        for e in &plan.errors {
            ui.err(&format!(
                "{} {e}\n",
                ui.paint(render::Tone::Remove, "error:")
            ));
        }
    }
    Ok(())
}

/// A plan with errors failed (they were printed); with `--detailed-exitcode`
/// a plan with changes is `Changes`.
pub fn outcome(plan: &Plan, detailed: bool) -> anyhow::Result<Outcome> {
    reported_if(!plan.errors.is_empty())?;
    Ok(if detailed && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}
