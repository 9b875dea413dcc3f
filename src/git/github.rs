//! `approval = "github"`: the pull request that produced a commit and its
//! reviews, from GitHub's REST API. A reviewer's latest review must be
//! `APPROVED` on the PR's final head commit; reviews of older pushes are stale.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::{Client, Response};
use serde::Deserialize;

/// What GitHub says about the pull request behind a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    Found {
        number: u64,
        author: String,
        /// Logins whose latest review approves the final head commit.
        approvals: Vec<String>,
        /// Reviews that do not count, and why (stale, dismissed, ...).
        ignored: Vec<String>,
    },
    /// No pull request produced this commit (pushed directly?).
    NoPullRequest,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

#[derive(Debug, Deserialize)]
struct Head {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    user: User,
    head: Head,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReviewItem {
    user: Option<User>,
    state: String,
    commit_id: Option<String>,
}

pub struct GithubClient {
    http: Client,
    base: String,
    repository: String,
    token: Option<String>,
    cache: HashMap<String, Review>,
    pub calls: usize,
}

impl GithubClient {
    /// Base URL from `GITHUB_API_URL` (default the public API), token from `GITHUB_TOKEN`.
    pub fn from_env(repository: &str) -> anyhow::Result<GithubClient> {
        if repository.split('/').count() != 2 {
            bail!(
                "settings.github_repository must be \"owner/name\" for approval = \"github\" (got \"{repository}\")"
            );
        }
        let base =
            std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".into());
        // The client's timers and TLS provider come from the shared runtime.
        let _runtime = crate::runtime::get().enter();
        let http = Client::builder()
            .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(GithubClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            repository: repository.to_string(),
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
            cache: HashMap::new(),
            calls: 0,
        })
    }

    /// The PR behind `sha` and who approved its final head. Cached per commit.
    pub fn review(&mut self, sha: &str) -> anyhow::Result<Review> {
        if let Some(r) = self.cache.get(sha) {
            return Ok(r.clone());
        }
        let review = self
            .fetch_review(sha)
            .with_context(|| format!("reading the pull request of commit {sha} from GitHub"))?;
        self.cache.insert(sha.to_string(), review.clone());
        Ok(review)
    }

    fn fetch_review(&mut self, sha: &str) -> anyhow::Result<Review> {
        let url = format!(
            "{}/repos/{}/commits/{sha}/pulls",
            self.base, self.repository
        );
        let pulls: Vec<Pull> = self.get_json(&url)?.0;
        // The PR merged as this commit, else the merged PR that contains it.
        let pull = pulls
            .iter()
            .find(|p| p.merge_commit_sha.as_deref() == Some(sha))
            .or_else(|| pulls.iter().find(|p| p.merged_at.is_some()));
        let Some(pull) = pull else {
            return Ok(Review::NoPullRequest);
        };

        let mut reviews: Vec<ReviewItem> = Vec::new();
        let mut next = Some(format!(
            "{}/repos/{}/pulls/{}/reviews?per_page=100",
            self.base, self.repository, pull.number
        ));
        while let Some(url) = next {
            let (page, link): (Vec<ReviewItem>, _) = self.get_json(&url)?;
            reviews.extend(page);
            next = link;
        }
        Ok(judge_reviews(
            pull.number,
            &pull.user.login,
            &pull.head.sha,
            &reviews,
        ))
    }

    /// GETs JSON with retries on 5xx and clear errors otherwise; returns the
    /// body and the `Link: rel="next"` URL.
    fn get_json<T: for<'de> Deserialize<'de>>(
        &mut self,
        url: &str,
    ) -> anyhow::Result<(T, Option<String>)> {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=4 {
            let mut req = self
                .http
                .get(url)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(token) = &self.token {
                req = req.bearer_auth(token);
            }
            self.calls += 1;
            log::debug!("GET {url} (attempt {attempt})");
            let resp = match crate::runtime::block_on(async { req.send().await }) {
                Ok(r) => r,
                Err(_) if attempt < 4 => {
                    std::thread::sleep(delay);
                    delay *= 2;
                    continue;
                }
                Err(e) => return Err(e).context(format!("GET {url}")),
            };
            let status = resp.status();
            if status.is_server_error() && attempt < 4 {
                std::thread::sleep(delay);
                delay *= 2;
                continue;
            }
            if !status.is_success() {
                return Err(http_error(url, resp));
            }
            let link = next_link(resp.headers().get("link").and_then(|v| v.to_str().ok()));
            let body = crate::runtime::block_on(resp.json::<T>())
                .with_context(|| format!("GET {url}: unexpected response body"))?;
            return Ok((body, link));
        }
        unreachable!("the last attempt returns")
    }
}

