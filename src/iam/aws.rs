//! `Cloud` over the AWS SDK. Credentials and endpoint come from the standard
//! chain (`AWS_ENDPOINT_URL`, profiles, web identity); an account with a
//! `role_arn` is reached through STS AssumeRole.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::{AttachedPolicy, EntityType, PolicyDetail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{
    AccountState, Cloud, Limits, MANAGED_PATH, NOBODY_SID, Owned, PREFIX, SESSION_REVOCATIONS,
    SID_PREFIX, Target, Write, decode_document,
};
use crate::config::Account;
use crate::config::validate::PrincipalKind;
use crate::policy::{self, iam_size};

pub struct AwsCloud {
    runtime: &'static tokio::runtime::Runtime,
    base: SdkConfig,
    clients: BTreeMap<String, Client>,
    calls: usize,
    /// The Identity Center instance read last (its writes go there).
    identity_center: Option<super::sso::Session>,
}

impl AwsCloud {
    /// Credentials, region and endpoint from the standard AWS chain. The
    /// clock is not used: every time jit writes to IAM comes from the plan.
    pub fn new(_now: DateTime<Utc>) -> anyhow::Result<AwsCloud> {
        let runtime = crate::runtime::get();
        let base = runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .retry_config(retry())
                .region(
                    aws_config::meta::region::RegionProviderChain::default_provider()
                        .or_else(Region::new("us-east-1")),
                )
                .load(),
        );
        Ok(Self::with_config(runtime, base))
    }

    /// A cloud on an explicit endpoint with static test credentials.
    pub fn for_endpoint(_now: DateTime<Utc>, endpoint: &str) -> anyhow::Result<AwsCloud> {
        let runtime = crate::runtime::get();
        let credentials =
            aws_sdk_iam::config::Credentials::new("testing", "testing", None, None, "static");
        let base = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .retry_config(retry())
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .build();
        Ok(Self::with_config(runtime, base))
    }

    fn with_config(runtime: &'static tokio::runtime::Runtime, base: SdkConfig) -> AwsCloud {
        AwsCloud {
            runtime,
            base,
            clients: BTreeMap::new(),
            calls: 0,
            identity_center: None,
        }
    }

    fn client(&mut self, account: &Account) -> Client {
        if let Some(c) = self.clients.get(&account.name) {
            return c.clone();
        }
        let client = match &account.role_arn {
            None => Client::new(&self.base),
            Some(role_arn) => {
                let provider = self.runtime.block_on(
                    aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
                        .session_name("jit-reconciler")
                        .configure(&self.base)
                        .build(),
                );
                let conf = aws_sdk_iam::config::Builder::from(&self.base)
                    .credentials_provider(provider)
                    .build();
                Client::from_conf(conf)
            }
        };
        self.clients.insert(account.name.clone(), client.clone());
        client
    }
}

/// Throttling (IAM's rate limits cannot be raised) and transient errors are
/// retried with backoff; the adaptive mode also slows the client down when
/// IAM throttles, so a large apply settles at the rate IAM allows.
///
/// Retry behaviour 2.1 (what `AWS_NEW_RETRIES_2026=true` selects): under
/// 2.0, once IAM had throttled, each retry of a dropped connection had to
/// gather 10 send tokens at 0.5 a second, a 20 s stall per retry (measured
/// by tests/reliability.rs); 2.1 takes one token per attempt.
fn retry() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive()
        .with_max_attempts(6)
        .with_retry_spec(aws_smithy_types::retry::RetrySpec::v2_1())
}

