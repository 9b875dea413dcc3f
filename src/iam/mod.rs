//! The cloud as jit sees it: the objects jit owns, and the few facts about
//! everything else that quotas need. `Cloud` is the seam between the pure
//! planner and the AWS SDK.

pub mod aws;
pub mod sso;

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
/// Prefix of the trust-policy statements jit writes (`Jit` + [`encode_name`]).
pub const SID_PREFIX: &str = "Jit";
/// The role inline policy that denies sessions that must not outlive a
/// grant. jit plans it like any object; it is not a grant.
pub const SESSION_REVOCATIONS: &str = "jit-session-revocations";
/// The one statement of a trust policy from which jit removed its last
/// statement and nothing else is left: IAM rejects an empty statement list,
/// so the policy says "nobody may assume this role". No request can have this
/// Sid: every request Sid continues `Jit` with an upper-case letter or digit.
pub const NOBODY_SID: &str = "Jitnobody";

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
    /// The inline policy `jit-session-revocations` of role `role`.
    SessionRevocations { role: String },
    /// An IAM Identity Center permission set jit created for one grant
    /// (named by [`permission_set_name`]), with its inline policy, session
    /// duration and account assignments, in the account it is provisioned to.
    PermissionSet { name: String },
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
            Target::SessionRevocations { .. } => SESSION_REVOCATIONS,
            Target::PermissionSet { name } => name,
        }
    }

    /// Whether this object was made for `request`, by the current naming
    /// scheme or by the one before it (see [`legacy_sid_for`]).
    pub fn is_for(&self, request: &str) -> bool {
        match self {
            Target::TrustStatement { sid, .. } => {
                *sid == sid_for(request) || *sid == legacy_sid_for(request)
            }
            Target::SessionRevocations { .. } => false,
            Target::PermissionSet { name } => *name == permission_set_name(request),
            _ => self.policy_name().strip_prefix(PREFIX) == Some(request),
        }
    }

    /// The request this object was created for, as its name tells exactly
    /// (`None` for the revocation list and for Sids of the older scheme).
    pub fn request(&self) -> Option<String> {
        match self {
            Target::TrustStatement { sid, .. } => request_of_sid(sid),
            Target::SessionRevocations { .. } => None,
            // A shortened name (with its hash) does not tell its request.
            Target::PermissionSet { name } => name
                .strip_prefix(PREFIX)
                .filter(|n| crate::config::parse::is_valid_name(n))
                .map(str::to_string),
            _ => self.policy_name().strip_prefix(PREFIX).map(str::to_string),
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
            Target::SessionRevocations { role } => {
                write!(f, "inline policy {SESSION_REVOCATIONS} on role/{role}")
            }
            Target::PermissionSet { name } => write!(f, "permission set {name}"),
        }
    }
}

