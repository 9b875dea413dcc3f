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

/// Files larger than this are refused before parsing (an error for that
/// path alone). A request file is a few hundred bytes; the biggest
/// definitions files are a few KiB.
pub const MAX_FILE_BYTES: usize = 512 * 1024;

/// At most this many files under `requests/` are read (by the readers of
/// the work tree and of git), the first ones by name; the rest are
/// reported once and not read, so a flood of files cannot exhaust a
/// runner. A request that is not read grants nothing (its IAM objects are
/// revoked like any unexplained jit object).
pub const MAX_REQUEST_FILES: usize = 50_000;

/// The diagnostic for a file over [`MAX_FILE_BYTES`].
pub fn oversized(path: &str, bytes: u64) -> Diagnostic {
    Diagnostic::error(
        Loc::file(path),
        format!("{path} is {bytes} bytes, over the limit of {MAX_FILE_BYTES}; it is not read"),
    )
}

/// The one diagnostic for request files past [`MAX_REQUEST_FILES`].
pub fn too_many_requests(total: usize) -> Diagnostic {
    Diagnostic::error(
        Loc::file("requests/"),
        format!(
            "requests/ holds {total} files, over the limit of {MAX_REQUEST_FILES}; only the first {MAX_REQUEST_FILES} by name are read, the others grant nothing"
        ),
    )
    .with_hint("archive or delete request files that ended")
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
        if f.text.len() > MAX_FILE_BYTES {
            let d = oversized(&f.path, f.text.len() as u64);
            match kind {
                FileKind::Request => p
                    .diags
                    .push(d.about(Subject::Request(stem(&f.path).to_string()))),
                _ => p.file_error(d),
            }
            continue;
        }
        let file: Arc<str> = Arc::from(f.path.as_str());
        let body = match hcl_edit::parser::parse_body(&f.text) {
            Ok(body) => body,
            Err(e) => {
                let loc = e.location();
                let d = Diagnostic::error(
                    Loc::new(&file, loc.line() as u32, loc.column() as u32),
                    format!("syntax error: {}", e.message()),
                );
                match kind {
                    FileKind::Request => p
                        .diags
                        .push(d.about(Subject::Request(stem(&f.path).to_string()))),
                    // Nobody knows which definitions the file holds: fail closed.
                    _ => p.file_error(d),
                }
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
    p.finish()
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
    /// The text at `span`, as written.
    fn source(&self, span: Option<std::ops::Range<usize>>) -> String {
        span.and_then(|s| self.lines.text.get(s))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

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
    /// Problems in definitions files that belong to no object jit could read
    /// (syntax errors, unknown or unlabelled blocks): they make the settings
    /// invalid, so nothing is granted while they are in force.
    file_errors: Vec<Diagnostic>,
    /// Second definitions of a name: they make the first one invalid.
    duplicates: Vec<(&'static str, String, Diagnostic)>,
    /// `notify` blocks, which become part of the settings at the end
    /// (wherever the settings block is written).
    notify: BTreeMap<String, Notify>,
}

impl Parser {
    fn file_error(&mut self, d: Diagnostic) {
        self.file_errors.push(d.about(Subject::Settings));
    }

    /// Attaches the problems that belong to no single block to the objects
    /// they make invalid, and returns the model with every diagnostic.
    fn finish(mut self) -> (AccessRepo, Vec<Diagnostic>) {
        let defs = &mut self.repo.defs;
        for (kind, name, d) in std::mem::take(&mut self.duplicates) {
            let meta = match kind {
                "account" => defs.accounts.get_mut(&name).map(|o| &mut o.meta),
                "user" => defs.users.get_mut(&name).map(|o| &mut o.meta),
                "team" => defs.teams.get_mut(&name).map(|o| &mut o.meta),
                "role" => defs.roles.get_mut(&name).map(|o| &mut o.meta),
                "contract" => defs.contracts.get_mut(&name).map(|o| &mut o.meta),
                "guardrail" => defs.guardrails.get_mut(&name).map(|o| &mut o.meta),
                "request" => self.repo.requests.get_mut(&name).map(|o| &mut o.meta),
                "notify" => self.notify.get_mut(&name).map(|o| &mut o.meta),
                _ => None,
            };
            match meta {
                Some(meta) => {
                    let d = d.about(meta_subject(kind, &name));
                    meta.attrs.errors.push(d.clone());
                    self.diags.push(d);
                }
                None => self.diags.push(d),
            }
        }
        if !self.file_errors.is_empty() {
            let meta = self.repo.defs.settings.meta.get_or_insert_with(|| Meta {
                loc: self.file_errors[0].loc.clone(),
                attrs: Attrs::default(),
            });
            meta.attrs.errors.extend(self.file_errors.iter().cloned());
            self.diags.append(&mut self.file_errors);
        }
        self.repo.defs.settings.notify = std::mem::take(&mut self.notify);
        (self.repo, self.diags)
    }

    fn definitions_file(&mut self, ctx: &FileCtx, body: &Body, saw_settings: &mut Option<Loc>) {
        for structure in body.iter() {
            let block = match structure {
                Structure::Block(b) => b,
                Structure::Attribute(a) => {
                    self.file_error(
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
                    self.file_error(Diagnostic::error(
                        loc,
                        format!("duplicate settings block (first defined at {first})"),
                    ));
                    continue;
                }
                *saw_settings = Some(loc);
                if !block.labels.is_empty() {
                    self.file_error(Diagnostic::error(
                        ctx.loc(block.labels[0].span()),
                        "the settings block takes no label",
                    ));
                }
                self.repo.defs.settings = self.settings(ctx, block);
                continue;
            }
            if kind == "identity_center" {
                self.identity_center(ctx, block);
                continue;
            }
            let kind: &'static str = match kind {
                "account" => "account",
                "user" => "user",
                "team" => "team",
                "role" => "role",
                "contract" => "contract",
                "guardrail" => "guardrail",
                "notify" => "notify",
                "request" => {
                    self.file_error(Diagnostic::error(
                        ctx.loc(block.ident.span()),
                        "request blocks belong in requests/<name>.hcl, one per file",
                    ));
                    continue;
                }
                other => {
                    self.file_error(
                        Diagnostic::error(
                            ctx.loc(block.ident.span()),
                            format!("unknown block type `{other}`"),
                        )
                        .with_hint(
                            "expected settings, identity_center, account, user, team, role, contract, guardrail or notify",
                        ),
                    );
                    continue;
                }
            };
            let Some(name) = self.label(ctx, block, kind) else {
                continue;
            };
            let mut r = Reader::new(ctx, block, &mut self.diags);
            r.subject = meta_subject(kind, &name);
            let defs = &mut self.repo.defs;
            match kind {
                "account" => {
                    let id = r.required_string("id");
                    if r.has("id") && !(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())) {
                        let loc = r.key_loc("id");
                        r.report(Diagnostic::error(
                            loc,
                            format!("account id `{id}` must be 12 digits"),
                        ));
                    }
                    let a = Account {
                        id,
                        role_arn: r.string("role_arn"),
                        name: name.clone(),
                        meta: r.finish(&[]),
                    };
                    defs.accounts.insert(name, a);
                }
                "user" => {
                    let u = User {
                        email: r.required_string("email"),
                        github: r.string("github"),
                        // `aws` is optional for a user who signs in through
                        // Identity Center only.
                        aws: if r.has("sso") {
                            r.string("aws").unwrap_or_default()
                        } else {
                            r.required_string("aws")
                        },
                        sso: r.string("sso"),
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
                    if statements.is_empty() {
                        let loc = r.block_loc();
                        r.report(
                            Diagnostic::error(loc, format!("role `{name}` has no statement block"))
                                .with_hint("add `statement { actions = [...] resources = [] }`"),
                        );
                    }
                    let meta = r.finish(&["statement"]);
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
                "notify" => {
                    let n = self::notify(r, name.clone());
                    self.notify.insert(name, n);
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
        // A guardrail jit cannot name would otherwise be ignored: fail closed.
        let unnamed = |p: &mut Parser, d: Diagnostic| match kind {
            "guardrail" => p.file_error(d),
            _ => p.diags.push(d),
        };
        if block.labels.len() != 1 {
            unnamed(
                self,
                Diagnostic::error(
                    loc,
                    format!("a {kind} block needs exactly one label: {kind} \"<name>\" {{ ... }}"),
                ),
            );
            return None;
        }
        let name = block.labels[0].as_str().to_string();
        if !is_valid_name(&name) {
            unnamed(
                self,
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
            // Which of the two is meant is unknown: the first becomes invalid too.
            let d = Diagnostic::error(
                loc,
                format!("duplicate {kind} `{name}` (first defined at {first})"),
            )
            .with_hint("names must be unique across all files")
            .about(subject(&name));
            self.duplicates.push((kind, name, d));
            return None;
        }
        self.seen.insert((kind, name.clone()), loc);
        Some(name)
    }

    fn settings(&mut self, ctx: &FileCtx, block: &Block) -> Settings {
        let mut r = Reader::new(ctx, block, &mut self.diags);
        r.subject = Subject::Settings;
        let d = Settings::default();
        let approval = match r.string("approval").as_deref() {
            None | Some("trailers") => ApprovalMode::Trailers,
            Some("github") => ApprovalMode::Github,
            Some(other) => {
                let loc = r.loc_of("approval");
                r.report(Diagnostic::error(
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
            notify: BTreeMap::new(),
            identity_center: self.repo.defs.settings.identity_center.take(),
            meta: None,
        };
        for b in r.blocks("bot") {
            let mut br = r.nested(b);
            s.bot = Bot {
                name: br.required_string("name"),
                email: br.required_string("email"),
            };
            br.finish(&[]);
        }
        for b in r.blocks("quotas") {
            let mut q = r.nested(b);
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
                permission_sets: q
                    .number("permission_sets")
                    .map_or(d.permission_sets, |n| n as usize),
            };
            q.finish(&[]);
        }
        s.meta = Some(r.finish(&["bot", "quotas"]));
        s
    }
}

impl Parser {
    /// The `identity_center` block: one per repo, part of the settings (so
    /// admins approve changes to it), invalid as a whole when anything in it
    /// is (identity_center grants then fail closed).
    fn identity_center(&mut self, ctx: &FileCtx, block: &Block) {
        let loc = ctx.loc(block.ident.span());
        if let Some(first) = &self.repo.defs.settings.identity_center {
            let d = Diagnostic::error(
                loc,
                format!(
                    "duplicate identity_center block (first defined at {})",
                    first.meta.loc
                ),
            )
            .about(Subject::IdentityCenter);
            self.diags.push(d.clone());
            if let Some(ic) = &mut self.repo.defs.settings.identity_center {
                ic.meta.attrs.errors.push(d);
            }
            return;
        }
        let mut r = Reader::new(ctx, block, &mut self.diags);
        r.subject = Subject::IdentityCenter;
        if !block.labels.is_empty() {
            let loc = ctx.loc(block.labels[0].span());
            r.report(Diagnostic::error(
                loc,
                "the identity_center block takes no label",
            ));
        }
        let ic = IdentityCenter {
            instance_arn: r.required_string("instance_arn"),
            identity_store_id: r.required_string("identity_store_id"),
            region: r.required_string("region"),
            account: r.string("account"),
            meta: r.finish(&[]),
        };
        self.repo.defs.settings.identity_center = Some(ic);
    }
}

fn contract(mut r: Reader<'_, '_>, name: String) -> Contract {
    let mode = match r.string("mode").as_deref() {
        None | Some("inline_policy") => Mode::InlinePolicy,
        Some("managed_policy") => Mode::ManagedPolicy,
        Some("assume_role") => Mode::AssumeRole,
        Some("identity_center") => Mode::IdentityCenter,
        Some(other) => {
            let loc = r.loc_of("mode");
            r.report(Diagnostic::error(
                loc,
                format!("mode must be \"inline_policy\", \"managed_policy\", \"assume_role\" or \"identity_center\", not \"{other}\""),
            ));
            Mode::Unknown
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
        account: r.string("account"),
        owners: r.selectors("owners"),
        breakglass: r.bool("breakglass").unwrap_or(false),
        meta: r.finish(&[]),
        name,
    }
}

/// A `notify` block. Fails closed: any problem (an unknown event, format
/// or attribute, a URL that is not http(s), json without `secret_env`) is
/// an error in its `Meta`, and an invalid target is delivered nothing.
fn notify(mut r: Reader<'_, '_>, name: String) -> Notify {
    let url = r.required_string("url");
    if r.has("url") && !(url.starts_with("https://") || url.starts_with("http://")) {
        let loc = r.loc_of("url");
        r.report(Diagnostic::error(
            loc,
            format!("notify url `{url}` must start with https:// or http://"),
        ));
    }
    let mut known_format = true;
    let format = match r.string("format").as_deref() {
        None | Some("json") => NotifyFormat::Json,
        Some("slack") => NotifyFormat::Slack,
        Some(other) => {
            known_format = false;
            let loc = r.loc_of("format");
            r.report(Diagnostic::error(
                loc,
                format!("format must be \"slack\" or \"json\", not \"{other}\""),
            ));
            NotifyFormat::Json
        }
    };
    let secret_env = r.string("secret_env");
    if known_format && format == NotifyFormat::Json && secret_env.is_none() {
        let loc = r.block_loc();
        r.report(
            Diagnostic::error(
                loc,
                format!("notify `{name}`: format \"json\" needs `secret_env`, the environment variable holding the HMAC key"),
            )
            .with_hint("receivers verify X-Jit-Signature with that key; it is never read from the repo"),
        );
    }
    if let Some(var) = &secret_env
        && (var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        let loc = r.loc_of("secret_env");
        r.report(Diagnostic::error(
            loc,
            format!("secret_env `{var}` is not an environment variable name (letters, digits, _)"),
        ));
    }
    let events = if r.has("events") {
        let loc = r.loc_of("events");
        let mut events = Vec::new();
        for text in r.strings("events") {
            match NotifyEvent::parse(&text) {
                Some(e) if !events.contains(&e) => events.push(e),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.as_str()).collect();
                    r.report(Diagnostic::error(
                        loc.clone(),
                        format!("unknown event `{text}` (events: {})", known.join(", ")),
                    ));
                }
            }
        }
        events
    } else {
        NotifyEvent::ALL.to_vec()
    };
    Notify {
        url,
        format,
        secret_env,
        events,
        contracts: r.strings("contracts"),
        expiring_before: r
            .duration("expiring_before")
            .unwrap_or(Duration::from_minutes(15)),
        meta: r.finish(&[]),
        name,
    }
}

/// The subject of problems in a `kind` block named `name`.
/// What an expression is when it is something jit would have to evaluate
/// (searched inside lists and objects), or `None` for literal values.
fn expression_kind(expr: &Expression) -> Option<&'static str> {
    match expr {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => None,
        Expression::Array(items) => items.iter().find_map(expression_kind),
        Expression::Object(object) => object.iter().find_map(|(_, v)| expression_kind(v.expr())),
        Expression::StringTemplate(_) => Some("an interpolated string (`${...}` or `%{...}`)"),
        Expression::HeredocTemplate(_) => Some("a heredoc template"),
        Expression::FuncCall(_) => Some("a function call"),
        Expression::Variable(_) | Expression::Traversal(_) => Some("a variable reference"),
        Expression::ForExpr(_) => Some("a for expression"),
        Expression::Conditional(_) => Some("a conditional expression"),
        Expression::Parenthesis(_) | Expression::UnaryOp(_) | Expression::BinaryOp(_) => {
            Some("an expression")
        }
    }
}

fn meta_subject(kind: &str, name: &str) -> Subject {
    let name = name.to_string();
    match kind {
        "request" => Subject::Request(name),
        "contract" => Subject::Contract(name),
        "role" => Subject::Role(name),
        "user" => Subject::User(name),
        "team" => Subject::Team(name),
        "account" => Subject::Account(name),
        "guardrail" => Subject::Guardrail(name),
        "settings" => Subject::Settings,
        _ => Subject::Other,
    }
}

/// Reads one block's attributes by name, reporting type errors at the
/// value and, on `finish`, every attribute or block nobody asked for. Every
/// problem becomes part of the object read (its `Meta`): jit never builds an
/// object while ignoring something it does not understand in it.
struct Reader<'a, 'd> {
    ctx: &'a FileCtx,
    block: &'a Block,
    kind: String,
    attrs: BTreeMap<&'a str, &'a Attribute>,
    taken: Vec<&'a str>,
    locs: BTreeMap<String, Loc>,
    subject: Subject,
    /// The problems found so far in this block (and its nested blocks).
    problems: Vec<Diagnostic>,
    unknown: Vec<String>,
    /// Where `finish` hands the problems on: the file's diagnostics, or the
    /// parent block's problems for a nested block.
    sink: &'d mut Vec<Diagnostic>,
}

impl<'a, 'd> Reader<'a, 'd> {
    fn new(ctx: &'a FileCtx, block: &'a Block, sink: &'d mut Vec<Diagnostic>) -> Reader<'a, 'd> {
        let subject = match block.labels.as_slice() {
            [label] => meta_subject(block.ident.as_str(), label.as_str()),
            _ if block.ident.as_str() == "settings" => Subject::Settings,
            _ => Subject::Other,
        };
        let mut attrs = BTreeMap::new();
        let mut problems = Vec::new();
        for a in block.body.attributes() {
            if attrs.insert(a.key.as_str(), a).is_some() {
                problems.push(
                    Diagnostic::error(
                        ctx.loc(a.key.span()),
                        format!("attribute `{}` is set more than once", a.key.as_str()),
                    )
                    .about(subject.clone()),
                );
            }
        }
        Reader {
            ctx,
            block,
            kind: block.ident.as_str().to_string(),
            attrs,
            taken: Vec::new(),
            locs: BTreeMap::new(),
            subject,
            problems,
            unknown: Vec::new(),
            sink,
        }
    }

    /// Every problem in a block makes that object invalid.
    fn report(&mut self, d: Diagnostic) {
        let d = d.about(self.subject.clone());
        self.problems.push(d);
    }

    /// Nested blocks (role statements, settings' bot) report about their parent.
    fn nested(&mut self, block: &'a Block) -> Reader<'a, '_> {
        let mut r = Reader::new(self.ctx, block, &mut self.problems);
        r.subject = self.subject.clone();
        for d in &mut r.problems {
            d.subject = r.subject.clone();
        }
        r
    }

    fn has(&self, key: &str) -> bool {
        self.attrs.contains_key(key)
    }

    /// Where the attribute's key is written, or the block when it is absent.
    fn key_loc(&self, key: &str) -> Loc {
        match self.attrs.get(key) {
            Some(a) => self.ctx.loc(a.key.span()),
            None => self.block_loc(),
        }
    }

    fn block_loc(&self) -> Loc {
        self.ctx.loc(self.block.ident.span())
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
        let evaluated = self.attrs.get(key).and_then(|a| expression_kind(&a.value));
        let d = match evaluated {
            // jit reads values as written and never evaluates anything:
            // no functions (`file()`, `env()`), variables or templates.
            Some(what) => Diagnostic::error(
                loc,
                format!("`{key}` must be {expected}, not {what}: jit never evaluates expressions, functions or interpolation"),
            )
            .with_hint("write the value itself; for a literal `${` in a string write `$${`"),
            None => Diagnostic::error(loc, format!("`{key}` must be {expected}")),
        };
        self.report(d);
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

    /// Reports unknown attributes and nested blocks, hands every problem on,
    /// and returns the block's locations and problems.
    fn finish(mut self, nested: &[&str]) -> Meta {
        let mut found = Vec::new();
        for (key, a) in &self.attrs {
            if !self.taken.contains(key) {
                found.push(Diagnostic::error(
                    self.ctx.loc(a.key.span()),
                    format!("unknown attribute `{key}` in {} block", self.kind),
                ));
                self.unknown
                    .push(format!("{key} = {}", self.ctx.source(a.value.span())));
            }
        }
        for b in self.block.body.blocks() {
            if !nested.contains(&b.ident.as_str()) {
                found.push(Diagnostic::error(
                    self.ctx.loc(b.ident.span()),
                    format!(
                        "unknown block type `{}` in {} block",
                        b.ident.as_str(),
                        self.kind
                    ),
                ));
                self.unknown.push(self.ctx.source(b.span()));
            }
        }
        for d in found {
            self.report(d);
        }
        self.sink.extend(self.problems.iter().cloned());
        Meta {
            loc: self.ctx.loc(self.block.ident.span()),
            attrs: Attrs {
                locs: self.locs,
                errors: self.problems,
                unknown: self.unknown,
            },
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
    fn reads_identity_center_and_sso_users_failing_closed_on_unknown_attributes() {
        let jit = "settings {\n  admins = []\n}\nidentity_center {\n  instance_arn = \"arn:aws:sso:::instance/ssoins-1\"\n  identity_store_id = \"d-1234567890\"\n  region = \"us-east-1\"\n}\n";
        let people = "user \"a\" {\n  email = \"a@x\"\n  sso = \"a@x\"\n}\ncontract \"c\" {\n  role = \"r\"\n  mode = \"identity_center\"\n}\n";
        let (repo, diags) = parse(&[("jit.hcl", jit), ("people.hcl", people)]);
        assert!(diags.is_empty(), "{diags:?}");
        let ic = repo.defs.settings.identity_center.as_ref().unwrap();
        assert_eq!(ic.identity_store_id, "d-1234567890");
        assert_eq!(repo.defs.users["a"].sso.as_deref(), Some("a@x"));
        assert_eq!(repo.defs.users["a"].aws, "", "aws is optional with sso");
        assert_eq!(repo.defs.contracts["c"].mode, Mode::IdentityCenter);

        // An unknown attribute makes the block invalid, about Identity Center.
        let bad = jit.replace("region", "colour = \"red\"\n  region");
        let (repo, diags) = parse(&[("jit.hcl", &bad)]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].subject, Subject::IdentityCenter);
        let ic = repo.defs.settings.identity_center.as_ref().unwrap();
        assert_eq!(ic.meta.errors().len(), 1);
        // ...and is a change of the settings' content (admins approve it).
        let (good, _) = parse(&[("jit.hcl", jit)]);
        assert_ne!(good.defs.settings, repo.defs.settings);

        // Two blocks: the first is invalid too.
        let twice = format!("{jit}{}", &jit[jit.find("identity_center").unwrap()..]);
        let (repo, diags) = parse(&[("jit.hcl", &twice)]);
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("duplicate identity_center"))
        );
        let ic = repo.defs.settings.identity_center.as_ref().unwrap();
        assert!(!ic.meta.errors().is_empty());

        // Without sso, aws stays required.
        let (_, diags) = parse(&[("people.hcl", "user \"b\" {\n  email = \"b@x\"\n}\n")]);
        assert!(
            diags.iter().any(|d| d.message.contains("`aws`")),
            "{diags:?}"
        );
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
