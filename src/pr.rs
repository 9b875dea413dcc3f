//! PR mode (`jit plan --base REF`): what a branch adds relative to its base,
//! judged by the definitions in force at the base (the PR's own definition
//! changes are not in force until approved), and who still must approve.
//! Pure: takes the base snapshot and the head's parsed files.

use serde::Serialize;

use crate::approval::{Object, changed_objects, required_groups};
use crate::config::validate;
use crate::config::{AccessRepo, Definitions, Request, selector_list};
use crate::diag::{Diagnostic, Subject};
use crate::git::history::Snapshot;

#[derive(Debug, Serialize)]
pub struct PrPlan {
    pub base: String,
    pub head: String,
    pub requests: Vec<PrRequest>,
    pub definition_changes: Vec<PrChange>,
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

/// `head` is the branch's files (parsed), `head_diags` their problems.
pub fn pr_plan(
    base: &Snapshot,
    head: &AccessRepo,
    head_diags: &[Diagnostic],
    head_sha: &str,
) -> PrPlan {
    let defs = &base.effective;
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    let base_requests = &base.head_repo.requests;

    for (name, req) in &head.requests {
        let change = match base_requests.get(name) {
            None => "added",
            Some(old) if old == req => continue,
            Some(_) => "changed",
        };
        let mut errs: Vec<String> = head_diags
            .iter()
            .filter(|d| d.is_error() && d.subject == Subject::Request(name.clone()))
            .chain(validate::validate_request(defs, req).iter())
            .map(|d| d.to_string())
            .collect();
        errs.dedup();
        errors.extend(errs.iter().cloned());
        requests.push(describe(defs, req, change, errs));
    }
    for name in base_requests
        .keys()
        .filter(|n| !head.requests.contains_key(*n))
    {
        requests.push(PrRequest {
            request: name.clone(),
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
        });
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
    PrPlan {
        base: base.head.to_string(),
        head: head_sha.to_string(),
        requests,
        definition_changes,
        errors,
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
        principal: user.map(|u| u.aws.clone()).unwrap_or_default(),
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
