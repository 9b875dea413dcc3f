//! HCL text -> model. Uses hcl-edit so every block and attribute keeps its
//! source position; reports every problem instead of stopping at the first.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hcl_edit::expr::Expression;
use hcl_edit::repr::Span;
use hcl_edit::structure::{Attribute, Block, Body, Structure};

use super::*;
use crate::diag::{Diagnostic, Loc, Subject};

/// One file of the access repo: its path relative to the repo root and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

pub const NAME_RULE: &str = "^[a-z0-9][a-z0-9-]{0,62}$";

pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// What kind of file a path is, by where it lives in the repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Definitions,
    Request,
    Archive,
    Other,
}

pub fn file_kind(path: &str) -> FileKind {
    if !path.ends_with(".hcl") {
        FileKind::Other
    } else if let Some(file) = path.strip_prefix("requests/") {
        // Only files directly under requests/ are requests; anything else
        // there is neither a request nor a definition.
        if file.contains('/') {
            FileKind::Other
        } else {
            FileKind::Request
        }
    } else if path.starts_with("archive/") {
        FileKind::Archive
    } else {
        FileKind::Definitions
    }
}

/// Parses every definitions and request file. Archive and non-HCL files are
/// skipped. Returns the model and every problem found while reading it.
pub fn parse_files(files: &[SourceFile]) -> (AccessRepo, Vec<Diagnostic>) {
    let mut files: Vec<&SourceFile> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut p = Parser::default();
    let mut saw_settings = None::<Loc>;
    for f in files {
        let kind = file_kind(&f.path);
        if matches!(kind, FileKind::Archive | FileKind::Other) {
            continue;
        }
        let file: Arc<str> = Arc::from(f.path.as_str());
        let body = match hcl_edit::parser::parse_body(&f.text) {
            Ok(body) => body,
            Err(e) => {
                let loc = e.location();
                let subject = match kind {
                    FileKind::Request => Subject::Request(stem(&f.path).to_string()),
                    _ => Subject::Other,
                };
                p.diags.push(
                    Diagnostic::error(
                        Loc::new(&file, loc.line() as u32, loc.column() as u32),
                        format!("syntax error: {}", e.message()),
                    )
                    .about(subject),
                );
                continue;
            }
        };
        let ctx = FileCtx {
            file,
            lines: LineIndex::new(&f.text),
        };
        match kind {
            FileKind::Request => p.request_file(&ctx, &f.path, &body),
            _ => p.definitions_file(&ctx, &body, &mut saw_settings),
        }
    }
    (p.repo, p.diags)
}

fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".hcl").unwrap_or(name)
}

struct LineIndex {
    starts: Vec<usize>,
    text: String,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            starts,
            text: text.to_string(),
        }
    }

    fn line_col(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self.text[start..offset.min(self.text.len())]
            .chars()
            .count()
            + 1;
        (line as u32, col as u32)
    }
}

struct FileCtx {
    file: Arc<str>,
    lines: LineIndex,
}

impl FileCtx {
    fn loc(&self, span: Option<std::ops::Range<usize>>) -> Loc {
        let (line, col) = span.map_or((1, 1), |s| self.lines.line_col(s.start));
        Loc::new(&self.file, line, col)
    }
}

