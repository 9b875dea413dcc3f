//! `jit explain REQUEST`: one request's whole story, from what plan and
//! status already know (the history reader's record, the planner's
//! standing and actions, IAM as read): nothing is judged again here.

use std::fmt::Write as _;

use anyhow::bail;

use crate::approval::Verdict;
use crate::cli::{Ctx, Outcome, Ui};
use crate::config::{selector_list, validate};
use crate::iam::aws::AwsCloud;
use crate::plan::{self, Standing};
use crate::policy::iam_time;
use crate::reconcile;
use crate::render::Tone;

/// Explain one request: its contract, the approvals found and missing and
/// why, its window, the IAM objects that exist for it now, and what
/// `jit plan` would do with it and why.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's name (its file is requests/NAME.hcl).
    request: String,
}

pub fn run(ctx: &Ctx, ui: &Ui, args: Args) -> anyhow::Result<Outcome> {
    let mut cloud = AwsCloud::new(ctx.now)?;
    let (world, plan) = reconcile::plan_scoped(&ctx.dir, &mut cloud, ctx.now, &ctx.scope)?;
    let name = args.request.as_str();
    let snapshot = &world.snapshot;
    let defs = &snapshot.effective;
    let Some(record) = snapshot.requests.iter().find(|r| r.request.name == name) else {
        let hint = crate::plan::did_you_mean(snapshot, name);
        bail!(
            "no request `{name}` in requests/ on {}{hint} (ended requests: jit audit --request {name})",
            snapshot.branch
        );
    };
    let req = &record.request;
    let head = |t: &str| ui.paint(Tone::Strong, t);
    let mut o = String::new();
    let _ = writeln!(o, "{} {name}  (requests/{name}.hcl)", head("Request"));
    let _ = writeln!(o, "  requester  {}", req.requester);
    let _ = writeln!(o, "  reason     {}", req.reason);
    if !req.resources.is_empty() {
        let _ = writeln!(o, "  resources  {}", req.resources.join(", "));
    }
    if let Some(nb) = req.not_before {
        let _ = writeln!(o, "  not_before {}", iam_time(nb));
    }

    let _ = writeln!(o, "\n{} {}", head("Contract"), req.contract);
    match defs.contracts.get(&req.contract) {
        None => {
            let _ = writeln!(o, "  not in the definitions in force");
        }
        Some(c) => {
            let _ = writeln!(
                o,
                "  role {}, mode {}, max_duration {}",
                c.role,
                c.mode.as_str(),
                c.max_duration
            );
            let resources = if req.resources.is_empty() {
                &c.resources
            } else {
                &req.resources
            };
            let _ = writeln!(o, "  resources  {}", resources.join(", "));
            if c.auto_approve {
                let _ = writeln!(o, "  auto_approve: the merge is the approval");
            } else {
                let _ = writeln!(
                    o,
                    "  approvers  {} (at least {})",
                    selector_list(&c.approvers),
                    c.min_approvals
                );
            }
            if c.require_mfa {
                let _ = writeln!(o, "  require_mfa: the grant needs MFA");
            }
            if c.breakglass {
                let _ = writeln!(o, "  breakglass contract");
            }
        }
    }

    let _ = writeln!(o, "\n{}", head("Approval"));
    let commit = world
        .repo
        .find_commit(record.commit)
        .ok()
        .map(|c| c.summary().ok().flatten().unwrap_or("").to_string())
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  judged on {} \"{commit}\" at {}",
        crate::git::short(record.commit),
        iam_time(record.approved_at)
    );
    match &record.verdict {
        Verdict::Approved { approvers } if approvers.is_empty() => {
            let _ = writeln!(
                o,
                "  {} (no approvers needed)",
                ui.paint(Tone::Add, "approved")
            );
        }
        Verdict::Approved { approvers } => {
            let _ = writeln!(
                o,
                "  {} by {}",
                ui.paint(Tone::Add, "approved"),
                approvers.join(", ")
            );
        }
        Verdict::Pending { reason } => {
            let _ = writeln!(o, "  {}: {reason}", ui.paint(Tone::Change, "not approved"));
        }
    }
    if let Some(why) = &record.invalid_then {
        let _ = writeln!(o, "  invalid when approved: {why}");
    }

    let _ = writeln!(o, "\n{}", head("Window"));
    let defs_diags = validate::validate_definitions(defs);
    let standing = match world.endings.get(record.blob) {
        Some(e) => format!(
            "ended by jit revoke at {} ({}: {})",
            iam_time(e.at),
            e.by,
            e.reason
        ),
        None => match plan::standing(snapshot, &defs_diags, record, ctx.now) {
            Standing::Invalid(why) => format!("{}: {why}", ui.paint(Tone::Remove, "invalid")),
            Standing::Awaiting(_) => "none until approved".to_string(),
            Standing::NotStarted(s) => format!("starts {}", iam_time(s)),
            Standing::Active(s, e) => format!(
                "{} {} to {} ({} left)",
                ui.paint(Tone::Add, "active"),
                iam_time(s),
                iam_time(e),
                crate::audit::human(e - ctx.now)
            ),
            Standing::Ended(s, e) => format!("ended: {} to {}", iam_time(s), iam_time(e)),
        },
    };
    if let Some((s, e)) = plan::window(record) {
        let _ = writeln!(
            o,
            "  {} to {} (start = max(approval, not_before), end = start + duration)",
            iam_time(s),
            iam_time(e)
        );
    }
    let _ = writeln!(o, "  now {}: {standing}", iam_time(ctx.now));

    let _ = writeln!(o, "\n{}", head("In IAM now"));
    let mut any = false;
    for (account, state) in &world.iam {
        for owned in state.owned.iter().filter(|x| x.target.is_for(name)) {
            any = true;
            let _ = writeln!(o, "  account {account}: {}", owned.target);
        }
    }
    if !any {
        let _ = writeln!(o, "  nothing jit owns for it");
    }
    for (id, why) in &world.skipped {
        if let reconcile::Skipped::Unreadable(e) = why {
            let _ = writeln!(o, "  account {id} could not be read: {e}");
        }
    }

    let _ = writeln!(o, "\n{}", head("Plan"));
    let mut planned = false;
    for a in plan.actions.iter().filter(|a| a.request == name) {
        planned = true;
        let tone = match a.action {
            plan::ActionKind::Grant => Tone::Add,
            plan::ActionKind::Update => Tone::Change,
            plan::ActionKind::Revoke => Tone::Remove,
            plan::ActionKind::Archive => Tone::Move,
        };
        let verb = ui.paint(tone, &format!("{:?}", a.action).to_lowercase());
        let _ = writeln!(o, "  {verb} {}: {}", a.target, a.detail);
    }
    for p in plan.pending.iter().filter(|p| p.request == name) {
        planned = true;
        let _ = writeln!(
            o,
            "  nothing yet ({}): {}",
            p.state.replace('_', " "),
            p.detail
        );
    }
    for e in plan.errors.iter().filter(|e| e.contains(name)) {
        planned = true;
        let _ = writeln!(o, "  {} {e}", ui.paint(Tone::Remove, "error:"));
    }
    if !planned {
        let _ = writeln!(o, "  no change: IAM matches what the request asks for now");
    }
    ui.out(&o)?;
    Ok(Outcome::Success)
}
