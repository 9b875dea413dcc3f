//! The approval rules of DESIGN §2 as pure functions: given who wrote a
//! change and who approved it (from trailers or GitHub), and the definitions
//! in force *before* the change, decide whether it stands.

use std::collections::BTreeSet;

use crate::config::{Contract, Definitions, Request, Selector, selector_list};

/// Who wrote a change and who approved it, as the forge recorded it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The commit the evidence is about (the first-parent commit on the branch).
    pub commit: String,
    pub author_email: String,
    /// The PR author's login, in github mode.
    pub author_login: Option<String>,
    /// Approvals as emails (trailers) or logins (github), in the order given.
    pub approvals: Vec<Identity>,
    /// The commit was authored by jit's bot: it may only end access.
    pub by_bot: bool,
    /// Why no approvals could be read at all (e.g. no pull request found).
    pub unavailable: Option<String>,
    /// Reviews that did not count and why (stale, dismissed), for the reason.
    pub ignored: Vec<String>,
    /// Other authors of the change (a merged branch's other commits): like
    /// the author, none of them may approve it.
    pub co_authors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Email(String),
    Login(String),
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Email(e) => write!(f, "{e}"),
            Identity::Login(l) => write!(f, "@{l}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Approved by these users (names), in the definitions in force before.
    Approved { approvers: Vec<String> },
    /// Not approved, with the reason to show in `plan` and `status`.
    Pending { reason: String },
}

impl Verdict {
    pub fn is_approved(&self) -> bool {
        matches!(self, Verdict::Approved { .. })
    }
}

/// Maps an identity to a declared user, by email (ignoring case) or login.
fn user_of<'a>(defs: &'a Definitions, id: &Identity) -> Option<&'a str> {
    match id {
        Identity::Email(e) => defs.user_by_email(e).map(|u| u.name.as_str()),
        Identity::Login(l) => defs.user_by_github(l).map(|u| u.name.as_str()),
    }
}

/// The declared user who authored the change, if any.
pub fn author_of<'a>(defs: &'a Definitions, ev: &Evidence) -> Option<&'a str> {
    match &ev.author_login {
        Some(login) => defs.user_by_github(login).map(|u| u.name.as_str()),
        None => defs
            .user_by_email(&ev.author_email)
            .map(|u| u.name.as_str()),
    }
}

fn author_label(ev: &Evidence) -> String {
    ev.author_login
        .as_ref()
        .map_or_else(|| ev.author_email.clone(), |l| format!("@{l}"))
}

/// Distinct users among the approvals who are in `allowed` and are not `author`.
/// Returns (counted, refused-with-reason).
fn count_approvers(
    defs: &Definitions,
    ev: &Evidence,
    allowed: &BTreeSet<String>,
    author: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let co_authors: Vec<&str> = ev
        .co_authors
        .iter()
        .filter_map(|e| defs.user_by_email(e).map(|u| u.name.as_str()))
        .collect();
    let mut counted: Vec<String> = Vec::new();
    let mut refused = Vec::new();
    for id in &ev.approvals {
        match user_of(defs, id) {
            None => refused.push(format!("{id} is not a declared user")),
            Some(u) if Some(u) == author || co_authors.contains(&u) => {
                refused.push(format!("{u} cannot approve their own change"))
            }
            Some(u) if !allowed.contains(u) => {
                refused.push(format!("{u} is not an allowed approver"))
            }
            Some(u) => {
                if !counted.iter().any(|c| c == u) {
                    counted.push(u.to_string());
                }
            }
        }
    }
    refused.extend(ev.ignored.iter().cloned());
    refused.dedup();
    (counted, refused)
}

