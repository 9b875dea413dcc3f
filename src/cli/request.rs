//! `jit request new`: writes a request file that `jit validate` accepts, from
//! flags or, on a terminal, from answers to a few questions.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use hcl::format::Format;

use crate::cli::{Ctx, Outcome, Reported, Ui, parse_time};
use crate::config::parse::{FileKind, NAME_RULE, file_kind, is_valid_name};
use crate::config::{
    self, Contract, Definitions, Duration, Request, SourceFile, selector_list, validate,
};
use crate::diag::{self, Diagnostic, Subject};
use crate::worktree;

/// Work with request files.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a valid requests/<name>.hcl from flags or prompts.
    ///
    /// The request is validated against the access repo before it is written,
    /// and the git commands to propose it as a pull request are printed. On a
    /// terminal, a missing --contract or --reason is asked for.
    New(NewArgs),
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The contract to request access under.
    #[arg(long, value_name = "NAME")]
    contract: Option<String>,

    /// How long access should last, like 30m, 2h, 1h30m or 1d (default: the
    /// contract's default_duration; at most its max_duration).
    #[arg(long, value_name = "DURATION")]
    duration: Option<String>,

    /// Why you need access: the incident, ticket or task. Required when the
    /// contract has require_reason = true.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,

    /// Narrow the grant to this resource ARN, which the contract's resources
    /// must cover (repeatable; default: everything the contract allows).
    #[arg(long = "resource", value_name = "ARN")]
    resources: Vec<String>,

    /// Start access no earlier than this time (RFC 3339), even if approved
    /// sooner.
    #[arg(long, value_name = "RFC3339")]
    not_before: Option<String>,

    /// The request's name and file name (default:
    /// <requester>-<contract>-<YYYYMMDD-HHMM>).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Who asks for access: a declared user (default: the user whose email is
    /// `git config user.email` in the access repo).
    #[arg(long, value_name = "USER")]
    requester: Option<String>,
}

pub fn run(ctx: &Ctx, ui: &Ui, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::New(args) => new(ctx, ui, args),
    }
}

