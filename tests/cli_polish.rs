//! The CLI around the commands: completion scripts a shell accepts, man
//! pages, a working example at the end of every `--help`, `jit explain`
//! telling one request's story, and colour that follows the terminal and
//! NO_COLOR.

mod common;

use std::process::Command;

use clap::CommandFactory;
use common::moto::Moto;
use common::repo::*;

fn jit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jit"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run jit")
}

#[test]
fn bash_accepts_the_completion_script_and_every_shell_gets_one() {
    let out = jit(&["completions", "bash"]);
    assert!(out.status.success());
    let script = stdout(&out);
    assert!(script.contains("complete -F _jit"), "{script}");
    for word in [
        "reconcile",
        "explain",
        "--detailed-exitcode",
        "--log-format",
    ] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jit.bash");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourcing it registers the completion.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p jit", path.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sourced.stdout).contains("_jit"),
        "{sourced:?}"
    );
    for (shell, marker) in [("zsh", "#compdef jit"), ("fish", "complete -c jit")] {
        let out = jit(&["completions", shell]);
        assert!(
            out.status.success() && stdout(&out).contains(marker),
            "{shell}"
        );
    }
    assert!(!jit(&["completions", "tcsh"]).status.success());
}

#[test]
fn man_pages_come_from_the_definitions() {
    let out = jit(&["man"]);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.contains(".TH jit 1"), "{page}");
    assert!(page.contains("reconcile") && page.contains("explain"));
    let dir = tempfile::tempdir().unwrap();
    let out = jit(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["jit.1", "jit-plan.1", "jit-reconcile.1", "jit-explain.1"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{file}");
    }
}

/// The example lines of a help text (after `Example:` or `Examples:`).
fn examples(help: &str) -> Vec<String> {
    let Some((_, tail)) = help.rsplit_once("Example") else {
        return Vec::new();
    };
    tail.lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| l.starts_with("jit "))
        .map(String::from)
        .collect()
}

/// Shell words of an example, up to a pipe or redirection.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    let end = out
        .iter()
        .position(|w| w == "|" || w == ">")
        .unwrap_or(out.len());
    out.truncate(end);
    out
}

#[test]
fn every_help_ends_with_an_example_that_parses() {
    fn walk(cmd: &clap::Command, path: Vec<String>, checked: &mut usize) {
        let mut cmd = cmd.clone();
        let help = cmd.render_long_help().to_string();
        let found = examples(&help);
        assert!(
            !found.is_empty(),
            "`{}` --help has no example:\n{help}",
            path.join(" ")
        );
        assert!(
            help.trim_end().ends_with(found.last().unwrap().as_str()),
            "`{}` --help does not end with its example",
            path.join(" ")
        );
        for line in &found {
            let w = words(line);
            let parsed = jit::cli::Cli::command().try_get_matches_from(&w);
            assert!(
                parsed.is_ok(),
                "example `{line}` does not parse: {}",
                parsed.unwrap_err()
            );
            *checked += 1;
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, checked);
        }
    }
    let mut checked = 0;
    walk(&jit::cli::Cli::command(), vec!["jit".into()], &mut checked);
    assert!(checked >= 15, "{checked} examples");
    // And the real binary prints it last.
    let out = jit(&["plan", "--help"]);
    assert!(
        stdout(&out)
            .trim_end()
            .ends_with("jit plan --base origin/main --format markdown")
    );
}

