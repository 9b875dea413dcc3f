//! Hostile and broken input (issue 11.4): mutated HCL, HCL functions and
//! interpolation, oversized, non-UTF-8 and non-regular files, floods of
//! request files and deeply nested expressions. Every case ends in a
//! diagnostic naming the file (and line where there is one): never a panic,
//! a hang, unbounded memory, or a value jit evaluated.
//!
//! The property tests run in-process against the library (parse, validate,
//! fmt) over the valid files of examples/acme. Cases: 1,500 mutated files
//! and 600 request/contract combinations by default (`PROPTEST_CASES`
//! overrides both), from a fixed seed (`PROPTEST_RNG_SEED` overrides).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jit::config::parse::{MAX_FILE_BYTES, MAX_REQUEST_FILES};
use jit::config::{SourceFile, parse_files, validate};
use jit::diag::Diagnostic;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

const ACME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme");

fn acme() -> Vec<SourceFile> {
    jit::worktree::read_hcl_files(Path::new(ACME)).expect("read examples/acme")
}

/// The acme files one request needs (settings, people, teams, its role and
/// contract, guardrails): the context each mutated file is judged in, kept
/// small so that thousands of cases run in seconds.
fn core() -> Vec<SourceFile> {
    const CORE: &[&str] = &[
        "jit.hcl",
        "people.hcl",
        "guardrails.hcl",
        "teams/dba.hcl",
        "teams/eng.hcl",
        "teams/security.hcl",
        "roles/rds-read.hcl",
        "contracts/prod-db-read.hcl",
        "requests/alice-inc-1234.hcl",
    ];
    let files: Vec<SourceFile> = acme()
        .into_iter()
        .filter(|f| CORE.contains(&f.path.as_str()))
        .collect();
    assert_eq!(files.len(), CORE.len());
    files
}

fn config(default_cases: u32) -> Config {
    let mut config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x5eed_0114);
    }
    config
}

/// Tokens an attacker (or a slip of the keyboard) puts in HCL.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "=",
    ",",
    "\n",
    "\r\n",
    "\0",
    "\\",
    "#",
    "//",
    "/*",
    "*/",
    "${var.x}",
    "\"${var.x}\"",
    "\"%{ if true }x%{ endif }\"",
    "file(\"/etc/passwd\")",
    "env(\"HOME\")",
    "[for x in [\"a\"] : x]",
    "{for k, v in {} : k => v}",
    "<<EOF\nheredoc ${x}\nEOF\n",
    "<<-EOT\n  text\n  EOT\n",
    "99999999999999999999999999999999",
    "-1",
    "1e999",
    "0x1F",
    "1.5",
    "null",
    "true",
    "false",
    "a.b[0].c",
    "x ? y : z",
    "1 + 2 * 3",
    "!x",
    "...",
    "\"$${literal}\"",
    "\u{202e}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "日本",
    "request \"x\" {}\n",
    "contract \"prod-db-read\" {}\n",
    "settings {}\n",
    "user \"alice\" { email = \"a\" }\n",
    "duration = \"99999999d\"\n",
    "duration = \"0m\"\n",
    "resources = [\"*\"]\n",
    "min_approvals = 0\n",
    "approvers = []\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, String),
    Delete(usize, usize),
    /// Repeat a line (a duplicate attribute, or half a block).
    DuplicateLine(usize),
    /// The whole file twice (duplicate blocks).
    DuplicateAll,
    /// Replace a quoted string with a token (swapped types).
    ReplaceString(usize, String),
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => "\\PC{1,12}",
        1 => proptest::collection::vec(proptest::sample::select(&["[", "(", "{"][..]), 1..300)
            .prop_map(|v| v.concat()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        5 => (any::<usize>(), token()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        2 => (any::<usize>(), 1..40usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        2 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => Just(Mutation::DuplicateAll),
        3 => (any::<usize>(), token()).prop_map(|(p, t)| Mutation::ReplaceString(p, t)),
    ]
}

fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = text.to_vec();
    let at = |p: usize| p % (out.len() + 1);
    match m {
        Mutation::Flip(p, b) => {
            if !out.is_empty() {
                let i = p % out.len();
                out[i] ^= b | 1;
            }
        }
        Mutation::Truncate(p) => out.truncate(at(*p)),
        Mutation::Insert(p, t) => {
            let i = at(*p);
            out.splice(i..i, t.bytes());
        }
        Mutation::Delete(p, n) => {
            let i = at(*p);
            let end = (i + n).min(out.len());
            out.drain(i..end);
        }
        Mutation::DuplicateLine(p) => {
            let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
            if !lines.is_empty() {
                let i = p % lines.len();
                let mut v = Vec::new();
                for (j, l) in lines.iter().enumerate() {
                    v.extend_from_slice(l);
                    if j == i {
                        v.extend_from_slice(l);
                    }
                }
                out = v;
            }
        }
        Mutation::DuplicateAll => out.extend_from_slice(text),
        Mutation::ReplaceString(p, t) => {
            let quotes: Vec<usize> = (0..out.len()).filter(|&i| out[i] == b'"').collect();
            if quotes.len() >= 2 {
                let k = p % (quotes.len() - 1);
                let (a, b) = (quotes[k], quotes[k + 1] + 1);
                out.splice(a..b, t.bytes());
            }
        }
    }
    out
}

