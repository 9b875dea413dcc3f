//! Reading the access repo's files from a directory on disk.

use std::path::Path;

use anyhow::Context;

use crate::config::SourceFile;

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
