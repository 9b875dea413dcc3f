//! The command line: flags (the clap structs' doc comments are the help),
//! one module per subcommand, and the one place errors become exit codes.

mod apply;
mod audit;
mod fmt;
mod plan;
mod request;
mod revoke;
mod status;
mod validate;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

/// Just-in-time cloud access through git: plan and apply the grants your
/// access repo's approved, merged pull requests ask for.
#[derive(Debug, Parser)]
#[command(name = "jit", version, propagate_version = true)]
pub struct Cli {
    /// The access repo (default: the current directory).
    #[arg(short = 'C', global = true, value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// Replace the clock (RFC 3339) for windows, revocation times and jit's
    /// own commits: for dry runs, incident replays and tests.
    #[arg(long, global = true, env = "JIT_NOW", value_name = "RFC3339")]
    now: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::Args),
    Plan(plan::Args),
    Apply(apply::Args),
    Status(status::Args),
    Audit(audit::Args),
    Revoke(revoke::Args),
    #[command(subcommand)]
    Request(request::Command),
    Fmt(fmt::Args),
}

/// What every command gets: where the access repo is and what time it is.
pub struct Ctx {
    pub dir: PathBuf,
    pub now: DateTime<Utc>,
}

/// An error that has already been reported to the user, carrying the exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

pub fn main() -> ExitCode {
    // RUST_LOG=debug (or jit=debug) shows what jit reads and writes, on stderr.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    // libgit2 caches up to 256 MiB of objects by default; a history walk
    // touches each commit once, so a smaller cache bounds memory.
    // SAFETY: set once at start-up, before any repository is opened.
    let _ = unsafe { git2::opts::set_cache_max_size(64 << 20) };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            for cause in e.chain().skip(1) {
                let _ = writeln!(err, "  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = match &cli.now {
        Some(text) => parse_time(text).context("--now / JIT_NOW")?,
        None => Utc::now(),
    };
    let ctx = Ctx { dir: cli.dir, now };
    let ui = Ui::new();
    match cli.command {
        Command::Validate(args) => validate::run(&ctx, &ui, args),
        Command::Plan(args) => plan::run(&ctx, &ui, args),
        Command::Apply(args) => apply::run(&ctx, &ui, args),
        Command::Status(args) => status::run(&ctx, &ui, args),
        Command::Audit(args) => audit::run(&ctx, &ui, args),
        Command::Revoke(args) => revoke::run(&ctx, &ui, args),
        Command::Request(command) => request::run(&ctx, &ui, command),
        Command::Fmt(args) => fmt::run(&ctx, &ui, args),
    }
}

pub fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("`{text}` is not an RFC 3339 time (like 2026-11-23T09:00:00Z)"))
}

/// All output goes through here: stdout for results, stderr for diagnostics.
pub struct Ui {
    pub color: bool,
    pub stderr_is_terminal: bool,
    pub stdin_is_terminal: bool,
}

impl Ui {
    fn new() -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            color: !no_color && io::stdout().is_terminal(),
            stderr_is_terminal: io::stderr().is_terminal(),
            stdin_is_terminal: io::stdin().is_terminal(),
        }
    }

    pub fn out(&self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    pub fn err(&self, text: &str) {
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }

    /// Colours `text` with an ANSI code when printing to a terminal.
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
