//! `jit completions SHELL` and `jit man`: generated from the clap
//! definitions, so they never drift from the flags.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, Ctx, Outcome, Ui};

/// Print a shell completion script.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(_ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "jit", &mut out);
    ui.out(&String::from_utf8_lossy(&out))?;
    Ok(Outcome::Success)
}

/// Print the man page jit(1) in roff, or write a page per command.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write jit.1 and jit-COMMAND.1 for every command into DIR instead.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

fn render(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

pub fn man(_ctx: &Ctx, ui: &Ui, args: ManArgs) -> anyhow::Result<Outcome> {
    let cmd = Cli::command();
    let Some(dir) = args.out_dir else {
        ui.out(&String::from_utf8_lossy(&render(cmd)?))?;
        return Ok(Outcome::Success);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pages = vec![("jit.1".to_string(), render(cmd.clone())?)];
    for sub in cmd.get_subcommands() {
        let name = format!("jit-{}", sub.get_name());
        let file = format!("{name}.1");
        // clap names are &'static str: one short string per page, once.
        let name: &'static str = Box::leak(name.into_boxed_str());
        pages.push((file, render(sub.clone().name(name))?));
    }
    for (file, page) in &pages {
        let path = dir.join(file);
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    ui.out(&format!(
        "wrote {} man pages to {}\n",
        pages.len(),
        dir.display()
    ))?;
    Ok(Outcome::Success)
}
