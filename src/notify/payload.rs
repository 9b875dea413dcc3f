//! What is sent: the JSON body and its signature headers, or a Slack Block
//! Kit message. Pure: the timestamp and the key come in as values.
//!
//! A receiver verifies a JSON delivery as it would a Stripe or GitHub
//! webhook: take the raw body and `X-Jit-Timestamp`, compute
//! `hex(HMAC-SHA256(key, "<timestamp>.<body>"))`, compare it in constant time
//! with `X-Jit-Signature` after `sha256=`, and refuse timestamps older than a
//! few minutes (replays). `X-Jit-Delivery` is the same for every delivery of
//! one event of one grant: drop the ones already seen.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::Event;
use crate::policy::iam_time;

/// The JSON body of a delivery (DESIGN §8 field order).
pub fn json_body(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(key: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The headers of a delivery; `X-Jit-Signature` when a key is given.
pub fn headers(
    event: &Event,
    timestamp: i64,
    body: &str,
    key: Option<&[u8]>,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("Content-Type", "application/json".to_string()),
        ("X-Jit-Event", event.event.as_str().to_string()),
        ("X-Jit-Delivery", event.delivery_id()),
        ("X-Jit-Timestamp", timestamp.to_string()),
    ];
    if let Some(key) = key {
        h.push(("X-Jit-Signature", signature(key, timestamp, body)));
    }
    h
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Block Kit message for an incoming webhook: who, which contract and
/// resources, the window, the reason, and a link to the commit
/// (`commit_url` is the commit page's address, when the forge is known).
pub fn slack_body(event: &Event, commit_url: Option<&str>) -> String {
    let title = match event.event.as_str() {
        "granted" => "Access granted",
        "expiring" => "Access expiring soon",
        "expired" => "Access expired",
        "revoked" => "Access revoked",
        "apply_failed" => "jit apply failed",
        "breakglass" => "Breakglass access granted",
        _ => "Request awaiting approval",
    };
    let header = if event.request.is_empty() {
        title.to_string()
    } else {
        format!("{title}: {}", event.request)
    };
    let mut fields: Vec<Value> = Vec::new();
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            fields.push(json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", esc(value))}));
        }
    };
    field("Requester", &event.requester);
    field("Contract", &event.contract);
    field("Principal", &event.principal);
    field("Resources", &event.resources.join("\n"));
    let window = match (event.start, event.end) {
        (Some(s), Some(e)) => format!("{} to {}", iam_time(s), iam_time(e)),
        _ => String::new(),
    };
    field("Window", &window);
    let who = if event.event.as_str() == "pending" {
        "May approve"
    } else {
        "Approved by"
    };
    field(who, &event.approvers.join(", "));
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})];
    if !fields.is_empty() {
        // Block Kit allows at most 10 fields in a section.
        fields.truncate(10);
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if !event.reason.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Reason*\n{}", esc(&event.reason))}}));
    }
    if !event.detail.is_empty() {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": esc(&event.detail)}}),
        );
    }
    let short: String = event.commit.chars().take(10).collect();
    let commit = match commit_url {
        Some(url) if !short.is_empty() => format!("commit <{url}|{short}>"),
        _ if !short.is_empty() => format!("commit `{short}`"),
        _ => String::new(),
    };
    let context = format!("jit · {} · {commit}", event.event.as_str());
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": header, "blocks": blocks}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature(b"key", 1_700_000_000, "{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(signature(b"key", 1, "{}"), signature(b"key", 2, "{}"));
        assert_ne!(signature(b"key", 1, "{}"), signature(b"other", 1, "{}"));
    }

    #[test]
    fn slack_text_is_escaped() {
        assert_eq!(esc("<a & b>"), "&lt;a &amp; b&gt;");
    }
}