/// Records one user or role: its jit-owned inline policies (the session
/// revocation list apart: it is no grant, and its size counts with the
/// others'), the size of the others, and which managed policies are attached
/// (jit's, to resolve later).
fn read_principal(
    state: &mut AccountState,
    attached: &mut Vec<(String, String)>,
    kind: PrincipalKind,
    name: &str,
    inline: &[PolicyDetail],
    managed: &[AttachedPolicy],
) -> anyhow::Result<()> {
    let key = match kind {
        PrincipalKind::User => format!("user/{name}"),
        PrincipalKind::Role => format!("role/{name}"),
    };
    state.principals.insert(key.clone());
    for p in inline {
        let policy = p.policy_name().unwrap_or_default();
        let raw = p.policy_document().unwrap_or_default();
        if policy.starts_with(PREFIX) && policy != SESSION_REVOCATIONS {
            let document =
                decode_document(raw).with_context(|| format!("decoding {policy} on {key}"))?;
            let target = Target::inline(kind, name, policy.strip_prefix(PREFIX).unwrap_or(policy));
            state.owned.push(Owned { target, document });
        } else {
            if policy == SESSION_REVOCATIONS && kind == PrincipalKind::Role {
                let document =
                    decode_document(raw).with_context(|| format!("decoding {policy} on {key}"))?;
                let target = Target::SessionRevocations { role: name.into() };
                state.revocation_lists.push(Owned { target, document });
            }
            let size = decode_document(raw)
                .map_or_else(|_| iam_size(raw), |d| iam_size(&policy::minify(&d)));
            *state.foreign_inline_size.entry(key.clone()).or_default() += size;
        }
    }
    for a in managed {
        let arn = a.policy_arn().unwrap_or_default();
        if is_owned_managed(arn) {
            attached.push((arn.to_string(), key.clone()));
        } else {
            *state.foreign_managed_count.entry(key.clone()).or_default() += 1;
        }
    }
    Ok(())
}

/// Splits a trust policy into the part jit does not own and jit's statements
/// by Sid. The "nobody" statement is neither: it only spells an empty list.
fn split_trust(doc: &Value) -> (Value, Vec<(String, Value)>) {
    let mut foreign = doc.clone();
    let mut owned = Vec::new();
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut kept = Vec::new();
    for st in statements {
        match st.get("Sid").and_then(Value::as_str) {
            Some(NOBODY_SID) => {}
            Some(sid) if sid.starts_with(SID_PREFIX) => owned.push((sid.to_string(), st)),
            _ => kept.push(st),
        }
    }
    foreign["Statement"] = Value::Array(kept);
    (foreign, owned)
}

/// `doc` with the statements `remove` removed and `add` added. IAM rejects
/// an empty statement list: with nothing left, the policy is the single
/// "nobody" deny, which goes again as soon as any statement is back.
fn trust_with(doc: &Value, remove: &[&str], add: Option<Value>) -> Value {
    let mut out = doc.clone();
    let mut list: Vec<Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.retain(|st| {
        let sid = st.get("Sid").and_then(Value::as_str);
        sid != Some(NOBODY_SID) && !sid.is_some_and(|s| remove.contains(&s))
    });
    list.extend(add);
    if list.is_empty() {
        list.push(policy::nobody_statement(NOBODY_SID));
    }
    out["Statement"] = Value::Array(list);
    if out.get("Version").is_none() {
        out["Version"] = json!("2012-10-17");
    }
    out
}

/// Replaces a role's trust policy (jit only ever edits its own statements in it).
async fn write_trust(
    client: &Client,
    role: &str,
    doc: &Value,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let request = client
        .update_assume_role_policy()
        .role_name(role)
        .policy_document(policy::minify(doc));
    request.send().await.map_err(sdk_error)?;
    *calls += 1;
    Ok(())
}

/// A delete that found nothing to delete has done its job: revoking twice
/// (a re-run after a crash) converges.
fn already_gone_is_ok<T, E>(
    result: Result<T, aws_sdk_iam::error::SdkError<E>>,
) -> anyhow::Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Err(e) if e.code() != Some("NoSuchEntity") => Err(sdk_error(e)),
        _ => Ok(()),
    }
}

/// Deletes a managed policy's non-default versions: IAM keeps at most five,
/// and a policy can only be deleted once they are gone.
async fn delete_old_versions(client: &Client, arn: &str, calls: &mut usize) -> anyhow::Result<()> {
    let versions = client
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(sdk_error)?;
    *calls += 1;
    for v in versions.versions() {
        if !v.is_default_version()
            && let Some(id) = v.version_id()
        {
            client
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(id)
                .send()
                .await
                .map_err(sdk_error)?;
            *calls += 1;
        }
    }
    Ok(())
}