/// Judges a request: `defs` are the definitions in force before the commit
/// that introduced the request's current content.
pub fn judge_request(defs: &Definitions, req: &Request, ev: &Evidence) -> Verdict {
    let pending = |reason: String| Verdict::Pending { reason };
    if ev.by_bot {
        return pending(
            "written by jit's bot, which can only end access; a person must submit it".into(),
        );
    }
    if let Some(why) = &ev.unavailable {
        return pending(why.clone());
    }
    let Some(contract) = defs.contracts.get(&req.contract) else {
        return pending(format!(
            "contract `{}` was not in force when the request was merged",
            req.contract
        ));
    };
    let author = author_of(defs, ev);
    if author != Some(req.requester.as_str()) {
        return pending(format!(
            "requester `{}` is not the author of the change ({}); a request must be submitted by its requester",
            req.requester,
            author.map_or_else(|| author_label(ev), str::to_string)
        ));
    }
    if contract.auto_approve {
        return Verdict::Approved {
            approvers: Vec::new(),
        };
    }
    judge_against(defs, contract, ev, &req.requester)
}

fn judge_against(defs: &Definitions, contract: &Contract, ev: &Evidence, author: &str) -> Verdict {
    let allowed = defs.expand(&contract.approvers);
    let (counted, refused) = count_approvers(defs, ev, &allowed, Some(author));
    let need = contract.min_approvals as usize;
    if counted.len() >= need {
        return Verdict::Approved { approvers: counted };
    }
    let missing = need - counted.len();
    let mut reason = format!(
        "needs {missing} more approval{} from {}",
        if missing == 1 { "" } else { "s" },
        selector_list(&contract.approvers)
    );
    if !refused.is_empty() {
        reason.push_str(&format!(" ({})", refused.join("; ")));
    }
    Verdict::Pending { reason }
}

/// A definition object, for guarding changes to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    Settings,
    Account(String),
    User(String),
    Team(String),
    Role(String),
    Contract(String),
    Guardrail(String),
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Settings => write!(f, "settings"),
            Object::Account(n) => write!(f, "account `{n}`"),
            Object::User(n) => write!(f, "user `{n}`"),
            Object::Team(n) => write!(f, "team `{n}`"),
            Object::Role(n) => write!(f, "role `{n}`"),
            Object::Contract(n) => write!(f, "contract `{n}`"),
            Object::Guardrail(n) => write!(f, "guardrail `{n}`"),
        }
    }
}

/// Who must approve a change to `object`, judged in `before`: a contract's
/// owners; for a role, the owners of every contract using it; for anything
/// else (or where nobody owns it yet) the admins. Each group needs one approval.
pub fn required_groups(before: &Definitions, object: &Object) -> Vec<Vec<Selector>> {
    let admins = || vec![before.settings.admins.clone()];
    let owners_of = |c: &Contract| {
        if c.owners.is_empty() {
            before.settings.admins.clone()
        } else {
            c.owners.clone()
        }
    };
    match object {
        Object::Contract(name) => before
            .contracts
            .get(name)
            .map_or_else(admins, |c| vec![owners_of(c)]),
        Object::Role(name) => {
            let groups: Vec<Vec<Selector>> = before
                .contracts
                .values()
                .filter(|c| &c.role == name)
                .map(owners_of)
                .collect();
            if groups.is_empty() { admins() } else { groups }
        }
        _ => admins(),
    }
}

/// Judges a change to a definition object made by the commit of `ev`.
pub fn judge_definition_change(before: &Definitions, object: &Object, ev: &Evidence) -> Verdict {
    if ev.by_bot {
        return Verdict::Pending {
            reason: "jit's bot may not change definitions".into(),
        };
    }
    if let Some(why) = &ev.unavailable {
        return Verdict::Pending {
            reason: why.clone(),
        };
    }
    let author = author_of(before, ev);
    let mut approvers = Vec::new();
    for group in required_groups(before, object) {
        if group.is_empty() {
            return Verdict::Pending {
                reason: format!("nobody may approve changes to {object}: settings.admins is empty"),
            };
        }
        let allowed = before.expand(&group);
        let (counted, refused) = count_approvers(before, ev, &allowed, author);
        match counted.first() {
            Some(u) => approvers.push(u.clone()),
            None => {
                let mut reason = format!("needs approval from {}", selector_list(&group));
                if !refused.is_empty() {
                    reason.push_str(&format!(" ({})", refused.join("; ")));
                }
                return Verdict::Pending { reason };
            }
        }
    }
    approvers.dedup();
    Verdict::Approved { approvers }
}

