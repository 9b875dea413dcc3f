//! Reading both sides (git history and IAM) into one value the planner takes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use git2::Repository;

use crate::git::{self, history::Snapshot};
use crate::iam::{AccountState, Cloud};
use crate::plan::{self, Plan};
use crate::policy;

pub struct World {
    pub repo: Repository,
    pub snapshot: Snapshot,
    /// IAM state per account id.
    pub iam: BTreeMap<String, AccountState>,
}

/// Reads the access repo's branch and, for every declared account, IAM.
pub fn read(dir: &Path, cloud: &mut dyn Cloud) -> anyhow::Result<World> {
    let snapshot = read_git(dir)?;
    let repo = git::open(dir)?;
    let mut iam = BTreeMap::new();
    for account in snapshot.effective.accounts.values() {
        iam.insert(account.id.clone(), cloud.read(account)?);
    }
    Ok(World {
        repo,
        snapshot,
        iam,
    })
}

/// Reads only the git side. The branch is the one the *approved* settings
/// name: an unapproved `settings.branch` change cannot redirect jit to a
/// branch its author controls.
pub fn read_git(dir: &Path) -> anyhow::Result<Snapshot> {
    git::history::read_branch(&git::open(dir)?)
}

/// Reads both sides and plans at `now`, timing it.
pub fn plan_now(
    dir: &Path,
    cloud: &mut dyn Cloud,
    now: DateTime<Utc>,
) -> anyhow::Result<(World, Plan)> {
    let started = Instant::now();
    let world = read(dir, cloud)?;
    let mut plan = plan::plan(&world.snapshot, &world.iam, now);
    plan.stats.elapsed_ms = started.elapsed().as_millis();
    Ok((world, plan))
}

/// Why a saved plan may no longer be applied: the branch moved, or an IAM
/// object it touches is not as it was when planned.
pub fn stale_reasons(plan: &Plan, world: &World) -> Vec<String> {
    let mut out = Vec::new();
    if plan.commit != world.snapshot.head.to_string() {
        out.push(format!(
            "branch {} moved from {} to {} since the plan was made",
            world.snapshot.branch,
            &plan.commit[..plan.commit.len().min(10)],
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
