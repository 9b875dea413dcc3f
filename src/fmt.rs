//! Canonical formatting of access-repo HCL, the way `terraform fmt` does it:
//! two-space indentation by bracket depth, one space between tokens where
//! hclwrite puts one, `=` aligned within a run of consecutive single-line
//! attributes, trailing comments aligned, one blank line between top-level
//! blocks, no trailing whitespace, one final newline. Comments stay put.
//!
//! hcl-edit parses (so syntax errors are reported with their location) but
//! has no formatter, and hcl-rs's formatter drops comments. So this re-spaces
//! the token stream and never changes a token; strings, heredocs and comments
//! are copied verbatim. As a guard, the result must parse to the same hcl-rs
//! body as the input, or the text is refused rather than rewritten. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hcl_edit::Span;
use hcl_edit::structure::Structure;

use crate::diag::{Diagnostic, Loc};

/// `text` (the contents of `path`) in canonical format. A syntax error is
/// returned as a diagnostic at its position.
pub fn format(path: &str, text: &str) -> Result<String, Diagnostic> {
    if text.len() > crate::config::parse::MAX_FILE_BYTES {
        return Err(crate::config::parse::oversized(path, text.len() as u64));
    }
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        let loc = e.location();
        Diagnostic::error(
            Loc::new(&Arc::from(path), loc.line() as u32, loc.column() as u32),
            format!("syntax error: {}", e.message()),
        )
    })?;
    // Where each top-level block's closing brace is: a blank line follows it.
    let block_ends: BTreeSet<usize> = body
        .iter()
        .filter(|s| matches!(s, Structure::Block(_)))
        .filter_map(|s| s.span())
        .filter_map(|span| span.end.checked_sub(1))
        .collect();
    // Where each heredoc and quoted string ends, as the parser found it:
    // the lexer copies them verbatim and must agree with HCL on their ends
    // (fuzzing found heredoc bodies, and strings whose interpolations hold
    // strings, comments and heredocs, that a hand-written scan misread).
    let mut verbatim = Verbatim::default();
    hcl_edit::visit::Visit::visit_body(&mut verbatim, &body);
    let out = layout(text, &block_ends, &verbatim.ends);
    let unchanged = match (hcl::parse(text), hcl::parse(&out)) {
        (Ok(before), Ok(after)) => before == after,
        _ => false,
    };
    if !unchanged {
        return Err(Diagnostic::error(
            Loc::file(path),
            "jit fmt cannot format this file without changing its meaning, so it was left as it is",
        )
        .with_hint("please report this as a bug in jit fmt"));
    }
    Ok(out)
}

/// The span of every heredoc and quoted string in a body: start -> end.
/// Nested ones (a string in an interpolation) are recorded too; the lexer
/// only looks up where a token starts, so the outermost one wins.
#[derive(Default)]
struct Verbatim {
    ends: BTreeMap<usize, usize>,
}

impl Verbatim {
    fn add(&mut self, span: Option<std::ops::Range<usize>>) {
        if let Some(span) = span {
            self.ends.insert(span.start, span.end);
        }
    }
}

impl hcl_edit::visit::Visit for Verbatim {
    fn visit_heredoc_template(&mut self, node: &hcl_edit::template::HeredocTemplate) {
        self.add(node.span());
        hcl_edit::visit::visit_heredoc_template(self, node);
    }

    fn visit_string_template(&mut self, node: &hcl_edit::template::StringTemplate) {
        self.add(node.span());
        hcl_edit::visit::visit_string_template(self, node);
    }

    fn visit_string(&mut self, node: &hcl_edit::Decorated<String>) {
        self.add(node.span());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    /// A quoted string with any interpolations in it, copied verbatim.
    Str,
    /// `<<EOF` through its closing marker, copied verbatim.
    Heredoc,
    LineComment,
    BlockComment,
    Punct,
    Newline,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
}

impl Token<'_> {
    fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    fn brackets(&self) -> i32 {
        match self.kind {
            Kind::Punct => match self.text {
                "{" | "[" | "(" => 1,
                "}" | "]" | ")" => -1,
                _ => 0,
            },
            _ => 0,
        }
    }

    fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }

    /// The token as printed: line comments lose trailing whitespace.
    fn out(&self) -> &str {
        match self.kind {
            Kind::LineComment => self.text.trim_end(),
            _ => self.text,
        }
    }
}

/// Splits HCL text into tokens, dropping spaces and tabs. The input has
/// already parsed, so this only needs to find token boundaries.
fn lex<'a>(src: &'a str, verbatim: &BTreeMap<usize, usize>) -> Vec<Token<'a>> {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let parsed_end =
        |i: usize| (verbatim.get(&i).copied()).filter(|&end| end > i && src.is_char_boundary(end));
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let kind = match b[i] {
            // A `\r` not before `\n` is blank space (found by fuzzing: read
            // as a token, "\r" formatted to "\r\n", and that to "").
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'\r' if at(i + 1) != b'\n' => {
                i += 1;
                continue;
            }
            b'\n' => {
                i += 1;
                Kind::Newline
            }
            b'\r' if at(i + 1) == b'\n' => {
                i += 2;
                Kind::Newline
            }
            b'#' => {
                i = line_end(src, i);
                Kind::LineComment
            }
            b'/' if at(i + 1) == b'/' => {
                i = line_end(src, i);
                Kind::LineComment
            }
            b'/' if at(i + 1) == b'*' => {
                i = src[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
                Kind::BlockComment
            }
            b'"' => {
                i = parsed_end(i).unwrap_or_else(|| scan_string(b, i));
                Kind::Str
            }
            b'<' if at(i + 1) == b'<' => {
                i = parsed_end(i).unwrap_or_else(|| scan_heredoc(src, i));
                Kind::Heredoc
            }
            b'0'..=b'9' => {
                i = scan_number(b, i);
                Kind::Number
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or('\0');
                if c == '_' || c.is_alphabetic() {
                    i += src[i..]
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                        .unwrap_or(b.len() - i);
                    Kind::Ident
                } else {
                    let rest = &src[i..];
                    let len = ["...", "==", "!=", "<=", ">=", "&&", "||", "=>"]
                        .iter()
                        .find(|op| rest.starts_with(*op))
                        .map_or(c.len_utf8(), |op| op.len());
                    i += len;
                    Kind::Punct
                }
            }
        };
        out.push(Token {
            kind,
            text: &src[start..i],
            start,
        });
    }
    out
}

/// The end of the line starting at `i`, before its `\n` or `\r\n`.
fn line_end(src: &str, i: usize) -> usize {
    let end = src[i..].find('\n').map_or(src.len(), |p| i + p);
    if end > i && src.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

/// The end of the quoted string starting at `i` (just past its closing quote).
fn scan_string(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            m @ (b'$' | b'%') if b.get(j + 1) == Some(&m) && b.get(j + 2) == Some(&b'{') => {
                j += 3 // `$${` and `%%{` are literal text
            }
            b'$' | b'%' if b.get(j + 1) == Some(&b'{') => j = scan_interpolation(b, j + 2),
            _ => j += 1,
        }
    }
    b.len()
}

/// The end of a `${ ... }` or `%{ ... }` whose body starts at `i`.
fn scan_interpolation(b: &[u8], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => j = scan_string(b, j),
            b'{' => {
                depth += 1;
                j += 1;
            }
            b'}' if depth == 0 => return j + 1,
            b'}' => {
                depth -= 1;
                j += 1;
            }
            _ => j += 1,
        }
    }
    b.len()
}