/// Every diagnostic names a file of the repo (or requests/ for the flood
/// limit), with a line and column from 1.
fn check_diagnostics(files: &[SourceFile], diags: &[Diagnostic]) -> Result<(), String> {
    let paths: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for d in diags {
        let file = &*d.loc.file;
        if !(paths.contains(file) || file == "requests/") {
            return Err(format!("diagnostic names no file of the repo: {d}"));
        }
        if d.loc.line < 1 || d.loc.col < 1 || d.message.is_empty() {
            return Err(format!("diagnostic without a position or message: {d:?}"));
        }
    }
    Ok(())
}

/// Parses and validates the acme repo with `path` replaced by `text`, and
/// formats `text`: the properties every input must keep.
fn check_repo_with(base: &[SourceFile], path: &str, text: &str) -> Result<(), String> {
    let mut files: Vec<SourceFile> = base.iter().filter(|f| f.path != path).cloned().collect();
    files.push(SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    });
    let (repo, mut diags) = parse_files(&files);
    diags.extend(validate::validate(&repo));
    check_diagnostics(&files, &diags)?;
    // A file HCL cannot parse is never silently accepted: an error names it.
    if hcl_edit::parser::parse_body(text).is_err()
        && !diags.iter().any(|d| d.is_error() && &*d.loc.file == path)
    {
        return Err(format!("{path} does not parse, yet no error names it"));
    }
    match jit::fmt::format(path, text) {
        Ok(out) => match jit::fmt::format(path, &out) {
            Ok(again) if again == out => {}
            Ok(again) => return Err(format!("fmt is not idempotent:\n{out}\n---\n{again}")),
            Err(d) => return Err(format!("fmt output does not format again: {d}\n{out}")),
        },
        Err(d) if &*d.loc.file == path => {}
        Err(d) => return Err(format!("fmt error names another file: {d}")),
    }
    Ok(())
}

/// Thousands of mutated acme files (people, teams, roles, contracts,
/// requests, jit.hcl): parse + validate + fmt end in Ok or in diagnostics
/// that name the file, never a panic.
#[test]
fn mutated_files_end_in_diagnostics_naming_the_file() {
    let all = acme();
    let base = core();
    let started = Instant::now();
    let paths: Vec<String> = all.iter().map(|f| f.path.clone()).collect();
    let mut runner = TestRunner::new(config(1500));
    let strategy = (
        proptest::sample::select(paths),
        proptest::collection::vec(mutation(), 1..6),
    );
    runner
        .run(&strategy, |(path, mutations)| {
            let original = &all.iter().find(|f| f.path == path).unwrap().text;
            let mut bytes = original.as_bytes().to_vec();
            for m in &mutations {
                bytes = apply(&bytes, m);
            }
            let text = String::from_utf8_lossy(&bytes);
            check_repo_with(&base, &path, &text).map_err(TestCaseError::fail)
        })
        .unwrap();
    eprintln!("mutated files: {:?}", started.elapsed());
}

