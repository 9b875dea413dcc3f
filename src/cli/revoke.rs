//! `jit revoke NAME --reason TEXT`: end a grant now, for incident response.

use std::process::ExitCode;

use anyhow::anyhow;

use crate::cli::plan::{Format, show};
use crate::cli::{Ctx, Ui};
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

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<ExitCode> {
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
    let applied = apply::apply(
        &world.repo,
        &plan,
        &world.snapshot.effective.accounts,
        &mut cloud,
        &world.snapshot.effective.settings.bot,
        ctx.now,
        !args.no_push,
        &mut |line| ui.err(&format!("{line}\n")),
    )?;
    if !applied.failed.is_empty() {
        ui.err("error: IAM still holds access; the request file stays in requests/ — run jit revoke again\n");
        return Ok(ExitCode::FAILURE);
    }
    ui.out(&format!(
        "\nRevoked {}: {} IAM object(s) removed, request archived.\n",
        args.name,
        applied.done.len()
    ))?;
    Ok(ExitCode::SUCCESS)
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
