//! IAM Identity Center over the AWS SDK (`sso-admin` and `identitystore`):
//! reading the permission sets jit owns, and writing one grant's permission
//! set (`Target::PermissionSet`) at a time.
//!
//! A grant's permission set is one object to the planner: its inline policy,
//! session duration, managed policies (none) and account assignments, as the
//! document [`policy::permission_set_document`] describes. A write makes the
//! permission set match that document: extra assignments go first, then the
//! session duration and inline policy, which are provisioned to the account,
//! then the missing assignment. A removal deletes every assignment, then the
//! permission set. Identity Center's assignment and provisioning calls are
//! asynchronous: jit polls their status, boundedly, only while it says
//! `IN_PROGRESS` (an answer that is final at once needs no status call).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context;
use aws_config::{Region, SdkConfig};
use aws_sdk_ssoadmin::Client;
use aws_sdk_ssoadmin::error::ProvideErrorMetadata;
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, CustomerManagedPolicyReference,
    PermissionSetProvisioningStatus, PrincipalType, ProvisionTargetType, StatusValues, TargetType,
};
use serde_json::Value;

use super::{IdentityCenterState, Owned, PREFIX, PermissionSetState, Target, decode_document};
use crate::config::IdentityCenter;
use crate::policy;

/// How often and how long jit waits for an asynchronous Identity Center
/// operation that is still `IN_PROGRESS`: 1 s, then 2 s, then 4 s
/// (repeated), at most this many status calls (about a minute).
const MAX_POLLS: u32 = 16;
/// Permission sets described at the same time while reading (Identity
/// Center allows about 20 requests per second).
const READ_PARALLELISM: usize = 8;

/// The clients of one Identity Center instance, and the ARNs of the
/// permission sets jit owns there (from the last read, plus those it created).
pub struct Session {
    admin: Client,
    store: aws_sdk_identitystore::Client,
    instance: String,
    identity_store_id: String,
    arns: BTreeMap<String, String>,
}

/// Clients for `ic`, in its region, with the credentials of `role_arn` when
/// given (the account block the identity_center block names), else the
/// base configuration's own. The HTTP client is the one `base` carries.
pub fn connect(
    runtime: &tokio::runtime::Runtime,
    base: &SdkConfig,
    ic: &IdentityCenter,
    role_arn: Option<&str>,
) -> Session {
    let mut conf = base.to_builder();
    conf.set_region(Some(Region::new(ic.region.clone())));
    if let Some(role_arn) = role_arn {
        let provider = runtime.block_on(
            aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name("jit-reconciler")
                .configure(base)
                .build(),
        );
        conf.set_credentials_provider(Some(
            aws_sdk_ssoadmin::config::SharedCredentialsProvider::new(provider),
        ));
    }
    let conf = conf.build();
    Session {
        admin: Client::new(&conf),
        store: aws_sdk_identitystore::Client::new(&conf),
        instance: ic.instance_arn.clone(),
        identity_store_id: ic.identity_store_id.clone(),
        arns: BTreeMap::new(),
    }
}

fn sdk_error<E, R>(e: aws_sdk_ssoadmin::error::SdkError<E, R>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let text = aws_sdk_ssoadmin::error::DisplayErrorContext(&e).to_string();
    anyhow::Error::new(e).context(text)
}

fn not_found<E: ProvideErrorMetadata, R>(e: &aws_sdk_ssoadmin::error::SdkError<E, R>) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

/// Reads the instance: every permission set's name (one page of ARNs, then
/// one description each: the API has no batch call), and for those named
/// `jit-*` their inline policy, managed policies, accounts and assignments;
/// then the Identity Store ids of `users`. Calls are counted in the state.
pub fn read(
    runtime: &tokio::runtime::Runtime,
    session: &mut Session,
    users: &[String],
    expected: &BTreeMap<String, String>,
) -> anyhow::Result<IdentityCenterState> {
    let expected = expected.clone();
    let admin = session.admin.clone();
    let store = session.store.clone();
    let instance = session.instance.clone();
    let store_id = session.identity_store_id.clone();
    let users = users.to_vec();
    let state = runtime.block_on(async move {
        read_instance(admin, store, instance, store_id, users, expected).await
    })?;
    session.arns = state
        .owned
        .iter()
        .map(|p| (p.owned.target.policy_name().to_string(), p.arn.clone()))
        .collect();
    Ok(state)
}