/// Splits a managed policy ARN into (path, name).
fn policy_path_and_name(arn: &str) -> (String, String) {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let rest = resource.strip_prefix("policy").unwrap_or(resource);
    match rest.rfind('/') {
        Some(i) => (rest[..=i].to_string(), rest[i + 1..].to_string()),
        None => ("/".into(), rest.to_string()),
    }
}

fn is_owned_managed(arn: &str) -> bool {
    let (path, name) = policy_path_and_name(arn);
    path == MANAGED_PATH && name.starts_with(PREFIX)
}

fn managed_arn(account_id: &str, policy: &str) -> String {
    format!("arn:aws:iam::{account_id}:policy{MANAGED_PATH}{policy}")
}

fn sdk_error<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_iam::error::SdkError<E>,
) -> anyhow::Error {
    let text = aws_sdk_iam::error::DisplayErrorContext(&e).to_string();
    anyhow::Error::new(e).context(text)
}

/// Reads one account's IAM in O(pages). Owns what it needs, so several
/// accounts can be read at once on one runtime.
async fn read_account(client: Client, account: Account) -> anyhow::Result<AccountState> {
    let account = &account;
    let mut state = AccountState {
        account_id: account.id.clone(),
        ..Default::default()
    };
    let mut documents: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut attached: Vec<(String, String)> = Vec::new();
    let mut unattached = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .get_account_authorization_details()
            .filter(EntityType::User)
            .filter(EntityType::Role)
            .filter(EntityType::LocalManagedPolicy)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(sdk_error)?;
        state.calls += 1;
        for u in page.user_detail_list() {
            let name = u.user_name().unwrap_or_default();
            let principal = PrincipalKind::User;
            read_principal(
                &mut state,
                &mut attached,
                principal,
                name,
                u.user_policy_list(),
                u.attached_managed_policies(),
            )?;
        }
        for r in page.role_detail_list() {
            let name = r.role_name().unwrap_or_default().to_string();
            if let Some(id) = r.role_id() {
                state.role_ids.insert(name.clone(), id.to_string());
            }
            if let Some(raw) = r.assume_role_policy_document() {
                let doc = decode_document(raw)
                    .with_context(|| format!("decoding the trust policy of role/{name}"))?;
                let (foreign, owned) = split_trust(&doc);
                state
                    .foreign_trust_size
                    .insert(name.clone(), iam_size(&policy::minify(&foreign)));
                for (sid, statement) in owned {
                    state.owned.push(Owned {
                        target: Target::TrustStatement {
                            role: name.clone(),
                            sid,
                        },
                        document: policy::as_document(statement),
                    });
                }
            }
            let principal = PrincipalKind::Role;
            read_principal(
                &mut state,
                &mut attached,
                principal,
                &name,
                r.role_policy_list(),
                r.attached_managed_policies(),
            )?;
        }
        for p in page.policies() {
            let arn = p.arn().unwrap_or_default().to_string();
            if !is_owned_managed(&arn) {
                continue;
            }
            let default = p
                .policy_version_list()
                .iter()
                .find(|v| v.is_default_version());
            if let Some(doc) = default.and_then(|v| v.document()) {
                documents.insert(
                    arn.clone(),
                    decode_document(doc).with_context(|| format!("decoding {arn}"))?,
                );
            }
            if p.attachment_count().unwrap_or(0) == 0 {
                unattached.push(arn);
            }
        }
        marker = page.marker().map(str::to_string);
        if !page.is_truncated() || marker.is_none() {
            break;
        }
    }
    for (arn, principal) in attached
        .into_iter()
        .chain(unattached.into_iter().map(|a| (a, String::new())))
    {
        let (_, policy) = policy_path_and_name(&arn);
        let document = documents
            .get(&arn)
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        state.owned.push(Owned {
            target: Target::ManagedPolicy { policy, principal },
            document,
        });
    }
    state.owned.sort_by(|a, b| a.target.cmp(&b.target));
    state
        .revocation_lists
        .sort_by(|a, b| a.target.cmp(&b.target));
    log::debug!(
        "account {} ({}): {} page(s), {} principals, {} jit-owned objects",
        account.name,
        account.id,
        state.calls,
        state.principals.len(),
        state.owned.len()
    );
    Ok(state)
}

