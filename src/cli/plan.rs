//! placeholder
use std::process::ExitCode;
use crate::cli::{Ctx, Ui};
#[derive(Debug, clap::Args)]
pub struct Args {}
pub fn run(_: &Ctx, _: &Ui, _: Args) -> anyhow::Result<ExitCode> { anyhow::bail!("not yet") }
