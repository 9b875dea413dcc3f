//! Taking the lease (see `git::lease`) around the commands that change IAM.

use std::time::Duration;

use crate::cli::Ui;
use crate::git::lease::{self, Lease};

/// How a command waits for another run's lease.
#[derive(Debug, Clone, clap::Args)]
pub struct LockArgs {
    /// How long to wait while another jit run holds the lease on origin
    /// (branch `jit-lock`), e.g. 0s, 30s, 5m. A crashed run's lease expires
    /// by itself within 2 minutes.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_wait)]
    pub lock_timeout: Duration,
}

fn parse_wait(text: &str) -> Result<Duration, String> {
    if text
        .trim_end_matches(['s', 'm', 'h'])
        .chars()
        .all(|c| c == '0')
        && !text.is_empty()
    {
        return Ok(Duration::ZERO);
    }
    super::reconcile::parse_interval(text)
}

/// Takes the lease for `command` when the run pushes (a run that does not
/// push shares nothing with other runners). Tells the user while it waits.
pub fn take(
    ctx: &super::Ctx,
    ui: &Ui,
    command: &str,
    push: bool,
    args: &LockArgs,
) -> Result<Option<Lease>, lease::Error> {
    if !push {
        return Ok(None);
    }
    match lease::acquire(&ctx.dir, command, Duration::ZERO) {
        Err(lease::Error::Held(state)) if !args.lock_timeout.is_zero() => {
            ui.err(&format!(
                "waiting up to {}s for the lease held by {} (`jit {}`)\n",
                args.lock_timeout.as_secs(),
                state.holder,
                state.command
            ));
            lease::acquire(&ctx.dir, command, args.lock_timeout)
        }
        other => other,
    }
}
