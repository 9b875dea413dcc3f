//! `jit reconcile --watch` as a newcomer runs it: against moto, with a
//! webhook receiver, a grant that appears and then expires on its own (the
//! clock starts just before the window's end and runs at real speed), both
//! notifications verified, /healthz and /metrics, JSON logs, and SIGTERM
//! ending it cleanly.

mod common;
#[path = "common/webhook.rs"]
mod webhook;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::repo::*;
use webhook::Receiver;

const ACCOUNT: &str = "220000000001";
const SECRET: &str = "watch-secret";

fn setup(moto: &Moto, hook: &Receiver) -> Repo {
    moto.account(ACCOUNT).create_user("alice");
    let repo = Repo::empty();
    repo.write(
        "jit.hcl",
        &format!(
            r#"settings {{
  branch   = "main"
  admins   = ["team:security"]
  bot {{
    name  = "jit"
    email = "jit@acme.example"
  }}
}}
account "prod" {{
  id       = "{ACCOUNT}"
  role_arn = "arn:aws:iam::{ACCOUNT}:role/jit-reconciler"
}}
notify "security" {{
  url        = "{}"
  format     = "json"
  secret_env = "JIT_NOTIFY_SECRET"
  events     = ["granted", "expired"]
}}
"#,
            hook.url
        ),
    );
    repo.write("people.hcl", &PEOPLE_HCL.replace("123456789012", ACCOUNT));
    repo.write("roles/rds-read.hcl", ROLES_HCL);
    repo.write(
        "contracts/db.hcl",
        &CONTRACTS_HCL.replace("123456789012", ACCOUNT),
    );
    repo.commit("erin", "2026-11-23T08:00:00Z", "Access definitions", &[]);
    repo.write(
        "requests/alice-db.hcl",
        &request("alice-db", "alice", "db-read", "1h"),
    );
    repo.commit(
        "alice",
        "2026-11-23T09:00:00Z",
        "Request db access",
        &["bob"],
    );
    repo.push();
    repo
}

/// Starts `jit reconcile` with `args`; its stderr lines arrive on the channel.
fn start(repo: &Repo, env: &[(String, String)], args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jit"))
        .arg("-C")
        .arg(&repo.work)
        .args(args)
        .envs(env.iter().cloned())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start jit reconcile");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Reads log lines until one satisfies `f` (or panics after `timeout`).
fn wait_line(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    timeout: Duration,
    f: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if f(&line) {
                    return line;
                }
            }
            Err(_) => panic!(
                "no such log line within {timeout:?}; got:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("jit reconcile did not stop within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_grants_then_expires_on_its_own_and_stops_on_sigterm() {
    let moto = Moto::start();
    let hook = Receiver::start();
    let repo = setup(&moto, &hook);
    let mut env = moto.env();
    env.push(("JIT_NOTIFY_SECRET".into(), SECRET.into()));
    // The window ends at 10:00:00; the clock starts 3 seconds before.
    let (mut child, rx) = start(
        &repo,
        &env,
        &[
            "--now",
            "2026-11-23T09:59:57Z",
            "--log-format",
            "json",
            "reconcile",
            "--watch",
            "--interval",
            "1s",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let mut seen = Vec::new();
    let listening = wait_line(&rx, &mut seen, Duration::from_secs(20), |l| {
        l.contains("/metrics")
    });
    let log: serde_json::Value = serde_json::from_str(&listening).expect("JSON log lines");
    assert_eq!(log["level"], "INFO");
    let addr = log["addr"].as_str().expect("addr field").to_string();

    // The grant appears.
    let got = hook.wait_for(1, Duration::from_secs(20));
    assert_eq!(hook.events(), ["granted alice-db"]);
    assert!(got[0].signature_ok(SECRET));
    assert_eq!(
        moto.account(ACCOUNT).list_user_policies("alice"),
        ["jit-alice-db"]
    );
    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, text) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(metric(&text, "jit_grants_total"), 1.0, "{text}");
    assert!(
        metric(&text, "jit_seconds_since_last_success") < 5.0,
        "{text}"
    );
    assert!(
        text.contains("jit_errors_total{kind=\"apply\"} 0"),
        "{text}"
    );

    assert_eq!(get(&addr, "/nope").0, 404);

    // ...and expires on its own: revoked, archived, announced. The receiver
    // answers slowly: SIGTERM arrives while the step is still delivering.
    hook.delay(1500);
    let got = hook.wait_for(2, Duration::from_secs(20));
    assert_eq!(hook.events(), ["granted alice-db", "expired alice-db"]);
    assert!(got[1].signature_ok(SECRET));
    assert!(moto.account(ACCOUNT).list_user_policies("alice").is_empty());
    let (_, text) = get(&addr, "/metrics");
    assert_eq!(metric(&text, "jit_revocations_total"), 1.0, "{text}");
    assert_eq!(metric(&text, "jit_active_grants"), 0.0, "{text}");
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "exit {status:?}");
    // The step finished after the signal: its delivery was recorded and
    // pushed, and the archive commit is on origin.
    let ledger = repo.origin_git(&["show", "jit-notified:ledger"]);
    assert_eq!(ledger.matches("sent security ").count(), 2, "{ledger}");
    assert!(
        repo.origin_git(&["log", "--format=%s", "main"])
            .contains("jit: expire alice-db")
    );
    wait_line(&rx, &mut seen, Duration::from_secs(5), |l| {
        l.contains("stopped by signal")
    });
    // Every log line is one JSON object.
    for line in &seen {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert_eq!(hook.received().len(), 2, "nothing announced twice");
}

#[test]
fn healthz_fails_when_no_step_succeeds() {
    let repo = Repo::empty(); // no commits: every step fails to read
    let (mut child, rx) = start(
        &repo,
        &[],
        &[
            "reconcile",
            "--watch",
            "--interval",
            "1s",
            "--listen",
            "127.0.0.1:0",
            "--unhealthy-after",
            "1s",
        ],
    );
    let mut seen = Vec::new();
    let line = wait_line(&rx, &mut seen, Duration::from_secs(20), |l| {
        l.contains("/metrics")
    });
    let addr = line
        .split("addr=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("addr in the text log line")
        .to_string();
    wait_line(&rx, &mut seen, Duration::from_secs(20), |l| {
        l.contains("step failed")
    });
    std::thread::sleep(Duration::from_millis(1200));
    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no successful step"), "{body}");
    let (_, text) = get(&addr, "/metrics");
    assert!(
        metric(&text, "jit_errors_total{kind=\"read\"}") >= 1.0,
        "{text}"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}