fn new(ctx: &Ctx, ui: &Ui, args: NewArgs) -> anyhow::Result<Outcome> {
    let files = worktree::read_hcl_files(&ctx.dir)?;
    let (repo, parse_diags) = config::parse_files(&files);
    let defs = &repo.defs;
    let requester = requester(ctx, defs, args.requester.as_deref())?;

    let mut prompt = (ui.stdin_is_terminal && (args.contract.is_none() || args.reason.is_none()))
        .then(|| Prompt::new(io::stdin().lock()));
    if prompt.is_some() {
        ui.err(&format!("Requesting access as {requester}.\n"));
    }

    let contract_name = match (&args.contract, &mut prompt) {
        (Some(c), _) => c.clone(),
        (None, Some(p)) => p.contract(ui, defs, &requester)?,
        (None, None) => bail!(
            "missing --contract (stdin is not a terminal, so jit cannot ask)\n  \
             contracts {requester} may use: {}",
            usable_contracts(defs, &requester)
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // An unknown contract is reported by validation below, at its line.
    let contract = defs.contracts.get(&contract_name);

    let duration = match (&args.duration, &mut prompt, contract) {
        (Some(text), _, _) => {
            Some(Duration::parse(text).map_err(|e| anyhow::anyhow!("--duration: {e}"))?)
        }
        (None, Some(p), Some(c)) => Some(p.duration(ui, c)?),
        (None, _, c) => c.map(|c| c.default_duration),
    };

    let reason_required = contract.is_some_and(|c| c.require_reason);
    let reason = match (&args.reason, &mut prompt) {
        (Some(r), _) => r.trim().to_string(),
        (None, Some(p)) => p.reason(ui, reason_required)?,
        (None, None) if reason_required => bail!(
            "missing --reason: contract `{contract_name}` requires a reason \
             (stdin is not a terminal, so jit cannot ask)"
        ),
        (None, None) => String::new(),
    };

    let not_before = args
        .not_before
        .as_deref()
        .map(|t| parse_time(t).context("--not-before"))
        .transpose()?;

    let name = match args.name {
        Some(name) if is_valid_name(&name) => name,
        Some(name) => {
            bail!("--name `{name}` is not a valid request name: it must match {NAME_RULE}")
        }
        None => default_name(&requester, &contract_name, ctx.now),
    };
    let path = format!("requests/{name}.hcl");
    refuse_existing(&ctx.dir, &files, &name, &path)?;

    let text = render(&Draft {
        name: &name,
        requester: &requester,
        contract: &contract_name,
        duration,
        reason: &reason,
        resources: &args.resources,
        not_before,
    })?;

    // Parse the new file together with the definitions, so every problem is
    // reported at its line in the file as it would be written.
    let mut with_new: Vec<SourceFile> = files
        .iter()
        .filter(|f| file_kind(&f.path) == FileKind::Definitions)
        .cloned()
        .collect();
    with_new.push(SourceFile {
        path: path.clone(),
        text: text.clone(),
    });
    let (parsed, new_diags) = config::parse_files(&with_new);
    let request = parsed
        .requests
        .get(&name)
        .with_context(|| format!("internal error: the rendered {path} did not parse"))?;
    anyhow::ensure!(
        request.reason == reason && request.resources == args.resources,
        "internal error: the rendered {path} does not say what was asked"
    );

    let mut diags: Vec<Diagnostic> = new_diags
        .into_iter()
        .filter(|d| d.subject == Subject::Request(name.clone()))
        .collect();
    diags.extend(validate::validate_request(defs, request));
    let mut other = parse_diags;
    other.retain(|d| d.is_error() && !matches!(d.subject, Subject::Request(_)));
    other.extend(validate::validate_definitions(defs));
    let (concerning, unrelated): (Vec<Diagnostic>, Vec<Diagnostic>) =
        other.into_iter().partition(|d| match &d.subject {
            Subject::Contract(c) => *c == contract_name,
            Subject::Role(r) => contract.is_some_and(|c| c.role == *r),
            _ => false,
        });
    diags.extend(concerning);
    diag::sort(&mut diags);

    let mut sources: BTreeMap<&str, &str> = files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    sources.insert(&path, &text);
    if !diags.is_empty() {
        super::validate::report(ui, &diags, &sources);
        ui.err(&format!(
            "Refusing to write {path}: {} error{} (nothing was written).\n",
            diags.len(),
            if diags.len() == 1 { "" } else { "s" }
        ));
        return Err(Reported.into());
    }

    write_new(&ctx.dir.join(&path), &text)?;
    let contract = contract.context("internal error: a valid request has a contract")?;
    ui.out(&next_steps(defs, request, contract, &path))?;
    if !unrelated.is_empty() {
        ui.err(&format!(
            "note: the access repo has {} other error{}; run `jit validate` before you push.\n",
            unrelated.len(),
            if unrelated.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(Outcome::Success)
}

/// The requester: named by flag, or the user whose email is git's user.email.
fn requester(ctx: &Ctx, defs: &Definitions, flag: Option<&str>) -> anyhow::Result<String> {
    let declared = || {
        defs.users
            .values()
            .map(|u| format!("{} <{}>", u.name, u.email))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = flag {
        if defs.users.contains_key(name) {
            return Ok(name.to_string());
        }
        bail!(
            "--requester `{name}` is not a declared user\n  declared users: {}",
            declared()
        );
    }
    let config = match git2::Repository::open(&ctx.dir) {
        Ok(repo) => repo.config(),
        Err(_) => git2::Config::open_default(),
    }
    .with_context(|| format!("reading git config in {}", ctx.dir.display()))?;
    let Ok(email) = config.get_string("user.email") else {
        bail!(
            "cannot tell who you are: `git config user.email` is not set in {}\n  \
             fix: pass --requester <user>, or run `git config user.email <your email>` \
             with the email of your user block",
            ctx.dir.display()
        );
    };
    match defs.user_by_email(&email) {
        Some(user) => Ok(user.name.clone()),
        None => bail!(
            "no declared user has the email `{email}` (from `git config user.email`)\n  \
             fix: pass --requester <user>; or set `git config user.email` to the email of \
             your user block; or add yourself to a definitions file (e.g. people.hcl) \
             in a pull request for the admins to approve\n  declared users: {}",
            declared()
        ),
    }
}

/// Contracts `requester` may ask under: open to anyone declared, or listing them.
fn usable_contracts<'d>(defs: &'d Definitions, requester: &str) -> Vec<&'d Contract> {
    defs.contracts
        .values()
        .filter(|c| c.requesters.is_empty() || defs.expand(&c.requesters).contains(requester))
        .collect()
}

/// `<requester>-<contract>-<YYYYMMDD-HHMM>`, shortened to fit the name rule.
fn default_name(requester: &str, contract: &str, now: DateTime<Utc>) -> String {
    let stamp = now.format("%Y%m%d-%H%M").to_string();
    let clean: String = format!("{requester}-{contract}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut head: String = clean.chars().take(63 - stamp.len() - 1).collect();
    while head.ends_with('-') || head.contains("--") {
        head = head.trim_end_matches('-').replace("--", "-");
    }
    let head = head.trim_start_matches('-');
    if head.is_empty() {
        format!("request-{stamp}")
    } else {
        format!("{head}-{stamp}")
    }
}

fn refuse_existing(dir: &Path, files: &[SourceFile], name: &str, path: &str) -> anyhow::Result<()> {
    if dir.join(path).exists() {
        bail!("{path} already exists; choose another name with --name");
    }
    let archived = files.iter().find(|f| {
        file_kind(&f.path) == FileKind::Archive && f.path.ends_with(&format!("/{name}.hcl"))
    });
    if let Some(f) = archived {
        bail!(
            "a request named `{name}` already ended ({}); choose another name with --name",
            f.path
        );
    }
    Ok(())
}

struct Draft<'a> {
    name: &'a str,
    requester: &'a str,
    contract: &'a str,
    duration: Option<Duration>,
    reason: &'a str,
    resources: &'a [String],
    not_before: Option<DateTime<Utc>>,
}

/// The request file's text, in canonical format. hcl-rs builds and quotes
/// it; `jit fmt`'s formatter aligns it.
fn render(d: &Draft) -> anyhow::Result<String> {
    let mut block = hcl::Block::builder("request")
        .add_label(d.name)
        .add_attribute(("requester", d.requester))
        .add_attribute(("contract", d.contract));
    if let Some(duration) = d.duration {
        block = block.add_attribute(("duration", duration.to_string()));
    }
    if !d.reason.is_empty() {
        block = block.add_attribute(("reason", d.reason));
    }
    if !d.resources.is_empty() {
        block = block.add_attribute(("resources", d.resources.to_vec()));
    }
    if let Some(t) = d.not_before {
        block = block.add_attribute(("not_before", t.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    let body = hcl::Body::builder().add_block(block.build()).build();
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .build_vec();
    let text = body.format_string(&mut formatter)?;
    crate::fmt::format(&format!("requests/{}.hcl", d.name), &text)
        .map_err(|e| anyhow::anyhow!("internal error: rendered request does not format: {e}"))
}

/// Creates the file, never overwriting one that appeared meanwhile.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn next_steps(defs: &Definitions, req: &Request, contract: &Contract, path: &str) -> String {
    let name = &req.name;
    let duration = defs.duration_of(req).unwrap_or(contract.default_duration);
    let mut s = format!(
        "Wrote {path}: {} asks for `{}` ({}) for {duration}.\n\nNext steps:\n",
        req.requester, contract.name, contract.role
    );
    s.push_str(&format!("  git switch -c request/{name}\n"));
    s.push_str(&format!("  git add {path}\n"));
    s.push_str(&format!(
        "  git commit -m \"Request {} for {} ({duration})\"\n",
        contract.name, req.requester
    ));
    s.push_str(&format!("  git push -u origin request/{name}\n"));
    if contract.auto_approve {
        s.push_str(
            "Then open a pull request; no approval is needed: it is auto-approved on merge.\n",
        );
        return s;
    }
    let n = contract.min_approvals;
    let mut eligible = defs.expand(&contract.approvers);
    eligible.remove(&req.requester);
    let people: Vec<&str> = eligible.iter().map(String::as_str).collect();
    s.push_str(&format!(
        "Then open a pull request; it needs {n} approval{} from {} ({}).\n",
        if n == 1 { "" } else { "s" },
        selector_list(&contract.approvers),
        if people.is_empty() {
            "nobody but you".to_string()
        } else {
            people.join(", ")
        }
    ));
    if (people.len() as u32) < n {
        s.push_str(&format!(
            "Warning: only {} of them can approve (you never count), so this request cannot be approved as things stand.\n",
            people.len()
        ));
    }
    s
}

/// Asks for what the flags did not say, on stderr, reading answers from stdin.
struct Prompt<R> {
    input: R,
}

impl<R: BufRead> Prompt<R> {
    fn new(input: R) -> Prompt<R> {
        Prompt { input }
    }

    fn ask(&mut self, ui: &Ui, question: &str) -> anyhow::Result<String> {
        ui.err(question);
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            bail!("no answer (end of input) to: {}", question.trim());
        }
        Ok(line.trim().to_string())
    }

    fn contract(&mut self, ui: &Ui, defs: &Definitions, requester: &str) -> anyhow::Result<String> {
        let usable = usable_contracts(defs, requester);
        if usable.is_empty() {
            bail!("no contract allows {requester} to request access");
        }
        let width = usable.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut list = format!("Contracts {requester} may use:\n");
        for (i, c) in usable.iter().enumerate() {
            let approval = if c.auto_approve {
                "auto-approved".to_string()
            } else {
                format!(
                    "{} approval{} from {}",
                    c.min_approvals,
                    if c.min_approvals == 1 { "" } else { "s" },
                    if c.approvers.is_empty() {
                        "nobody declared".to_string()
                    } else {
                        selector_list(&c.approvers)
                    }
                )
            };
            list.push_str(&format!(
                "  {:>2}) {:width$}  {} (up to {}; {approval})\n",
                i + 1,
                c.name,
                if c.description.is_empty() {
                    &c.role
                } else {
                    &c.description
                },
                c.max_duration,
            ));
        }
        ui.err(&list);
        loop {
            let answer = self.ask(ui, &format!("Contract [1-{}]: ", usable.len()))?;
            if let Ok(n) = answer.parse::<usize>()
                && (1..=usable.len()).contains(&n)
            {
                return Ok(usable[n - 1].name.clone());
            }
            if let Some(c) = usable.iter().find(|c| c.name == answer) {
                return Ok(c.name.clone());
            }
            ui.err("Please answer with a number or a contract name from the list.\n");
        }
    }

    fn duration(&mut self, ui: &Ui, contract: &Contract) -> anyhow::Result<Duration> {
        loop {
            let answer = self.ask(
                ui,
                &format!(
                    "Duration [{}, at most {}]: ",
                    contract.default_duration, contract.max_duration
                ),
            )?;
            if answer.is_empty() {
                return Ok(contract.default_duration);
            }
            match Duration::parse(&answer) {
                Ok(d) if d <= contract.max_duration => return Ok(d),
                Ok(d) => ui.err(&format!(
                    "{d} is longer than the contract allows ({}).\n",
                    contract.max_duration
                )),
                Err(e) => ui.err(&format!("{e}\n")),
            }
        }
    }

    fn reason(&mut self, ui: &Ui, required: bool) -> anyhow::Result<String> {
        loop {
            let question = if required {
                "Reason (the incident, ticket or task): "
            } else {
                "Reason (optional): "
            };
            let answer = self.ask(ui, question)?;
            if !answer.is_empty() || !required {
                return Ok(answer);
            }
            ui.err("This contract requires a reason.\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_names_follow_the_name_rule() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 0).unwrap();
        assert_eq!(
            default_name("alice", "db-read", now),
            "alice-db-read-20261123-0905"
        );
        let long = default_name(&"a".repeat(40), &"b".repeat(40), now);
        assert!(is_valid_name(&long), "{long}");
        assert!(long.ends_with("-20261123-0905"));
        assert!(is_valid_name(&default_name("x", "Weird_Name!", now)));
    }

    #[test]
    fn rendering_quotes_and_aligns() {
        let text = render(&Draft {
            name: "a-b",
            requester: "alice",
            contract: "db-read",
            duration: Some(Duration::from_minutes(90)),
            reason: "INC-1: \"quotes\" and ${not interpolated}",
            resources: &["arn:x".to_string(), "arn:y".to_string()],
            not_before: Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()),
        })
        .unwrap();
        assert_eq!(
            text,
            "request \"a-b\" {\n  requester  = \"alice\"\n  contract   = \"db-read\"\n  duration   = \"1h30m\"\n  reason     = \"INC-1: \\\"quotes\\\" and $${not interpolated}\"\n  resources  = [\"arn:x\", \"arn:y\"]\n  not_before = \"2026-11-23T09:00:00Z\"\n}\n"
        );
    }

    #[test]
    fn prompts_accept_numbers_names_and_defaults() {
        let (repo, _) = config::parse_files(&[SourceFile {
            path: "c.hcl".into(),
            text: "contract \"a\" {\n  role = \"r\"\n  max_duration = \"4h\"\n}\ncontract \"b\" {\n  role = \"r\"\n}\n".into(),
        }]);
        let ui = Ui {
            color: false,
            stderr_is_terminal: false,
            stdin_is_terminal: true,
        };
        let mut p = Prompt::new("9\n2\n\n9h\n2h\n\nwhy\n".as_bytes());
        assert_eq!(p.contract(&ui, &repo.defs, "x").unwrap(), "b");
        let a = &repo.defs.contracts["a"];
        assert_eq!(p.duration(&ui, a).unwrap(), a.default_duration);
        assert_eq!(p.duration(&ui, a).unwrap().minutes(), 120);
        assert_eq!(p.reason(&ui, true).unwrap(), "why");
        assert!(p.reason(&ui, true).is_err(), "end of input is an error");
    }
}
