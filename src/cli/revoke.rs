//! `jit revoke NAME --reason TEXT`: end a grant now, for incident response.

use anyhow::{Context, anyhow};

use crate::cli::plan::{Format, show};
use crate::cli::{Ctx, Outcome, Reported, Ui};
use crate::git::endings::{self, Ending};
use crate::iam::aws::AwsCloud;
use crate::{apply, plan, reconcile};

/// End a grant now: remove its IAM objects, then archive the request in a
/// bot commit with `Jit-Outcome: revoked`, the reason and who revoked it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request to end (its file is requests/NAME.hcl).
    name: String,

    /// Why access ends early; recorded in the archive commit (Jit-Reason).
    #[arg(long, value_name = "TEXT")]
    reason: String,

    /// Commit the archive move locally but do not push it to origin.
    #[arg(long)]
    no_push: bool,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    if args.reason.trim().is_empty() {
        anyhow::bail!("--reason must say why access ends early");
    }
    let mut cloud = AwsCloud::new(ctx.now)?;
    let world = reconcile::read(&ctx.dir, &mut cloud)?;
    let by = revoker(&world.repo);
    let plan = plan::plan_revoke(
        &world.snapshot,
        &world.iam,
        ctx.now,
        &args.name,
        &args.reason,
        &by,
    )
    .map_err(|e| anyhow!(e))?;
    show(ui, &plan, Format::Text)?;
    record_ending(ctx, ui, &world, &args, &by)?;
    let applied = apply::apply(
        &world.repo,
        &plan,
        &world.snapshot.effective.accounts,
        &mut cloud,
        &world.snapshot.effective.settings.bot,
        ctx.now,
        !args.no_push,
        crate::iam::Limits::SERIAL,
        &mut |progress| ui.err(&format!("{}\n", progress.line())),
    )?;
    if !applied.failed.is_empty() {
        ui.err("error: IAM still holds access; the request file stays in requests/ — run jit revoke again\n");
        return Err(Reported.into());
    }
    if !applied.archive_errors.is_empty() {
        ui.err(&format!(
            "error: revoked {} in IAM and archived it under another name: its archive path is occupied\n",
            args.name
        ));
        return Err(Reported.into());
    }
    ui.out(&format!(
        "\nRevoked {}: {} IAM object(s) removed, request archived.\n",
        args.name,
        applied.done.len()
    ))?;
    Ok(Outcome::Success)
}

/// Records the ending durably before IAM is touched: whatever interrupts
/// the revocation or the archive commit later, no run grants this request
/// version again. Pushing the record is best effort (IAM is revoked anyway).
fn record_ending(
    ctx: &Ctx,
    ui: &Ui,
    world: &reconcile::World,
    args: &Args,
    by: &str,
) -> anyhow::Result<()> {
    let Some(record) = world
        .snapshot
        .requests
        .iter()
        .find(|r| r.request.name == args.name)
    else {
        return Ok(());
    };
    let bot = &world.snapshot.effective.settings.bot;
    if world.endings.get(record.blob).is_none() {
        let ending = Ending {
            request: args.name.clone(),
            blob: record.blob,
            at: ctx.now,
            reason: args.reason.trim().to_string(),
            by: by.to_string(),
        };
        endings::record(&world.repo, &ending, bot)
            .context("recording the ending before revoking (nothing was revoked)")?;
    }
    if !args.no_push
        && let Err(e) = endings::push(&world.repo, bot)
    {
        ui.err(&format!(
            "warning: the ending is recorded locally but not on origin ({e:#}); the next `jit apply` here pushes it\n"
        ));
    }
    Ok(())
}

/// Who is revoking: the repo's configured git identity, else the OS user.
fn revoker(repo: &git2::Repository) -> String {
    let config = repo.config().ok();
    let get = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
    match (get("user.name"), get("user.email")) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (None, Some(email)) => email,
        _ => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    }
}
