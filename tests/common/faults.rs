//! A fault-injecting HTTP proxy between jit and its servers (moto_server,
//! the fake GitHub): on a seeded schedule it answers throttling, 500 or
//! 503, answers slowly, drops the connection before or after the upstream
//! saw the request, or kills the jit process there (`kill -9`), like a
//! crash at that exact point.
//!
//! ```ignore
//! let proxy = FaultProxy::start(moto.addr(), Schedule::random(seed, 0.2, Fault::TRANSIENT));
//! jit with AWS_ENDPOINT_URL = proxy.endpoint() ...
//! proxy.stats() // requests seen, faults injected by kind
//! ```
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One thing that can go wrong with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// HTTP 400 `Throttling` (IAM) / `ThrottlingException` (JSON APIs).
    Throttle,
    /// HTTP 500 `InternalFailure`.
    Internal,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// The call reaches the server late (and so does its answer).
    Slow,
    /// The connection closes before the request reaches the server.
    DropBefore,
    /// The server did the work; the connection closes before the answer.
    DropAfter,
    /// `kill -9` of the armed process before the request reaches the server.
    KillBefore,
    /// `kill -9` of the armed process after the server did the work.
    KillAfter,
}

impl Fault {
    /// What a well-behaved client survives by retrying.
    pub const TRANSIENT: &[Fault] = &[
        Fault::Throttle,
        Fault::Internal,
        Fault::Unavailable,
        Fault::Slow,
        Fault::DropBefore,
        Fault::DropAfter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Internal => "http_500",
            Fault::Unavailable => "http_503",
            Fault::Slow => "slow",
            Fault::DropBefore => "drop_before",
            Fault::DropAfter => "drop_after",
            Fault::KillBefore => "kill_before",
            Fault::KillAfter => "kill_after",
        }
    }
}

/// Which request gets which fault.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Nothing goes wrong.
    None,
    /// Each request independently with probability `rate`, the kind chosen
    /// from `kinds`; deterministic in (`seed`, request number).
    Random {
        seed: u64,
        rate: f64,
        kinds: Vec<Fault>,
    },
    /// Exactly request number `at` (1-based) gets `fault`.
    At { at: usize, fault: Fault },
    /// Every call whose action is `action` gets `fault` (a call that keeps
    /// failing, more often than any retry policy tries).
    Every { action: &'static str, fault: Fault },
}

impl Schedule {
    pub fn random(seed: u64, rate: f64, kinds: &[Fault]) -> Schedule {
        Schedule::Random {
            seed,
            rate,
            kinds: kinds.to_vec(),
        }
    }

    fn fault_for(&self, n: usize, action: &str) -> Option<Fault> {
        match self {
            Schedule::None => None,
            Schedule::Every { action: a, fault } => (*a == action).then_some(*fault),
            Schedule::At { at, fault } => (*at == n).then_some(*fault),
            Schedule::Random { seed, rate, kinds } => {
                let r = splitmix(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
                (unit < *rate).then(|| kinds[(splitmix(r) % kinds.len() as u64) as usize])
            }
        }
    }
}

/// What the proxy saw.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests received (including those that got a fault).
    pub requests: usize,
    /// Faults injected, by kind name.
    pub faults: BTreeMap<&'static str, usize>,
    /// The action of each request, in arrival order (`Action=` or
    /// `X-Amz-Target`), with the fault it got.
    pub calls: Vec<(String, Option<Fault>)>,
}

impl Stats {
    pub fn injected(&self) -> usize {
        self.faults.values().sum()
    }
}

/// Puts a test in accounts of its own on a shared server: each fixture
/// account id reads as a fresh one on the way in and back on the way out,
/// so the test sees its fixture ids everywhere. Calls made with the base
/// test credentials and no account header land in the first account.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// (fixture id, real id), 12 digits each.
    pub pairs: Vec<(String, String)>,
}

struct State {
    isolation: Option<Isolation>,
    schedule: Schedule,
    stats: Stats,
    /// The process a kill fault kills.
    victim: Option<u32>,
    killed: bool,
    slow: Duration,
}