/// A name (`^[a-z0-9][a-z0-9-]*$`) as Sid characters, injectively: it reads
/// as CamelCase, and `Z` marks a `-` that CamelCase cannot show. Read as if
/// the name began with `-`: `-x` becomes `X` for a letter x other than z;
/// every other `-` becomes `Z`; letters and digits stay.
/// `alice-inc-1234` -> `AliceIncZ1234`, `alice-inc1234` -> `AliceInc1234`,
/// `a-1` -> `AZ1`, `a1` -> `A1`, `zed` -> `Zzed`. [`decode_name`] inverts it.
pub fn encode_name(name: &str) -> String {
    let chars: Vec<char> = std::iter::once('-').chain(name.chars()).collect();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match chars.get(i + 1) {
            Some(&next) if c == '-' && next.is_ascii_lowercase() && next != 'z' => {
                out.push(next.to_ascii_uppercase());
                i += 2;
            }
            _ if c == '-' => {
                out.push('Z');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The name [`encode_name`] made `encoded` from; `None` when no name gives
/// exactly `encoded`.
pub fn decode_name(encoded: &str) -> Option<String> {
    let mut name = String::with_capacity(encoded.len());
    for c in encoded.chars() {
        match c {
            'Z' => name.push('-'),
            'A'..='Y' => {
                name.push('-');
                name.push(c.to_ascii_lowercase());
            }
            'a'..='z' | '0'..='9' => name.push(c),
            _ => return None,
        }
    }
    let name = name.strip_prefix('-')?.to_string();
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (valid && encode_name(&name) == encoded).then_some(name)
}

/// The trust statement Sid for a request: `Jit` + [`encode_name`]
/// (`alice-inc-1234` -> `JitAliceIncZ1234`). Injective: two requests never
/// share a statement.
pub fn sid_for(request: &str) -> String {
    format!("{SID_PREFIX}{}", encode_name(request))
}

/// The request a Sid of the current scheme was made for.
pub fn request_of_sid(sid: &str) -> Option<String> {
    decode_name(sid.strip_prefix(SID_PREFIX)?)
}

/// The Sid earlier versions of jit wrote: `Jit` + the name in CamelCase with
/// every `-` dropped. Not injective (`ops-inc-1234` and `ops-inc1234` share
/// `JitOpsInc1234`); jit reads it only to migrate such statements.
pub fn legacy_sid_for(request: &str) -> String {
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

/// Identity Center's limit on permission set names.
pub const PERMISSION_SET_NAME_MAX: usize = 32;
/// Characters of the request name a shortened permission set name keeps.
const PERMISSION_SET_PREFIX_LEN: usize = 14;
/// Characters of hash in a shortened name (base 32: 65 bits).
const PERMISSION_SET_HASH_LEN: usize = 13;

/// The permission set of a request's identity_center grant: `jit-<request>`
/// when that fits Identity Center's 32 characters; otherwise `jit-`, the
/// first 14 characters of the name, `.` and 13 base-32 characters of the
/// SHA-256 of the whole name (`jit-platform-oncal.q3k...`). Injective: names
/// that fit are kept as they are, and a shortened one holds a `.`, which no
/// request name has, so the two kinds never meet; shortened ones differ
/// unless SHA-256 collides in 65 bits, and the plan refuses two requests
/// that would share one anyway.
pub fn permission_set_name(request: &str) -> String {
    if PREFIX.len() + request.len() <= PERMISSION_SET_NAME_MAX {
        return format!("{PREFIX}{request}");
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(request.as_bytes());
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits: u128 = 0;
    for b in &digest[..16] {
        bits = (bits << 8) | u128::from(*b);
    }
    let hash: String = (0..PERMISSION_SET_HASH_LEN)
        .map(|i| ALPHABET[((bits >> (123 - 5 * i)) & 31) as usize] as char)
        .collect();
    let prefix: String = request.chars().take(PERMISSION_SET_PREFIX_LEN).collect();
    format!("{PREFIX}{prefix}.{hash}")
}

/// One permission set jit owns, as Identity Center holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetState {
    /// The permission set's ARN, to write it.
    pub arn: String,
    /// `Target::PermissionSet` and the document [`crate::policy::permission_set_document`]
    /// describes.
    pub owned: Owned,
    /// Accounts it is provisioned to or assigned in, sorted.
    pub accounts: Vec<String>,
}

/// What the Identity Center instance holds, as far as jit cares: read once
/// per run, whatever the number of accounts.
#[derive(Debug, Clone, Default)]
pub struct IdentityCenterState {
    pub instance_arn: String,
    /// Every permission set in the instance (the 2,000 quota counts all).
    pub permission_sets: usize,
    /// The permission sets named `jit-*`.
    pub owned: Vec<PermissionSetState>,
    /// Identity Store user ids by UserName, for the names asked about that exist.
    pub users: BTreeMap<String, String>,
    pub calls: usize,
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
    /// Each role's unique id (`AROA...`, the first half of a session's
    /// `aws:userid`), by role name.
    pub role_ids: BTreeMap<String, String>,
    /// The `jit-session-revocations` policies, as `SessionRevocations`
    /// targets. Kept apart from `owned`: they are no grant. Their size is
    /// counted in `foreign_inline_size` too.
    pub revocation_lists: Vec<Owned>,
    pub calls: usize,
    /// `owned` and `revocation_lists` by target, built on first use: a plan
    /// looks up every desired grant, so lookups must not be linear.
    pub index: std::sync::OnceLock<std::collections::HashMap<Target, (bool, usize)>>,
}

impl AccountState {
    pub fn find(&self, target: &Target) -> Option<&Owned> {
        let index = self.index.get_or_init(|| {
            let owned = self
                .owned
                .iter()
                .enumerate()
                .map(|(i, o)| (o.target.clone(), (false, i)));
            let lists = self
                .revocation_lists
                .iter()
                .enumerate()
                .map(|(i, o)| (o.target.clone(), (true, i)));
            // The first of duplicates wins, as a linear search would find it.
            let mut map = std::collections::HashMap::new();
            for (t, at) in owned.chain(lists) {
                map.entry(t).or_insert(at);
            }
            map
        });
        match index.get(target)? {
            (false, i) => self.owned.get(*i),
            (true, i) => self.revocation_lists.get(*i),
        }
    }
}

/// One planned IAM write: put `document` (replacing `replaces` in the same
/// write), or delete the object when there is no document.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub account: &'a Account,
    pub target: &'a Target,
    pub document: Option<&'a str>,
    pub replaces: Option<&'a Target>,
}

impl Write<'_> {
    /// Writes with the same key must not overlap: a trust statement is a
    /// read-modify-write of its role's whole trust policy.
    pub fn lane(&self) -> Option<(&str, &str)> {
        match self.target {
            Target::TrustStatement { role, .. } => Some((self.account.id.as_str(), role)),
            _ => None,
        }
    }
}

/// How much of a batch of writes may be in flight at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Accounts written at the same time (`--parallelism`).
    pub accounts: usize,
    /// Writes in flight per account (`apply --concurrency`).
    pub per_account: usize,
}

impl Limits {
    /// One write at a time.
    pub const SERIAL: Limits = Limits {
        accounts: 1,
        per_account: 1,
    };
}

/// The cloud's IAM: read one account in O(pages), write objects in bounded
/// batches.
pub trait Cloud {
    fn read(&mut self, account: &Account) -> anyhow::Result<AccountState>;
    /// Reads several accounts, at most `parallelism` at a time, and answers
    /// for each (by account id, in the order given) on its own: one failing
    /// account does not stop the others. By default one after the other.
    fn read_all(
        &mut self,
        accounts: &[&Account],
        parallelism: usize,
    ) -> Vec<(String, anyhow::Result<AccountState>)> {
        let _ = parallelism;
        accounts
            .iter()
            .map(|a| (a.id.clone(), self.read(a)))
            .collect()
    }
    /// Creates or replaces the object with this document (minified JSON).
    /// `replaces`, a trust statement on the same role, is removed in the
    /// same write (a Sid migration never leaves a gap in access).
    fn put(
        &mut self,
        account: &Account,
        target: &Target,
        document: &str,
        replaces: Option<&Target>,
    ) -> anyhow::Result<()>;
    /// Removes the object; removing one that is already gone is not an error.
    fn delete(&mut self, account: &Account, target: &Target) -> anyhow::Result<()>;
    /// Carries out `writes`, answering for each (in the order given) on its
    /// own, and calling `done` as each one ends. Writes in one batch may run
    /// at the same time: at most `limits.accounts` accounts and
    /// `limits.per_account` writes per account in flight, except that writes
    /// to one role's trust policy (read, edit, write back) run one after the
    /// other, in the order given. By default one after the other.
    fn write_all(
        &mut self,
        writes: &[Write<'_>],
        limits: Limits,
        done: &mut dyn FnMut(usize, &anyhow::Result<()>),
    ) -> Vec<anyhow::Result<()>> {
        let _ = limits;
        writes
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let result = match w.document {
                    Some(doc) => self.put(w.account, w.target, doc, w.replaces),
                    None => self.delete(w.account, w.target),
                };
                done(i, &result);
                result
            })
            .collect()
    }
    /// API calls made so far.
    fn calls(&self) -> usize;
    /// Reads the Identity Center instance `ic` (through the credentials of
    /// `via`, when given) and resolves the Identity Store `users` (by
    /// UserName) to their ids. `expected` names the account each known
    /// permission set belongs in: its assignments there are read whatever
    /// the provisioning list says. Writes of `Target::PermissionSet` go to
    /// the instance read last.
    fn read_identity_center(
        &mut self,
        ic: &crate::config::IdentityCenter,
        via: Option<&Account>,
        users: &[String],
        expected: &BTreeMap<String, String>,
    ) -> anyhow::Result<IdentityCenterState> {
        let _ = (ic, via, users, expected);
        anyhow::bail!("this cloud does not support IAM Identity Center")
    }
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
        assert_eq!(sid_for("alice-admin"), "JitAliceAdmin");
        assert_eq!(sid_for("alice-inc-1234"), "JitAliceIncZ1234");
        let t = Target::trust("ops", "alice-inc-1234");
        assert!(t.is_for("alice-inc-1234") && !t.is_for("alice-inc-123"));
        assert_eq!(
            t.to_string(),
            "trust statement JitAliceIncZ1234 on role/ops"
        );
    }

    #[test]
    fn sids_of_names_that_differ_only_in_dashes_differ() {
        for (a, b) in [
            ("ops-inc-1234", "ops-inc1234"),
            ("a-1", "a1"),
            ("a--b", "a-b"),
            ("a-", "a"),
            ("z", "-"),
            ("a-z", "az"),
            ("zz-a", "z-za"),
        ] {
            assert_ne!(sid_for(a), sid_for(b), "{a} / {b}");
        }
        // The old scheme collided; is_for still knows it, to migrate.
        assert_eq!(
            legacy_sid_for("ops-inc-1234"),
            legacy_sid_for("ops-inc1234")
        );
        let old = Target::TrustStatement {
            role: "ops".into(),
            sid: "JitOpsInc1234".into(),
        };
        assert!(old.is_for("ops-inc-1234") && old.is_for("ops-inc1234"));
    }

    /// Every name of up to 4 characters over a small alphabet round-trips, and
    /// no two share an encoding: injective, checked exhaustively.
    #[test]
    fn encoding_is_injective_and_decodes_back() {
        let alphabet = ['a', 'y', 'z', '0', '9', '-'];
        let mut names = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..4 {
            names = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            all.extend(names.iter().filter(|n| !n.starts_with('-')).cloned());
        }
        let mut seen = std::collections::BTreeMap::new();
        for name in &all {
            let sid = sid_for(name);
            assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
            assert_eq!(request_of_sid(&sid).as_deref(), Some(name.as_str()));
            if let Some(other) = seen.insert(sid.clone(), name.clone()) {
                panic!("{name} and {other} share {sid}");
            }
        }
        assert_eq!(request_of_sid(NOBODY_SID), None);
        assert_eq!(request_of_sid("JitZed"), None, "not canonical");
        assert_eq!(request_of_sid("Jit"), None);
    }

    #[test]
    fn permission_set_names_fit_and_keep_short_request_names() {
        assert_eq!(permission_set_name("alice-inc-1234"), "jit-alice-inc-1234");
        let fits = "a".repeat(28);
        assert_eq!(permission_set_name(&fits), format!("jit-{fits}"));
        let long = "alice-platform-oncall-incident-1234";
        let name = permission_set_name(long);
        assert_eq!(name.len(), PERMISSION_SET_NAME_MAX, "{name}");
        assert!(name.starts_with("jit-alice-platfor"), "{name}");
        assert_eq!(name.matches('.').count(), 1, "{name}");
        // Identity Center's name rule: [\w+=,.@-]+
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        );
        let t = Target::PermissionSet { name: name.clone() };
        assert!(t.is_for(long) && !t.is_for("alice-platform-oncall-incident-1235"));
        assert_eq!(
            t.request(),
            None,
            "a shortened name does not tell its request"
        );
        let short = Target::PermissionSet {
            name: permission_set_name("alice-data"),
        };
        assert_eq!(short.request().as_deref(), Some("alice-data"));
        assert_eq!(short.to_string(), "permission set jit-alice-data");
    }

    /// Names that fit are kept whole (injective), shortened ones hold a `.`
    /// that no request name has (the two kinds never meet), and 200,000
    /// long names that share their readable prefix all differ.
    #[test]
    fn permission_set_names_are_injective() {
        let mut seen = std::collections::HashMap::new();
        let mut check = |request: String| {
            let name = permission_set_name(&request);
            assert!(name.len() <= PERMISSION_SET_NAME_MAX, "{name}");
            if let Some(other) = seen.insert(name.clone(), request.clone()) {
                panic!("{request} and {other} share {name}");
            }
        };
        for i in 0..100_000 {
            // Same 14-character prefix, long: shortened.
            check(format!("alice-platform-oncall-{i}"));
            // Short: kept whole, so it can never meet a shortened one.
            check(format!("a-{i}"));
        }
        // A kept name that looks like a shortened one's prefix is still distinct.
        let long = permission_set_name("abcdefghijklmnopqrstuvwxyz0123");
        let kept = permission_set_name("abcdefghijklmn");
        assert_ne!(long, kept);
        assert!(!kept.contains('.') && long.contains('.'));
    }

    #[test]
    fn target_names_its_request() {
        let t = Target::inline(PrincipalKind::User, "alice", "alice-inc-1");
        assert_eq!(t.request().as_deref(), Some("alice-inc-1"));
        assert_eq!(t.to_string(), "inline policy jit-alice-inc-1 on user/alice");
        let t = Target::trust("ops", "ops-inc-1234");
        assert_eq!(t.request().as_deref(), Some("ops-inc-1234"));
    }
}