use proptest::test_runner::TestCaseError;

/// A contract and a request drawn at random, checked against an oracle
/// written here: a duration over max_duration is always refused, one
/// within never is for its duration; a resource the contract names
/// literally (or a narrowing of a `*` pattern) is allowed, a wildcard
/// wider than the contract's pattern is refused; min_approvals = 0 needs
/// auto_approve; approvers naming an undeclared team are refused.
#[test]
fn request_and_contract_combinations_agree_with_the_oracle() {
    let base = core();
    let mut runner = TestRunner::new(config(600));
    let strategy = (
        1..2000i64,                       // max_duration, minutes
        1..2000i64,                       // default_duration
        proptest::option::of(1..4000i64), // request duration
        0..4u64,                          // min_approvals
        any::<bool>(),                    // auto_approve
        proptest::sample::subsequence(
            &["team:dba", "team:security", "user:bob", "team:nobody"][..],
            0..4,
        ),
        0..4usize, // which resource the request asks for
    );
    runner
        .run(
            &strategy,
            |(max, default, duration, min_approvals, auto, approvers, resource)| {
                let approvers: Vec<String> =
                    approvers.iter().map(|a| format!("\"{a}\"")).collect();
                let contract = format!(
                    r#"contract "prod-db-read" {{
  role             = "rds-read"
  resources        = ["arn:aws:rds:us-east-1:123456789012:db:prod-*", "arn:aws:rds:us-east-1:123456789012:db:shard-?"]
  requesters       = ["team:eng", "team:dba"]
  approvers        = [{}]
  min_approvals    = {min_approvals}
  auto_approve     = {auto}
  max_duration     = "{max}m"
  default_duration = "{default}m"
  require_reason   = true
  owners           = ["team:security"]
}}
"#,
                    approvers.join(", ")
                );
                let resources = [
                    "arn:aws:rds:us-east-1:123456789012:db:prod-orders", // within prod-*
                    "arn:aws:rds:us-east-1:123456789012:db:shard-7",     // within shard-?
                    "arn:aws:rds:us-east-1:123456789012:db:shard-*",     // wider than shard-?
                    "arn:aws:rds:us-east-1:123456789012:db:*",           // wider than both
                ];
                let request = format!(
                    "request \"alice-inc-1234\" {{\n  requester = \"alice\"\n  contract  = \"prod-db-read\"\n{}  reason    = \"INC-1\"\n  resources = [\"{}\"]\n}}\n",
                    duration.map_or(String::new(), |d| format!("  duration  = \"{d}m\"\n")),
                    resources[resource]
                );
                let mut files: Vec<SourceFile> = base
                    .iter()
                    .filter(|f| {
                        f.path != "contracts/prod-db-read.hcl"
                            && f.path != "requests/alice-inc-1234.hcl"
                    })
                    .cloned()
                    .collect();
                files.push(SourceFile {
                    path: "contracts/prod-db-read.hcl".into(),
                    text: contract,
                });
                files.push(SourceFile {
                    path: "requests/alice-inc-1234.hcl".into(),
                    text: request,
                });
                let (repo, mut diags) = parse_files(&files);
                diags.extend(validate::validate(&repo));
                check_diagnostics(&files, &diags).map_err(TestCaseError::fail)?;
                let about = |file: &str, needle: &str| {
                    diags.iter().any(|d| {
                        d.is_error() && &*d.loc.file == file && d.message.contains(needle)
                    })
                };
                let req = "requests/alice-inc-1234.hcl";
                let con = "contracts/prod-db-read.hcl";
                let effective = duration.unwrap_or(default);
                prop_assert_eq!(
                    about(req, "exceeds contract"),
                    effective > max,
                    "duration {}m against max {}m: {:?}",
                    effective,
                    max,
                    diags
                );
                prop_assert_eq!(
                    about(req, "is not matched by contract"),
                    resource >= 2,
                    "resource {}: {:?}",
                    resources[resource],
                    diags
                );
                prop_assert_eq!(
                    about(con, "min_approvals = 0 requires auto_approve"),
                    min_approvals == 0 && !auto
                );
                prop_assert_eq!(
                    about(con, "needs approvers"),
                    !auto && min_approvals > 0 && approvers.is_empty()
                );
                prop_assert_eq!(
                    about(con, "unknown team `nobody`"),
                    approvers.iter().any(|a| a.contains("nobody"))
                );
                Ok(())
            },
        )
        .unwrap();
}

