//! `jit request new` (placeholder until implemented).

use std::process::ExitCode;

use crate::cli::{Ctx, Ui};

/// Work with request files.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a valid requests/<name>.hcl from flags or prompts.
    New(NewArgs),
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {}

pub fn run(_: &Ctx, _: &Ui, _: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("jit request new is not implemented in this version yet")
}
