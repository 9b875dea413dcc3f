//! `jit status`: active grants with time left, and pending requests.

use crate::cli::{Ctx, Outcome, Ui};
use crate::{reconcile, render, status};

/// Show the grants in force now (from git history) and the pending requests.
///
/// With `--account NAME`, only the requests whose grants land in those
/// accounts.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let snapshot = reconcile::read_git(&ctx.dir)?;
    // Endings `jit revoke` recorded (here or fetched from origin) whose
    // archive commit has not landed yet.
    let endings = crate::git::endings::read(&crate::git::open(&ctx.dir)?)?;
    let accounts = ctx.scope.ids(&snapshot.effective)?;
    let view = status::status(&snapshot, &endings, ctx.now, accounts.as_ref());
    if args.json {
        ui.out(&format!("{}\n", serde_json::to_string_pretty(&view)?))?;
    } else {
        ui.out(&render::text::status(&view))?;
    }
    Ok(Outcome::Success)
}
