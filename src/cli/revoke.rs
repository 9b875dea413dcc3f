//! `jit revoke NAME --reason TEXT` (placeholder until implemented).

use std::process::ExitCode;

use crate::cli::{Ctx, Ui};

/// End a grant now: revoke in IAM and archive the request (Jit-Outcome: revoked).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: &Ctx, _: &Ui, _: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("jit revoke is not implemented in this version yet")
}