async fn read_instance(
    admin: Client,
    store: aws_sdk_identitystore::Client,
    instance: String,
    store_id: String,
    users: Vec<String>,
    expected: BTreeMap<String, String>,
) -> anyhow::Result<IdentityCenterState> {
    let expected = std::sync::Arc::new(expected);
    let mut state = IdentityCenterState {
        instance_arn: instance.clone(),
        ..Default::default()
    };
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = admin
            .list_permission_sets()
            .instance_arn(&instance)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("listing the permission sets of {instance}"))?;
        state.calls += 1;
        arns.extend(page.permission_sets().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    state.permission_sets = arns.len();
    // Describe every permission set (a few at a time) to learn its name;
    // read the rest of those jit owns.
    let mut running = tokio::task::JoinSet::new();
    let mut pending = arns.into_iter();
    let mut found: Vec<(PermissionSetState, usize)> = Vec::new();
    loop {
        while running.len() < READ_PARALLELISM
            && let Some(arn) = pending.next()
        {
            running.spawn(read_permission_set(
                admin.clone(),
                instance.clone(),
                arn,
                expected.clone(),
            ));
        }
        match running.join_next().await {
            None => break,
            Some(Err(e)) => anyhow::bail!("reading a permission set failed: {e}"),
            Some(Ok(Err(e))) => return Err(e),
            Some(Ok(Ok((calls, ps)))) => {
                state.calls += calls;
                if let Some(ps) = ps {
                    found.push((ps, 0));
                }
            }
        }
    }
    let mut owned: Vec<PermissionSetState> = found.into_iter().map(|(p, _)| p).collect();
    owned.sort_by(|a, b| (&a.owned.target, &a.arn).cmp(&(&b.owned.target, &b.arn)));
    state.owned = owned;
    let wanted: BTreeSet<String> = users.into_iter().collect();
    for name in wanted {
        let id = aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(
            aws_sdk_identitystore::types::UniqueAttribute::builder()
                .attribute_path("userName")
                .attribute_value(aws_smithy_types::Document::String(name.clone()))
                .build()
                .context("building a GetUserId request")?,
        );
        let got = store
            .get_user_id()
            .identity_store_id(&store_id)
            .alternate_identifier(id)
            .send()
            .await;
        state.calls += 1;
        match got {
            Ok(out) => {
                state.users.insert(name, out.user_id().to_string());
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => {
                let text = aws_sdk_identitystore::error::DisplayErrorContext(&e).to_string();
                return Err(anyhow::Error::new(e).context(text)).with_context(|| {
                    format!("looking up Identity Store user {name:?} in {store_id}")
                });
            }
        }
    }
    log::debug!(
        "identity center {instance}: {} permission set(s), {} jit-owned, {} call(s)",
        state.permission_sets,
        state.owned.len(),
        state.calls
    );
    Ok(state)
}

/// One permission set: `None` when jit does not own it (its name does not
/// start with `jit-`), else its state, with its assignments in the accounts
/// it is provisioned to and in the one `expected` names for it. Returns the
/// calls made.
async fn read_permission_set(
    admin: Client,
    instance: String,
    arn: String,
    expected: std::sync::Arc<BTreeMap<String, String>>,
) -> anyhow::Result<(usize, Option<PermissionSetState>)> {
    let what = || format!("reading permission set {arn}");
    let described = admin
        .describe_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&arn)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(what)?;
    let mut calls = 1;
    let Some(ps) = described.permission_set() else {
        return Ok((calls, None));
    };
    let name = ps.name().unwrap_or_default().to_string();
    if !name.starts_with(PREFIX) {
        return Ok((calls, None));
    }
    let raw_session = ps.session_duration().unwrap_or_default();
    let session = policy::parse_iso_duration(raw_session)
        .map_or_else(|| raw_session.to_string(), policy::iso_duration);
    let inline = admin
        .get_inline_policy_for_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&arn)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(what)?;
    calls += 1;
    let inline = match inline.inline_policy().unwrap_or_default() {
        "" => serde_json::json!({}),
        raw => {
            decode_document(raw).with_context(|| format!("decoding the inline policy of {name}"))?
        }
    };
    let mut managed = Vec::new();
    let attached = admin
        .list_managed_policies_in_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&arn)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(what)?;
    calls += 1;
    managed.extend(
        attached
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.arn().map(str::to_string)),
    );
    let references = admin
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&arn)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(what)?;
    calls += 1;
    managed.extend(
        references
            .customer_managed_policy_references()
            .iter()
            .map(customer_reference_key),
    );
    let home = expected.get(&name).map(String::as_str);
    let (assignments, accounts, more) = assignments_of(&admin, &instance, &arn, home).await?;
    calls += more;
    let document = policy::permission_set_document(&inline, &session, assignments, managed);
    Ok((
        calls,
        Some(PermissionSetState {
            arn,
            owned: Owned {
                target: Target::PermissionSet { name },
                document,
            },
            accounts,
        }),
    ))
}

