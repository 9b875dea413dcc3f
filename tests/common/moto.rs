//! A real `moto_server` on a loopback port for integration tests (one per
//! test binary, an account per test), and IAM helpers on the AWS SDK to set
//! up and inspect IAM independently of the code under test.
//!
//! ```ignore
//! let moto = Moto::start();
//! moto.create_user("alice");
//! Command::new(env!("CARGO_BIN_EXE_jit")).envs(moto.env())...;
//! assert_eq!(moto.list_user_policies("alice"), ["jit-alice-inc-1234"]);
//! ```
#![allow(dead_code)]

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::faults::{FaultProxy, Isolation, Schedule};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `moto_server`: one per test binary, started on first use and
/// stopped by a watchdog when the test process ends.
struct Server {
    child: Mutex<Child>,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_ACCOUNT: AtomicUsize = AtomicUsize::new(0);

/// The account id every fixture uses (`account "prod"` in tests/common/repo.rs).
pub const FIXTURE_ACCOUNT: &str = "123456789012";

/// A test's own IAM on the binary's shared `moto_server`: a proxy in front
/// of it puts this handle's calls (and jit's, through [`Moto::env`]) in an
/// account of their own, showing it as [`FIXTURE_ACCOUNT`]. Tests run in
/// parallel on one server without seeing each other. Derefs to an [`Iam`]
/// client for that account.
pub struct Moto {
    proxy: FaultProxy,
    iam: Iam,
}

impl Moto {
    /// A fresh account on the shared server (started on first use). Panics
    /// when the server cannot start: tests never silently skip IAM.
    pub fn start() -> Moto {
        let server = SERVER.get_or_init(Server::start);
        let proxy = FaultProxy::start(server.addr, Schedule::None);
        proxy.isolate(fresh_account());
        let addr = proxy
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .expect("proxy address");
        Moto {
            proxy,
            iam: Iam {
                addr,
                account: None,
                sdk: OnceLock::new(),
            },
        }
    }

    /// `http://127.0.0.1:PORT` (the proxy that isolates this test).
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// Environment for a `jit` child process: endpoint, test credentials, region.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A client for another account (moto keeps one IAM per account id,
    /// chosen here with moto's `x-moto-account-id` header).
    pub fn account(&self, account_id: &str) -> Iam {
        // That account is this test's own too.
        self.proxy.isolate_also(account_id, fresh_id);
        Iam {
            addr: self.iam.addr,
            account: Some(account_id.to_string()),
            sdk: OnceLock::new(),
        }
    }

    /// Forgets this test's IAM: its calls go to a fresh account from now on.
    pub fn reset(&self) {
        self.proxy.isolate(fresh_account());
    }

    /// What moto_server printed so far (all tests of this binary).
    pub fn log(&self) -> String {
        read_log(&SERVER.get().expect("server started").log)
    }
}

fn fresh_account() -> Isolation {
    Isolation {
        pairs: vec![(FIXTURE_ACCOUNT.to_string(), fresh_id())],
    }
}

/// An account id no other test of any binary running now uses.
fn fresh_id() -> String {
    let n = NEXT_ACCOUNT.fetch_add(1, Ordering::SeqCst);
    format!("5{:05}{n:06}", std::process::id() % 100_000)
}

impl Server {
    fn start() -> Server {
        let bin = std::env::var_os("JIT_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/.venv/bin/moto_server"
                ))
            });
        assert!(
            bin.is_file(),
            "moto_server not found at {}: run scripts/test.sh, or \
             `source scripts/lib/moto.sh && ensure_moto`, or set JIT_MOTO_SERVER",
            bin.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("jit-moto-")
            .tempdir()
            .expect("create temp dir for moto_server log");
        let log = dir.path().join("moto_server.log");

        for _attempt in 0..5 {
            let port = free_port();
            let out = File::create(&log).expect("create moto_server log");
            let err = out.try_clone().expect("clone moto_server log handle");
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_remove("MOTO_ACCOUNT_ID")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
            watch(child.id());
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break; // exited: most likely the port was taken meanwhile; retry
                }
                let probe = http(addr, "GET", "/", &[], "", Duration::from_secs(2));
                if probe.is_ok() {
                    return Server {
                        child: Mutex::new(child),
                        addr,
                        log,
                        _dir: dir,
                    };
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "moto_server did not answer on {addr} within {START_TIMEOUT:?}; log:\n{}",
                        read_log(&log)
                    );
                }
                sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "moto_server ({}) would not start; last log:\n{}",
            bin.display(),
            read_log(&log)
        );
    }
}

