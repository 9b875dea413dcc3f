//! Reading both sides (git history and IAM) into one value the planner takes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use git2::Repository;
use serde_json::Value;

use crate::config::{Account, Definitions};
use crate::git::{self, endings, endings::Endings, history::Snapshot};
use crate::iam::{AccountState, Cloud};
use crate::plan::{self, Action, Plan};
use crate::policy;

pub struct World {
    pub repo: Repository,
    pub snapshot: Snapshot,
    /// IAM state per account id, for the accounts read.
    pub iam: BTreeMap<String, AccountState>,
    /// Request versions `jit revoke` ended (local and origin's records).
    pub endings: Endings,
    /// Declared accounts this run leaves alone, by id: nothing in them is
    /// planned, applied or archived.
    pub skipped: BTreeMap<String, Skipped>,
    /// The account ids `--account` named (`None`: every account).
    pub scope: Option<BTreeSet<String>>,
    /// The Identity Center instance, when the definitions declare one: its
    /// state, or why it could not be read. Its permission sets are in `iam`.
    pub identity_center: Option<Result<crate::iam::IdentityCenterState, String>>,
    /// Time spent reading IAM and Identity Center (the rest of a plan is
    /// local work).
    pub iam_ms: u128,
}

/// Why an account is left out of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Not named by `--account`.
    OutOfScope,
    /// Its IAM could not be read: `account <name> (<id>): <error>`.
    Unreadable(String),
}

/// Which accounts a run reads, plans and applies, and how many it reads at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Account names (`--account`); empty means every declared account.
    pub accounts: Vec<String>,
    /// Accounts read at the same time (`--parallelism`).
    pub parallelism: usize,
}

impl Scope {
    /// The ids of the accounts `--account` names (`None`: every account).
    /// A name the approved definitions do not declare is an error.
    pub fn ids(&self, defs: &Definitions) -> anyhow::Result<Option<BTreeSet<String>>> {
        if self.accounts.is_empty() {
            return Ok(None);
        }
        let declared = &defs.accounts;
        let mut ids = BTreeSet::new();
        for name in &self.accounts {
            let Some(account) = declared.get(name) else {
                let known: Vec<&str> = declared.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "--account {name}: no account of that name in the approved definitions (accounts: {})",
                    known.join(", ")
                );
            };
            ids.insert(account.id.clone());
        }
        Ok(Some(ids))
    }
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            accounts: Vec::new(),
            parallelism: 8,
        }
    }
}

/// Reads the access repo's branch and, for every declared account, IAM.
/// Any account that cannot be read fails the whole read (for commands that
/// must see every account, such as `jit revoke`).
pub fn read(dir: &Path, cloud: &mut dyn Cloud) -> anyhow::Result<World> {
    let world = read_scoped(dir, cloud, &Scope::default())?;
    let unreadable = world.skipped.values().find_map(|s| match s {
        Skipped::Unreadable(e) => Some(e),
        Skipped::OutOfScope => None,
    });
    if let Some(e) = unreadable {
        anyhow::bail!("reading IAM of {e}");
    }
    Ok(world)
}