/// How a customer-managed policy reference reads in a document: `path+name`
/// (`/jit/x`), prefixed so it never looks like an AWS managed policy ARN.
fn customer_reference_key(r: &CustomerManagedPolicyReference) -> String {
    format!("customer:{}{}", r.path().unwrap_or("/"), r.name())
}

/// Every assignment of a permission set (`account:TYPE:id`) in the accounts
/// it is provisioned to and in `also` (where jit expects it: a provisioning
/// list can lag or, in some emulators, name the wrong account), and the
/// accounts it is provisioned to or assigned in, with the calls made.
async fn assignments_of(
    admin: &Client,
    instance: &str,
    arn: &str,
    also: Option<&str>,
) -> anyhow::Result<(Vec<String>, Vec<String>, usize)> {
    let mut calls = 0;
    let mut accounts = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = admin
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("listing the accounts of permission set {arn}"))?;
        calls += 1;
        accounts.extend(page.account_ids().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let provisioned = accounts.clone();
    accounts.extend(also.map(str::to_string));
    accounts.sort();
    accounts.dedup();
    let mut assignments = Vec::new();
    for account in &accounts {
        let mut token: Option<String> = None;
        loop {
            let page = admin
                .list_account_assignments()
                .instance_arn(instance)
                .account_id(account)
                .permission_set_arn(arn)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(sdk_error)
                .with_context(|| {
                    format!("listing the assignments of permission set {arn} in {account}")
                })?;
            calls += 1;
            for a in page.account_assignments() {
                assignments.push(policy::assignment(
                    a.account_id().unwrap_or(account),
                    a.principal_type().map_or("", |t| t.as_str()),
                    a.principal_id().unwrap_or_default(),
                ));
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    assignments.sort();
    assignments.dedup();
    let mut accounts: Vec<String> = provisioned
        .into_iter()
        .chain(
            assignments
                .iter()
                .filter_map(|a| a.split(':').next().map(str::to_string)),
        )
        .collect();
    accounts.sort();
    accounts.dedup();
    Ok((assignments, accounts, calls))
}

/// What Identity Center's two asynchronous status shapes share.
trait Operation {
    fn state(&self) -> Option<&StatusValues>;
    fn reason(&self) -> Option<&str>;
    fn id(&self) -> Option<&str>;
}

impl Operation for AccountAssignmentOperationStatus {
    fn state(&self) -> Option<&StatusValues> {
        self.status()
    }
    fn reason(&self) -> Option<&str> {
        self.failure_reason()
    }
    fn id(&self) -> Option<&str> {
        self.request_id()
    }
}

impl Operation for PermissionSetProvisioningStatus {
    fn state(&self) -> Option<&StatusValues> {
        self.status()
    }
    fn reason(&self) -> Option<&str> {
        self.failure_reason()
    }
    fn id(&self) -> Option<&str> {
        self.request_id()
    }
}

/// Waits while an operation is `IN_PROGRESS`, asking `check` for its status
/// by request id with a growing pause (1, 2, then 4 s), at most
/// [`MAX_POLLS`] times. A final answer needs no call. `failed` and `what`
/// say what refused or is still running.
async fn settle<S, F, Fut>(
    mut status: Option<S>,
    failed: &str,
    what: &str,
    mut check: F,
    calls: &mut usize,
) -> anyhow::Result<()>
where
    S: Operation,
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<S>>>,
{
    let mut delay = Duration::from_secs(1);
    for _ in 0..MAX_POLLS {
        let Some(s) = &status else { return Ok(()) };
        match s.state() {
            Some(StatusValues::InProgress) => {}
            Some(StatusValues::Failed) => {
                anyhow::bail!("{failed}: {}", s.reason().unwrap_or("no reason given"))
            }
            _ => return Ok(()),
        }
        let id = s.id().unwrap_or_default().to_string();
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(4));
        status = check(id).await?;
        *calls += 1;
    }
    anyhow::bail!(
        "{what} is still in progress after {MAX_POLLS} status checks; the next run checks again"
    )
}

/// Waits until an assignment operation is no longer `IN_PROGRESS`, polling
/// its status (creation or deletion) boundedly; a final answer needs no call.
async fn settle_assignment(
    admin: &Client,
    instance: &str,
    status: Option<AccountAssignmentOperationStatus>,
    creation: bool,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let check = |id: String| async move {
        Ok(if creation {
            admin
                .describe_account_assignment_creation_status()
                .instance_arn(instance)
                .account_assignment_creation_request_id(&id)
                .send()
                .await
                .map_err(sdk_error)?
                .account_assignment_creation_status()
                .cloned()
        } else {
            admin
                .describe_account_assignment_deletion_status()
                .instance_arn(instance)
                .account_assignment_deletion_request_id(&id)
                .send()
                .await
                .map_err(sdk_error)?
                .account_assignment_deletion_status()
                .cloned()
        })
    };
    settle(
        status,
        "Identity Center refused the assignment",
        "the assignment operation",
        check,
        calls,
    )
    .await
}

/// Provisions the permission set to `account` (so the role there carries its
/// current policy and session duration) and waits while that is `IN_PROGRESS`.
async fn provision(
    admin: &Client,
    instance: &str,
    arn: &str,
    account: &str,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let out = admin
        .provision_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .target_type(ProvisionTargetType::AwsAccount)
        .target_id(account)
        .send()
        .await
        .map_err(sdk_error)?;
    *calls += 1;
    let check = |id: String| async move {
        Ok(admin
            .describe_permission_set_provisioning_status()
            .instance_arn(instance)
            .provision_permission_set_request_id(&id)
            .send()
            .await
            .map_err(sdk_error)?
            .permission_set_provisioning_status()
            .cloned())
    };
    settle(
        out.permission_set_provisioning_status().cloned(),
        &format!("provisioning to {account} failed"),
        &format!("provisioning to {account}"),
        check,
        calls,
    )
    .await
}

/// `account:TYPE:id` -> its parts.
fn split_assignment(a: &str) -> Option<(&str, PrincipalType, &str)> {
    let mut parts = a.splitn(3, ':');
    let (account, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
    Some((account, PrincipalType::from(kind), id))
}

async fn delete_assignment(
    admin: &Client,
    instance: &str,
    arn: &str,
    assignment: &str,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let Some((account, kind, id)) = split_assignment(assignment) else {
        anyhow::bail!("unreadable assignment {assignment:?}");
    };
    let out = admin
        .delete_account_assignment()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .target_type(TargetType::AwsAccount)
        .target_id(account)
        .principal_type(kind)
        .principal_id(id)
        .send()
        .await;
    *calls += 1;
    match out {
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(sdk_error(e)).with_context(|| format!("deleting assignment {assignment}")),
        Ok(out) => settle_assignment(
            admin,
            instance,
            out.account_assignment_deletion_status().cloned(),
            false,
            calls,
        )
        .await
        .with_context(|| format!("deleting assignment {assignment}")),
    }
}

/// Makes permission set `name` match `document` in `account` (see the module
/// docs for the order). Idempotent: a repeat after a crash converges.
pub fn put(
    runtime: &tokio::runtime::Runtime,
    session: Option<&mut Session>,
    account: &str,
    name: &str,
    document: &str,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let session =
        session.ok_or_else(|| anyhow::anyhow!("IAM Identity Center was not read in this run"))?;
    let desired: Value = serde_json::from_str(document)?;
    let session_duration = desired["SessionDuration"]
        .as_str()
        .unwrap_or("PT1H")
        .to_string();
    let inline = policy::minify(&policy::inline_part(&desired));
    let wanted: BTreeSet<String> = desired["Assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    if let Some(bad) = wanted
        .iter()
        .find(|a| !a.starts_with(&format!("{account}:")))
    {
        anyhow::bail!("assignment {bad} is not in account {account}");
    }
    let admin = session.admin.clone();
    let instance = session.instance.clone();
    let known = session.arns.get(name).cloned();
    let description = format!("jit grant {name}: managed by jit, do not edit");
    let name_owned = name.to_string();
    let account = account.to_string();
    let arn = runtime.block_on(async {
        let arn = match known {
            Some(arn) => arn,
            None => {
                let out = admin
                    .create_permission_set()
                    .instance_arn(&instance)
                    .name(&name_owned)
                    .description(&description)
                    .session_duration(&session_duration)
                    .send()
                    .await
                    .map_err(sdk_error)
                    .with_context(|| format!("creating permission set {name_owned}"))?;
                *calls += 1;
                out.permission_set()
                    .and_then(|p| p.permission_set_arn())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        anyhow::anyhow!("Identity Center returned no ARN for {name_owned}")
                    })?
            }
        };
        // Take away first: assignments nobody asked for, managed policies.
        let (current, _, more) = assignments_of(&admin, &instance, &arn, Some(&account)).await?;
        *calls += more;
        let current: BTreeSet<String> = current.into_iter().collect();
        for extra in current.difference(&wanted) {
            delete_assignment(&admin, &instance, &arn, extra, calls).await?;
        }
        detach_managed(&admin, &instance, &arn, calls).await?;
        admin
            .update_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(&arn)
            .description(&description)
            .session_duration(&session_duration)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("updating permission set {name_owned}"))?;
        *calls += 1;
        admin
            .put_inline_policy_to_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(&arn)
            .inline_policy(&inline)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("writing the inline policy of {name_owned}"))?;
        *calls += 1;
        provision(&admin, &instance, &arn, &account, calls)
            .await
            .with_context(|| format!("provisioning {name_owned}"))?;
        for missing in wanted.difference(&current) {
            let Some((target, kind, id)) = split_assignment(missing) else {
                anyhow::bail!("unreadable assignment {missing:?}");
            };
            let out = admin
                .create_account_assignment()
                .instance_arn(&instance)
                .permission_set_arn(&arn)
                .target_type(TargetType::AwsAccount)
                .target_id(target)
                .principal_type(kind)
                .principal_id(id)
                .send()
                .await
                .map_err(sdk_error)
                .with_context(|| format!("assigning {name_owned} ({missing})"))?;
            *calls += 1;
            settle_assignment(
                &admin,
                &instance,
                out.account_assignment_creation_status().cloned(),
                true,
                calls,
            )
            .await
            .with_context(|| format!("assigning {name_owned} ({missing})"))?;
        }
        anyhow::Ok(arn)
    })?;
    session.arns.insert(name.to_string(), arn);
    Ok(())
}