/// Stops `server` once this test process is gone (statics never drop).
fn watch(server: u32) {
    let me = std::process::id();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {server} 2>/dev/null"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

impl Deref for Moto {
    type Target = Iam;
    fn deref(&self) -> &Iam {
        &self.iam
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(server) = SERVER.get()
        {
            let log = read_log(&server.log);
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            eprintln!("--- moto_server log (last lines) ---\n{}", tail.join("\n"));
            let _ = server.child.lock().map(|mut c| c.try_wait());
        }
    }
}

/// An IAM error answer from moto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
    }
}

/// IAM through the AWS SDK itself (and, for calls the helpers lack, the raw
/// query API over plain HTTP: moto does not check signatures). The helpers
/// panic on any error except the "not found" that an `Option` says.
pub struct Iam {
    addr: SocketAddr,
    account: Option<String>,
    sdk: OnceLock<aws_sdk_iam::Client>,
}

impl Iam {
    /// Calls `action` with form parameters; `Ok` is the raw XML response.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, IamError> {
        let mut body = format!("Action={}&Version=2010-05-08", form_encode(action));
        for (k, v) in params {
            body.push('&');
            body.push_str(&form_encode(k));
            body.push('=');
            body.push_str(&form_encode(v));
        }
        // moto routes a request by the service named in the credential scope.
        let mut headers = vec![
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=0",
            ),
        ];
        if let Some(account) = &self.account {
            headers.push(("x-moto-account-id", account.as_str()));
        }
        let (status, xml) = http(
            self.addr,
            "POST",
            "/",
            &headers,
            &body,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("IAM {action} to moto at {}: {e}", self.addr));
        if (200..300).contains(&status) {
            Ok(xml)
        } else {
            Err(IamError {
                status,
                code: xml_text(&xml, "Code").unwrap_or_default(),
                message: xml_text(&xml, "Message").unwrap_or(xml),
            })
        }
    }

    /// The AWS SDK's IAM client for this account (built once per client).
    fn sdk(&self) -> &aws_sdk_iam::Client {
        self.sdk.get_or_init(|| {
            let mut conf = aws_sdk_iam::Config::builder()
                .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
                .endpoint_url(format!("http://{}", self.addr))
                .region(aws_sdk_iam::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_iam::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ));
            if let Some(account) = &self.account {
                conf = conf.interceptor(AccountHeader(account.clone()));
            }
            aws_sdk_iam::Client::from_conf(conf.build())
        })
    }

    /// Creates a user; returns its ARN.
    pub fn create_user(&self, name: &str) -> String {
        let out = sdk_ok(
            "CreateUser",
            self.sdk().create_user().user_name(name).send(),
        );
        out.user().expect("user in CreateUser").arn().to_string()
    }

    /// Creates a role with the given trust policy; returns its ARN.
    pub fn create_role(&self, name: &str, trust_doc_json: &str) -> String {
        let call = self
            .sdk()
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_doc_json)
            .send();
        sdk_ok("CreateRole", call)
            .role()
            .expect("role in CreateRole")
            .arn()
            .to_string()
    }

    fn role(&self, role: &str) -> aws_sdk_iam::types::Role {
        let out = sdk_ok("GetRole", self.sdk().get_role().role_name(role).send());
        out.role().expect("role in GetRole").clone()
    }

    /// The role's unique id (`AROA...`), as used in `aws:userid`.
    pub fn role_id(&self, role: &str) -> String {
        self.role(role).role_id().to_string()
    }

    /// The role's trust policy, decoded.
    pub fn get_role_trust_policy(&self, role: &str) -> String {
        decode_doc(
            self.role(role)
                .assume_role_policy_document()
                .expect("trust policy in GetRole"),
        )
    }

    pub fn update_assume_role_policy(&self, role: &str, doc: &str) {
        let call = self
            .sdk()
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(doc)
            .send();
        sdk_ok("UpdateAssumeRolePolicy", call);
    }

    pub fn put_user_policy(&self, user: &str, name: &str, doc: &str) {
        let call = self
            .sdk()
            .put_user_policy()
            .user_name(user)
            .policy_name(name)
            .policy_document(doc)
            .send();
        sdk_ok("PutUserPolicy", call);
    }

    /// The inline policy's JSON document, or `None` if there is none.
    pub fn get_user_policy(&self, user: &str, name: &str) -> Option<String> {
        let call = self
            .sdk()
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send();
        sdk_found("GetUserPolicy", call).map(|o| decode_doc(o.policy_document()))
    }

    pub fn list_user_policies(&self, user: &str) -> Vec<String> {
        let call = self.sdk().list_user_policies().user_name(user).send();
        sorted(sdk_ok("ListUserPolicies", call).policy_names().to_vec())
    }

    pub fn delete_user_policy(&self, user: &str, name: &str) {
        let call = self
            .sdk()
            .delete_user_policy()
            .user_name(user)
            .policy_name(name)
            .send();
        sdk_ok("DeleteUserPolicy", call);
    }

    pub fn put_role_policy(&self, role: &str, name: &str, doc: &str) {
        let call = self
            .sdk()
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(doc)
            .send();
        sdk_ok("PutRolePolicy", call);
    }

    pub fn get_role_policy(&self, role: &str, name: &str) -> Option<String> {
        let call = self
            .sdk()
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send();
        sdk_found("GetRolePolicy", call).map(|o| decode_doc(o.policy_document()))
    }

    pub fn list_role_policies(&self, role: &str) -> Vec<String> {
        let call = self.sdk().list_role_policies().role_name(role).send();
        sorted(sdk_ok("ListRolePolicies", call).policy_names().to_vec())
    }

    pub fn delete_role_policy(&self, role: &str, name: &str) {
        let call = self
            .sdk()
            .delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send();
        sdk_ok("DeleteRolePolicy", call);
    }

    /// Creates a customer-managed policy; returns its ARN.
    pub fn create_policy(&self, name: &str, path: &str, doc: &str) -> String {
        let call = self
            .sdk()
            .create_policy()
            .policy_name(name)
            .path(path)
            .policy_document(doc)
            .send();
        let out = sdk_ok("CreatePolicy", call);
        out.policy()
            .and_then(|p| p.arn())
            .expect("Arn in CreatePolicy")
            .to_string()
    }

    /// The default version's JSON document, or `None` if there is no such policy.
    pub fn get_policy_document(&self, arn: &str) -> Option<String> {
        let policy = sdk_found("GetPolicy", self.sdk().get_policy().policy_arn(arn).send())?;
        let version = policy.policy()?.default_version_id()?.to_string();
        let call = self
            .sdk()
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send();
        let out = sdk_found("GetPolicyVersion", call)?;
        Some(decode_doc(out.policy_version()?.document()?))
    }

    pub fn attach_user_policy(&self, user: &str, arn: &str) {
        let call = self
            .sdk()
            .attach_user_policy()
            .user_name(user)
            .policy_arn(arn)
            .send();
        sdk_ok("AttachUserPolicy", call);
    }

    /// ARNs of the managed policies attached to the user.
    pub fn list_attached_user_policies(&self, user: &str) -> Vec<String> {
        let call = self
            .sdk()
            .list_attached_user_policies()
            .user_name(user)
            .send();
        let out = sdk_ok("ListAttachedUserPolicies", call);
        sorted(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
        )
    }

    /// ARNs of the managed policies attached to the role.
    pub fn list_attached_role_policies(&self, role: &str) -> Vec<String> {
        let call = self
            .sdk()
            .list_attached_role_policies()
            .role_name(role)
            .send();
        let out = sdk_ok("ListAttachedRolePolicies", call);
        sorted(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
        )
    }
}