#[derive(Default)]
struct Parser {
    repo: AccessRepo,
    diags: Vec<Diagnostic>,
    /// Where each (kind, name) was first defined, for duplicate errors.
    seen: BTreeMap<(&'static str, String), Loc>,
}

impl Parser {
    fn definitions_file(&mut self, ctx: &FileCtx, body: &Body, saw_settings: &mut Option<Loc>) {
        for structure in body.iter() {
            let block = match structure {
                Structure::Block(b) => b,
                Structure::Attribute(a) => {
                    self.diags.push(
                        Diagnostic::error(
                            ctx.loc(a.key.span()),
                            format!(
                                "unexpected attribute `{}` outside of a block",
                                a.key.as_str()
                            ),
                        )
                        .with_hint("attributes belong inside a block such as `settings { ... }`"),
                    );
                    continue;
                }
            };
            let kind = block.ident.as_str();
            if kind == "settings" {
                let loc = ctx.loc(block.ident.span());
                if let Some(first) = saw_settings {
                    self.diags.push(Diagnostic::error(
                        loc,
                        format!("duplicate settings block (first defined at {first})"),
                    ));
                    continue;
                }
                *saw_settings = Some(loc);
                if !block.labels.is_empty() {
                    self.diags.push(Diagnostic::error(
                        ctx.loc(block.labels[0].span()),
                        "the settings block takes no label",
                    ));
                }
                self.repo.defs.settings = self.settings(ctx, block);
                continue;
            }
            let kind: &'static str = match kind {
                "account" => "account",
                "user" => "user",
                "team" => "team",
                "role" => "role",
                "contract" => "contract",
                "guardrail" => "guardrail",
                "request" => {
                    self.diags.push(Diagnostic::error(
                        ctx.loc(block.ident.span()),
                        "request blocks belong in requests/<name>.hcl, one per file",
                    ));
                    continue;
                }
                other => {
                    self.diags.push(
                        Diagnostic::error(
                            ctx.loc(block.ident.span()),
                            format!("unknown block type `{other}`"),
                        )
                        .with_hint(
                            "expected settings, account, user, team, role, contract or guardrail",
                        ),
                    );
                    continue;
                }
            };
            let Some(name) = self.label(ctx, block, kind) else {
                continue;
            };
            let mut r = Reader::new(ctx, block, &mut self.diags);
            let defs = &mut self.repo.defs;
            match kind {
                "account" => {
                    let a = Account {
                        id: r.required_string("id"),
                        role_arn: r.string("role_arn"),
                        name: name.clone(),
                        meta: r.finish(&[]),
                    };
                    if !(a.id.len() == 12 && a.id.bytes().all(|b| b.is_ascii_digit())) {
                        self.diags.push(Diagnostic::error(
                            a.meta.at("id").clone(),
                            format!("account id `{}` must be 12 digits", a.id),
                        ));
                    }
                    defs.accounts.insert(name, a);
                }
                "user" => {
                    let u = User {
                        email: r.required_string("email"),
                        github: r.string("github"),
                        aws: r.required_string("aws"),
                        name: name.clone(),
                        meta: r.finish(&[]),
                    };
                    defs.users.insert(name, u);
                }
                "team" => {
                    let t = Team {
                        members: r.strings("members"),
                        name: name.clone(),
                        meta: r.finish(&[]),
                    };
                    defs.teams.insert(name, t);
                }
                "role" => {
                    let description = r.string("description").unwrap_or_default();
                    let mut statements = Vec::new();
                    for sb in r.blocks("statement") {
                        let mut s = r.nested(sb);
                        statements.push(Statement {
                            actions: s.required_strings("actions"),
                            resources: s.strings("resources"),
                            meta: s.finish(&[]),
                        });
                    }
                    let meta = r.finish(&["statement"]);
                    if statements.is_empty() {
                        self.diags.push(
                            Diagnostic::error(
                                meta.loc.clone(),
                                format!("role `{name}` has no statement block"),
                            )
                            .with_hint("add `statement { actions = [...] resources = [] }`")
                            .about(Subject::Role(name.clone())),
                        );
                    }
                    defs.roles.insert(
                        name.clone(),
                        Role {
                            name,
                            description,
                            statements,
                            meta,
                        },
                    );
                }
                "contract" => {
                    let c = self::contract(r, name.clone());
                    defs.contracts.insert(name, c);
                }
                "guardrail" => {
                    let g = Guardrail {
                        description: r.string("description").unwrap_or_default(),
                        max_duration: r.duration("max_duration"),
                        require_mfa: r.bool("require_mfa").unwrap_or(false),
                        accounts: r.strings("accounts"),
                        deny_actions: r.strings("deny_actions"),
                        breakglass_owners: r.selectors("breakglass_owners"),
                        name: name.clone(),
                        meta: r.finish(&[]),
                    };
                    defs.guardrails.insert(name, g);
                }
                _ => unreachable!("kinds are matched above"),
            }
        }
    }

