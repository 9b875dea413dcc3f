//! `jit audit`: events from git history (placeholder until implemented).

use std::process::ExitCode;

use crate::cli::{Ctx, Ui};

/// Events from git history: requested, approved, granted, expired, revoked.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: &Ctx, _: &Ui, _: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("jit audit is not implemented in this version yet")
}