/// A failed GitHub call, said so the user knows what to do.
fn http_error(url: &str, resp: Response) -> anyhow::Error {
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let remaining = header("x-ratelimit-remaining");
    let reset = header("x-ratelimit-reset").and_then(|r| r.parse::<i64>().ok());
    let body = crate::runtime::block_on(resp.text()).unwrap_or_default();
    match status {
        StatusCode::UNAUTHORIZED => anyhow!(
            "GitHub rejected the credentials (401) for {url}: set GITHUB_TOKEN to a valid token"
        ),
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            if remaining.as_deref() == Some("0") || body.contains("rate limit") =>
        {
            let when = reset
                .and_then(|r| Utc.timestamp_opt(r, 0).single())
                .map_or_else(
                    || "later".to_string(),
                    |t| format!("at {}", crate::policy::iam_time(t)),
                );
            anyhow!(
                "GitHub API rate limit exceeded ({status}); it resets {when}. Use a GITHUB_TOKEN (higher limit) or run less often"
            )
        }
        StatusCode::FORBIDDEN => anyhow!(
            "GitHub refused access (403) to {url}: the token needs read access to pull requests"
        ),
        StatusCode::NOT_FOUND => anyhow!(
            "GitHub answered 404 for {url}: check settings.github_repository and that GITHUB_TOKEN can read that repository"
        ),
        _ => anyhow!(
            "GitHub answered {status} for {url}: {}",
            body.chars().take(200).collect::<String>()
        ),
    }
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(header: Option<&str>) -> Option<String> {
    header?.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Each reviewer's latest decisive review (comments don't change a decision)
/// counts only if it is `APPROVED` on the final head commit.
fn judge_reviews(number: u64, author: &str, head: &str, reviews: &[ReviewItem]) -> Review {
    let mut latest: Vec<(&str, &ReviewItem)> = Vec::new();
    for r in reviews {
        let Some(user) = &r.user else { continue };
        if matches!(r.state.as_str(), "COMMENTED" | "PENDING") {
            continue;
        }
        match latest
            .iter_mut()
            .find(|(login, _)| login.eq_ignore_ascii_case(&user.login))
        {
            Some(slot) => slot.1 = r,
            None => latest.push((&user.login, r)),
        }
    }
    let mut approvals = Vec::new();
    let mut ignored = Vec::new();
    for (login, r) in latest {
        match r.state.as_str() {
            "APPROVED" if r.commit_id.as_deref() == Some(head) => approvals.push(login.to_string()),
            "APPROVED" => ignored.push(format!(
                "@{login}'s approval is of an older push, not the final head {}",
                &head[..head.len().min(7)]
            )),
            "DISMISSED" => ignored.push(format!("@{login}'s approval was dismissed")),
            "CHANGES_REQUESTED" => ignored.push(format!("@{login} requested changes")),
            other => ignored.push(format!("@{login}'s review is {other}")),
        }
    }
    Review::Found {
        number,
        author: author.to_string(),
        approvals,
        ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(login: &str, state: &str, commit: &str) -> ReviewItem {
        ReviewItem {
            user: Some(User {
                login: login.into(),
            }),
            state: state.into(),
            commit_id: Some(commit.into()),
        }
    }

    #[test]
    fn latest_decisive_review_on_the_final_head_counts() {
        let reviews = [
            item("bob", "CHANGES_REQUESTED", "h1"),
            item("bob", "APPROVED", "h2"),
            item("bob", "COMMENTED", "h2"),
            item("carol", "APPROVED", "h1"),
            item("dave", "APPROVED", "h2"),
            item("dave", "DISMISSED", "h2"),
        ];
        let Review::Found {
            approvals, ignored, ..
        } = judge_reviews(7, "alice", "h2", &reviews)
        else {
            panic!()
        };
        assert_eq!(approvals, ["bob"]);
        assert!(
            ignored
                .iter()
                .any(|i| i.contains("carol") && i.contains("older push")),
            "{ignored:?}"
        );
        assert!(
            ignored
                .iter()
                .any(|i| i.contains("dave") && i.contains("dismissed")),
            "{ignored:?}"
        );
    }

    #[test]
    fn parses_link_headers() {
        let h = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
        assert_eq!(
            next_link(Some(h)).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert_eq!(next_link(Some(r#"<https://a/x?page=1>; rel="prev""#)), None);
    }
}
