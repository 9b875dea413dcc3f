//! Diagnostics: an error or warning with a location, collected rather than
//! thrown, sorted by file and position, rendered as `path:line:col: error: msg`.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A position in an access-repo file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub fn new(file: &Arc<str>, line: u32, col: u32) -> Loc {
        Loc {
            file: file.clone(),
            line,
            col,
        }
    }

    /// The start of a file: for problems with a file as a whole.
    pub fn file(file: &str) -> Loc {
        Loc {
            file: Arc::from(file),
            line: 1,
            col: 1,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Which object a diagnostic makes unusable. Planning skips a request whose
/// own file, or any definition it depends on (contract, role, requester,
/// teams, guardrails in scope, accounts, settings), has an error, and
/// proceeds with everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Subject {
    Request(String),
    Contract(String),
    Role(String),
    User(String),
    Team(String),
    Account(String),
    Guardrail(String),
    /// The `identity_center` block: identity_center grants fail closed.
    IdentityCenter,
    /// The settings, and problems in a definitions file that belong to no
    /// object jit could read (a syntax error, an unknown block): nothing is
    /// granted while they are in force.
    Settings,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    #[serde(flatten)]
    pub loc: Loc,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip)]
    pub subject: Subject,
}

impl Diagnostic {
    pub fn error(loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            loc,
            message: message.into(),
            hint: None,
            subject: Subject::Other,
        }
    }

    pub fn warning(loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(loc, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn about(mut self, subject: Subject) -> Diagnostic {
        self.subject = subject;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {severity}: {}", self.loc, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Sorts by file and position and drops exact repeats.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| (&a.loc, &a.message).cmp(&(&b.loc, &b.message)));
    diags.dedup_by(|a, b| a.loc == b.loc && a.message == b.message);
}

/// The source line of `loc` with a caret under its column, for terminals.
pub fn snippet(source: &str, loc: &Loc) -> Option<String> {
    let line = source.lines().nth(loc.line.checked_sub(1)? as usize)?;
    let gutter = loc.line.to_string();
    let pad = " ".repeat(gutter.len());
    let indent: String = line
        .chars()
        .take(loc.col.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{pad} |\n{gutter} | {line}\n{pad} | {indent}^"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_path_line_col() {
        let d = Diagnostic::error(Loc::new(&Arc::from("a.hcl"), 3, 7), "bad");
        assert_eq!(d.to_string(), "a.hcl:3:7: error: bad");
    }

    #[test]
    fn snippet_points_at_column() {
        let s = snippet("x = 1\nyy = 2\n", &Loc::new(&Arc::from("f"), 2, 6)).unwrap();
        assert_eq!(s, "  |\n2 | yy = 2\n  |      ^");
    }

    #[test]
    fn sort_orders_by_file_then_line() {
        let f = |file: &str, line| Diagnostic::error(Loc::new(&Arc::from(file), line, 1), "m");
        let mut v = vec![f("b", 1), f("a", 9), f("a", 2), f("a", 2)];
        sort(&mut v);
        let got: Vec<_> = v.iter().map(|d| d.loc.to_string()).collect();
        assert_eq!(got, ["a:2:1", "a:9:1", "b:1:1"]);
    }
}