fn parse_one(path: &str, text: &str) -> Vec<Diagnostic> {
    let mut base = core();
    base.retain(|f| f.path != path);
    base.push(SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    });
    let (repo, mut diags) = parse_files(&base);
    diags.extend(validate::validate(&repo));
    diags
}

fn errors_in(diags: &[Diagnostic], path: &str) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.is_error() && &*d.loc.file == path)
        .map(|d| d.to_string())
        .collect()
}

/// 10,000 `[`, `(`, `{`, nested templates and a 10,000-operator chain are
/// syntax errors at a position in the file, never a stack overflow: the
/// parser (hcl-edit 0.10) bounds nesting at 64 levels and operator chains
/// at 128; `fmt` parses first, so it is bounded too.
#[test]
fn deeply_nested_expressions_are_errors_not_stack_overflows() {
    let deep = [
        (
            "brackets",
            format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "parens",
            format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        (
            "objects",
            format!("{}1{}", "{a = ".repeat(10_000), "}".repeat(10_000)),
        ),
        (
            "templates",
            format!("{}x{}", "\"${".repeat(10_000), "}\"".repeat(10_000)),
        ),
        ("unclosed", "[".repeat(100_000)),
        ("operators", format!("1{}", " + 1".repeat(10_000))),
        ("unary", format!("{}1", "!-".repeat(10_000))),
    ];
    let path = "requests/alice-inc-1234.hcl";
    for (what, value) in deep {
        let text = format!(
            "request \"alice-inc-1234\" {{\n  requester = \"alice\"\n  reason = {value}\n}}\n"
        );
        let diags = parse_one(path, &text);
        let errors = errors_in(&diags, path);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{path}:3:")) && e.contains("syntax error")),
            "{what}: {errors:?}"
        );
        let err = jit::fmt::format(path, &text).expect_err(what);
        assert!(
            err.to_string().starts_with(&format!("{path}:3:")),
            "{what}: {err}"
        );
    }
    // Nested blocks too.
    let blocks = format!("{}{}", "a {\n".repeat(10_000), "}\n".repeat(10_000));
    let diags = parse_one("roles/deep.hcl", &blocks);
    assert!(
        errors_in(&diags, "roles/deep.hcl")
            .iter()
            .any(|e| e.contains("syntax error")),
        "blocks"
    );
}

