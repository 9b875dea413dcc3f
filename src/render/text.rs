//! Terraform-style text.

use crate::plan::{Action, ActionKind, Pending, Plan};
use crate::policy::iam_time;

/// How an action reads on one line, without colour: symbol, verb, request, then what.
pub fn action_line(a: &Action) -> (char, &'static str, String) {
    match a.action {
        ActionKind::Grant => ('+', "grant", format!("{}  {}", a.principal, a.detail)),
        ActionKind::Update => ('~', "update", a.detail.clone()),
        ActionKind::Revoke => ('-', "revoke", a.detail.clone()),
        ActionKind::Archive => ('>', "archive", a.target.clone()),
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    format!(
        "Plan: {} to grant, {} to update, {} to revoke, {} to archive.",
        s.grant, s.update, s.revoke, s.archive
    )
}

/// The whole plan; `paint(tone, text)` colours when printing to a terminal.
pub fn plan(plan: &Plan, paint: &dyn Fn(super::Tone, &str) -> String) -> String {
    let mut out = String::new();
    let width = plan
        .actions
        .iter()
        .map(|a| a.request.len())
        .max()
        .unwrap_or(0);
    for a in &plan.actions {
        let (symbol, verb, what) = action_line(a);
        let colour = match a.action {
            ActionKind::Grant => super::Tone::Add,
            ActionKind::Update => super::Tone::Change,
            ActionKind::Revoke => super::Tone::Remove,
            ActionKind::Archive => super::Tone::Move,
        };
        let head = paint(colour, &format!("{symbol} {verb:<7}"));
        out.push_str(&format!("  {head} {:<width$}  {what}\n", a.request));
    }
    if plan.actions.is_empty() {
        out.push_str("No changes. IAM matches the access repo.\n");
    } else {
        out.push('\n');
        out.push_str(&summary_line(plan));
        out.push('\n');
    }
    out.push_str(&pending(&plan.pending, "? "));
    if !plan.unapproved.is_empty() {
        out.push_str("\nDefinition changes not in force (the last approved version stands):\n");
        for u in &plan.unapproved {
            out.push_str(&format!("  ! {u}\n"));
        }
    }
    out
}

/// `jit status`: active grants with time left, pending requests.
pub fn status(view: &crate::status::StatusView) -> String {
    let mut out = String::new();
    if view.active.is_empty() {
        out.push_str("No active grants.\n");
    } else {
        out.push_str("Active grants:\n");
        let width = view
            .active
            .iter()
            .map(|g| g.request.len())
            .max()
            .unwrap_or(0);
        for g in &view.active {
            out.push_str(&format!(
                "  {:<width$}  {}  {}  until {} ({} left)\n",
                g.request,
                g.principal,
                g.role,
                iam_time(g.end),
                g.time_left,
            ));
        }
    }
    out.push_str(&pending(&view.pending, ""));
    out
}

/// The pending requests section, each line with its state and why.
fn pending(list: &[Pending], marker: &str) -> String {
    if list.is_empty() {
        return String::new();
    }
    let width = list.iter().map(|p| p.request.len()).max().unwrap_or(0);
    let mut out = String::from("\nPending requests:\n");
    for p in list {
        let state = p.state.replace('_', " ");
        out.push_str(&format!(
            "  {marker}{:<width$}  {state}: {}\n",
            p.request, p.detail
        ));
    }
    out
}
