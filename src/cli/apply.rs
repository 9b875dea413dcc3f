//! `jit apply [PLANFILE]`: make IAM match, then commit and push archive moves.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::plan::{Format, show};
use crate::cli::{Ctx, Exit, Ui};
use crate::git::archive;
use crate::iam::aws::AwsCloud;
use crate::plan::Plan;
use crate::{apply, reconcile};

/// Apply the plan: grant, update and revoke in IAM, then archive ended
/// requests in a commit authored by the bot and push it to origin.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `jit plan --out FILE`: apply exactly it, or refuse if stale.
    planfile: Option<PathBuf>,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,

    /// Commit archive moves locally but do not push them to origin.
    #[arg(long)]
    no_push: bool,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<ExitCode> {
    let mut cloud = AwsCloud::new(ctx.now)?;
    let (world, plan) = match &args.planfile {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading plan file {}", path.display()))?;
            let saved: Plan = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a jit plan file", path.display()))?;
            if saved.format_version != crate::plan::FORMAT_VERSION {
                bail!(
                    "plan file format {} is not supported (expected {})",
                    saved.format_version,
                    crate::plan::FORMAT_VERSION
                );
            }
            let world = reconcile::read(&ctx.dir, &mut cloud)?;
            let stale = reconcile::stale_reasons(&saved, &world);
            if !stale.is_empty() {
                ui.err(&format!(
                    "error: the saved plan is stale and was not applied:\n{}\nRun `jit plan --out FILE` again and review the new plan.\n",
                    stale.iter().map(|s| format!("  - {s}")).collect::<Vec<_>>().join("\n")
                ));
                return Err(Exit(1).into());
            }
            (world, saved)
        }
        None => {
            let (world, plan) = reconcile::plan_now(&ctx.dir, &mut cloud, ctx.now)?;
            show(ui, &plan, Format::Text)?;
            (world, plan)
        }
    };
    if !plan.has_changes() {
        if args.planfile.is_some() {
            ui.out("No changes. IAM matches the access repo.\n")?;
        }
        // An earlier run may have committed archive moves it could not push.
        let bot = &world.snapshot.effective.settings.bot;
        if !args.no_push && archive::unpushed(&world.repo, &plan.branch) {
            ui.err("pushing archive commits an earlier run left unpushed\n");
            archive::push(&world.repo, &plan.branch, &[], bot, ctx.now)?;
        }
        return Ok(if plan.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if args.planfile.is_none() && !args.auto_approve {
        if !ui.stdin_is_terminal {
            bail!("stdin is not a terminal: pass --auto-approve to apply without confirmation");
        }
        ui.out(
            "\nDo you want to apply these actions? Only 'yes' will be accepted.\n  Enter a value: ",
        )?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            ui.out("Apply cancelled.\n")?;
            return Ok(ExitCode::FAILURE);
        }
    }
    let bot = world.snapshot.effective.settings.bot.clone();
    let applied = apply::apply(
        &world.repo,
        &plan,
        &world.snapshot.effective.accounts,
        &mut cloud,
        &bot,
        ctx.now,
        !args.no_push,
        &mut |line| ui.err(&format!("{line}\n")),
    )?;
    ui.out(&format!(
        "\nApply complete: {} IAM change(s), {} archived, {} failed.\n",
        applied.done.len(),
        applied.archived.len(),
        applied.failed.len()
    ))?;
    let ok = applied.failed.is_empty() && plan.errors.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
