//! Reading the access repo's files from a directory on disk.

use std::path::Path;

use anyhow::Context;

use crate::config::SourceFile;
use crate::config::parse::{self, MAX_FILE_BYTES, MAX_REQUEST_FILES};
use crate::diag::{Diagnostic, Loc};

/// Every `*.hcl` file below `root` (skipping hidden and `target` directories),
/// with paths relative to `root` using `/`. A file that cannot be read as
/// one (see [`read_access_files`]) is an error naming it.
pub fn read_hcl_files(root: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let (files, problems) = read_access_files(root)?;
    if let Some(first) = problems.first() {
        anyhow::bail!("{first}");
    }
    Ok(files)
}

/// Every `*.hcl` file below `root` (skipping hidden and `target`
/// directories), sorted by path, and an error for each that is not read:
/// a symbolic link or anything but a regular file (a named pipe would
/// hang the read), a file over [`MAX_FILE_BYTES`] (checked before it is
/// read), a file that is not UTF-8, and request files past
/// [`MAX_REQUEST_FILES`]. Each problem is about its path alone, as in the
/// history reader.
pub fn read_access_files(root: &Path) -> anyhow::Result<(Vec<SourceFile>, Vec<Diagnostic>)> {
    let mut found = Vec::new();
    walk(root, root, &mut found)?;
    found.sort();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let requests = found
        .iter()
        .filter(|(rel, _)| rel.starts_with("requests/") && !rel[9..].contains('/'))
        .count();
    if requests > MAX_REQUEST_FILES {
        problems.push(parse::too_many_requests(requests));
    }
    let mut requests_read = 0;
    for (rel, path) in found {
        if rel.starts_with("requests/") && !rel[9..].contains('/') {
            requests_read += 1;
            if requests_read > MAX_REQUEST_FILES {
                continue;
            }
        }
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let problem = if meta.file_type().is_symlink() {
            // Under requests/, `request_path_problems` reports it.
            if rel.starts_with("requests/") {
                continue;
            }
            Some("is a symbolic link, not a regular file; it is ignored".to_string())
        } else if !meta.is_file() {
            Some("is not a regular file; it is ignored".to_string())
        } else if meta.len() > MAX_FILE_BYTES as u64 {
            problems.push(parse::oversized(&rel, meta.len()));
            continue;
        } else {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            match String::from_utf8(bytes) {
                Ok(text) => {
                    out.push(SourceFile { path: rel, text });
                    continue;
                }
                Err(e) => Some(format!(
                    "is not UTF-8 (invalid byte at offset {}); it is ignored",
                    e.utf8_error().valid_up_to()
                )),
            }
        };
        if let Some(message) = problem {
            problems.push(Diagnostic::error(
                Loc::file(&rel),
                format!("{rel} {message}"),
            ));
        }
    }
    Ok((out, problems))
}

/// `(relative path, path)` of every `*.hcl` entry below `dir`, of any kind.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> anyhow::Result<()> {
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
            out.push((rel, path));
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
