//! The cloud as jit sees it: the objects jit owns, and the few facts about
//! everything else that quotas need. `Cloud` is the seam between the pure
//! planner and the AWS SDK.

pub mod aws;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Account;
use crate::config::validate::PrincipalKind;

/// Prefix of every IAM object name jit creates, and the only ones it touches.
pub const PREFIX: &str = "jit-";
/// Path of the customer-managed policies jit creates.
pub const MANAGED_PATH: &str = "/jit/";
/// Prefix of the trust-policy statements jit writes (`Jit` + request in CamelCase).
pub const SID_PREFIX: &str = "Jit";
/// The role inline policy that denies sessions assumed before a revocation.
/// jit maintains it; it is not a grant.
pub const SESSION_REVOCATIONS: &str = "jit-session-revocations";

/// An IAM object jit owns, by where it lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// Inline policy on an IAM user.
    UserPolicy { user: String, policy: String },
    /// Inline policy on an IAM role.
    RolePolicy { role: String, policy: String },
    /// Customer-managed policy under /jit/, attached to one principal
    /// (`principal` is `user/<name>` or `role/<name>`; empty when unattached).
    ManagedPolicy { policy: String, principal: String },
    /// Statement `sid` in the trust policy of role `role` (mode assume_role).
    TrustStatement { role: String, sid: String },
}

impl Target {
    /// The inline policy for a grant on a principal.
    pub fn inline(kind: PrincipalKind, principal: &str, request: &str) -> Target {
        let policy = format!("{PREFIX}{request}");
        match kind {
            PrincipalKind::User => Target::UserPolicy {
                user: principal.into(),
                policy,
            },
            PrincipalKind::Role => Target::RolePolicy {
                role: principal.into(),
                policy,
            },
        }
    }

    pub fn managed(kind: PrincipalKind, principal: &str, request: &str) -> Target {
        let prefix = match kind {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        };
        Target::ManagedPolicy {
            policy: format!("{PREFIX}{request}"),
            principal: format!("{prefix}/{principal}"),
        }
    }

    pub fn trust(role: &str, request: &str) -> Target {
        Target::TrustStatement {
            role: role.into(),
            sid: sid_for(request),
        }
    }

    /// The IAM name of the object: policy name or statement Sid.
    pub fn policy_name(&self) -> &str {
        match self {
            Target::UserPolicy { policy, .. }
            | Target::RolePolicy { policy, .. }
            | Target::ManagedPolicy { policy, .. } => policy,
            Target::TrustStatement { sid, .. } => sid,
        }
    }

    /// Whether this object was made for `request`.
    pub fn is_for(&self, request: &str) -> bool {
        match self {
            Target::TrustStatement { sid, .. } => *sid == sid_for(request),
            _ => self.policy_name().strip_prefix(PREFIX) == Some(request),
        }
    }

    /// The request this object was created for, as far as its name tells
    /// (a trust statement's Sid is a lossy form of the name).
    pub fn request(&self) -> Option<&str> {
        match self {
            Target::TrustStatement { sid, .. } => sid.strip_prefix(SID_PREFIX),
            _ => self.policy_name().strip_prefix(PREFIX),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::UserPolicy { user, policy } => {
                write!(f, "inline policy {policy} on user/{user}")
            }
            Target::RolePolicy { role, policy } => {
                write!(f, "inline policy {policy} on role/{role}")
            }
            Target::ManagedPolicy { policy, principal } if principal.is_empty() => {
                write!(f, "managed policy {MANAGED_PATH}{policy} (unattached)")
            }
            Target::ManagedPolicy { policy, principal } => {
                write!(f, "managed policy {MANAGED_PATH}{policy} on {principal}")
            }
            Target::TrustStatement { role, sid } => {
                write!(f, "trust statement {sid} on role/{role}")
            }
        }
    }
}

/// The trust statement Sid for a request: `Jit` + its name in CamelCase
/// alphanumerics (`alice-inc-1234` -> `JitAliceInc1234`).
pub fn sid_for(request: &str) -> String {
    let mut sid = String::from(SID_PREFIX);
    for part in request
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            sid.push(first.to_ascii_uppercase());
            sid.extend(chars);
        }
    }
    sid
}

/// A jit-owned object as it is in IAM now.
#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub target: Target,
    pub document: Value,
}

/// What one account's IAM holds, as far as jit cares.
#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub account_id: String,
    pub owned: Vec<Owned>,
    /// Principals that exist, as `user/<name>` and `role/<name>`.
    pub principals: BTreeSet<String>,
    /// Size of the inline policies jit does not own, per principal.
    pub foreign_inline_size: BTreeMap<String, usize>,
    /// Managed policies attached that jit does not own, per principal.
    pub foreign_managed_count: BTreeMap<String, usize>,
    /// Size of each role's trust policy without jit's statements, by role name.
    pub foreign_trust_size: BTreeMap<String, usize>,
    pub calls: usize,
}

impl AccountState {
    pub fn find(&self, target: &Target) -> Option<&Owned> {
        self.owned.iter().find(|o| &o.target == target)
    }
}

/// The cloud's IAM: read one account in O(pages), write one object at a time.
pub trait Cloud {
    fn read(&mut self, account: &Account) -> anyhow::Result<AccountState>;
    /// Creates or replaces the object with this document (minified JSON).
    fn put(&mut self, account: &Account, target: &Target, document: &str) -> anyhow::Result<()>;
    /// Removes the object; removing one that is already gone is not an error.
    fn delete(&mut self, account: &Account, target: &Target) -> anyhow::Result<()>;
    /// API calls made so far.
    fn calls(&self) -> usize;
}

/// IAM returns documents URL-encoded (moto leaves some plain): decode only
/// what is not already JSON.
pub fn decode_document(raw: &str) -> anyhow::Result<Value> {
    let text = if raw.trim_start().starts_with('{') {
        raw.to_string()
    } else {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()?
            .into_owned()
    };
    Ok(serde_json::from_str(&text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_and_plain_documents() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_document(plain).unwrap(),
            decode_document(encoded).unwrap()
        );
        // A plain document containing a percent sequence is left alone.
        let literal = r#"{"Sid":"%41"}"#;
        assert_eq!(decode_document(literal).unwrap()["Sid"], "%41");
    }

    #[test]
    fn sids_are_camel_case_alphanumerics() {
        assert_eq!(sid_for("alice-inc-1234"), "JitAliceInc1234");
        let t = Target::trust("ops", "alice-inc-1234");
        assert!(t.is_for("alice-inc-1234") && !t.is_for("alice-inc-123"));
        assert_eq!(t.to_string(), "trust statement JitAliceInc1234 on role/ops");
    }

    #[test]
    fn target_names_its_request() {
        let t = Target::inline(PrincipalKind::User, "alice", "alice-inc-1");
        assert_eq!(t.request(), Some("alice-inc-1"));
        assert_eq!(t.to_string(), "inline policy jit-alice-inc-1 on user/alice");
    }
}
