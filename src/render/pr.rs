//! PR mode output: text for logs, Markdown for the pull-request comment.

use crate::pr::PrPlan;

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

pub fn text(plan: &PrPlan) -> String {
    let mut out = format!("Changes relative to {}:\n", short(&plan.base));
    if !plan.has_changes() {
        out.push_str("  No request or definition changes.\n");
    }
    for r in &plan.requests {
        let symbol = match (r.change.as_str(), r.valid) {
            ("removed", _) => '-',
            (_, false) => '!',
            ("changed", _) => '~',
            _ => '+',
        };
        out.push_str(&format!(
            "  {symbol} request {} ({})\n",
            r.request, r.change
        ));
        if r.change != "removed" {
            out.push_str(&format!(
                "      grants   {} to {}\n",
                if r.role.is_empty() { "?" } else { &r.role },
                r.principal
            ));
            out.push_str(&format!("      on       {}\n", r.resources.join(", ")));
            out.push_str(&format!(
                "      for      {} ({}, contract {})\n",
                r.duration, r.mode, r.contract
            ));
        }
        out.push_str(&format!("      approval {}\n", r.needs));
        if let Some(w) = &r.window {
            out.push_str(&format!("      window   {w}\n"));
        }
        for e in &r.errors {
            out.push_str(&format!("      error    {e}\n"));
        }
    }
    for c in &plan.definition_changes {
        out.push_str(&format!("  ~ {}: {}\n", c.object, c.needs));
    }
    for u in &plan.unapproved {
        out.push_str(&format!("  ! on the base: {u}\n"));
    }
    out
}

pub fn markdown(plan: &PrPlan) -> String {
    let invalid = plan.requests.iter().filter(|r| !r.valid).count();
    let mut out = format!(
        "### jit plan for this pull request (base `{}`)\n\n",
        short(&plan.base)
    );
    let headline = format!(
        "{} request change(s), {} definition change(s){}",
        plan.requests.len(),
        plan.definition_changes.len(),
        if plan.errors.is_empty() {
            String::new()
        } else {
            format!(", :x: {} error(s)", plan.errors.len())
        }
    );
    out.push_str(&format!(
        "**{headline}**{}\n\n",
        if invalid > 0 {
            " — this pull request must not be merged as is"
        } else {
            ""
        }
    ));
    out.push_str("<details><summary>Show details</summary>\n\n");
    if !plan.requests.is_empty() {
        out.push_str("| request | change | grants | resources | duration | approval |\n|---|---|---|---|---|---|\n");
        for r in &plan.requests {
            out.push_str(&format!(
                "| `{}` | {}{} | {} → {} | {} | {} | {} |\n",
                r.request,
                r.change,
                if r.valid { "" } else { " :x:" },
                cell(&r.role),
                cell(&r.principal),
                cell(&r.resources.join(", ")),
                cell(&r.duration),
                cell(&r.needs)
            ));
        }
        out.push('\n');
    }
    for c in &plan.definition_changes {
        out.push_str(&format!("- :warning: {}: {}\n", c.object, cell(&c.needs)));
    }
    for r in plan.requests.iter().filter(|r| r.window.is_some()) {
        let w = r.window.as_deref().unwrap_or_default();
        out.push_str(&format!("- :hourglass: `{}` {}\n", r.request, cell(w)));
    }
    for u in &plan.unapproved {
        out.push_str(&format!("- :warning: on the base: {}\n", cell(u)));
    }
    for e in &plan.errors {
        out.push_str(&format!("- :x: `{}`\n", e.replace('`', "'")));
    }
    out.push_str("\n</details>\n");
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