/// The objects whose content differs between two versions of the definitions.
pub fn changed_objects(old: &Definitions, new: &Definitions) -> Vec<Object> {
    fn diff<T: PartialEq>(
        a: &std::collections::BTreeMap<String, T>,
        b: &std::collections::BTreeMap<String, T>,
        make: fn(String) -> Object,
        out: &mut Vec<Object>,
    ) {
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        out.extend(
            names
                .into_iter()
                .filter(|n| a.get(*n) != b.get(*n))
                .map(|n| make(n.clone())),
        );
    }
    let mut out = Vec::new();
    if old.settings != new.settings {
        out.push(Object::Settings);
    }
    diff(&old.accounts, &new.accounts, Object::Account, &mut out);
    diff(&old.users, &new.users, Object::User, &mut out);
    diff(&old.teams, &new.teams, Object::Team, &mut out);
    diff(&old.roles, &new.roles, Object::Role, &mut out);
    diff(&old.contracts, &new.contracts, Object::Contract, &mut out);
    diff(
        &old.guardrails,
        &new.guardrails,
        Object::Guardrail,
        &mut out,
    );
    out
}

/// Whether `object` has the same content (or is absent) in both versions.
pub fn same(a: &Definitions, b: &Definitions, object: &Object) -> bool {
    match object {
        Object::Settings => a.settings == b.settings,
        Object::Account(n) => a.accounts.get(n) == b.accounts.get(n),
        Object::User(n) => a.users.get(n) == b.users.get(n),
        Object::Team(n) => a.teams.get(n) == b.teams.get(n),
        Object::Role(n) => a.roles.get(n) == b.roles.get(n),
        Object::Contract(n) => a.contracts.get(n) == b.contracts.get(n),
        Object::Guardrail(n) => a.guardrails.get(n) == b.guardrails.get(n),
    }
}

/// Copies `object`'s version from `from` into `into` (adding, replacing or removing it).
pub fn adopt(into: &mut Definitions, from: &Definitions, object: &Object) {
    fn put<T: Clone>(
        into: &mut std::collections::BTreeMap<String, T>,
        from: &std::collections::BTreeMap<String, T>,
        name: &str,
    ) {
        match from.get(name) {
            Some(v) => {
                into.insert(name.to_string(), v.clone());
            }
            None => {
                into.remove(name);
            }
        }
    }
    match object {
        Object::Settings => into.settings = from.settings.clone(),
        Object::Account(n) => put(&mut into.accounts, &from.accounts, n),
        Object::User(n) => {
            put(&mut into.users, &from.users, n);
            into.by_email = Default::default(); // the index is of the old users
        }
        Object::Team(n) => put(&mut into.teams, &from.teams, n),
        Object::Role(n) => put(&mut into.roles, &from.roles, n),
        Object::Contract(n) => put(&mut into.contracts, &from.contracts, n),
        Object::Guardrail(n) => put(&mut into.guardrails, &from.guardrails, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, SourceFile};

    fn defs(email: &str) -> Definitions {
        let text = format!(
            "user \"alice\" {{\n  email = \"{email}\"\n  aws = \"arn:aws:iam::123456789012:user/alice\"\n}}\n"
        );
        let (repo, diags) = config::parse_files(&[SourceFile {
            path: "people.hcl".into(),
            text,
        }]);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        repo.defs
    }

    /// Authors are found through an index of emails: adopting an approved
    /// change of a user must not leave the old email finding them.
    #[test]
    fn an_adopted_email_change_is_what_lookups_find() {
        let mut effective = defs("alice@acme.example");
        assert!(effective.user_by_email(" Alice@Acme.example ").is_some());
        adopt(
            &mut effective,
            &defs("alice@new.example"),
            &Object::User("alice".into()),
        );
        assert!(effective.user_by_email("alice@acme.example").is_none());
        assert_eq!(
            effective
                .user_by_email("ALICE@new.example")
                .map(|u| u.email.as_str()),
            Some("alice@new.example")
        );
    }
}