/// The end of the heredoc starting at `i`: just past its closing marker.
fn scan_heredoc(src: &str, i: usize) -> usize {
    let mut j = i + 2;
    if src[j..].starts_with('-') {
        j += 1;
    }
    let marker_len = src[j..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(src.len() - j);
    let marker = &src[j..j + marker_len];
    let Some(newline) = src[j..].find('\n') else {
        return src.len();
    };
    // Where hcl-edit ends it: at the first line ending in the body that is
    // followed by spaces or tabs, the marker and no identifier character
    // (so `EOF.x` ends it, and anything after the marker is ordinary
    // tokens); interpolations are skipped whole. Only when there is none is
    // the first line itself the end (an empty heredoc). Found by fuzzing:
    // fmt ended heredocs only at a line holding the marker alone.
    let body = j + newline + 1;
    let b = src.as_bytes();
    let mut k = body;
    while k < b.len() {
        match b[k] {
            m @ (b'$' | b'%') if b.get(k + 1) == Some(&m) && b.get(k + 2) == Some(&b'{') => k += 3,
            b'$' | b'%' if b.get(k + 1) == Some(&b'{') => k = scan_interpolation(b, k + 2),
            b'\n' => {
                if let Some(end) = heredoc_end_at(src, k + 1, marker) {
                    return end;
                }
                k += 1;
            }
            _ => k += 1,
        }
    }
    heredoc_end_at(src, body, marker).unwrap_or(src.len())
}

/// Just past the closing marker if the line starting at `line_start`
/// closes a heredoc: spaces or tabs, the marker, no identifier character.
fn heredoc_end_at(src: &str, line_start: usize, marker: &str) -> Option<usize> {
    let line = src.get(line_start..)?;
    let rest = line.trim_start_matches([' ', '\t']);
    let after = rest.strip_prefix(marker)?;
    let id_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    (!marker.is_empty() && !after.chars().next().is_some_and(id_char))
        .then(|| line_start + (line.len() - rest.len()) + marker.len())
}

fn scan_number(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let is_digit = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') && is_digit(j + 1) {
        j = digits(j + 1);
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        if is_digit(j + 1) {
            j = digits(j + 1);
        } else if matches!(b.get(j + 1), Some(b'+' | b'-')) && is_digit(j + 2) {
            j = digits(j + 2);
        }
    }
    j
}

/// Whether one space goes between `subject` and `after` (`before` precedes
/// `subject` on the line). hclwrite's rules, for whole-string tokens.
fn space_after(before: Option<&Token>, subject: &Token, after: &Token) -> bool {
    // After these (or at the start of a line) a minus negates: `= -1`, `(-x`.
    const NEGATING: &[&str] = &[
        "(", "{", "[", "=", ":", ",", "?", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">",
        ">=", "&&", "||", "!", "=>",
    ];
    let negation_context =
        |t: Option<&Token>| t.is_none_or(|t| t.kind == Kind::Punct && NEGATING.contains(&t.text));
    // The first rule that applies decides.
    match () {
        _ if subject.kind == Kind::Ident && after.is("(") => false,
        _ if subject.is(".") || after.is(".") || after.is(",") || after.is("...") => false,
        _ if subject.is(",") => true,
        // `for x in [a, b]`: `in` is a keyword here, not an index base.
        _ if subject.kind == Kind::Ident
            && subject.text == "in"
            && before.is_some_and(|b| b.kind == Kind::Ident) =>
        {
            true
        }
        _ if after.is("[")
            && (matches!(subject.kind, Kind::Ident | Kind::Number) || subject.brackets() < 0) =>
        {
            false
        }
        _ if subject.is("-") => !negation_context(before),
        _ if subject.is("!") => false,
        _ if subject.is("{") || after.is("}") => !(subject.is("{") && after.is("}")),
        _ => subject.brackets() <= 0 && after.brackets() >= 0,
    }
}

/// One source line, split into cells the way hclwrite aligns them.
struct Line<'a> {
    tokens: Vec<Token<'a>>,
    indent: usize,
    /// Where the `=` of a single-line attribute is, if the line is one.
    assign: Option<usize>,
    /// Whether the last token is a trailing comment to align.
    comment: bool,
}

