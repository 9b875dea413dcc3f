//! `jit revoke NAME --reason TEXT`: end a grant now, for incident response.

use anyhow::{Context, anyhow};

use crate::cli::lock::{self, LockArgs};
use crate::cli::plan::{Format, show};
use crate::cli::{Ctx, Outcome, Reported, Ui};
use crate::git::endings::{self, Ending};
use crate::git::lease;
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

    #[command(flatten)]
    lock: LockArgs,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    if args.reason.trim().is_empty() {
        anyhow::bail!("--reason must say why access ends early");
    }
    // Under the lease no apply can grant this request between our reading
    // it and the ending reaching origin. Access is removed even when origin
    // cannot be reached: an incident does not wait for git.
    let _lease = match lock::take(ctx, ui, "revoke", !args.no_push, &args.lock) {
        Ok(lease) => lease,
        Err(e @ lease::Error::Held(_)) => return Err(e.into()),
        Err(e) => {
            ui.err(&format!("warning: {e}; revoking without it\n"));
            None
        }
    };
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
    let ending_on_origin = record_ending(ctx, ui, &world, &args, &by)?;
    let not_durable = || {
        if args.no_push || ending_on_origin {
            String::new()
        } else {
            format!(
                "\nThe ending is recorded only in this clone: until it reaches origin, another runner may grant {} again. Run `jit apply` here as soon as origin can be reached; it pushes the ending first.",
                args.name
            )
        }
    };
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
    );
    let applied = match applied {
        Ok(applied) => applied,
        Err(e) => {
            ui.err(&format!("error: {e:#}{}\n", not_durable()));
            return Err(Reported.into());
        }
    };
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
/// version again. Pushing the record is retried; when it fails, IAM is
/// revoked anyway and the result says whether origin has the record.
fn record_ending(
    ctx: &Ctx,
    ui: &Ui,
    world: &reconcile::World,
    args: &Args,
    by: &str,
) -> anyhow::Result<bool> {
    let Some(record) = world
        .snapshot
        .requests
        .iter()
        .find(|r| r.request.name == args.name)
    else {
        return Ok(false);
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
    if args.no_push {
        return Ok(false);
    }
    if world.repo.find_remote("origin").is_err() {
        return Ok(true); // nothing to share with
    }
    match endings::push(&world.repo, bot) {
        Ok(()) => Ok(!endings::unpushed(&world.repo)),
        Err(e) => {
            ui.err(&format!(
                "warning: the ending is recorded locally but not on origin ({e:#}); revoking in IAM anyway\n"
            ));
            Ok(false)
        }
    }
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
