//! Reading the access repo's files from a directory on disk.

use std::path::Path;

use anyhow::Context;

use crate::config::SourceFile;
use crate::diag::{Diagnostic, Loc};

/// Every `*.hcl` file below `root` (skipping hidden and `target` directories),
/// with paths relative to `root` using `/`.
pub fn read_hcl_files(root: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            if name != "target" {
                walk(root, &path, out)?;
            }
        } else if name.ends_with(".hcl") {
            let rel = path
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            out.push(SourceFile { path: rel, text });
        }
    }
    Ok(())
}

/// Entries under `root/requests/` that cannot be requests (folders,
/// symbolic links, files not named `<name>.hcl`): an error for each path
/// alone, the same rule the history reader applies.
pub fn request_path_problems(root: &Path) -> anyhow::Result<Vec<Diagnostic>> {
    let dir = root.join("requests");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        let problem = if file_type.is_dir() {
            Some((
                format!("requests/{name}/"),
                "is a folder: only regular files directly under requests/ are requests; move it out of requests/",
            ))
        } else if file_type.is_symlink() {
            Some((
                format!("requests/{name}"),
                "is a symbolic link, not a regular file; it is ignored",
            ))
        } else if !crate::git::is_request_file_name(&name) {
            Some((
                format!("requests/{name}"),
                "is not a request: only files named requests/<name>.hcl (a name matching ^[a-z0-9][a-z0-9-]{0,62}$) are requests",
            ))
        } else {
            None
        };
        if let Some((path, message)) = problem {
            out.push(Diagnostic::error(
                Loc::file(&path),
                format!("{path} {message}"),
            ));
        }
    }
    Ok(out)
}