    fn request_file(&mut self, ctx: &FileCtx, path: &str, body: &Body) {
        let expected = stem(path);
        let mut count = 0;
        for structure in body.iter() {
            let subject = Subject::Request(expected.to_string());
            let block = match structure {
                Structure::Block(b) if b.ident.as_str() == "request" => b,
                Structure::Block(b) => {
                    self.diags.push(
                        Diagnostic::error(
                            ctx.loc(b.ident.span()),
                            format!(
                                "a request file must contain exactly one request block, found `{}`",
                                b.ident.as_str()
                            ),
                        )
                        .with_hint("definitions belong outside requests/")
                        .about(subject),
                    );
                    continue;
                }
                Structure::Attribute(a) => {
                    self.diags.push(
                        Diagnostic::error(
                            ctx.loc(a.key.span()),
                            format!(
                                "unexpected attribute `{}` outside of a block",
                                a.key.as_str()
                            ),
                        )
                        .about(subject),
                    );
                    continue;
                }
            };
            count += 1;
            if count > 1 {
                self.diags.push(
                    Diagnostic::error(
                        ctx.loc(block.ident.span()),
                        "a request file must contain exactly one request block",
                    )
                    .with_hint("split it: one requests/<name>.hcl per request")
                    .about(subject),
                );
                continue;
            }
            if let [label] = block.labels.as_slice()
                && label.as_str() != expected
            {
                // The file's path names the request: a file can never speak
                // for (or invalidate) another request.
                let name = label.as_str();
                self.diags.push(
                    Diagnostic::error(
                        ctx.loc(label.span()),
                        format!("request name `{name}` does not match file name `{expected}.hcl`"),
                    )
                    .with_hint(format!(
                        "rename the file to requests/{name}.hcl or the block to \"{expected}\""
                    ))
                    .about(Subject::Request(expected.to_string())),
                );
                continue;
            }
            let Some(name) = self.label(ctx, block, "request") else {
                continue;
            };
            let mut r = Reader::new(ctx, block, &mut self.diags);
            let req = Request {
                requester: r.required_string("requester"),
                contract: r.required_string("contract"),
                duration: r.duration("duration"),
                reason: r.string("reason").unwrap_or_default(),
                resources: r.strings("resources"),
                not_before: r.time("not_before"),
                name: name.clone(),
                meta: r.finish(&[]),
            };
            self.repo.requests.insert(name, req);
        }
        if count == 0 {
            self.diags.push(
                Diagnostic::error(
                    Loc::file(path),
                    "a request file must contain exactly one request block, found none",
                )
                .about(Subject::Request(expected.to_string())),
            );
        }
    }

    /// The block's single label, checked as a name and for duplicates.
    fn label(&mut self, ctx: &FileCtx, block: &Block, kind: &'static str) -> Option<String> {
        let loc = ctx.loc(block.ident.span());
        let subject = |name: &str| match kind {
            "request" => Subject::Request(name.to_string()),
            "contract" => Subject::Contract(name.to_string()),
            "role" => Subject::Role(name.to_string()),
            _ => Subject::Other,
        };
        if block.labels.len() != 1 {
            self.diags.push(Diagnostic::error(
                loc,
                format!("a {kind} block needs exactly one label: {kind} \"<name>\" {{ ... }}"),
            ));
            return None;
        }
        let name = block.labels[0].as_str().to_string();
        if !is_valid_name(&name) {
            self.diags.push(
                Diagnostic::error(
                    ctx.loc(block.labels[0].span()),
                    format!("invalid name `{name}`: names match {NAME_RULE}"),
                )
                .with_hint("use lowercase letters, digits and dashes")
                .about(subject(&name)),
            );
            return None;
        }
        if let Some(first) = self.seen.get(&(kind, name.clone())) {
            self.diags.push(
                Diagnostic::error(
                    loc,
                    format!("duplicate {kind} `{name}` (first defined at {first})"),
                )
                .with_hint("names must be unique across all files")
                .about(subject(&name)),
            );
            return None;
        }
        self.seen.insert((kind, name.clone()), loc);
        Some(name)
    }