impl Cloud for AwsCloud {
    fn read(&mut self, account: &Account) -> anyhow::Result<AccountState> {
        let client = self.client(account);
        let state = self
            .runtime
            .block_on(read_account(client, account.clone()))
            .with_context(|| format!("reading IAM of account {} ({})", account.name, account.id))?;
        self.calls += state.calls;
        Ok(state)
    }

    /// At most `parallelism` accounts in flight on the one runtime; each
    /// read has its own (cloned) client, so accounts wait on IAM together.
    fn read_all(
        &mut self,
        accounts: &[&Account],
        parallelism: usize,
    ) -> Vec<(String, anyhow::Result<AccountState>)> {
        let mut jobs: Vec<(Client, Account)> = accounts
            .iter()
            .map(|a| (self.client(a), (*a).clone()))
            .collect();
        jobs.reverse();
        let limit = parallelism.max(1);
        let mut results: BTreeMap<String, anyhow::Result<AccountState>> =
            self.runtime.block_on(async move {
                let mut running = tokio::task::JoinSet::new();
                let mut ids = std::collections::HashMap::new();
                let mut done = BTreeMap::new();
                loop {
                    while running.len() < limit
                        && let Some((client, account)) = jobs.pop()
                    {
                        let id = account.id.clone();
                        let task = running.spawn(read_account(client, account));
                        ids.insert(task.id(), id);
                    }
                    let (task, result) = match running.join_next_with_id().await {
                        None => break,
                        Some(Ok((task, result))) => (task, result),
                        Some(Err(e)) => (e.id(), Err(anyhow::anyhow!("reading IAM failed: {e}"))),
                    };
                    if let Some(id) = ids.remove(&task) {
                        done.insert(id, result);
                    }
                }
                done
            });
        let mut out = Vec::with_capacity(accounts.len());
        for a in accounts {
            let result = results
                .remove(&a.id)
                .unwrap_or_else(|| Err(anyhow::anyhow!("account {} was not read", a.id)));
            if let Ok(state) = &result {
                self.calls += state.calls;
            }
            out.push((a.id.clone(), result));
        }
        out
    }

    fn put(
        &mut self,
        account: &Account,
        target: &Target,
        document: &str,
        replaces: Option<&Target>,
    ) -> anyhow::Result<()> {
        if let Target::PermissionSet { name } = target {
            let session = self.identity_center.as_mut();
            return super::sso::put(
                self.runtime,
                session,
                &account.id,
                name,
                document,
                &mut self.calls,
            )
            .with_context(|| format!("writing {target} in account {}", account.id));
        }
        let client = self.client(account);
        let mut calls = 0;
        let result = self.runtime.block_on(put_object(
            &client,
            &account.id,
            target,
            document,
            replaces,
            &mut calls,
        ));
        self.calls += calls;
        result
    }

    fn delete(&mut self, account: &Account, target: &Target) -> anyhow::Result<()> {
        if let Target::PermissionSet { name } = target {
            let session = self.identity_center.as_mut();
            return super::sso::delete(self.runtime, session, &account.id, name, &mut self.calls)
                .with_context(|| format!("removing {target} in account {}", account.id));
        }
        let client = self.client(account);
        let mut calls = 0;
        let result = self
            .runtime
            .block_on(delete_object(&client, &account.id, target, &mut calls));
        self.calls += calls;
        result
    }