/// The runtime the SDK helpers run on (tests call them from plain threads).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime for the IAM helpers")
    })
}

/// Runs an SDK call; panics on any error.
fn sdk_ok<T, E: std::error::Error + Send + Sync + 'static>(
    action: &str,
    call: impl std::future::Future<Output = Result<T, aws_sdk_iam::error::SdkError<E>>>,
) -> T {
    runtime().block_on(call).unwrap_or_else(|e| {
        panic!(
            "IAM {action}: {}",
            aws_sdk_iam::error::DisplayErrorContext(e)
        )
    })
}

/// Runs an SDK call; `None` when IAM answers NoSuchEntity, panics otherwise.
fn sdk_found<T, E>(
    action: &str,
    call: impl std::future::Future<Output = Result<T, aws_sdk_iam::error::SdkError<E>>>,
) -> Option<T>
where
    E: std::error::Error + aws_sdk_iam::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    use aws_sdk_iam::error::ProvideErrorMetadata;
    match runtime().block_on(call) {
        Ok(out) => Some(out),
        Err(e) if e.code() == Some("NoSuchEntity") => None,
        Err(e) => panic!(
            "IAM {action}: {}",
            aws_sdk_iam::error::DisplayErrorContext(e)
        ),
    }
}

/// Sends moto's `x-moto-account-id` header with every call.
#[derive(Debug)]
struct AccountHeader(String);

