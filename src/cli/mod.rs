//! The command line: flags (the clap structs' doc comments are the help),
//! one module per subcommand, and the one place errors become exit codes.

mod apply;
mod audit;
mod completions;
mod explain;
mod fmt;
mod lock;
mod plan;
mod progress;
mod reconcile;
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
#[command(
    name = "jit",
    version,
    propagate_version = true,
    after_help = "Example:\n  jit -C access plan"
)]
pub struct Cli {
    /// The access repo (default: the current directory).
    #[arg(short = 'C', global = true, value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// Replace the clock (RFC 3339) for windows, revocation times and jit's
    /// own commits: for dry runs, incident replays and tests.
    #[arg(long, global = true, env = "JIT_NOW", value_name = "RFC3339")]
    now: Option<String>,

    /// Restrict plan, apply, explain and reconcile to the account NAME
    /// (repeatable): only its IAM is read, planned, applied and archived;
    /// status shows only its grants. A CI matrix can shard the accounts
    /// across jobs this way. Other commands refuse it.
    #[arg(long = "account", global = true, value_name = "NAME")]
    accounts: Vec<String>,

    /// Read at most N accounts' IAM at the same time.
    #[arg(
        long,
        global = true,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    parallelism: u16,

    /// Log lines on stderr as text or as JSON objects (one per line).
    /// RUST_LOG chooses what is logged (default: nothing, `jit=info` for
    /// `jit reconcile`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs through `tracing` (the `log` records of the rest of jit included,
/// through its bridge), filtered by RUST_LOG, on stderr.
fn init_logs(format: LogFormat, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.without_time().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(after_help = "Example:\n  jit -C access validate")]
    Validate(validate::Args),
    #[command(
        after_help = "Examples:\n  jit plan --out plan.json\n  jit plan --base origin/main --format markdown"
    )]
    Plan(plan::Args),
    #[command(after_help = "Examples:\n  jit apply --auto-approve\n  jit apply plan.json")]
    Apply(apply::Args),
    #[command(after_help = "Example:\n  jit status --json")]
    Status(status::Args),
    #[command(
        after_help = "Example:\n  jit audit --since 2026-11-01T00:00:00Z --user alice --format csv"
    )]
    Audit(audit::Args),
    #[command(after_help = "Example:\n  jit revoke alice-inc-1234 --reason \"INC-1234 resolved\"")]
    Revoke(revoke::Args),
    #[command(
        subcommand,
        after_help = "Example:\n  jit request new --contract db-read --duration 2h --reason \"INC-1234\"",
        mut_subcommand("new", |c| c.after_help(
            "Example:\n  jit request new --requester alice --contract db-read --reason \"INC-1234\""
        ))
    )]
    Request(request::Command),
    #[command(after_help = "Example:\n  jit fmt --check")]
    Fmt(fmt::Args),
    #[command(
        after_help = "Example:\n  jit -C /srv/access reconcile --watch --interval 5m --listen 127.0.0.1:9100"
    )]
    Reconcile(reconcile::Args),
    #[command(after_help = "Example:\n  jit explain alice-inc-1234")]
    Explain(explain::Args),
    #[command(
        after_help = "Examples:\n  jit completions bash > /etc/bash_completion.d/jit\n  jit completions zsh > \"${fpath[1]}/_jit\"\n  jit completions fish > ~/.config/fish/completions/jit.fish"
    )]
    Completions(completions::Args),
    /// Print the man page jit(1), generated from these definitions.
    #[command(
        after_help = "Examples:\n  jit man | man -l -\n  jit man --out-dir /usr/local/share/man/man1"
    )]
    Man(completions::ManArgs),
}