/// Reads the branch and the IAM of the accounts in `scope`, several at once.
/// An account that cannot be read is recorded in `skipped`, not an error:
/// the others are planned and applied without it.
pub fn read_scoped(dir: &Path, cloud: &mut dyn Cloud, scope: &Scope) -> anyhow::Result<World> {
    let snapshot = read_git(dir)?;
    let repo = git::open(dir)?;
    // Another runner's `jit revoke` may have ended a request whose archive
    // commit never landed: its record is on origin.
    if let Err(e) = endings::fetch(&repo) {
        log::warn!("could not fetch origin's ending records: {e:#}");
    }
    let endings = endings::read(&repo).context("reading the ending records (jit-endings)")?;
    let ids = scope.ids(&snapshot.effective)?;
    let (chosen, others): (Vec<&Account>, Vec<&Account>) = snapshot
        .effective
        .accounts
        .values()
        .partition(|a| ids.as_ref().is_none_or(|ids| ids.contains(&a.id)));
    let mut iam = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    let reading = Instant::now();
    let states = cloud.read_all(&chosen, scope.parallelism);
    for (id, result) in states {
        match result {
            Ok(state) => {
                iam.insert(id, state);
            }
            Err(e) => {
                let name = chosen.iter().find(|a| a.id == id).map_or("?", |a| &a.name);
                log::warn!("account {name} ({id}) could not be read: {e:#}");
                let why = Skipped::Unreadable(format!("account {name} ({id}): {e:#}"));
                skipped.insert(id, why);
            }
        }
    }
    for a in others {
        if !iam.contains_key(&a.id) {
            skipped.entry(a.id.clone()).or_insert(Skipped::OutOfScope);
        }
    }
    let identity_center = crate::iam::sso::read_for(cloud, &snapshot, &mut iam);
    Ok(World {
        repo,
        snapshot,
        iam,
        endings,
        skipped,
        scope: ids,
        identity_center,
        iam_ms: reading.elapsed().as_millis(),
    })
}

/// Reads only the git side. The branch is the one the *approved* settings
/// name: an unapproved `settings.branch` change cannot redirect jit to a
/// branch its author controls.
pub fn read_git(dir: &Path) -> anyhow::Result<Snapshot> {
    git::history::read_branch(&git::open(dir)?)
}

/// Reads both sides (every account, strictly, as [`read`]) and plans at
/// `now`, timing it.
pub fn plan_now(
    dir: &Path,
    cloud: &mut dyn Cloud,
    now: DateTime<Utc>,
) -> anyhow::Result<(World, Plan)> {
    let started = Instant::now();
    let world = read(dir, cloud)?;
    let mut plan = plan_at(&world, now);
    plan.stats.elapsed_ms = started.elapsed().as_millis();
    plan.stats.iam_ms = world.iam_ms;
    Ok((world, plan))
}

/// Reads the accounts in `scope` ([`read_scoped`]) and plans at `now`: an
/// unreadable account is a plan error, and the others are planned.
pub fn plan_scoped(
    dir: &Path,
    cloud: &mut dyn Cloud,
    now: DateTime<Utc>,
    scope: &Scope,
) -> anyhow::Result<(World, Plan)> {
    let started = Instant::now();
    let world = read_scoped(dir, cloud, scope)?;
    let mut plan = plan_at(&world, now);
    plan.stats.elapsed_ms = started.elapsed().as_millis();
    plan.stats.iam_ms = world.iam_ms;
    Ok((world, plan))
}

/// The plan for `world` at `now`. Nothing is planned in a skipped account:
/// no grant, no revocation (what could not be read is never revoked) and no
/// archive move (an expired request's IAM objects there were not checked).
pub fn plan_at(world: &World, now: DateTime<Utc>) -> Plan {
    let ic = world
        .identity_center
        .as_ref()
        .map(|r| r.as_ref().map_err(String::as_str));
    let mut plan =
        plan::plan_with_identity_center(&world.snapshot, &world.iam, ic, now, &world.endings);
    if world.skipped.is_empty() {
        return plan;
    }
    plan.actions
        .retain(|a| !world.skipped.contains_key(&a.account));
    // The planner reports each grant in an account it was not given; the
    // account's own line says it once.
    let not_read: BTreeSet<String> = world
        .skipped
        .keys()
        .map(|id| format!("account {id} was not read"))
        .collect();
    plan.errors.retain(|e| {
        !e.split_once(": ")
            .is_some_and(|(_, rest)| not_read.contains(rest))
    });
    let unreadable = world.skipped.values().filter_map(|s| match s {
        Skipped::Unreadable(e) => Some(e.clone()),
        Skipped::OutOfScope => None,
    });
    plan.errors = unreadable.chain(std::mem::take(&mut plan.errors)).collect();
    plan.summary = plan::summarize(&plan.actions);
    plan
}

