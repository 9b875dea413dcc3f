//! `jit audit` output: events as a table, JSON Lines or CSV; `--verify`
//! findings; and the Markdown evidence report for people outside engineering.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::{Counts, EVENT_FIELDS, Event, Report, ReportGrant, VIOLATION_FIELDS, Violation};
use crate::policy::iam_time;

/// One JSON object per line.
/// Writes JSON Lines as it goes (for long outputs).
pub fn write_json_lines<T: Serialize>(
    out: &mut impl std::io::Write,
    items: impl Iterator<Item = T>,
) -> std::io::Result<()> {
    for item in items {
        serde_json::to_writer(&mut *out, &item)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn json_lines<T: Serialize>(items: &[T]) -> String {
    let mut out = String::new();
    for item in items {
        out.push_str(&serde_json::to_string(item).expect("audit values always serialize"));
        out.push('\n');
    }
    out
}

/// RFC 4180: quote a field when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A JSON value as a CSV cell: strings bare, lists joined with `;`, null empty.
fn csv_cell(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(csv_cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// A header row of `fields`, then one row per item (serialized, so CSV and JSON agree).
pub fn csv<T: Serialize>(fields: &[&str], items: &[T]) -> String {
    let mut out = csv_header(fields);
    for item in items {
        out.push_str(&csv_row(fields, item));
    }
    out
}

fn csv_header(fields: &[&str]) -> String {
    fields.join(",") + "\r\n"
}

fn csv_row<T: Serialize>(fields: &[&str], item: &T) -> String {
    let value = serde_json::to_value(item).expect("audit values always serialize");
    let row: Vec<String> = fields
        .iter()
        .map(|f| csv_field(&csv_cell(&value[*f])))
        .collect();
    row.join(",") + "\r\n"
}

pub fn events_csv(events: &[Event]) -> String {
    csv(&EVENT_FIELDS, events)
}

/// The header row of [`events_csv`], for writing it as it goes.
pub fn write_events_csv_header(out: &mut impl std::io::Write) -> std::io::Result<()> {
    out.write_all(csv_header(&EVENT_FIELDS).as_bytes())
}

/// One row of [`events_csv`].
pub fn write_events_csv_row(out: &mut impl std::io::Write, event: &Event) -> std::io::Result<()> {
    out.write_all(csv_row(&EVENT_FIELDS, event).as_bytes())
}

/// One JSON Lines line.
pub fn write_json_line<T: Serialize>(
    out: &mut impl std::io::Write,
    item: &T,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, item)?;
    out.write_all(b"\n")
}

pub fn violations_csv(violations: &[Violation]) -> String {
    csv(&VIOLATION_FIELDS, violations)
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The events as an aligned table for a terminal.
pub fn events_table(events: &[Event]) -> String {
    if events.is_empty() {
        return "No events.\n".to_string();
    }
    let mut rows = vec![
        [
            "TIME", "EVENT", "REQUEST", "USER", "CONTRACT", "BY", "COMMIT", "DETAIL",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in events {
        let detail = match (&e.detail, &e.reason) {
            (d, Some(r)) if d.is_empty() => r.clone(),
            (d, _) => d.clone(),
        };
        rows.push(vec![
            iam_time(e.time),
            e.event.as_str().to_string(),
            e.request
                .clone()
                .or_else(|| e.object.clone())
                .unwrap_or_default(),
            e.requester.clone().unwrap_or_default(),
            e.contract.clone().unwrap_or_default(),
            e.by.join(","),
            e.commit.chars().take(10).collect(),
            detail,
        ]);
    }
    columns(&rows)
}

/// `--verify` findings for a terminal.
pub fn violations_text(violations: &[Violation], counts: &Counts) -> String {
    let mut out = String::new();
    if violations.is_empty() {
        out.push_str(&format!(
            "OK: {} grant(s) checked ({} ended, {} active): {} ended on time, {}every recorded grant validly approved.\n",
            counts.grants,
            counts.ended,
            counts.active,
            counts.on_time,
            if counts.iam_checked {
                "no jit-* object in IAM past its window, "
            } else {
                "IAM not checked (--no-iam), "
            },
        ));
        return out;
    }
    out.push_str(&format!(
        "{} problem(s) found ({} grant(s) checked):\n",
        violations.len(),
        counts.grants
    ));
    let rows: Vec<Vec<String>> = violations
        .iter()
        .map(|v| {
            vec![
                format!("  {}", v.check.as_str()),
                v.request.clone().unwrap_or_else(|| "-".into()),
                v.detail.clone(),
            ]
        })
        .collect();
    out.push_str(&columns(&rows));
    out
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn period(report: &Report) -> String {
    match (report.filter.since, report.filter.until) {
        (None, None) => "all history".to_string(),
        (Some(s), None) => format!("from {} to {}", iam_time(s), iam_time(report.now)),
        (None, Some(u)) => format!("from the beginning of history to {}", iam_time(u)),
        (Some(s), Some(u)) => format!("from {} to {}", iam_time(s), iam_time(u)),
    }
}

fn approvals(g: &ReportGrant) -> String {
    if g.approvers.is_empty() {
        "automatic (contract allows it)".to_string()
    } else {
        g.approvers.join(", ")
    }
}

fn until(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "still active".to_string(), iam_time)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "n/a (no grant ended in the period)".to_string()
    } else {
        format!(
            "{:.1}% ({part} of {whole})",
            part as f64 * 100.0 / whole as f64
        )
    }
}

/// The evidence report: who had access to what, when, approved by whom, and why.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let head: String = report.head.chars().take(10).collect();
    out.push_str("# Access evidence report\n\n");
    out.push_str(&format!("- **Period:** {}\n", period(report)));
    out.push_str(&format!(
        "- **Source:** branch `{}` of the access repository at commit `{head}`\n",
        report.branch
    ));
    out.push_str(&format!("- **Generated:** {}\n", iam_time(report.now)));
    let mut scope = Vec::new();
    if let Some(u) = &report.filter.user {
        scope.push(format!("user `{u}`"));
    }
    if let Some(c) = &report.filter.contract {
        scope.push(format!("contract `{c}`"));
    }
    if let Some(r) = &report.filter.request {
        scope.push(format!("request `{r}`"));
    }
    if !scope.is_empty() {
        out.push_str(&format!("- **Limited to:** {}\n", scope.join(", ")));
    }
    out.push_str(
        "\nEvery access described here was temporary: a person asked for it in a request file, \
the request was reviewed and approved in a pull request before it took effect, and access \
ended automatically at the end of its time window (or earlier, when revoked). \
This report is reconstructed from the repository's history, which records each of those steps.\n",
    );

    let ended = report.ended();
    let on_time = report.on_time();
    out.push_str("\n## Summary\n\n");
    out.push_str(&format!(
        "- Grants of access in the period: {} (to {}, under {})\n",
        report.grants.len(),
        plural(report.people().len(), "person", "people"),
        plural(report.contracts().len(), "contract", "contracts")
    ));
    out.push_str(&format!(
        "- Active at the time of this report: {}\n",
        report.grants.iter().filter(|g| g.stopped.is_none()).count()
    ));
    out.push_str(&format!(
        "- Revoked early: {}\n",
        report
            .grants
            .iter()
            .filter(|g| g.outcome.starts_with("revoked early"))
            .count()
    ));
    out.push_str(&format!(
        "- On-time revocation rate: {} — access counts as removed on time when its removal was recorded within {} of the end of its window\n",
        percent(on_time, ended),
        report.tolerance
    ));
    out.push_str(&format!(
        "- Requests not granted: {}\n",
        report.not_granted.len()
    ));
    out.push_str(&format!(
        "- Changes to contracts and roles: {} ({} approved by their owners)\n",
        report.changes.len(),
        report
            .changes
            .iter()
            .filter(|c| c.approved == Some(true))
            .count()
    ));
    out.push_str(&format!(
        "- Exceptions: {}{}\n",
        if report.violations.is_empty() {
            "none found".to_string()
        } else {
            format!("{} (listed below)", report.violations.len())
        },
        if report.iam_checked {
            " (history and live IAM checked)"
        } else {
            " (history checked; live IAM not checked — run with --verify to include it)"
        }
    ));

    out.push_str("\n## Access by contract\n");
    let mut by_contract: BTreeMap<&str, Vec<&ReportGrant>> = BTreeMap::new();
    for g in &report.grants {
        by_contract.entry(&g.contract).or_default().push(g);
    }
    if by_contract.is_empty() {
        out.push_str("\nNo access was granted in the period.\n");
    }
    for (contract, grants) in &by_contract {
        let role = grants.first().map(|g| g.role.as_str()).unwrap_or_default();
        out.push_str(&format!(
            "\n### Contract `{contract}` (permission set `{role}`)\n\n"
        ));
        out.push_str(
            "| Person | Request | Access from | Access until | How it ended | Approved by | Reason |\n|---|---|---|---|---|---|---|\n",
        );
        for g in grants {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} | {} |\n",
                g.requester,
                g.request,
                iam_time(g.start),
                until(g.stopped),
                md(&g.outcome),
                md(&approvals(g)),
                md(&g.reason)
            ));
        }
    }

    out.push_str("\n## Access by person\n\n");
    let mut by_person: BTreeMap<&str, Vec<&ReportGrant>> = BTreeMap::new();
    for g in &report.grants {
        by_person.entry(&g.requester).or_default().push(g);
    }
    if by_person.is_empty() {
        out.push_str("Nobody had access in the period.\n");
    } else {
        out.push_str(
            "| Person | Grants | Total time with access | Contracts | Revoked on time |\n|---|---|---|---|---|\n",
        );
        for (person, grants) in &by_person {
            let total = grants
                .iter()
                .map(|g| g.stopped.unwrap_or(report.now).min(g.end) - g.start)
                .fold(chrono::TimeDelta::zero(), |a, b| a + b);
            let mut contracts: Vec<&str> = grants.iter().map(|g| g.contract.as_str()).collect();
            contracts.dedup();
            let due = grants.iter().filter(|g| g.on_time.is_some()).count();
            let ok = grants.iter().filter(|g| g.on_time == Some(true)).count();
            out.push_str(&format!(
                "| {person} | {} | {} | {} | {} |\n",
                grants.len(),
                crate::audit::human(total),
                contracts.join(", "),
                if due == 0 {
                    "n/a".to_string()
                } else {
                    format!("{ok} of {due}")
                }
            ));
        }
    }

    out.push_str("\n## Requests not granted\n\n");
    if report.not_granted.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str(
            "| Person | Request | Contract | Requested | Why not |\n|---|---|---|---|---|\n",
        );
        for r in &report.not_granted {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                r.requester,
                r.request,
                r.contract,
                iam_time(r.requested_at),
                md(&r.why)
            ));
        }
    }

    out.push_str("\n## Changes to contracts and roles\n\n");
    if report.changes.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str(
            "| When | What | Changed by | Approved by | In effect | Commit |\n|---|---|---|---|---|---|\n",
        );
        for c in &report.changes {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | `{}` |\n",
                iam_time(c.time),
                c.object.as_deref().unwrap_or_default(),
                c.by.join(", "),
                if c.approvers.is_empty() {
                    "-".to_string()
                } else {
                    c.approvers.join(", ")
                },
                if c.approved == Some(true) {
                    "yes".to_string()
                } else {
                    md(&format!("no: {}", c.detail))
                },
                &c.commit[..c.commit.len().min(10)]
            ));
        }
    }

    out.push_str("\n## Exceptions\n\n");
    if report.violations.is_empty() {
        out.push_str("No exceptions found.\n");
    } else {
        for v in &report.violations {
            out.push_str(&format!(
                "- **{}** {}: {}\n",
                v.check.as_str().replace('_', " "),
                v.request
                    .as_deref()
                    .map(|r| format!("`{r}`"))
                    .unwrap_or_default(),
                md(&v.detail)
            ));
        }
    }
    out
}
