//! PR mode (`jit plan --base REF`): what a branch adds relative to its base,
//! judged by the definitions in force at the base (the PR's own definition
//! changes are not in force until approved), and who still must approve.
//! Pure: takes the base snapshot and the head's parsed files.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use git2::Oid;
use serde::Serialize;

use crate::approval::{Object, changed_objects, required_groups};
use crate::config::validate;
use crate::config::{AccessRepo, Definitions, Request, selector_list};
use crate::diag::{Diagnostic, Subject};
use crate::git::history::Snapshot;
use crate::plan;

#[derive(Debug, Serialize)]
pub struct PrPlan {
    pub base: String,
    pub head: String,
    pub requests: Vec<PrRequest>,
    pub definition_changes: Vec<PrChange>,
    /// Changes on the base that are not in force (not approved), naming the
    /// commit to approve or revert.
    pub unapproved: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PrRequest {
    pub request: String,
    /// added | changed | removed
    pub change: String,
    pub valid: bool,
    pub errors: Vec<String>,
    pub requester: String,
    pub contract: String,
    pub principal: String,
    pub role: String,
    pub resources: Vec<String>,
    pub duration: String,
    pub mode: String,
    /// Who still must approve, in words.
    pub needs: String,
    /// For a request live on the base: what merging does to its grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PrChange {
    pub object: String,
    pub needs: String,
}

impl PrPlan {
    pub fn has_changes(&self) -> bool {
        !self.requests.is_empty() || !self.definition_changes.is_empty()
    }
}

/// The files of the two sides: the blob of every `requests/<name>.hcl`.
pub struct Sides<'a> {
    pub base: &'a BTreeMap<String, Oid>,
    pub head: &'a BTreeMap<String, Oid>,
}

/// `head` is the branch's files (parsed), `head_diags` their problems.
/// Every request file whose bytes change is listed (a comment or whitespace
/// edit too: merging it makes a new version that needs approval, and for a
/// live request restarts its window from the merge).
pub fn pr_plan(
    base: &Snapshot,
    head: &AccessRepo,
    head_diags: &[Diagnostic],
    head_sha: &str,
    files: Sides,
    now: DateTime<Utc>,
) -> PrPlan {
    let defs = &base.effective;
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    let defs_diags = validate::validate_definitions(defs);
    let names: BTreeSet<&String> = files.base.keys().chain(files.head.keys()).collect();
    for name in names {
        if files.base.get(name) == files.head.get(name) {
            continue;
        }
        let Some(req) = head.requests.get(name) else {
            if !files.head.contains_key(name) {
                requests.push(removed(name));
            }
            continue;
        };
        let change = if files.base.contains_key(name) {
            "changed"
        } else {
            "added"
        };
        let mut errs: Vec<String> = head_diags
            .iter()
            .filter(|d| d.is_error() && d.subject == Subject::Request(name.clone()))
            .chain(validate::validate_request(defs, req).iter())
            .map(|d| d.to_string())
            .collect();
        errs.dedup();
        errors.extend(errs.iter().cloned());
        let mut described = describe(defs, req, change, errs);
        let live = base.requests.iter().find(|r| &r.request.name == name);
        if let Some(record) = live
            && let plan::Standing::Active(_, end) = plan::standing(base, &defs_diags, record, now)
        {
            described.window = Some(format!(
                "live until {}: merging makes a new version, which ends this grant and, once approved, starts a new {} window from the merge",
                crate::policy::iam_time(end),
                described.duration
            ));
        }
        requests.push(described);
    }
    // Requests whose files fail to parse are not in `head.requests`.
    for d in head_diags.iter().filter(|d| d.is_error()) {
        if let Subject::Request(n) = &d.subject
            && !head.requests.contains_key(n)
        {
            errors.push(d.to_string());
        }
    }

    let definition_changes = changed_objects(defs, &head.defs)
        .into_iter()
        .map(|object| PrChange {
            needs: needs_for_definition(defs, &object),
            object: object.to_string(),
        })
        .collect();
    for d in head_diags
        .iter()
        .filter(|d| d.is_error() && !matches!(d.subject, Subject::Request(_)))
    {
        errors.push(d.to_string());
    }
    errors.dedup();
    let unapproved = base
        .unapproved
        .iter()
        .map(|u| {
            format!(
                "{} changed in {} is not in force: {}",
                u.object,
                crate::git::short(u.commit),
                u.reason
            )
        })
        .collect();
    PrPlan {
        base: base.head.to_string(),
        head: head_sha.to_string(),
        requests,
        definition_changes,
        unapproved,
        errors,
    }
}

fn removed(name: &str) -> PrRequest {
    PrRequest {
        request: name.to_string(),
        change: "removed".into(),
        valid: true,
        errors: Vec::new(),
        requester: String::new(),
        contract: String::new(),
        principal: String::new(),
        role: String::new(),
        resources: Vec::new(),
        duration: String::new(),
        mode: String::new(),
        needs: "nothing: removing a request ends its grant on the next apply".into(),
        window: None,
    }
}

fn describe(defs: &Definitions, req: &Request, change: &str, errors: Vec<String>) -> PrRequest {
    let contract = defs.contracts.get(&req.contract);
    let user = defs.users.get(&req.requester);
    let needs = match contract {
        None => "no approval possible: unknown contract".to_string(),
        Some(c) if c.auto_approve => format!(
            "no approvals: contract `{}` is auto-approved on merge by {}",
            c.name, req.requester
        ),
        Some(c) => {
            let mut allowed: Vec<String> = defs
                .expand(&c.approvers)
                .into_iter()
                .filter(|u| u != &req.requester)
                .collect();
            allowed.sort();
            let mut s = format!(
                "needs {} approval{} from {} ({})",
                c.min_approvals,
                if c.min_approvals == 1 { "" } else { "s" },
                selector_list(&c.approvers),
                if allowed.is_empty() {
                    "nobody else is in that list".into()
                } else {
                    allowed.join(", ")
                }
            );
            if defs.expand(&c.approvers).contains(&req.requester) {
                s.push_str(&format!(
                    "; {} cannot approve their own request",
                    req.requester
                ));
            }
            s.push_str(&format!(
                "; the pull request must be opened by {}",
                req.requester
            ));
            s
        }
    };
    PrRequest {
        request: req.name.clone(),
        change: change.into(),
        valid: errors.is_empty(),
        errors,
        requester: req.requester.clone(),
        contract: req.contract.clone(),
        principal: match (user, contract) {
            (Some(u), Some(c)) => crate::config::validate::principal_of(defs, u, c),
            (Some(u), None) => u.aws.clone(),
            _ => String::new(),
        },
        role: contract.map(|c| c.role.clone()).unwrap_or_default(),
        resources: match contract {
            Some(c) if req.resources.is_empty() => c.resources.clone(),
            _ => req.resources.clone(),
        },
        duration: defs
            .duration_of(req)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        mode: contract
            .map(|c| c.mode.as_str().to_string())
            .unwrap_or_default(),
        needs,
        window: None,
    }
}

fn needs_for_definition(before: &Definitions, object: &Object) -> String {
    let groups: Vec<String> = required_groups(before, object)
        .iter()
        .map(|g| selector_list(g))
        .collect();
    if groups.iter().any(|g| g.is_empty()) {
        return "cannot be approved: nobody is allowed (settings.admins is empty)".into();
    }
    format!(
        "needs approval from {} (not the author); until then the current version stands",
        groups.join(" and from ")
    )
}