/// Detaches every managed policy and customer-managed policy reference: jit
/// attaches none, so any is drift that widens the grant.
async fn detach_managed(
    admin: &Client,
    instance: &str,
    arn: &str,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let attached = admin
        .list_managed_policies_in_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .map_err(sdk_error)?;
    *calls += 1;
    for p in attached.attached_managed_policies() {
        let Some(policy) = p.arn() else { continue };
        admin
            .detach_managed_policy_from_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .managed_policy_arn(policy)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("detaching {policy}"))?;
        *calls += 1;
    }
    let references = admin
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .map_err(sdk_error)?;
    *calls += 1;
    for r in references.customer_managed_policy_references() {
        admin
            .detach_customer_managed_policy_reference_from_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .customer_managed_policy_reference(r.clone())
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("detaching {}", customer_reference_key(r)))?;
        *calls += 1;
    }
    Ok(())
}

/// Deletes every assignment of permission set `name` (in the accounts it is
/// provisioned to, and in `account`, where the plan found it), then the
/// permission set. One that is already gone (or was never read) is not an
/// error.
pub fn delete(
    runtime: &tokio::runtime::Runtime,
    session: Option<&mut Session>,
    account: &str,
    name: &str,
    calls: &mut usize,
) -> anyhow::Result<()> {
    let session =
        session.ok_or_else(|| anyhow::anyhow!("IAM Identity Center was not read in this run"))?;
    let Some(arn) = session.arns.get(name).cloned() else {
        return Ok(());
    };
    let admin = session.admin.clone();
    let instance = session.instance.clone();
    runtime.block_on(async {
        let (current, _, more) = assignments_of(&admin, &instance, &arn, Some(account)).await?;
        *calls += more;
        for a in &current {
            delete_assignment(&admin, &instance, &arn, a, calls).await?;
        }
        let out = admin
            .delete_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(&arn)
            .send()
            .await;
        *calls += 1;
        match out {
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(sdk_error(e)).with_context(|| format!("deleting permission set {name}")),
            Ok(_) => Ok(()),
        }
    })?;
    session.arns.remove(name);
    Ok(())
}