    /// Each account is one task (at most `limits.accounts` at a time); in it,
    /// each lane (the writes to one role's trust policy, or a single write)
    /// is one task, at most `limits.per_account` at a time. Results come back
    /// through a channel as they end, so progress shows while IAM works.
    fn write_all(
        &mut self,
        writes: &[Write<'_>],
        limits: Limits,
        done: &mut dyn FnMut(usize, &anyhow::Result<()>),
    ) -> Vec<anyhow::Result<()>> {
        type Lane = Vec<(usize, Target, Option<String>, Option<Target>)>;
        let mut accounts: BTreeMap<&str, (Client, BTreeMap<LaneKey, Lane>)> = BTreeMap::new();
        // Identity Center writes go one at a time (its rate and
        // outstanding-assignment limits are per instance), before the rest.
        let mut early: Vec<(usize, anyhow::Result<()>)> = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            if let Target::PermissionSet { .. } = w.target {
                let result = match w.document {
                    Some(doc) => self.put(w.account, w.target, doc, w.replaces),
                    None => self.delete(w.account, w.target),
                };
                done(i, &result);
                early.push((i, result));
            }
        }
        for (i, w) in writes.iter().enumerate() {
            if let Target::PermissionSet { .. } = w.target {
                continue;
            }
            if !accounts.contains_key(w.account.id.as_str()) {
                let client = self.client(w.account);
                accounts.insert(&w.account.id, (client, BTreeMap::new()));
            }
            let key = match w.lane() {
                Some((_, role)) => LaneKey::Role(role.to_string()),
                None => LaneKey::Alone(i),
            };
            let (_, lanes) = accounts
                .get_mut(w.account.id.as_str())
                .expect("inserted above");
            lanes.entry(key).or_default().push((
                i,
                w.target.clone(),
                w.document.map(str::to_string),
                w.replaces.cloned(),
            ));
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let account_slots = Arc::new(Semaphore::new(limits.accounts.max(1)));
        for (account_id, (client, lanes)) in accounts {
            let account_id = account_id.to_string();
            let (tx, account_slots) = (tx.clone(), account_slots.clone());
            let per_account = limits.per_account.max(1);
            self.runtime.spawn(async move {
                let Ok(_slot) = account_slots.acquire_owned().await else {
                    return;
                };
                let write_slots = Arc::new(Semaphore::new(per_account));
                let mut running = tokio::task::JoinSet::new();
                for lane in lanes.into_values() {
                    let (tx, write_slots) = (tx.clone(), write_slots.clone());
                    let (client, account_id) = (client.clone(), account_id.clone());
                    running.spawn(async move {
                        let Ok(_slot) = write_slots.acquire_owned().await else {
                            return;
                        };
                        for (i, target, document, replaces) in lane {
                            let mut calls = 0;
                            let result = match &document {
                                Some(doc) => {
                                    put_object(
                                        &client,
                                        &account_id,
                                        &target,
                                        doc,
                                        replaces.as_ref(),
                                        &mut calls,
                                    )
                                    .await
                                }
                                None => {
                                    delete_object(&client, &account_id, &target, &mut calls).await
                                }
                            };
                            let _ = tx.send((i, calls, result));
                        }
                    });
                }
                while running.join_next().await.is_some() {}
            });
        }
        drop(tx);
        let mut results: Vec<Option<anyhow::Result<()>>> = writes.iter().map(|_| None).collect();
        for (i, result) in early {
            results[i] = Some(result);
        }
        let mut calls = 0;
        self.runtime.block_on(async {
            while let Some((i, n, result)) = rx.recv().await {
                calls += n;
                done(i, &result);
                results[i] = Some(result);
            }
        });
        self.calls += calls;
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    let lost = Err(anyhow::anyhow!(
                        "{} was not written (its task ended early)",
                        writes[i].target
                    ));
                    done(i, &lost);
                    lost
                })
            })
            .collect()
    }

    fn calls(&self) -> usize {
        self.calls
    }

    fn read_identity_center(
        &mut self,
        ic: &crate::config::IdentityCenter,
        via: Option<&Account>,
        users: &[String],
        expected: &BTreeMap<String, String>,
    ) -> anyhow::Result<super::IdentityCenterState> {
        let role_arn = via.and_then(|a| a.role_arn.as_deref());
        let mut session = super::sso::connect(self.runtime, &self.base, ic, role_arn);
        let state = super::sso::read(self.runtime, &mut session, users, expected)
            .with_context(|| format!("reading IAM Identity Center {}", ic.instance_arn))?;
        self.calls += state.calls;
        self.identity_center = Some(session);
        Ok(state)
    }
}

/// Writes that must not overlap share a key: one role's trust policy.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LaneKey {
    Role(String),
    Alone(usize),
}