/// The running proxy; it stops with the test process.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// How late a [`Fault::Slow`] call is, unless set otherwise.
pub const SLOW: Duration = Duration::from_millis(700);

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr, schedule: Schedule) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new((
            Mutex::new(State {
                isolation: None,
                schedule,
                stats: Stats::default(),
                victim: None,
                killed: false,
                slow: SLOW,
            }),
            Condvar::new(),
        ));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    let _ = serve(client, upstream, &shared);
                });
            }
        });
        FaultProxy { addr, state }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new schedule; the request count starts again at 1.
    pub fn set_schedule(&self, schedule: Schedule) {
        let mut s = self.state.0.lock().unwrap();
        s.schedule = schedule;
        s.stats = Stats::default();
        s.victim = None;
        s.killed = false;
    }

    /// Isolates what goes through the proxy in accounts of its own.
    pub fn isolate(&self, isolation: Isolation) {
        self.state.0.lock().unwrap().isolation = Some(isolation);
    }

    /// Adds `fixture` to the isolated accounts (as `real`) unless it is one.
    pub fn isolate_also(&self, fixture: &str, real: impl FnOnce() -> String) {
        let mut s = self.state.0.lock().unwrap();
        let isolation = s
            .isolation
            .get_or_insert_with(|| Isolation { pairs: vec![] });
        if !isolation.pairs.iter().any(|(f, _)| f == fixture) {
            isolation.pairs.push((fixture.to_string(), real()));
        }
    }

    /// How long a [`Fault::Slow`] call waits before it reaches the server.
    pub fn set_slow(&self, delay: Duration) {
        self.state.0.lock().unwrap().slow = delay;
    }

    /// The process a kill fault kills (a kill waits up to 10 s for it).
    pub fn arm(&self, pid: u32) {
        let mut s = self.state.0.lock().unwrap();
        s.victim = Some(pid);
        self.state.1.notify_all();
    }

    /// Whether a kill fault killed the armed process.
    pub fn killed(&self) -> bool {
        self.state.0.lock().unwrap().killed
    }

    pub fn stats(&self) -> Stats {
        self.state.0.lock().unwrap().stats.clone()
    }
}

/// Serves one client connection (keep-alive: many requests).
fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    shared: &(Mutex<State>, Condvar),
) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    loop {
        let Some(mut request) = read_request(&mut reader)? else {
            return Ok(());
        };
        let isolation = shared.0.lock().unwrap().isolation.clone();
        if let Some(i) = &isolation {
            request.isolate(i);
        }
        let fault = {
            let mut s = shared.0.lock().unwrap();
            s.stats.requests += 1;
            let n = s.stats.requests;
            let action = request.action();
            let fault = if s.killed {
                None
            } else {
                s.schedule.fault_for(n, &action)
            };
            if let Some(f) = fault {
                *s.stats.faults.entry(f.name()).or_default() += 1;
            }
            s.stats.calls.push((action, fault));
            fault
        };
        match fault {
            Some(Fault::Throttle) => {
                client.write_all(&request.error(400, "Throttling", "Rate exceeded"))?
            }
            Some(Fault::Internal) => {
                client.write_all(&request.error(500, "InternalFailure", "injected"))?
            }
            Some(Fault::Unavailable) => {
                client.write_all(&request.error(503, "ServiceUnavailable", "injected"))?
            }
            Some(Fault::DropBefore) => {
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::KillBefore) => {
                kill(shared);
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(f @ (Fault::DropAfter | Fault::KillAfter)) => {
                let _ = forward(&request, upstream)?;
                if f == Fault::KillAfter {
                    kill(shared);
                }
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Slow) => {
                let delay = shared.0.lock().unwrap().slow;
                thread::sleep(delay);
                client.write_all(&forward(&request, upstream)?)?;
            }
            None => client.write_all(&forward(&request, upstream)?)?,
        }
        client.flush()?;
        if request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}

/// Kills the armed process (waiting for it to be armed).
fn kill(shared: &(Mutex<State>, Condvar)) {
    let (lock, armed) = shared;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = lock.lock().unwrap();
    while s.victim.is_none() && Instant::now() < deadline {
        s = armed.wait_timeout(s, Duration::from_millis(50)).unwrap().0;
    }
    let pid = s
        .victim
        .expect("a kill fault fired but no process was armed");
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid} failed");
    s.killed = true;
}

