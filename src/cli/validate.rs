//! `jit validate`: offline checks of the working tree; every error, sorted.

use std::collections::BTreeMap;

use crate::cli::{Ctx, Outcome, Ui, reported_if};
use crate::config::{self, validate};
use crate::diag::{self, Diagnostic};
use crate::worktree;

/// Check the access repo's files offline: syntax, references, contract rules
/// and guardrails. Reports every error as `path:line:col: error: message`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let (files, unread) = worktree::read_access_files(&ctx.dir)?;
    let (repo, mut diags) = config::parse_files(&files);
    diags.extend(unread);
    diags.extend(validate::validate(&repo));
    diags.extend(worktree::request_path_problems(&ctx.dir)?);
    diag::sort(&mut diags);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "valid": errors == 0,
                "error_count": errors,
                "diagnostics": diags,
            });
            ui.out(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        }
        Format::Text => {
            let sources: BTreeMap<&str, &str> = files
                .iter()
                .map(|f| (f.path.as_str(), f.text.as_str()))
                .collect();
            report(ui, &diags, &sources);
            if errors == 0 {
                ui.out(&format!(
                    "Valid: {} users, {} teams, {} roles, {} contracts, {} requests.\n",
                    repo.defs.users.len(),
                    repo.defs.teams.len(),
                    repo.defs.roles.len(),
                    repo.defs.contracts.len(),
                    repo.requests.len()
                ))?;
            } else {
                ui.err(&format!(
                    "{errors} error{} found.\n",
                    if errors == 1 { "" } else { "s" }
                ));
            }
        }
    }
    reported_if(errors != 0)
}

/// Prints diagnostics to stderr, with a source snippet when stderr is a terminal.
pub fn report(ui: &Ui, diags: &[Diagnostic], sources: &BTreeMap<&str, &str>) {
    for d in diags {
        let mut text = format!("{d}\n");
        if ui.stderr_is_terminal
            && let Some(snippet) = sources
                .get(&*d.loc.file)
                .and_then(|s| diag::snippet(s, &d.loc))
        {
            text.push_str(&snippet);
            text.push('\n');
        }
        ui.err(&text);
    }
}
