//! Delivery over HTTP: every delivery of a run at once, each retried with
//! backoff, the whole bounded in time. Never an error for the caller: the
//! result says which deliveries failed and why (with the URL's path, which
//! may be a secret such as a Slack webhook's, left out).

use std::time::Duration;

use tokio::task::JoinSet;

/// One HTTP POST to make.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub target: String,
    pub id: String,
    pub event: String,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// How hard to try.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Waits between attempts (attempts = waits + 1).
    pub backoff: Vec<Duration>,
    /// One attempt's limit (connect and answer).
    pub attempt_timeout: Duration,
    /// Every delivery of the run is done (or given up) within this.
    pub deadline: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            backoff: vec![Duration::from_millis(500), Duration::from_secs(2)],
            attempt_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(20),
        }
    }
}

/// The scheme and host of a URL: what a log line may show.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "(invalid url)".into(),
    }
}

/// Whether an answer is worth another attempt: server errors, throttling,
/// timeouts and connection failures are; other client errors are not.
fn retryable(status: Option<reqwest::StatusCode>) -> bool {
    status.is_none_or(|s| s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408)
}

async fn attempt(
    client: &reqwest::Client,
    d: &Delivery,
) -> Result<(), (Option<reqwest::StatusCode>, String)> {
    let mut req = client.post(&d.url).body(d.body.clone());
    for (k, v) in &d.headers {
        req = req.header(*k, v);
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err((Some(resp.status()), format!("HTTP {}", resp.status()))),
        // Without the URL: reqwest's message would carry its path.
        Err(e) => Err((None, e.without_url().to_string())),
    }
}

async fn deliver_one(client: reqwest::Client, d: Delivery, retry: Retry) -> Result<u32, String> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(&client, &d).await {
            Ok(()) => return Ok(tries),
            Err((status, why)) => {
                let wait = retry.backoff.get(tries as usize - 1);
                match wait {
                    Some(wait) if retryable(status) => {
                        log::info!(
                            "notify {} ({}): attempt {tries} failed ({why}); retrying in {wait:?}",
                            d.target,
                            d.event
                        );
                        tokio::time::sleep(*wait).await;
                    }
                    _ => return Err(format!("{why} after {tries} attempt(s)")),
                }
            }
        }
    }
}

/// Makes every delivery; returns, in order, each one's outcome.
pub fn deliver_all(deliveries: &[Delivery], retry: &Retry) -> Vec<Result<(), String>> {
    if deliveries.is_empty() {
        return Vec::new();
    }
    crate::runtime::block_on(async {
        let client = match reqwest::Client::builder()
            .timeout(retry.attempt_timeout)
            .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                return vec![Err(format!("cannot build the HTTP client: {e}")); deliveries.len()];
            }
        };
        let mut out: Vec<Result<(), String>> =
            vec![Err("not finished within the deadline".into()); deliveries.len()];
        let mut set = JoinSet::new();
        for (i, d) in deliveries.iter().enumerate() {
            let (client, d, retry) = (client.clone(), d.clone(), retry.clone());
            set.spawn(async move { (i, deliver_one(client, d, retry).await) });
        }
        let collect = async {
            while let Some(joined) = set.join_next().await {
                if let Ok((i, result)) = joined {
                    out[i] = result.map(|_| ());
                }
            }
        };
        // Past the deadline, unfinished deliveries are failures; the
        // set's tasks are aborted when it is dropped.
        let _ = tokio::time::timeout(retry.deadline, collect).await;
        out
    })
}