/// Reads a plan file written by `jit plan --out`, refusing anything else
/// with a clear error (never a panic).
pub fn read_plan_file(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading plan file {}", path.display()))?;
    let saved: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a jit plan file", path.display()))?;
    if saved.format_version != plan::FORMAT_VERSION {
        anyhow::bail!(
            "{}: plan file format {:?} is not supported (expected {})",
            path.display(),
            saved.format_version,
            plan::FORMAT_VERSION
        );
    }
    let is_oid = saved.commit.len() == 40 && saved.commit.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_oid {
        anyhow::bail!(
            "{}: `commit` is {:?}, not a git commit id (40 hex digits); this is not a plan `jit plan --out` wrote",
            path.display(),
            saved.commit
        );
    }
    Ok(saved)
}

/// How a saved plan differs from the plan jit derives itself (from git and
/// IAM at the saved plan's `now`): a plan file confirms a plan, it never
/// decides one. Empty when they agree on every action and document.
pub fn differences(saved: &Plan, derived: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if saved.branch != derived.branch {
        out.push(format!(
            "the plan file is for branch {:?}, jit plans branch {}",
            saved.branch, derived.branch
        ));
    }
    // What IAM held when planned is the stale check's business.
    let comparable = |a: &Action| {
        let mut a = a.clone();
        if let Some(change) = &mut a.iam {
            change.observed = None;
        }
        a
    };
    let key = |a: &Action| format!("{:?} {} {}", a.action, a.request, a.target).to_lowercase();
    let saved_actions: Vec<Action> = saved.actions.iter().map(comparable).collect();
    let derived_actions: Vec<Action> = derived.actions.iter().map(comparable).collect();
    for a in &saved_actions {
        match derived_actions.iter().find(|d| key(d) == key(a)) {
            None => out.push(format!(
                "the plan file has `{}`, which jit does not derive",
                key(a)
            )),
            Some(d) if d != a => out.push(format!(
                "`{}` in the plan file differs from the derived one ({})",
                key(a),
                differing_fields(a, d).join(", ")
            )),
            Some(_) => {}
        }
    }
    for d in &derived_actions {
        if !saved_actions.iter().any(|a| key(a) == key(d)) {
            out.push(format!(
                "jit derives `{}`, which the plan file lacks",
                key(d)
            ));
        }
    }
    if out.is_empty() && saved_actions != derived_actions {
        out.push("the plan file lists its actions differently (repeated or reordered)".into());
    }
    out
}

/// The fields (`iam.document`, `end`, ...) in which two actions differ.
fn differing_fields(a: &Action, b: &Action) -> Vec<String> {
    fn walk(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Value::Null;
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(
                        &path,
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let to_value = |a: &Action| serde_json::to_value(a).unwrap_or_default();
    walk("", &to_value(a), &to_value(b), &mut out);
    out
}

/// Why a saved plan may no longer be applied: the branch moved, or an IAM
/// object it touches is not as it was when planned.
pub fn stale_reasons(plan: &Plan, world: &World) -> Vec<String> {
    let mut out = Vec::new();
    if plan.commit != world.snapshot.head.to_string() {
        out.push(format!(
            "branch {} moved from {} to {} since the plan was made",
            world.snapshot.branch,
            plan.commit.chars().take(10).collect::<String>(),
            git::short(world.snapshot.head)
        ));
    }
    for action in &plan.actions {
        let Some(change) = &action.iam else { continue };
        let now = world
            .iam
            .get(&action.account)
            .and_then(|s| s.find(&change.target))
            .map(|o| &o.document);
        let same = match (&change.observed, now) {
            (None, None) => true,
            (Some(a), Some(b)) => policy::drift(b, a).is_none(),
            _ => false,
        };
        if !same {
            out.push(format!(
                "{} changed in IAM since the plan was made",
                change.target
            ));
        }
    }
    out
}