/// What every command gets: where the access repo is, what time it is, and
/// which accounts a reconciling run covers.
pub struct Ctx {
    pub dir: PathBuf,
    pub now: DateTime<Utc>,
    pub scope: crate::reconcile::Scope,
}

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan --detailed-exitcode` found changes.
    Changes,
}

/// A failure the command has already reported on stderr (plan errors,
/// failed IAM calls, a refused plan file, unformatted files).
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("errors were reported above")
    }
}

impl std::error::Error for Reported {}

/// `Ok(Success)`, or a reported failure when `failed`.
pub fn reported_if(failed: bool) -> anyhow::Result<Outcome> {
    if failed {
        Err(Reported.into())
    } else {
        Ok(Outcome::Success)
    }
}

/// Every way a run fails. The one place failures are printed and become
/// exit codes: every failure exits 1 (usage errors such as an unknown flag
/// or a bad value included), so 2 means only "changes" under
/// `plan --detailed-exitcode`.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or values: clap's message and usage.
    Usage(clap::Error),
    /// Already reported by the command.
    Reported,
    /// Anything else: `error: ...` and its causes.
    Error(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        if e.is::<Reported>() {
            Failure::Reported
        } else {
            Failure::Error(e)
        }
    }
}

impl Failure {
    pub const EXIT_CODE: u8 = 1;

    fn report(&self) {
        match self {
            Failure::Usage(e) => {
                let _ = e.print();
            }
            Failure::Reported => {}
            Failure::Error(e) => {
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "error: {e}");
                for cause in e.chain().skip(1) {
                    let _ = writeln!(err, "  caused by: {cause}");
                }
            }
        }
    }
}

/// The exit code of a run, printing its failure if it failed.
fn exit_code(result: Result<Outcome, Failure>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(failure) => {
            failure.report();
            ExitCode::from(Failure::EXIT_CODE)
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            // Help and version are answers, not errors.
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return exit_code(Ok(Outcome::Success));
            }
            return exit_code(Err(Failure::Usage(e)));
        }
    };
    // RUST_LOG=debug (or jit=debug) shows what jit reads and writes, on stderr.
    let service = matches!(cli.command, Command::Reconcile(_));
    init_logs(cli.log_format, if service { "jit=info" } else { "off" });
    // A history walk reads each object once: libgit2's object cache (256 MiB
    // by default) would only hold every tree of the walk until exit, and its
    // pack windows (8 GiB mapped by default) the whole pack.
    git2::opts::enable_caching(false);
    // SAFETY: set once at start-up, before any repository is opened.
    let _ = unsafe { git2::opts::set_mwindow_size(8 << 20) };
    // SAFETY: as above.
    let _ = unsafe { git2::opts::set_mwindow_mapped_limit(16 << 20) };
    // git itself does not re-hash every object it reads; libgit2 does by
    // default, which is most of a history walk's time. The object store is
    // the runner's own clone (written by git's fetch, which checks it).
    git2::opts::strict_hash_verification(false);
    exit_code(match run(cli) {
        // A closed pipe (`jit audit | head`) is the reader's choice.
        Err(e) if is_broken_pipe(&e) => Ok(Outcome::Success),
        other => other.map_err(Failure::from),
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let now = match &cli.now {
        Some(text) => parse_time(text).context("--now / JIT_NOW")?,
        None => Utc::now(),
    };
    // A command that covers every account says so rather than ignore it.
    let ignores_accounts = match &cli.command {
        Command::Plan(_)
        | Command::Apply(_)
        | Command::Status(_)
        | Command::Reconcile(_)
        | Command::Explain(_) => None,
        Command::Validate(_) => Some("validate"),
        Command::Audit(_) => Some("audit"),
        Command::Revoke(_) => Some("revoke"),
        Command::Request(_) => Some("request"),
        Command::Fmt(_) => Some("fmt"),
        Command::Completions(_) => Some("completions"),
        Command::Man(_) => Some("man"),
    };
    if let Some(name) = ignores_accounts
        && !cli.accounts.is_empty()
    {
        anyhow::bail!(
            "--account restricts plan, apply, explain, status and reconcile; `jit {name}` covers every account (run it without --account)"
        );
    }
    let scope = crate::reconcile::Scope {
        accounts: cli.accounts,
        parallelism: usize::from(cli.parallelism),
    };
    let ctx = Ctx {
        dir: cli.dir,
        now,
        scope,
    };
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
        Command::Reconcile(args) => reconcile::run(&ctx, &ui, args, cli.now.is_some()),
        Command::Explain(args) => explain::run(&ctx, &ui, args),
        Command::Completions(args) => completions::run(&ctx, &ui, args),
        Command::Man(args) => completions::man(&ctx, &ui, args),
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
        // anstream decides: a terminal, and neither NO_COLOR nor TERM=dumb
        // (CLICOLOR_FORCE forces colour).
        let choice = anstream::AutoStream::choice(&io::stdout());
        Ui {
            color: choice != anstream::ColorChoice::Never,
            stderr_is_terminal: io::stderr().is_terminal(),
            stdin_is_terminal: io::stdin().is_terminal(),
        }
    }

    /// Writes to stdout; styles are stripped where colour is off.
    pub fn out(&self, text: &str) -> io::Result<()> {
        let mut out = anstream::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Writes to stderr; styles are stripped where colour is off.
    pub fn err(&self, text: &str) {
        let _ = anstream::stderr().lock().write_all(text.as_bytes());
    }

    /// `text` in the style of `tone` (anstyle); [`Ui::out`] and [`Ui::err`]
    /// strip it where colour is off.
    pub fn paint(&self, tone: crate::render::Tone, text: &str) -> String {
        let style = tone.style();
        format!("{style}{text}{style:#}")
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
