//! Atlantis-style pull-request comment: a summary line outside, the detail
//! inside `<details>`; no ANSI codes; stable for a bot to update in place.

use crate::plan::Plan;
use crate::render::text;

pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    let short = &plan.commit[..plan.commit.len().min(10)];
    let headline = if plan.actions.is_empty() {
        "No changes. IAM matches the access repo.".to_string()
    } else {
        text::summary_line(plan)
    };
    out.push_str(&format!(
        "### jit plan for `{}` at `{short}`\n\n",
        plan.branch
    ));
    out.push_str(&format!("**{headline}**"));
    if !plan.errors.is_empty() {
        out.push_str(&format!(" :x: {} error(s)", plan.errors.len()));
    }
    out.push_str("\n\n<details><summary>Show plan</summary>\n\n");
    if !plan.actions.is_empty() {
        out.push_str("```diff\n");
        for a in &plan.actions {
            let (symbol, verb, what) = text::action_line(a);
            let symbol = if symbol == '>' { '!' } else { symbol };
            out.push_str(&format!("{symbol} {verb:<7} {}  {what}\n", a.request));
        }
        out.push_str("```\n\n");
    }
    if !plan.pending.is_empty() {
        out.push_str("| request | state | detail |\n|---|---|---|\n");
        for p in &plan.pending {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                p.request,
                p.state.replace('_', " "),
                escape(&p.detail)
            ));
        }
        out.push('\n');
    }
    for u in &plan.unapproved {
        out.push_str(&format!("- :warning: {}\n", escape(u)));
    }
    for e in &plan.errors {
        out.push_str(&format!("- :x: {}\n", escape(e)));
    }
    out.push_str("\n</details>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
