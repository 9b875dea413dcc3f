//! `jit fmt` (placeholder until implemented).

use std::process::ExitCode;

use crate::cli::{Ctx, Ui};

/// Rewrite the access repo's HCL files in canonical format.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: &Ctx, _: &Ui, _: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("jit fmt is not implemented in this version yet")
}
