//! A local HTTP fake of the two GitHub endpoints jit reads, serving the real
//! JSON shapes: `GET /repos/{repo}/commits/{sha}/pulls` and
//! `GET /repos/{repo}/pulls/{n}/reviews`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Reply>,
    /// Paths that answer 502 this many more times before their route.
    failures: HashMap<String, usize>,
    requests: Vec<String>,
}

pub struct FakeGithub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub const REPO: &str = "acme/access";

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake GitHub");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain headers.
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let reply = {
                    let mut st = shared.lock().unwrap();
                    st.requests.push(path.clone());
                    let failing = st.failures.get_mut(&path).filter(|n| **n > 0);
                    if let Some(n) = failing {
                        *n -= 1;
                        Reply {
                            status: 502,
                            headers: vec![],
                            body: r#"{"message":"Bad Gateway"}"#.into(),
                        }
                    } else {
                        st.routes.get(&path).cloned().unwrap_or(Reply {
                            status: 404,
                            headers: vec![],
                            body: r#"{"message":"Not Found"}"#.into(),
                        })
                    }
                };
                let mut head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(reply.body.as_bytes());
            }
        });
        FakeGithub { url, state }
    }

    /// Environment for jit: where the API is, and a token.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GITHUB_API_URL".into(), self.url.clone()),
            ("GITHUB_TOKEN".into(), "test-token".into()),
        ]
    }

    pub fn route(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        self.state.lock().unwrap().routes.insert(
            path.to_string(),
            Reply {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_string(),
            },
        );
    }

    /// `commit` was produced by merging PR `number` by `author` whose final head is `head`.
    pub fn pull(&self, commit: &str, number: u64, author: &str, head: &str) {
        let body = json!([{
            "url": format!("https://api.github.com/repos/{REPO}/pulls/{number}"),
            "id": 1000 + number,
            "number": number,
            "state": "closed",
            "title": "Request access",
            "user": {"login": author, "id": 1, "type": "User"},
            "head": {"ref": "request", "sha": head, "label": "acme:request"},
            "base": {"ref": "main", "sha": "0000000000000000000000000000000000000000", "label": "acme:main"},
            "merged_at": "2026-11-23T09:00:00Z",
            "merge_commit_sha": commit,
        }]);
        self.route(
            &format!("/repos/{REPO}/commits/{commit}/pulls"),
            200,
            &[],
            &body.to_string(),
        );
    }

    /// No PR for this commit (pushed directly).
    pub fn no_pull(&self, commit: &str) {
        self.route(
            &format!("/repos/{REPO}/commits/{commit}/pulls"),
            200,
            &[],
            "[]",
        );
    }

    /// The reviews of PR `number`, as (login, state, commit_id), in order.
    pub fn reviews(&self, number: u64, reviews: &[(&str, &str, &str)]) {
        self.route(
            &format!("/repos/{REPO}/pulls/{number}/reviews?per_page=100"),
            200,
            &[],
            &reviews_json(reviews).to_string(),
        );
    }

    /// `path` answers 502 `times` times before its route.
    pub fn fail(&self, path: &str, times: usize) {
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(path.to_string(), times);
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

pub fn reviews_json(reviews: &[(&str, &str, &str)]) -> Value {
    Value::Array(
        reviews
            .iter()
            .enumerate()
            .map(|(i, (login, state, commit))| {
                json!({
                    "id": 80 + i,
                    "user": {"login": login, "id": 2, "type": "User"},
                    "body": "",
                    "state": state,
                    "commit_id": commit,
                    "submitted_at": format!("2026-11-23T08:{:02}:00Z", i),
                    "author_association": "MEMBER",
                })
            })
            .collect(),
    )
}