impl aws_sdk_iam::config::Intercept for AccountHeader {
    fn name(&self) -> &'static str {
        "AccountHeader"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_iam::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_sdk_iam::config::RuntimeComponents,
        _: &mut aws_sdk_iam::config::ConfigBag,
    ) -> Result<(), aws_sdk_iam::error::BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    let mut last = None;
    for _ in 0..5 {
        match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => return addr.port(),
            Err(e) => last = Some(e),
        }
        sleep(Duration::from_millis(20));
    }
    panic!("no free port on 127.0.0.1: {last:?}");
}

fn read_log(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("incomplete HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad HTTP status line: {head}")))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The body of a `Transfer-Encoding: chunked` response.
pub fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size =
            usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// `application/x-www-form-urlencoded` value: everything but RFC 3986
/// unreserved characters is percent-encoded.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// IAM returns policy documents URL-encoded (RFC 3986, `+` is literal);
/// moto leaves a few of them plain JSON, so decode only what is not JSON yet.
/// Names in order: IAM lists them alphabetically, moto in creation order,
/// and apply creates objects in parallel.
fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

pub fn decode_doc(s: &str) -> String {
    if s.trim_start().starts_with('{') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| char::from(c).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text of the first `<tag>...</tag>` (XML-unescaped); `Some("")` for `<tag/>`.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_all(xml, tag)
        .into_iter()
        .next()
        .or_else(|| xml.contains(&format!("<{tag}/>")).then(String::new))
}

/// Texts of every `<tag>...</tag>`, in order.
pub fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(xml_unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    out
}

/// The `<member>` texts of list `<tag>`; empty when the list is empty or absent.
pub fn xml_members(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let Some(start) = xml.find(&open) else {
        return Vec::new();
    };
    let section = &xml[start + open.len()..];
    let section = &section[..section.find(&close).unwrap_or(section.len())];
    xml_all(section, "member")
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
            }
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
