//! `jit fmt`: rewrites the access repo's definitions and request files in
//! canonical format (see `crate::fmt`). Archived requests are history and
//! are never touched.

use std::path::Path;

use anyhow::Context;

use crate::cli::{Ctx, Outcome, Ui, reported_if};
use crate::config::parse::{FileKind, file_kind};
use crate::worktree;

/// Rewrite the access repo's HCL files in canonical format.
///
/// Like `terraform fmt`: 2-space indentation, `=` aligned in runs of
/// single-line attributes, one blank line between top-level blocks, comments
/// kept. Prints the names of the files it changed. Files under archive/ are
/// left alone; a file with a syntax error is reported and left as it is
/// (exit 1).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Change nothing: list the files that are not canonical and exit 1 if
    /// there are any (for CI).
    #[arg(long)]
    check: bool,

    /// Also print the changes as a unified diff.
    #[arg(long)]
    diff: bool,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let (files, unread) = worktree::read_access_files(&ctx.dir)?;
    let mut changed = 0;
    let mut errors = 0;
    for d in unread {
        errors += 1;
        ui.err(&format!("{d}\n"));
    }
    for f in files.iter().filter(|f| {
        matches!(
            file_kind(&f.path),
            FileKind::Definitions | FileKind::Request
        )
    }) {
        let formatted = match crate::fmt::format(&f.path, &f.text) {
            Ok(text) => text,
            Err(d) => {
                errors += 1;
                ui.err(&format!("{d}\n"));
                continue;
            }
        };
        if formatted == f.text {
            continue;
        }
        changed += 1;
        if !args.check {
            write_replacing(&ctx.dir.join(&f.path), &formatted)?;
        }
        ui.out(&format!("{}\n", f.path))?;
        if args.diff {
            let diff = similar::TextDiff::from_lines(&f.text, &formatted)
                .unified_diff()
                .header(&format!("a/{}", f.path), &format!("b/{}", f.path))
                .to_string();
            ui.out(&diff)?;
        }
    }
    if errors > 0 {
        ui.err(&format!(
            "{errors} file{} with errors left unformatted.\n",
            if errors == 1 { "" } else { "s" }
        ));
    }
    if args.check && changed > 0 {
        ui.err(&format!(
            "{changed} file{} not canonically formatted; run `jit fmt` to fix.\n",
            if changed == 1 { " is" } else { "s are" }
        ));
    }
    reported_if(errors > 0 || (args.check && changed > 0))
}

/// Replaces a file's contents through a temporary file and a rename, so an
/// interrupted run never leaves a half-written file.
fn write_replacing(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.jit-fmt.tmp"));
    let result = std::fs::write(&tmp, text)
        .and_then(|()| {
            if let Ok(meta) = std::fs::metadata(path) {
                std::fs::set_permissions(&tmp, meta.permissions())?;
            }
            std::fs::rename(&tmp, path)
        })
        .with_context(|| format!("writing {}", path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
