//! The access repo as values: definitions (settings, accounts, users, teams,
//! roles, contracts, guardrails) and requests, each with source locations.
//! Pure: parsing takes file contents, validation returns diagnostics.

pub mod duration;
pub mod parse;
pub mod pattern;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub use duration::Duration;
pub use parse::{SourceFile, parse_files};

use crate::diag::{Diagnostic, Loc};

/// Where a block and each of its attributes were written, and what was
/// wrong with it.
///
/// Equality ignores locations on purpose: two versions of a definition are
/// "the same" when their content is, wherever the lines moved. It compares
/// the problems found reading the block and the text of what jit did not
/// know, so that adding a misspelled attribute is a change of content (to be
/// approved like any other) and an object carrying one is invalid.
#[derive(Debug, Clone)]
pub struct Meta {
    pub loc: Loc,
    pub attrs: Attrs,
}

/// What reading one block found.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    /// Where each attribute was written.
    pub locs: BTreeMap<String, Loc>,
    /// Every problem reading the block (unknown attribute, block or mode,
    /// wrong type, bad value, duplicate): the object is invalid and grants
    /// nothing.
    pub errors: Vec<Diagnostic>,
    /// The source text of attributes and blocks jit does not know.
    pub unknown: Vec<String>,
}

impl PartialEq for Meta {
    fn eq(&self, other: &Meta) -> bool {
        let messages = |m: &Meta| -> Vec<String> {
            m.attrs.errors.iter().map(|d| d.message.clone()).collect()
        };
        messages(self) == messages(other) && self.attrs.unknown == other.attrs.unknown
    }
}

impl Meta {
    /// The location of `attr`, or of the block when the attribute is absent.
    pub fn at(&self, attr: &str) -> &Loc {
        self.attrs.locs.get(attr).unwrap_or(&self.loc)
    }

    /// The problems that make this object invalid (empty: valid as written).
    pub fn errors(&self) -> &[Diagnostic] {
        &self.attrs.errors
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApprovalMode {
    #[default]
    Trailers,
    Github,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bot {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quotas {
    pub user_inline: usize,
    pub role_inline: usize,
    pub managed_policy: usize,
    pub managed_per_principal: usize,
    pub trust_policy: usize,
    /// Permission sets per Identity Center instance (all of them, jit's
    /// and others').
    pub permission_sets: usize,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            user_inline: 2048,
            role_inline: 10240,
            managed_policy: 6144,
            managed_per_principal: 10,
            trust_policy: 2048,
            permission_sets: 2000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub branch: String,
    pub approval: ApprovalMode,
    pub github_repository: Option<String>,
    pub admins: Vec<Selector>,
    pub trust_anchor: Option<String>,
    pub bot: Bot,
    pub quotas: Quotas,
    /// `notify "<name>"` blocks: where events are delivered. Part of the
    /// settings, so a change to them is approved by the admins.
    pub notify: BTreeMap<String, Notify>,
    /// The `identity_center` block (a settings change: admins approve it).
    pub identity_center: Option<IdentityCenter>,
    pub meta: Option<Meta>,
}

/// The IAM Identity Center instance `mode = "identity_center"` grants in.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityCenter {
    pub instance_arn: String,
    pub identity_store_id: String,
    pub region: String,
    /// The account block whose credentials (its `role_arn`) reach the
    /// instance: the organization's management or delegated administrator
    /// account. Absent: the runner's own credentials.
    pub account: Option<String>,
    pub meta: Meta,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            branch: "main".into(),
            approval: ApprovalMode::Trailers,
            github_repository: None,
            admins: Vec::new(),
            trust_anchor: None,
            bot: Bot {
                name: "jit".into(),
                email: "jit@localhost".into(),
            },
            quotas: Quotas::default(),
            notify: BTreeMap::new(),
            identity_center: None,
            meta: None,
        }
    }
}

/// What a notification target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Granted,
    Expiring,
    Expired,
    Revoked,
    ApplyFailed,
    Breakglass,
    Pending,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::Granted,
        NotifyEvent::Expiring,
        NotifyEvent::Expired,
        NotifyEvent::Revoked,
        NotifyEvent::ApplyFailed,
        NotifyEvent::Breakglass,
        NotifyEvent::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Granted => "granted",
            NotifyEvent::Expiring => "expiring",
            NotifyEvent::Expired => "expired",
            NotifyEvent::Revoked => "revoked",
            NotifyEvent::ApplyFailed => "apply_failed",
            NotifyEvent::Breakglass => "breakglass",
            NotifyEvent::Pending => "pending",
        }
    }

    pub fn parse(text: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// A Block Kit message for a Slack incoming webhook.
    Slack,
    /// The documented JSON body, signed with HMAC-SHA256.
    Json,
}

/// A `notify "<name>"` block: one webhook and what it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    pub name: String,
    pub url: String,
    pub format: NotifyFormat,
    /// The environment variable holding the HMAC key (never the key itself).
    pub secret_env: Option<String>,
    /// The events delivered (all when the attribute is absent).
    pub events: Vec<NotifyEvent>,
    /// Contract names; empty: every contract.
    pub contracts: Vec<String>,
    /// Lead time of `expiring`.
    pub expiring_before: Duration,
    pub meta: Meta,
}