/// Creates or replaces one object (see [`Cloud::put`]); counts its calls.
async fn put_object(
    client: &Client,
    account_id: &str,
    target: &Target,
    document: &str,
    replaces: Option<&Target>,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let what = || format!("writing {target} in account {account_id}");
    match target {
        Target::PermissionSet { .. } => {
            anyhow::bail!("{target} is written through Identity Center, not IAM")
        }
        Target::UserPolicy { user, policy } => {
            client
                .put_user_policy()
                .user_name(user)
                .policy_name(policy)
                .policy_document(document)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(what)?;
            *calls += 1;
        }
        Target::RolePolicy { role, policy } => {
            client
                .put_role_policy()
                .role_name(role)
                .policy_name(policy)
                .policy_document(document)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(what)?;
            *calls += 1;
        }
        Target::SessionRevocations { role } => {
            client
                .put_role_policy()
                .role_name(role)
                .policy_name(SESSION_REVOCATIONS)
                .policy_document(document)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(what)?;
            *calls += 1;
        }
        Target::TrustStatement { role, sid } => {
            let desired: Value = serde_json::from_str(document)?;
            let statement = desired["Statement"][0].clone();
            let got = client
                .get_role()
                .role_name(role)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(what)?;
            *calls += 1;
            let raw = got
                .role()
                .map(|r| {
                    r.assume_role_policy_document()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_default();
            let current = if raw.is_empty() {
                json!({})
            } else {
                decode_document(&raw)?
            };
            let mut remove = vec![sid.as_str()];
            match replaces {
                Some(Target::TrustStatement { role: r, sid: old }) if r == role => {
                    remove.push(old.as_str())
                }
                None => {}
                Some(other) => anyhow::bail!("{target} cannot replace {other}"),
            }
            let updated = trust_with(&current, &remove, Some(statement));
            write_trust(client, role, &updated, calls)
                .await
                .with_context(what)?;
        }
        Target::ManagedPolicy { policy, principal } => {
            let arn = managed_arn(account_id, policy);
            let created = client
                .create_policy()
                .policy_name(policy)
                .path(MANAGED_PATH)
                .policy_document(document)
                .send()
                .await;
            *calls += 1;
            if let Err(e) = created {
                let exists = e
                    .as_service_error()
                    .is_some_and(|s| s.is_entity_already_exists_exception());
                if !exists {
                    return Err(sdk_error(e)).with_context(what);
                }
                // Replace the document: make room (IAM keeps at most 5 versions), add the new default.
                delete_old_versions(client, &arn, calls)
                    .await
                    .with_context(what)?;
                client
                    .create_policy_version()
                    .policy_arn(&arn)
                    .policy_document(document)
                    .set_as_default(true)
                    .send()
                    .await
                    .map_err(sdk_error)
                    .with_context(what)?;
                *calls += 1;
            }
            match principal.split_once('/') {
                Some(("user", name)) => {
                    client
                        .attach_user_policy()
                        .user_name(name)
                        .policy_arn(&arn)
                        .send()
                        .await
                        .map_err(sdk_error)
                        .with_context(what)?;
                }
                Some(("role", name)) => {
                    client
                        .attach_role_policy()
                        .role_name(name)
                        .policy_arn(&arn)
                        .send()
                        .await
                        .map_err(sdk_error)
                        .with_context(what)?;
                }
                _ => anyhow::bail!("{target}: no principal to attach to"),
            }
            *calls += 1;
        }
    }
    Ok(())
}

/// Removes one object (see [`Cloud::delete`]); counts its calls. Removing
/// what is already gone succeeds.
async fn delete_object(
    client: &Client,
    account_id: &str,
    target: &Target,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let what = || format!("removing {target} in account {account_id}");
    match target {
        Target::PermissionSet { .. } => {
            anyhow::bail!("{target} is removed through Identity Center, not IAM")
        }
        Target::TrustStatement { role, sid } => {
            let got = client.get_role().role_name(role).send().await;
            *calls += 1;
            let got = match got {
                Ok(g) => g,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_no_such_entity_exception()) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(sdk_error(e)).with_context(what),
            };
            let Some(r) = got.role() else { return Ok(()) };
            let current = decode_document(r.assume_role_policy_document().unwrap_or("{}"))?;
            let (_, owned) = split_trust(&current);
            if !owned.iter().any(|(s, _)| s == sid) {
                return Ok(());
            }
            // Sessions already assumed outlive the statement: the plan's
            // session deny (a separate, planned write) ends them.
            let updated = trust_with(&current, &[sid.as_str()], None);
            write_trust(client, role, &updated, calls)
                .await
                .with_context(what)?;
        }
        Target::SessionRevocations { role } => {
            let r = client
                .delete_role_policy()
                .role_name(role)
                .policy_name(SESSION_REVOCATIONS)
                .send()
                .await;
            *calls += 1;
            already_gone_is_ok(r).with_context(what)?;
        }
        Target::UserPolicy { user, policy } => {
            let r = client
                .delete_user_policy()
                .user_name(user)
                .policy_name(policy)
                .send()
                .await;
            *calls += 1;
            already_gone_is_ok(r).with_context(what)?;
        }
        Target::RolePolicy { role, policy } => {
            let r = client
                .delete_role_policy()
                .role_name(role)
                .policy_name(policy)
                .send()
                .await;
            *calls += 1;
            already_gone_is_ok(r).with_context(what)?;
        }
        Target::ManagedPolicy { policy, .. } => {
            let arn = managed_arn(account_id, policy);
            let exists = client.get_policy().policy_arn(&arn).send().await;
            *calls += 1;
            if let Err(e) = exists {
                return already_gone_is_ok(Err::<(), _>(e)).with_context(what);
            }
            // A policy can only be deleted once detached and without old versions.
            let entities = client
                .list_entities_for_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(what)?;
            *calls += 1;
            for u in entities.policy_users() {
                let name = u.user_name().unwrap_or_default();
                let r = client
                    .detach_user_policy()
                    .user_name(name)
                    .policy_arn(&arn)
                    .send()
                    .await;
                *calls += 1;
                already_gone_is_ok(r).with_context(what)?;
            }
            for r in entities.policy_roles() {
                let name = r.role_name().unwrap_or_default();
                let r = client
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(&arn)
                    .send()
                    .await;
                *calls += 1;
                already_gone_is_ok(r).with_context(what)?;
            }
            delete_old_versions(client, &arn, calls)
                .await
                .with_context(what)?;
            let r = client.delete_policy().policy_arn(&arn).send().await;
            *calls += 1;
            already_gone_is_ok(r).with_context(what)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_the_last_statement_leaves_a_policy_that_allows_nobody() {
        let doc =
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "JitA", "Effect": "Allow"}]});
        let empty = trust_with(&doc, &["JitA"], None);
        let list = empty["Statement"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["Sid"], NOBODY_SID);
        assert_eq!(list[0]["Effect"], "Deny");
        assert_eq!(list[0]["Principal"]["AWS"], "*");
        // It is nobody's statement: neither jit's grant nor foreign.
        let (foreign, owned) = split_trust(&empty);
        assert!(owned.is_empty() && foreign["Statement"] == json!([]));
        // A new statement replaces it.
        let back = trust_with(&empty, &[], Some(json!({"Sid": "JitB", "Effect": "Allow"})));
        assert_eq!(
            back["Statement"],
            json!([{"Sid": "JitB", "Effect": "Allow"}])
        );
        // A migration removes the old Sid in the same write.
        let moved = trust_with(&back, &["JitC", "JitB"], Some(json!({"Sid": "JitC"})));
        assert_eq!(moved["Statement"], json!([{"Sid": "JitC"}]));
    }

    #[test]
    fn splits_managed_policy_arns() {
        assert_eq!(
            policy_path_and_name("arn:aws:iam::123456789012:policy/jit/jit-a"),
            ("/jit/".to_string(), "jit-a".to_string())
        );
        assert!(is_owned_managed(
            "arn:aws:iam::123456789012:policy/jit/jit-a"
        ));
        assert!(!is_owned_managed("arn:aws:iam::123456789012:policy/jit-a"));
        assert!(!is_owned_managed("arn:aws:iam::aws:policy/ReadOnlyAccess"));
    }
}