/// Reads the Identity Center instance the definitions declare (none: `None`)
/// through `cloud`, resolving the Identity Store users of every request
/// whose contract grants through it, and puts the permission sets jit owns
/// into the states of their accounts ([`crate::plan::place_permission_sets`]).
/// A failure is the answer, not an error: IAM grants proceed without it.
pub fn read_for(
    cloud: &mut dyn super::Cloud,
    snapshot: &crate::git::history::Snapshot,
    iam: &mut BTreeMap<String, super::AccountState>,
) -> Option<Result<IdentityCenterState, String>> {
    let defs = &snapshot.effective;
    let ic = defs.settings.identity_center.as_ref()?;
    let via = ic.account.as_ref().and_then(|a| defs.accounts.get(a));
    let users: BTreeSet<String> = snapshot
        .requests
        .iter()
        .filter(|r| {
            defs.contracts
                .get(&r.request.contract)
                .is_some_and(|c| c.mode == crate::config::Mode::IdentityCenter)
        })
        .filter_map(|r| defs.users.get(&r.request.requester)?.sso.clone())
        .collect();
    let users: Vec<String> = users.into_iter().collect();
    let expected = crate::plan::permission_set_accounts(snapshot);
    match cloud.read_identity_center(ic, via, &users, &expected) {
        Ok(state) => {
            crate::plan::place_permission_sets(snapshot, &state, iam);
            Some(Ok(state))
        }
        Err(e) => {
            log::warn!("IAM Identity Center could not be read: {e:#}");
            Some(Err(format!("{e:#}")))
        }
    }
}