impl<'a> Line<'a> {
    fn new(tokens: Vec<Token<'a>>) -> Line<'a> {
        let multiline = tokens.iter().any(|t| t.text.contains('\n'));
        let comment = !multiline && tokens.len() > 1 && tokens[tokens.len() - 1].is_comment();
        let lead_end = tokens.len() - usize::from(comment);
        let assign = (1..lead_end)
            .find(|&i| tokens[i].is("="))
            .filter(|&i| tokens[i..lead_end].iter().map(Token::brackets).sum::<i32>() == 0)
            .filter(|&i| !tokens[..i].iter().any(|t| t.text.contains('\n')));
        Line {
            tokens,
            indent: 0,
            assign,
            comment,
        }
    }

    fn is_blank(&self) -> bool {
        self.tokens.is_empty()
    }

    fn code_end(&self) -> usize {
        self.tokens.len() - usize::from(self.comment)
    }

    /// The tokens in `range`, spaced; `range.start` gets no leading space.
    fn join(&self, range: std::ops::Range<usize>) -> String {
        let mut s = String::new();
        for i in range.clone() {
            if i > range.start {
                let before = i.checked_sub(2).map(|k| &self.tokens[k]);
                if space_after(before, &self.tokens[i - 1], &self.tokens[i]) {
                    s.push(' ');
                }
            }
            s.push_str(self.tokens[i].out());
        }
        s
    }

    /// The last token that is not a comment opens a bracket.
    fn opens(&self) -> bool {
        self.tokens[..self.code_end()]
            .last()
            .is_some_and(|t| t.brackets() > 0)
    }

    fn closes_first(&self) -> bool {
        self.tokens.first().is_some_and(|t| t.brackets() < 0)
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Re-spaces `src`: indentation, token spacing, alignment and blank lines.
fn layout(src: &str, block_ends: &BTreeSet<usize>, verbatim: &BTreeMap<usize, usize>) -> String {
    let mut lines: Vec<Line> = Vec::new();
    let mut current = Vec::new();
    for t in lex(src, verbatim) {
        if t.kind == Kind::Newline {
            lines.push(Line::new(std::mem::take(&mut current)));
        } else {
            current.push(t);
        }
    }
    lines.push(Line::new(current));

    // Indentation: hclwrite's stack of per-line net bracket counts, which
    // keeps lopsided bracketing (`}, {` or `])`) from drifting.
    let mut stack: Vec<i32> = Vec::new();
    for line in &mut lines {
        if line.is_blank() {
            continue;
        }
        let net: i32 = line.tokens.iter().map(Token::brackets).sum();
        if net > 0 {
            line.indent = stack.len();
            stack.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = stack.last_mut() else { break };
            if closed >= *top {
                closed -= *top;
                stack.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        line.indent = stack.len();
    }

    // Blank lines: none at the start or end, none just inside brackets, at
    // most one in a row, and exactly one after each top-level block. They
    // are decided before alignment, on the output's lines: a blank line
    // that is dropped must not split a run, nor one that is added join
    // one, or formatting again would align differently (found by fuzzing).
    let mut blank_before = vec![false; lines.len()];
    let mut prev: Option<&Line> = None;
    let mut pending_blank = false;
    let mut after_block = false;
    for (i, line) in lines.iter().enumerate() {
        if line.is_blank() {
            pending_blank = prev.is_some();
            continue;
        }
        let inside_brackets = prev.is_some_and(Line::opens) || line.closes_first();
        blank_before[i] = after_block || (pending_blank && !inside_brackets);
        after_block = line
            .tokens
            .iter()
            .any(|t| t.is("}") && block_ends.contains(&t.start));
        pending_blank = false;
        prev = Some(line);
    }
    // Cells: lead (before `=`), assign (from `=`), comment.
    struct Cells {
        lead: String,
        assign: String,
        comment: String,
        eq_pad: usize,
    }
    let mut cells: Vec<Cells> = lines
        .iter()
        .map(|line| {
            let code_end = line.code_end();
            let lead_end = line.assign.unwrap_or(code_end);
            Cells {
                lead: format!("{}{}", "  ".repeat(line.indent), line.join(0..lead_end)),
                assign: line
                    .assign
                    .map_or(String::new(), |i| line.join(i..code_end)),
                comment: if line.comment {
                    line.tokens[code_end].out().to_string()
                } else {
                    String::new()
                },
                eq_pad: 1,
            }
        })
        .collect();

    // Align `=` over runs of consecutive single-line attributes.
    for run in runs(&lines, &blank_before, |l| l.assign.is_some()) {
        let max = run
            .iter()
            .map(|&k| width(&cells[k].lead))
            .max()
            .unwrap_or(0);
        for &k in &run {
            cells[k].eq_pad = max - width(&cells[k].lead) + 1;
        }
    }
    let code = |c: &Cells| {
        if c.assign.is_empty() {
            c.lead.clone()
        } else {
            format!("{}{}{}", c.lead, " ".repeat(c.eq_pad), c.assign)
        }
    };
    let mut texts: Vec<String> = cells.iter().map(code).collect();

    // Align trailing comments over runs of consecutive commented lines.
    for run in runs(&lines, &blank_before, |l| l.comment) {
        let max = run.iter().map(|&k| width(&texts[k])).max().unwrap_or(0);
        for &k in &run {
            let pad = max - width(&texts[k]) + 1;
            texts[k] = format!("{}{}{}", texts[k], " ".repeat(pad), cells[k].comment);
        }
    }

    let mut out = String::new();
    for ((line, text), blank) in lines.iter().zip(texts).zip(blank_before) {
        if line.is_blank() {
            continue;
        }
        if blank {
            out.push('\n');
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// The runs of consecutive lines passing `wanted`, as the output has them:
/// input blank lines are skipped (whether the output has one is
/// `blank_before` of the next line), and a blank line in the output ends a
/// run.
fn runs(lines: &[Line], blank_before: &[bool], wanted: impl Fn(&Line) -> bool) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_blank() {
            continue;
        }
        if (blank_before[i] || !wanted(line)) && !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
        if wanted(line) {
            run.push(i);
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SourceFile, parse_files};

    fn fmt(text: &str) -> String {
        format("t.hcl", text).unwrap_or_else(|d| panic!("{d}"))
    }

    /// Fuzzing regression (fuzz/artifacts/fmt/crash-11f4de6b…): a lone
    /// `\r` was a token, so formatting was not idempotent.
    #[test]
    fn a_lone_carriage_return_is_blank_space() {
        assert_eq!(fmt("\r"), "");
        let text = "\ruser \"a\" { \r\n  email = \"a@x\"\n}\n\r";
        let once = fmt(text);
        assert_eq!(fmt(&once), once);
        assert_eq!(once, "user \"a\" {\n  email = \"a@x\"\n}\n");
    }

    /// Fuzzing regression (fuzz/regressions/fmt/crash-c33a586d…): a `"`
    /// in a comment inside an interpolation made the lexer's own scan run
    /// the string to the end of the file, newlines and all, so every pass
    /// added a blank line at the end. String ends now come from the parser.
    #[test]
    fn a_quote_in_a_comment_inside_an_interpolation_ends_nothing() {
        let text = "a = \"${ 1 /* \" */ }\"\nb   = 2\n\n\n";
        let once = fmt(text);
        assert_eq!(once, "a = \"${ 1 /* \" */ }\"\nb = 2\n");
        assert_eq!(fmt(&once), once);
    }

    /// Fuzzing regression (fuzz/artifacts/fmt/crash-e8b8207d…): a blank
    /// line that fmt drops (just inside brackets) split a run of trailing
    /// comments, and one it adds (after a top-level block) joined two, so
    /// formatting again aligned them differently.
    #[test]
    fn comments_align_over_the_lines_the_output_has() {
        let dropped = "team \"a\" {\n  x {\n  } # one\n\n} # two\n";
        let once = fmt(dropped);
        assert_eq!(once, "team \"a\" {\n  x {\n  } # one\n}   # two\n");
        assert_eq!(fmt(&once), once);
        let added = "a {\n} # one\nb = 1 # two\n";
        let once = fmt(added);
        assert_eq!(once, "a {\n} # one\n\nb = 1 # two\n");
        assert_eq!(fmt(&once), once);
    }

    /// Fuzzing regression (fuzz/artifacts/fmt/crash-e34aad5d…): hcl-edit
    /// ends a heredoc at its marker followed by any non-identifier
    /// character, and fmt's lexer only at a line holding the marker alone,
    /// so the heredoc token swallowed the rest of the file.
    #[test]
    fn a_heredoc_ends_where_hcl_ends_it() {
        let text = "a = <<V\nx\nVV\nV .y\n\n\nb = 1\n";
        assert!(hcl_edit::parser::parse_body(text).is_ok());
        let once = fmt(text);
        assert_eq!(fmt(&once), once);
        assert_eq!(once, "a = <<V\nx\nVV\nV.y\n\nb = 1\n");
        // (crash-3daa2806…) The first line never closes it when a later
        // one does, and an interpolation is skipped whole.
        for text in [
            "r = <<V\nV = \"x\nV0\n\nV\n\n",
            "r = <<V\nV\ny\nV\n",
            "r = <<V\na ${\"\nV\"} b\nV\n\n",
            "r = <<V\nV\n\nb = 1\n",
        ] {
            assert!(hcl_edit::parser::parse_body(text).is_ok(), "{text:?}");
            let once = fmt(text);
            assert_eq!(fmt(&once), once, "{text:?}");
            assert!(once.ends_with("V\n") || once.ends_with("= 1\n"), "{once:?}");
        }
    }

    #[test]
    fn aligns_equals_in_a_run_of_single_line_attributes() {
        let text = "user \"a\" {\nemail = \"a@x\"\n    github=\"a\"\n  aws =  \"arn\"\n}\n";
        assert_eq!(
            fmt(text),
            "user \"a\" {\n  email  = \"a@x\"\n  github = \"a\"\n  aws    = \"arn\"\n}\n"
        );
    }

    #[test]
    fn a_multi_line_value_ends_the_run() {
        let text = "statement {\n  actions = [\"a\"]\n  resources = [\n\"x\",\n  ]\n  b = 1\n}\n";
        assert_eq!(
            fmt(text),
            "statement {\n  actions = [\"a\"]\n  resources = [\n    \"x\",\n  ]\n  b = 1\n}\n"
        );
    }

    #[test]
    fn blank_and_comment_lines_end_the_run() {
        let text = "x {\n  a = 1\n\n  bbb = 2\n  # c\n  cc = 3\n  d = 4\n}\n";
        assert_eq!(
            fmt(text),
            "x {\n  a = 1\n\n  bbb = 2\n  # c\n  cc = 3\n  d  = 4\n}\n"
        );
    }

    #[test]
    fn keeps_and_aligns_comments() {
        let text = "# top\nsettings {\n  branch = \"main\" # the truth\n  github_repository = \"a/b\"   # gh\n  // inner\n  /* block */ admins = []\n}\n";
        assert_eq!(
            fmt(text),
            "# top\nsettings {\n  branch            = \"main\" # the truth\n  github_repository = \"a/b\"  # gh\n  // inner\n  /* block */ admins = []\n}\n"
        );
    }

    #[test]
    fn one_blank_line_between_top_level_blocks() {
        let text = "\n\nteam \"a\" { members = [\"x\"] }\nteam \"b\" {members=[\"y\",\"z\"]}\n\n\n\n# about c\nteam \"c\" {\n\n  members = []\n\n}\n\n\n";
        assert_eq!(
            fmt(text),
            "team \"a\" { members = [\"x\"] }\n\nteam \"b\" { members = [\"y\", \"z\"] }\n\n# about c\nteam \"c\" {\n  members = []\n}\n"
        );
    }

    #[test]
    fn removes_trailing_whitespace_tabs_and_crlf() {
        let text = "user \"a\" {\r\n\temail = \"a\"   \r\n  aws = \"b\" # c   \r\n}";
        assert_eq!(
            fmt(text),
            "user \"a\" {\n  email = \"a\"\n  aws   = \"b\" # c\n}\n"
        );
    }

    #[test]
    fn strings_and_heredocs_are_copied_verbatim() {
        let text = "x {\n  a = \"  ${ b }  $${c} \\\" {\"\n  h = <<EOT\n   keep   \n  this\nEOT\n  s = \"%{ if true }x%{ endif }\"\n}\n";
        assert_eq!(fmt(text), text);
    }

    #[test]
    fn spaces_expressions_like_terraform() {
        let text = "x {\n  a = f( 1 ,2 )\n  b = [ for v in [1,2] : v ]\n  c = a.b [0]\n  d = - 1\n  e = 1 -2\n  g = ! true\n  h = {k=1}\n  i = {}\n}\n";
        assert_eq!(
            fmt(text),
            "x {\n  a = f(1, 2)\n  b = [for v in [1, 2] : v]\n  c = a.b[0]\n  d = -1\n  e = 1 - 2\n  g = !true\n  h = { k = 1 }\n  i = {}\n}\n"
        );
    }

    #[test]
    fn nested_brackets_indent_by_two() {
        let text = "role \"r\" {\nstatement {\nactions = [\n\"a\",\n\"b\", # why\n]\n}\n}\n";
        assert_eq!(
            fmt(text),
            "role \"r\" {\n  statement {\n    actions = [\n      \"a\",\n      \"b\", # why\n    ]\n  }\n}\n"
        );
    }

    #[test]
    fn a_syntax_error_is_a_diagnostic_at_its_position() {
        let d = format("people.hcl", "user \"a\" {\n  email = \n}\n").unwrap_err();
        assert!(
            d.to_string().starts_with("people.hcl:2:") && d.message.contains("syntax error"),
            "{d}"
        );
    }

    #[test]
    fn empty_input_stays_empty() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
    }

    /// Every shipped example and policy: formatting is idempotent and keeps
    /// the model (definitions and requests) exactly as it was.
    #[test]
    fn shipped_files_keep_their_meaning_and_are_stable() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("policies"), root.join("examples/acme")];
        for entry in std::fs::read_dir(root.join("examples/invalid")).unwrap() {
            let dir = entry.unwrap().path();
            if dir.is_dir() {
                dirs.push(dir);
            }
        }
        let mut checked = 0;
        for dir in dirs {
            let files = crate::worktree::read_hcl_files(&dir).unwrap();
            let mut formatted = Vec::new();
            let mut syntax_errors = 0;
            for f in &files {
                match format(&f.path, &f.text) {
                    Ok(out) => {
                        assert_eq!(
                            format(&f.path, &out).unwrap(),
                            out,
                            "{}/{} is not stable",
                            dir.display(),
                            f.path
                        );
                        formatted.push(SourceFile {
                            path: f.path.clone(),
                            text: out,
                        });
                        checked += 1;
                    }
                    Err(_) => {
                        syntax_errors += 1;
                        formatted.push(f.clone());
                    }
                }
            }
            let (before, _) = parse_files(&files);
            let (after, _) = parse_files(&formatted);
            assert_eq!(before.defs, after.defs, "{}", dir.display());
            assert_eq!(before.requests, after.requests, "{}", dir.display());
            if !dir.ends_with("syntax-error") {
                assert_eq!(syntax_errors, 0, "{}", dir.display());
            }
        }
        assert!(checked > 40, "only {checked} files checked");
    }

    #[test]
    fn acme_and_policies_are_canonical() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["policies", "examples/acme"] {
            for f in crate::worktree::read_hcl_files(&root.join(dir)).unwrap() {
                assert_eq!(
                    format(&f.path, &f.text).unwrap(),
                    f.text,
                    "{dir}/{}",
                    f.path
                );
            }
        }
    }
}