    fn settings(&mut self, ctx: &FileCtx, block: &Block) -> Settings {
        let mut r = Reader::new(ctx, block, &mut self.diags);
        let d = Settings::default();
        let approval = match r.string("approval").as_deref() {
            None | Some("trailers") => ApprovalMode::Trailers,
            Some("github") => ApprovalMode::Github,
            Some(other) => {
                let loc = r.loc_of("approval");
                r.diags.push(Diagnostic::error(
                    loc,
                    format!("approval must be \"trailers\" or \"github\", not \"{other}\""),
                ));
                ApprovalMode::Trailers
            }
        };
        let mut s = Settings {
            branch: r.string("branch").unwrap_or(d.branch),
            approval,
            github_repository: r.string("github_repository"),
            admins: r.selectors("admins"),
            trust_anchor: r.string("trust_anchor"),
            bot: d.bot,
            quotas: d.quotas,
            meta: None,
        };
        for b in r.blocks("bot") {
            let mut br = Reader::new(ctx, b, r.diags);
            s.bot = Bot {
                name: br.required_string("name"),
                email: br.required_string("email"),
            };
            br.finish(&[]);
        }
        for b in r.blocks("quotas") {
            let mut q = Reader::new(ctx, b, r.diags);
            let d = Quotas::default();
            s.quotas = Quotas {
                user_inline: q
                    .number("user_inline")
                    .map_or(d.user_inline, |n| n as usize),
                role_inline: q
                    .number("role_inline")
                    .map_or(d.role_inline, |n| n as usize),
                managed_policy: q
                    .number("managed_policy")
                    .map_or(d.managed_policy, |n| n as usize),
                managed_per_principal: q
                    .number("managed_per_principal")
                    .map_or(d.managed_per_principal, |n| n as usize),
                trust_policy: q
                    .number("trust_policy")
                    .map_or(d.trust_policy, |n| n as usize),
            };
            q.finish(&[]);
        }
        s.meta = Some(r.finish(&["bot", "quotas"]));
        s
    }
}

fn contract(mut r: Reader<'_, '_>, name: String) -> Contract {
    let mode = match r.string("mode").as_deref() {
        None | Some("inline_policy") => Mode::InlinePolicy,
        Some("managed_policy") => Mode::ManagedPolicy,
        Some("assume_role") => Mode::AssumeRole,
        Some(other) => {
            let loc = r.loc_of("mode");
            r.diags.push(
                Diagnostic::error(
                    loc,
                    format!("mode must be \"inline_policy\", \"managed_policy\" or \"assume_role\", not \"{other}\""),
                )
                .about(Subject::Contract(name.clone())),
            );
            Mode::InlinePolicy
        }
    };
    let max_duration = r
        .duration("max_duration")
        .unwrap_or(Duration::from_minutes(60));
    Contract {
        description: r.string("description").unwrap_or_default(),
        role: r.required_string("role"),
        resources: r.strings("resources"),
        requesters: r.selectors("requesters"),
        approvers: r.selectors("approvers"),
        min_approvals: r.number("min_approvals").map_or(1, |n| n as u32),
        auto_approve: r.bool("auto_approve").unwrap_or(false),
        default_duration: r
            .duration("default_duration")
            .unwrap_or(max_duration.min(Duration::from_minutes(60))),
        max_duration,
        require_mfa: r.bool("require_mfa").unwrap_or(false),
        require_reason: r.bool("require_reason").unwrap_or(false),
        mode,
        role_arn: r.string("role_arn"),
        owners: r.selectors("owners"),
        breakglass: r.bool("breakglass").unwrap_or(false),
        meta: r.finish(&[]),
        name,
    }
}