/// A request, contract or role using `file(...)`, `env(...)`, `${...}`, a
/// `%{...}` template, a heredoc or a for expression is refused at its line
/// with an error that says jit never evaluates them; `$${` stays a literal.
#[test]
fn functions_and_interpolation_are_refused_never_evaluated() {
    let req = "requests/alice-inc-1234.hcl";
    let cases = [
        ("reason", "file(\"/etc/passwd\")", "a function call"),
        ("reason", "env(\"HOME\")", "a function call"),
        ("reason", "\"${var.reason}\"", "an interpolated string"),
        ("reason", "\"INC-${1 + 1}\"", "an interpolated string"),
        (
            "reason",
            "\"%{ if true }yes%{ endif }\"",
            "an interpolated string",
        ),
        ("reason", "<<EOF\nINC-1234\nEOF", "a heredoc template"),
        ("requester", "var.alice", "a variable reference"),
        ("duration", "local.d", "a variable reference"),
        ("resources", "[for r in [\"x\"] : r]", "a for expression"),
        ("resources", "[file(\"/etc/hostname\")]", "a function call"),
        (
            "contract",
            "true ? \"prod-db-read\" : \"x\"",
            "a conditional expression",
        ),
    ];
    for (key, value, what) in cases {
        let text = format!(
            "request \"alice-inc-1234\" {{\n  requester = \"alice\"\n  contract  = \"prod-db-read\"\n  reason    = \"INC-1\"\n  {key} = {value}\n}}\n"
        )
        .replacen(&format!("  {key}    = \"INC-1\"\n"), "", 1)
        .replacen(&format!("  {key} = \"alice\"\n"), "", 1)
        .replacen(&format!("  {key}  = \"prod-db-read\"\n"), "", 1);
        let diags = parse_one(req, &text);
        let errors = errors_in(&diags, req);
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("`{key}` must be"))
                    && e.contains(what)
                    && e.contains("never evaluates")),
            "{key} = {value}: {errors:?}"
        );
    }
    // In a contract and a role too.
    let diags = parse_one(
        "contracts/prod-db-read.hcl",
        "contract \"prod-db-read\" {\n  role = \"rds-read\"\n  resources = [\"${data.arn}\"]\n  approvers = [\"team:dba\"]\n  max_duration = env(\"MAX\")\n}\n",
    );
    let errors = errors_in(&diags, "contracts/prod-db-read.hcl");
    assert!(
        errors.iter().any(
            |e| e.starts_with("contracts/prod-db-read.hcl:3:") && e.contains("never evaluates")
        ),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(
            |e| e.starts_with("contracts/prod-db-read.hcl:5:") && e.contains("a function call")
        ),
        "{errors:?}"
    );
    let diags = parse_one(
        "roles/rds-read.hcl",
        "role \"rds-read\" {\n  statement {\n    actions = [lower(\"RDS:*\")]\n    resources = []\n  }\n}\n",
    );
    assert!(
        errors_in(&diags, "roles/rds-read.hcl")
            .iter()
            .any(|e| e.starts_with("roles/rds-read.hcl:3:") && e.contains("a function call")),
        "{diags:?}"
    );
    // An escaped interpolation is the literal text, as written.
    let (repo, diags) = parse_files(&[SourceFile {
        path: req.into(),
        text: "request \"alice-inc-1234\" {\n  requester = \"alice\"\n  contract = \"c\"\n  reason = \"$${env.HOME} %%{x}\"\n}\n".into(),
    }]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(repo.requests["alice-inc-1234"].reason, "${env.HOME} %{x}");
}

/// The binary never opens a file a request names in `file(...)` nor reads
/// a variable named in `env(...)`: the file is a named pipe with no writer
/// (opening it would block for ever), the variable a sentinel that must
/// not appear in any output.
#[test]
fn validate_reads_nothing_a_function_names() {
    let repo = common::repo::Repo::standard();
    let fifo = repo.work.join("secret.pipe");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    std::fs::create_dir_all(repo.work.join("requests")).unwrap();
    repo.write(
        "requests/alice-x.hcl",
        &format!(
            "request \"alice-x\" {{\n  requester = \"alice\"\n  contract  = \"db-read\"\n  reason    = file(\"{}\")\n  duration  = env(\"JIT_HOSTILE_SENTINEL\")\n}}\n",
            fifo.display()
        ),
    );
    let out = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_jit"))
            .args(["-C", repo.work.to_str().unwrap(), "validate"])
            .env("JIT_HOSTILE_SENTINEL", "sentinel-4h-do-not-read"),
        Duration::from_secs(20),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("sentinel-4h"), "{text}");
    assert!(
        text.contains("requests/alice-x.hcl:4:") && text.contains("a function call"),
        "{text}"
    );
    assert!(text.contains("requests/alice-x.hcl:5:"), "{text}");
}

