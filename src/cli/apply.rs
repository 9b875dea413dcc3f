//! `jit apply [PLANFILE]`: make IAM match, then commit and push archive moves.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::bail;

use crate::cli::lock::{self, LockArgs};
use crate::cli::plan::{Format, show};
use crate::cli::progress::Bar;
use crate::cli::{Ctx, Outcome, Reported, Ui, reported_if};
use crate::git::{archive, endings};
use crate::iam::Limits;
use crate::iam::aws::AwsCloud;
use crate::{apply, notify, policy, reconcile};

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

    /// IAM writes in flight at once per account (writes to one role's trust
    /// policy still go one after the other).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    concurrency: u16,

    #[command(flatten)]
    lock: LockArgs,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    // One runner at a time from here to the push: what this run reads is
    // what no other run changes until it is done.
    let lease = lock::take(ctx, ui, "apply", !args.no_push, &args.lock)?;
    let mut cloud = AwsCloud::new(ctx.now)?;
    let (world, plan) = match &args.planfile {
        Some(path) => {
            let saved = reconcile::read_plan_file(path)?;
            // A plan is made before it is applied: one from the future was
            // edited (its time decides the windows jit re-derives).
            if saved.now > ctx.now + chrono::Duration::minutes(5) {
                bail!(
                    "{}: the plan's time {} is in the future (now is {}); run `jit plan --out FILE` again",
                    path.display(),
                    policy::iam_time(saved.now),
                    policy::iam_time(ctx.now)
                );
            }
            let world = reconcile::read_scoped(&ctx.dir, &mut cloud, &ctx.scope)?;
            let stale = reconcile::stale_reasons(&saved, &world);
            if !stale.is_empty() {
                ui.err(&format!(
                    "error: the saved plan is stale and was not applied:\n{}\nRun `jit plan --out FILE` again and review the new plan.\n",
                    bullets(&stale)
                ));
                return Err(Reported.into());
            }
            // A plan file confirms a plan; what is applied is what jit
            // derives itself, at the plan's time, and it must be the same.
            let derived = reconcile::plan_at(&world, saved.now);
            let differences = reconcile::differences(&saved, &derived);
            if !differences.is_empty() {
                ui.err(&format!(
                    "error: {} does not match the plan jit derives from git and IAM at its time ({}); nothing was applied:\n{}\nA plan file only confirms a plan: run `jit plan --out FILE` again and review the new plan.\n",
                    path.display(),
                    policy::iam_time(saved.now),
                    bullets(&differences)
                ));
                return Err(Reported.into());
            }
            let mut derived = derived;
            withhold_if_behind(ui, &world, &mut derived, lease.is_some())?;
            (world, derived)
        }
        None => {
            let (world, mut plan) =
                reconcile::plan_scoped(&ctx.dir, &mut cloud, ctx.now, &ctx.scope)?;
            withhold_if_behind(ui, &world, &mut plan, lease.is_some())?;
            show(ui, &plan, Format::Text)?;
            (world, plan)
        }
    };
    let bot = world.snapshot.effective.settings.bot.clone();
    if !args.no_push && endings::unpushed(&world.repo) {
        // Endings an earlier `jit revoke` could not push: other runners need them.
        if let Err(e) = endings::push(&world.repo, &bot) {
            ui.err(&format!("warning: {e:#}\n"));
        }
    }
    if !plan.has_changes() {
        if args.planfile.is_some() {
            ui.out("No changes. IAM matches the access repo.\n")?;
        }
        // An earlier run may have committed archive moves it could not push.
        if !args.no_push && archive::unpushed(&world.repo, &plan.branch) {
            ui.err("pushing archive commits an earlier run left unpushed\n");
            archive::push(&world.repo, &plan.branch, &bot)?;
        }
        // Nothing to apply, but grants may be about to expire, and other
        // runs' archive commits may not be announced yet.
        notify::after_apply(&world, &plan, &Default::default(), ctx.now, !args.no_push);
        return reported_if(!plan.errors.is_empty());
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
            return Err(Reported.into());
        }
    }
    let writes = plan.actions.iter().filter(|a| a.iam.is_some()).count();
    let bar = Bar::new(ui, writes as u64, "applying");
    let result = apply::apply(
        &world.repo,
        &plan,
        &world.snapshot.effective.accounts,
        &mut cloud,
        &bot,
        ctx.now,
        !args.no_push,
        Limits {
            accounts: ctx.scope.parallelism,
            per_account: usize::from(args.concurrency),
        },
        &mut |progress| {
            bar.line(progress.line());
            if let apply::Progress::Write(_) = progress {
                bar.step();
            }
        },
    );
    drop(bar);
    // After the work, whatever it did: delivery never changes the outcome.
    let done = notify::events::Applied {
        done: result.as_ref().map_or(&[][..], |a| &a.done),
        failed: result.as_ref().map_or(&[][..], |a| &a.failed),
        error: result.as_ref().err().map(|e| format!("{e:#}")),
    };
    notify::after_apply(&world, &plan, &done, ctx.now, !args.no_push);
    let applied = result?;
    ui.out(&format!(
        "\nApply complete: {} IAM change(s), {} archived, {} failed.\n",
        applied.done.len(),
        applied.archived.len(),
        applied.failed.len()
    ))?;
    reported_if(
        !applied.failed.is_empty() || !applied.archive_errors.is_empty() || !plan.errors.is_empty(),
    )
}

/// A run on a checkout that origin has moved past must not add access that
/// origin's branch may no longer approve (a request deleted or revoked
/// there, a contract narrowed): under the lease, grants and updates wait
/// for a run on the latest branch; revocations and archive moves go ahead.
fn withhold_if_behind(
    ui: &Ui,
    world: &reconcile::World,
    plan: &mut crate::plan::Plan,
    leased: bool,
) -> anyhow::Result<()> {
    if !leased {
        return Ok(());
    }
    let behind = archive::origin_ahead(&world.repo, &plan.branch)?;
    if behind == 0 {
        return Ok(());
    }
    let why = format!(
        "origin/{} has {behind} commit(s) this checkout lacks; run jit again on the latest branch (git pull)",
        plan.branch
    );
    if plan.withhold_access(&why) > 0 {
        ui.err(&format!(
            "warning: {why}: grants and updates wait for that run\n"
        ));
    }
    Ok(())
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|s| format!("  - {s}"))
        .collect::<Vec<_>>()
        .join("\n")
}