/// Reads one block's attributes by name, reporting type errors at the
/// value and, on `finish`, every attribute or block nobody asked for.
struct Reader<'a, 'd> {
    ctx: &'a FileCtx,
    block: &'a Block,
    kind: String,
    attrs: BTreeMap<&'a str, &'a Attribute>,
    taken: Vec<&'a str>,
    locs: BTreeMap<String, Loc>,
    subject: Subject,
    diags: &'d mut Vec<Diagnostic>,
}

impl<'a, 'd> Reader<'a, 'd> {
    fn new(ctx: &'a FileCtx, block: &'a Block, diags: &'d mut Vec<Diagnostic>) -> Reader<'a, 'd> {
        let mut attrs = BTreeMap::new();
        for a in block.body.attributes() {
            if attrs.insert(a.key.as_str(), a).is_some() {
                diags.push(Diagnostic::error(
                    ctx.loc(a.key.span()),
                    format!("attribute `{}` is set more than once", a.key.as_str()),
                ));
            }
        }
        Reader {
            ctx,
            block,
            kind: block.ident.as_str().to_string(),
            attrs,
            taken: Vec::new(),
            locs: BTreeMap::new(),
            subject: match block.ident.as_str() {
                "request" | "contract" | "role" if block.labels.len() == 1 => {
                    let name = block.labels[0].as_str().to_string();
                    match block.ident.as_str() {
                        "request" => Subject::Request(name),
                        "contract" => Subject::Contract(name),
                        _ => Subject::Role(name),
                    }
                }
                _ => Subject::Other,
            },
            diags,
        }
    }

    /// Every problem in a request, contract or role block makes that object unusable.
    fn report(&mut self, d: Diagnostic) {
        let d = d.about(self.subject.clone());
        self.diags.push(d);
    }

    /// Nested blocks (role statements) report about their parent.
    fn nested(&mut self, block: &'a Block) -> Reader<'a, '_> {
        let mut r = Reader::new(self.ctx, block, self.diags);
        r.subject = self.subject.clone();
        r
    }

    fn loc_of(&self, key: &str) -> Loc {
        match self.attrs.get(key) {
            Some(a) => self.ctx.loc(a.value.span()),
            None => self.ctx.loc(self.block.ident.span()),
        }
    }