struct Request {
    head: String,
    body: Vec<u8>,
    isolated: Option<Isolation>,
}

impl Request {
    fn isolate(&mut self, i: &Isolation) {
        for (fixture, real) in &i.pairs {
            assert_eq!(fixture.len(), real.len(), "account ids are 12 digits");
            self.body = replace(&self.body, fixture.as_bytes(), real.as_bytes());
            self.head = self.head.replace(fixture, real);
        }
        let temporary = self
            .header("authorization")
            .is_some_and(|a| a.contains("Credential=ASIA"));
        if let Some((_, first)) = i.pairs.first()
            && self.header("x-moto-account-id").is_none()
            && !temporary
        {
            let mut lines: Vec<&str> = self.head.lines().collect();
            let header = format!("x-moto-account-id: {first}");
            lines.insert(1, &header);
            self.head = lines.join("\r\n") + "\r\n";
        }
        self.isolated = Some(i.clone());
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The API action: `Action=` of a query call, else `X-Amz-Target`,
    /// else the request line.
    fn action(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        body.split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .map(str::to_string)
            .or_else(|| self.header("x-amz-target").map(str::to_string))
            .unwrap_or_else(|| self.head.lines().next().unwrap_or("").to_string())
    }

    /// An AWS error answer in the protocol the request used.
    fn error(&self, status: u16, code: &str, message: &str) -> Vec<u8> {
        let reason = match status {
            400 => "Bad Request",
            500 => "Internal Server Error",
            _ => "Service Unavailable",
        };
        let json = self.header("x-amz-target").is_some();
        let (kind, body) = if json {
            let code = if code == "Throttling" {
                "ThrottlingException"
            } else {
                code
            };
            (
                format!("application/x-amz-json-1.1\r\nx-amzn-errortype: {code}"),
                format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
            )
        } else {
            let kind = if status == 400 { "Sender" } else { "Receiver" };
            (
                "text/xml".to_string(),
                format!(
                    "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                ),
            )
        };
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// One HTTP/1.1 request; `None` when the client closed the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if line == "\r\n" || line == "\n" {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.push_str(&line);
    }
    let mut request = Request {
        head,
        body: vec![],
        isolated: None,
    };
    if let Some(len) = request.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::other("bad content-length"))?;
        request.body = vec![0; len];
        reader.read_exact(&mut request.body)?;
    } else if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            request.body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Some(request))
}

/// Sends `request` upstream on a fresh connection and returns the answer,
/// re-framed with a Content-Length so the client connection stays usable.
fn forward(request: &Request, upstream: SocketAddr) -> io::Result<Vec<u8>> {
    let answer = forward_raw(request, upstream)?;
    Ok(match &request.isolated {
        Some(i) => i.pairs.iter().fold(answer, |a, (fixture, real)| {
            replace(&a, real.as_bytes(), fixture.as_bytes())
        }),
        None => answer,
    })
}

fn forward_raw(request: &Request, upstream: SocketAddr) -> io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = unframed(&request.head);
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    up.write_all(head.as_bytes())?;
    up.write_all(&request.body)?;
    let mut raw = vec![];
    up.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("upstream answer has no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        body = super::moto::dechunk(&body);
    }
    let mut out = unframed(&head);
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut answer = out.into_bytes();
    answer.extend_from_slice(&body);
    Ok(answer)
}

/// A message head without its framing headers (the proxy frames anew).
fn unframed(head: &str) -> String {
    let mut out = String::new();
    for (i, line) in head.lines().enumerate() {
        let name = line.split(':').next().unwrap_or("").trim();
        let framing = ["connection", "content-length", "transfer-encoding"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if i == 0 || !framing {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `haystack` with every `from` replaced by `to` (same length or not).
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}