impl Notify {
    /// Whether this target takes `event` about a grant of `contract`
    /// (`None`: an event about no single contract, such as a failed apply).
    pub fn wants(&self, event: NotifyEvent, contract: Option<&str>) -> bool {
        self.events.contains(&event)
            && (self.contracts.is_empty()
                || contract.is_none_or(|c| self.contracts.iter().any(|x| x == c)))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: String,
    pub id: String,
    pub role_arn: Option<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub email: String,
    pub github: Option<String>,
    /// The IAM principal ARN; empty when absent (allowed with `sso`).
    pub aws: String,
    /// The Identity Store UserName (mode identity_center).
    pub sso: Option<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub name: String,
    pub members: Vec<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub statements: Vec<Statement>,
    pub meta: Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    InlinePolicy,
    ManagedPolicy,
    AssumeRole,
    IdentityCenter,
    /// A mode this version of jit does not know: the contract is invalid
    /// and grants nothing (never read as another mode).
    Unknown,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InlinePolicy => "inline_policy",
            Mode::ManagedPolicy => "managed_policy",
            Mode::AssumeRole => "assume_role",
            Mode::IdentityCenter => "identity_center",
            Mode::Unknown => "unknown",
        }
    }
}

/// `team:<name>` or `user:<name>`: who may request, approve or own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Selector {
    Team(String),
    User(String),
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Team(t) => write!(f, "team:{t}"),
            Selector::User(u) => write!(f, "user:{u}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub name: String,
    pub description: String,
    pub role: String,
    pub resources: Vec<String>,
    pub requesters: Vec<Selector>,
    pub approvers: Vec<Selector>,
    pub min_approvals: u32,
    pub auto_approve: bool,
    pub max_duration: Duration,
    pub default_duration: Duration,
    pub require_mfa: bool,
    pub require_reason: bool,
    pub mode: Mode,
    pub role_arn: Option<String>,
    /// The account block its grants land in (identity_center; also puts the
    /// contract in the scope of that account's guardrails).
    pub account: Option<String>,
    pub owners: Vec<Selector>,
    pub breakglass: bool,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Guardrail {
    pub name: String,
    pub description: String,
    pub max_duration: Option<Duration>,
    pub require_mfa: bool,
    pub accounts: Vec<String>,
    pub deny_actions: Vec<String>,
    pub breakglass_owners: Vec<Selector>,
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub name: String,
    pub requester: String,
    pub contract: String,
    pub duration: Option<Duration>,
    pub reason: String,
    pub resources: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub meta: Meta,
}

/// Everything outside `requests/` and `archive/`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Definitions {
    pub settings: Settings,
    pub accounts: BTreeMap<String, Account>,
    pub users: BTreeMap<String, User>,
    pub teams: BTreeMap<String, Team>,
    pub roles: BTreeMap<String, Role>,
    pub contracts: BTreeMap<String, Contract>,
    pub guardrails: BTreeMap<String, Guardrail>,
    /// Users by lower-case email, built on first lookup (approvals look
    /// authors up once per commit).
    pub by_email: EmailIndex,
}

/// A lazily built index of [`Definitions::users`] by email. It is derived
/// data: two indexes always compare equal, and a clone starts empty. Code
/// that changes `users` after a lookup must reset it (as
/// `approval::adopt` does).
#[derive(Default)]
pub struct EmailIndex(std::sync::OnceLock<std::collections::HashMap<String, String>>);

impl Clone for EmailIndex {
    fn clone(&self) -> EmailIndex {
        EmailIndex::default()
    }
}

impl PartialEq for EmailIndex {
    fn eq(&self, _: &EmailIndex) -> bool {
        true
    }
}

impl std::fmt::Debug for EmailIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailIndex")
    }
}

/// One access repo at one point in time.
#[derive(Debug, Clone, Default)]
pub struct AccessRepo {
    pub defs: Definitions,
    pub requests: BTreeMap<String, Request>,
}

impl Definitions {
    /// The users a selector list names (teams expanded). Unknown names are skipped.
    pub fn expand(&self, selectors: &[Selector]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for s in selectors {
            match s {
                Selector::User(u) if self.users.contains_key(u) => {
                    out.insert(u.clone());
                }
                Selector::Team(t) => {
                    if let Some(team) = self.teams.get(t) {
                        out.extend(
                            team.members
                                .iter()
                                .filter(|m| self.users.contains_key(*m))
                                .cloned(),
                        );
                    }
                }
                Selector::User(_) => {}
            }
        }
        out
    }

    /// Finds the user with this email, ignoring case.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        let index = self.by_email.0.get_or_init(|| {
            let mut index = std::collections::HashMap::new();
            // The first user (by name) with an email wins, as a scan would find.
            for (name, u) in &self.users {
                index
                    .entry(u.email.to_ascii_lowercase())
                    .or_insert_with(|| name.clone());
            }
            index
        });
        index
            .get(&email.trim().to_ascii_lowercase())
            .and_then(|name| self.users.get(name))
    }

    pub fn user_by_github(&self, login: &str) -> Option<&User> {
        self.users.values().find(|u| {
            u.github
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(login))
        })
    }

    /// The effective duration of a request under its contract.
    pub fn duration_of(&self, request: &Request) -> Option<Duration> {
        let contract = self.contracts.get(&request.contract)?;
        Some(request.duration.unwrap_or(contract.default_duration))
    }

    /// The account block whose id is `id`.
    pub fn account_by_id(&self, id: &str) -> Option<&Account> {
        self.accounts.values().find(|a| a.id == id)
    }
}

pub fn selector_list(selectors: &[Selector]) -> String {
    selectors
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