/// Runs a command, killing it (and failing the test) if it outlives
/// `limit`: a hang is a failure, not a stuck suite.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jit");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "jit hung for {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// On disk: an oversized file is refused before it is read, a non-UTF-8
/// file, a named pipe and a symbolic link to a file outside the repo are
/// errors for their path alone; every other error is still reported, and
/// `fmt` leaves each of them alone. Nothing hangs.
#[test]
fn validate_and_fmt_refuse_oversized_non_utf8_and_non_regular_files() {
    let repo = common::repo::Repo::standard();
    let big = format!("# {}\n", "x".repeat(MAX_FILE_BYTES));
    repo.write("roles/big.hcl", &big);
    std::fs::write(
        repo.work.join("teams-latin1.hcl"),
        b"team \"caf\xe9\" { members = [] }\n",
    )
    .unwrap();
    let status = Command::new("mkfifo")
        .arg(repo.work.join("pipe.hcl"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink("/etc/passwd", repo.work.join("passwd.hcl")).unwrap();
    // A real error elsewhere is still reported.
    repo.write(
        "requests/alice-x.hcl",
        &common::repo::request("alice-x", "alice", "db-read", "99h"),
    );
    for args in [&["validate"][..], &["fmt", "--check"][..], &["fmt"][..]] {
        let mut all = vec!["-C", repo.work.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = run_with_timeout(
            Command::new(env!("CARGO_BIN_EXE_jit")).args(&all),
            Duration::from_secs(20),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        for needle in [
            format!(
                "roles/big.hcl is {} bytes, over the limit of {MAX_FILE_BYTES}",
                big.len()
            ),
            "teams-latin1.hcl is not UTF-8 (invalid byte at offset 9)".to_string(),
            "pipe.hcl is not a regular file".to_string(),
            "passwd.hcl is a symbolic link".to_string(),
        ] {
            assert!(err.contains(&needle), "{args:?}: no `{needle}` in:\n{err}");
        }
        assert!(!err.contains("root:"), "{err}");
        if args[0] == "validate" {
            assert!(err.contains("requests/alice-x.hcl:4:"), "{err}");
        }
    }
    assert_eq!(repo.read("roles/big.hcl"), big, "fmt left the file alone");
}

/// In-process: a file over the limit is refused before parsing (its
/// syntax error is never reported), in parse_files and fmt alike.
#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let text = format!("request {{{{{{ {}", "x".repeat(MAX_FILE_BYTES));
    for path in ["requests/alice-inc-1234.hcl", "contracts/prod-db-read.hcl"] {
        let diags = parse_one(path, &text);
        let errors = errors_in(&diags, path);
        assert!(
            errors.iter().any(|e| e.contains("over the limit of"))
                && !errors.iter().any(|e| e.contains("syntax error")),
            "{errors:?}"
        );
        let err = jit::fmt::format(path, &text).unwrap_err().to_string();
        assert!(err.contains("over the limit of"), "{err}");
    }
    // At the limit it is read.
    let at_limit = format!("# {}\n", "x".repeat(MAX_FILE_BYTES - 3));
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    assert!(errors_in(&parse_one("roles/x.hcl", &at_limit), "roles/x.hcl").is_empty());
}

/// More request files than the limit: one error names requests/ and the
/// limit; only the first ones by name are read (on disk, in a git tree and
/// in the history reader's diff of requests/ trees), so a flood costs what
/// the limit costs.
#[test]
fn a_flood_of_request_files_is_read_only_up_to_the_limit() {
    let n = MAX_REQUEST_FILES + 2;
    let names: Vec<String> = (0..n).map(|i| format!("r{i:06}")).collect();

    // On disk (in memory where the machine has /dev/shm: 50,000 files on
    // an overlay disk take seconds to create).
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .unwrap();
    let requests = dir.path().join("requests");
    std::fs::create_dir(&requests).unwrap();
    for name in &names {
        std::fs::write(requests.join(format!("{name}.hcl")), "").unwrap();
    }
    let (read, problems) = jit::worktree::read_access_files(dir.path()).unwrap();
    assert_eq!(read.len(), MAX_REQUEST_FILES);
    assert_eq!(
        read.last().unwrap().path,
        format!("requests/{}.hcl", names[MAX_REQUEST_FILES - 1])
    );
    assert_eq!(
        problems.len(),
        1,
        "{:?}",
        &problems[..problems.len().min(3)]
    );
    assert!(problems[0].message.contains("over the limit"));
    drop(dir);

    // In git: one blob, n entries, written with `git update-index`.
    let repo = common::repo::Repo::empty();
    let empty = git(&repo.work, &["hash-object", "-w", "/dev/null"]);
    let index: String = names
        .iter()
        .map(|name| format!("100644 {empty}\trequests/{name}.hcl\n"))
        .collect();
    git_stdin(
        &repo.work,
        &["update-index", "--add", "--index-info"],
        &index,
    );
    let tree = git(&repo.work, &["write-tree"]);
    let git_repo = git2::Repository::open(&repo.work).unwrap();
    let tree = git_repo
        .find_tree(git2::Oid::from_str(&tree).unwrap())
        .unwrap();
    let (read, diags) = jit::git::read_files(&git_repo, &tree, jit::git::is_live).unwrap();
    assert_eq!(read.len(), MAX_REQUEST_FILES);
    assert_eq!(diags.len(), 1, "{:?}", &diags[..diags.len().min(3)]);
    assert!(
        diags[0]
            .message
            .contains(&format!("requests/ holds {n} files"))
    );
    // The history reader's diff of requests/ trees sees the same files.
    let requests_tree = tree.get_name("requests").unwrap().id();
    let odb = git_repo.odb().unwrap();
    let raw = jit::git::history::RawTree::read(&odb, requests_tree).unwrap();
    let added = jit::git::history::request_deltas(None, Some(&raw));
    assert_eq!(added.len(), MAX_REQUEST_FILES);
    assert_eq!(
        added.last().unwrap().0,
        format!("{}.hcl", names[MAX_REQUEST_FILES - 1])
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_stdin(dir: &Path, args: &[&str], input: &str) {
    use std::io::Write;
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "git {args:?}");
}

/// Every input the fuzzer found (fuzz/regressions/<target>/) keeps the
/// fuzz target's property: `fmt` errs naming the file or returns text that
/// formats to itself; parse + validate name a file of the repo.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let base = core();
    let mut seen = 0;
    for target in std::fs::read_dir(&dir).expect("fuzz/regressions") {
        for file in std::fs::read_dir(target.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            check_repo_with(&base, "contracts/prod-db-read.hcl", &text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 4, "the findings are there ({seen})");
}

/// An operand that fails to parse after a chain of binary operations
/// (`9 % 9 % {`, the file ending before the object closes) used to be
/// parsed again at every nesting level, doubling the work per level:
/// hcl-edit 0.10.0 took 12 s in release for 24 levels, and the fuzzer's
/// 527-byte input (in fuzz/regressions/fmt/) 1.2 s. jit builds a patched hcl-edit
/// (vendor/README.md). At 40 levels the unpatched parser would run for
/// days; the deadline turns that into a failure instead of a stuck suite.
#[test]
fn parsing_stays_linear_in_nesting_depth_after_a_failed_operand() {
    let shapes = [
        ("object", "9%9%{"),
        ("parenthesis", "9%9%("),
        ("object key", "9%9%{9:"),
        ("template", "9%\"${9%9%{"),
        ("index", "9%a[9%9%{"),
    ];
    let path = "requests/alice-inc-1234.hcl";
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (what, unit) in shapes {
            let value = unit.repeat(40);
            // Nothing closes: the parse fails at the end of the file.
            let text = format!(
                "request \"alice-inc-1234\" {{\n  requester = \"alice\"\n  reason = {value}\n"
            );
            let errors = errors_in(&parse_one(path, &text), path);
            let fmt = jit::fmt::format(path, &text).map(|_| ());
            tx.send((what, errors, fmt)).unwrap();
        }
    });
    for _ in shapes {
        let (what, errors, fmt) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the parse finishes (it was exponential in the nesting depth)");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{path}:")) && e.contains("syntax error")),
            "{what}: {errors:?}"
        );
        let err = fmt.expect_err(what);
        assert!(
            err.to_string().starts_with(&format!("{path}:")),
            "{what}: {err}"
        );
    }
}