    fn take(&mut self, key: &'a str) -> Option<&'a Expression> {
        self.taken.push(key);
        let a = *self.attrs.get(key)?;
        self.locs
            .insert(key.to_string(), self.ctx.loc(a.key.span()));
        Some(&a.value)
    }

    fn type_error(&mut self, key: &str, expected: &str) {
        let loc = self.loc_of(key);
        self.report(Diagnostic::error(
            loc,
            format!("`{key}` must be {expected}"),
        ));
    }

    fn string(&mut self, key: &'a str) -> Option<String> {
        let v = self.take(key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error(key, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, key: &'a str) -> String {
        if !self.attrs.contains_key(key) {
            let loc = self.ctx.loc(self.block.ident.span());
            self.report(Diagnostic::error(
                loc,
                format!("{} block is missing required attribute `{key}`", self.kind),
            ));
        }
        self.string(key).unwrap_or_default()
    }

    fn strings(&mut self, key: &'a str) -> Vec<String> {
        let Some(v) = self.take(key) else {
            return Vec::new();
        };
        let items: Option<Vec<String>> = v
            .as_array()
            .and_then(|a| a.iter().map(|e| e.as_str().map(str::to_string)).collect());
        items.unwrap_or_else(|| {
            self.type_error(key, "a list of strings");
            Vec::new()
        })
    }

    fn required_strings(&mut self, key: &'a str) -> Vec<String> {
        if !self.attrs.contains_key(key) {
            let loc = self.ctx.loc(self.block.ident.span());
            self.report(Diagnostic::error(
                loc,
                format!("{} block is missing required attribute `{key}`", self.kind),
            ));
        }
        self.strings(key)
    }

    fn bool(&mut self, key: &'a str) -> Option<bool> {
        let v = self.take(key)?;
        v.as_bool().or_else(|| {
            self.type_error(key, "true or false");
            None
        })
    }

    fn number(&mut self, key: &'a str) -> Option<u64> {
        let v = self.take(key)?;
        v.as_number().and_then(|n| n.as_u64()).or_else(|| {
            self.type_error(key, "a number (a whole number, 0 or more)");
            None
        })
    }

    fn duration(&mut self, key: &'a str) -> Option<Duration> {
        let text = self.string(key)?;
        match Duration::parse(&text) {
            Ok(d) => Some(d),
            Err(msg) => {
                let loc = self.loc_of(key);
                self.report(Diagnostic::error(loc, msg));
                None
            }
        }
    }

    fn time(&mut self, key: &'a str) -> Option<DateTime<Utc>> {
        let text = self.string(key)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                let loc = self.loc_of(key);
                self.report(
                    Diagnostic::error(
                        loc,
                        format!("`{key}` must be an RFC 3339 time, not `{text}`"),
                    )
                    .with_hint("like \"2026-11-23T09:00:00Z\""),
                );
                None
            }
        }
    }

    fn selectors(&mut self, key: &'a str) -> Vec<Selector> {
        let mut out = Vec::new();
        for s in self.strings(key) {
            match s.split_once(':') {
                Some(("team", n)) if !n.is_empty() => out.push(Selector::Team(n.to_string())),
                Some(("user", n)) if !n.is_empty() => out.push(Selector::User(n.to_string())),
                _ => {
                    let loc = self.loc_of(key);
                    self.report(Diagnostic::error(
                        loc,
                        format!("invalid selector `{s}` in `{key}`: use \"team:<name>\" or \"user:<name>\""),
                    ));
                }
            }
        }
        out
    }

    fn blocks(&self, ident: &'a str) -> Vec<&'a Block> {
        self.block.body.get_blocks(ident).collect()
    }

    /// Reports unknown attributes and nested blocks; returns the block's locations.
    fn finish(mut self, nested: &[&str]) -> Meta {
        let unknown_attrs: Vec<Diagnostic> = self
            .attrs
            .iter()
            .filter(|(key, _)| !self.taken.contains(key))
            .map(|(key, a)| {
                Diagnostic::error(
                    self.ctx.loc(a.key.span()),
                    format!("unknown attribute `{key}` in {} block", self.kind),
                )
            })
            .collect();
        let unknown_blocks: Vec<Diagnostic> = self
            .block
            .body
            .blocks()
            .filter(|b| !nested.contains(&b.ident.as_str()))
            .map(|b| {
                Diagnostic::error(
                    self.ctx.loc(b.ident.span()),
                    format!(
                        "unknown block type `{}` in {} block",
                        b.ident.as_str(),
                        self.kind
                    ),
                )
            })
            .collect();
        for d in unknown_attrs.into_iter().chain(unknown_blocks) {
            self.report(d);
        }
        Meta {
            loc: self.ctx.loc(self.block.ident.span()),
            attrs: self.locs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(files: &[(&str, &str)]) -> (AccessRepo, Vec<Diagnostic>) {
        let files: Vec<SourceFile> = files
            .iter()
            .map(|(p, t)| SourceFile {
                path: p.to_string(),
                text: t.to_string(),
            })
            .collect();
        parse_files(&files)
    }

    #[test]
    fn reads_a_contract_with_every_attribute_and_its_locations() {
        let text = r#"
contract "c" {
  description      = "d"
  role             = "r"
  resources        = ["arn:a", "arn:b"]
  requesters       = ["team:eng", "user:dave"]
  approvers        = ["team:dba"]
  min_approvals    = 2
  auto_approve     = false
  max_duration     = "4h"
  default_duration = "30m"
  require_mfa      = true
  require_reason   = true
  mode             = "managed_policy"
  role_arn         = "arn:aws:iam::123456789012:role/x"
  owners           = ["team:security"]
  breakglass       = true
}
"#;
        let (repo, diags) = parse(&[("contracts/c.hcl", text)]);
        assert!(diags.is_empty(), "{diags:?}");
        let c = &repo.defs.contracts["c"];
        assert_eq!(c.resources, ["arn:a", "arn:b"]);
        assert_eq!(
            c.requesters,
            [Selector::Team("eng".into()), Selector::User("dave".into())]
        );
        assert_eq!(c.min_approvals, 2);
        assert_eq!(c.max_duration.minutes(), 240);
        assert_eq!(c.default_duration.minutes(), 30);
        assert!(c.require_mfa && c.require_reason && c.breakglass && !c.auto_approve);
        assert_eq!(c.mode, Mode::ManagedPolicy);
        assert_eq!(c.meta.loc.to_string(), "contracts/c.hcl:2:1");
        assert_eq!(
            c.meta.at("min_approvals").to_string(),
            "contracts/c.hcl:8:3"
        );
    }

    #[test]
    fn defaults_apply_when_attributes_are_absent() {
        let (repo, _) = parse(&[("c.hcl", "contract \"c\" {\n  role = \"r\"\n}\n")]);
        let c = &repo.defs.contracts["c"];
        assert_eq!(
            (c.min_approvals, c.auto_approve, c.mode),
            (1, false, Mode::InlinePolicy)
        );
        assert_eq!(
            (c.max_duration.minutes(), c.default_duration.minutes()),
            (60, 60)
        );
        assert_eq!(repo.defs.settings.branch, "main");
        assert_eq!(repo.defs.settings.quotas.user_inline, 2048);
    }

    #[test]
    fn escaped_interpolation_is_a_plain_string() {
        let text = "role \"r\" {\n  statement {\n    actions = [\"ssm:StartSession\"]\n    resources = [\"arn:aws:ssm:*:*:session/$${aws:username}-*\"]\n  }\n}\n";
        let (repo, diags) = parse(&[("roles/r.hcl", text)]);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            repo.defs.roles["r"].statements[0].resources,
            ["arn:aws:ssm:*:*:session/${aws:username}-*"]
        );
    }

    #[test]
    fn reports_every_problem_in_one_block() {
        let text = "user \"a\" {\n  email = 1\n  colour = \"red\"\n}\n";
        let (_, diags) = parse(&[("people.hcl", text)]);
        let msgs: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert!(
            msgs.iter().any(
                |m| m.starts_with("people.hcl:2:11:") && m.contains("`email` must be a string")
            ),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("people.hcl:3:3:")
                    && m.contains("unknown attribute `colour`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("missing required attribute `aws`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_repeated_attribute_is_reported_at_its_line() {
        let (_, diags) = parse(&[(
            "people.hcl",
            "user \"a\" {\n  email = \"a\"\n  email = \"b\"\n}\n",
        )]);
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].to_string().starts_with("people.hcl:3:"),
            "{diags:?}"
        );
    }

    #[test]
    fn request_problems_are_about_the_request() {
        let (_, diags) = parse(&[("requests/x.hcl", "request \"x\" {\n  requester = 5\n}\n")]);
        assert!(
            diags
                .iter()
                .all(|d| d.subject == Subject::Request("x".into())),
            "{diags:?}"
        );
        assert!(!diags.is_empty());
    }

    #[test]
    fn archive_and_non_hcl_files_are_ignored() {
        let (repo, diags) = parse(&[
            ("archive/2026/11/x.hcl", "not hcl {{{"),
            ("README.md", "# hi"),
        ]);
        assert!(diags.is_empty() && repo.requests.is_empty());
    }

    #[test]
    fn names_follow_the_rule() {
        assert!(is_valid_name("alice-inc-1234"));
        assert!(is_valid_name("0a"));
        for bad in ["", "-a", "Alice", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