/// Runs `cmd` under a pseudo-terminal (util-linux `script`), as a person would.
fn on_a_terminal(repo: &Repo, moto: &Moto, args: &str, no_color: bool) -> String {
    let mut cmd = Command::new("script");
    cmd.arg("-qec")
        .arg(format!(
            "{} -C {} {args}",
            env!("CARGO_BIN_EXE_jit"),
            repo.work.display()
        ))
        .arg("/dev/null")
        .envs(moto.env())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().expect("script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn explain_tells_one_requests_story() {
    let moto = Moto::start();
    for u in ["alice", "bob", "carol"] {
        moto.create_user(u);
    }
    let repo = Repo::standard();
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "2h"),
    );
    let approving = repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    repo.write(
        "requests/carol-db.hcl",
        &request("carol-db", "carol", "db-two", "1h"),
    );
    repo.commit(
        "carol",
        "2026-11-23T09:05:00Z",
        "Request db-two access",
        &["bob"],
    );
    repo.push();
    let now = "2026-11-23T09:30:00Z";
    let explain = |name: &str| {
        let out = repo.jit(&["--now", now, "explain", name], &moto.env());
        (out.status.success(), stdout(&out) + &stderr(&out))
    };

    // Before apply: approved and active, nothing in IAM, plan would grant.
    let (ok, text) = explain("alice-db");
    assert!(ok, "{text}");
    for want in [
        "Request alice-db  (requests/alice-db.hcl)",
        "requester  alice",
        "reason     INC-1: testing",
        "Contract db-read",
        "approvers  team:dba (at least 1)",
        &format!(
            "judged on {} \"Request db access\" at 2026-11-23T09:00:00Z",
            &approving[..10]
        ),
        "approved by bob",
        "2026-11-23T09:00:00Z to 2026-11-23T11:00:00Z",
        "now 2026-11-23T09:30:00Z: active 2026-11-23T09:00:00Z to 2026-11-23T11:00:00Z (1h30m left)",
        "nothing jit owns for it",
        "grant inline policy jit-alice-db on user/alice: rds-read  until 2026-11-23T11:00:00Z",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let out = repo.jit(&["--now", now, "apply", "--auto-approve"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, text) = explain("alice-db");
    assert!(
        text.contains("account 123456789012: inline policy jit-alice-db on user/alice"),
        "{text}"
    );
    assert!(
        text.contains("no change: IAM matches what the request asks for now"),
        "{text}"
    );

    // Missing approvals, and why.
    let (ok, text) = explain("carol-db");
    assert!(ok, "{text}");
    assert!(text.contains("not approved: needs"), "{text}");
    assert!(text.contains("team:security"), "{text}");
    assert!(text.contains("nothing yet (awaiting approval)"), "{text}");

    // A typo gets a suggestion.
    let (ok, text) = explain("alice-bd");
    assert!(!ok);
    assert!(
        text.contains("no request `alice-bd`") && text.contains("did you mean `alice-db`?"),
        "{text}"
    );

    // Colour on a terminal, through anstream; none with NO_COLOR.
    let args = format!("--now {now} explain alice-db");
    let coloured = on_a_terminal(&repo, &moto, &args, false);
    assert!(
        coloured.contains("\u{1b}["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_a_terminal(&repo, &moto, &args, true);
    assert!(plain.contains("Request alice-db"), "{plain:?}");
    assert!(
        !plain.contains("\u{1b}["),
        "NO_COLOR must turn colour off: {plain:?}"
    );
    // Not a terminal: no colour either.
    let (_, piped) = explain("alice-db");
    assert!(!piped.contains("\u{1b}["));
}

/// A long apply on a terminal shows a bar counting its IAM writes (drawn on
/// stderr, above which the write lines scroll); without a terminal, only the
/// lines.
#[test]
fn a_long_apply_shows_a_progress_bar_only_on_a_terminal() {
    let moto = Moto::start();
    moto.create_user("alice");
    let settings = JIT_HCL.replace(
        "approval = \"trailers\"",
        "approval = \"trailers\"\n  quotas {\n    user_inline = 1000000\n  }",
    );
    let repo = Repo::standard_with(&[("jit.hcl", settings.as_str())]);
    for i in 0..24 {
        repo.write(
            &format!("requests/alice-{i}.hcl"),
            &request(&format!("alice-{i}"), "alice", "db-read", "2h"),
        );
    }
    repo.commit("alice", "2026-11-23T09:00:00Z", "Requests", &["bob"]);
    let args = "--now 2026-11-23T09:30:00Z apply --auto-approve --no-push";
    let shown = on_a_terminal(&repo, &moto, args, true);
    assert!(
        shown.contains("Apply complete: 24 IAM change(s)"),
        "{shown}"
    );
    assert!(
        shown.contains("applying ["),
        "no bar on a terminal:\n{shown}"
    );

    // Again without a terminal (IAM reset by revoking: a later clock).
    let out = repo.jit(
        &[
            "--now",
            "2026-11-23T12:00:00Z",
            "apply",
            "--auto-approve",
            "--no-push",
        ],
        &moto.env(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("revoke alice-0"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("applying ["), "{}", stderr(&out));
}
