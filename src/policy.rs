//! Grant -> IAM policy document, and comparing documents by meaning rather
//! than by bytes (key order, single value vs. list, list order).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::config::Role;

pub fn iam_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The window (and MFA) condition every jit statement carries, so IAM itself
/// ends access on time even if no runner runs.
pub fn window_condition(start: DateTime<Utc>, end: DateTime<Utc>, require_mfa: bool) -> Value {
    let mut c = json!({
        "DateGreaterThan": {"aws:CurrentTime": iam_time(start)},
        "DateLessThan": {"aws:CurrentTime": iam_time(end)},
    });
    if require_mfa {
        c["Bool"] = json!({"aws:MultiFactorAuthPresent": "true"});
    }
    c
}

/// The identity policy for a grant: one Allow statement per role statement;
/// a statement with no resources of its own gets the grant's resources.
pub fn grant_document(
    role: &Role,
    resources: &[String],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    require_mfa: bool,
) -> Value {
    let statements: Vec<Value> = role
        .statements
        .iter()
        .map(|s| {
            let res = if s.resources.is_empty() {
                resources
            } else {
                &s.resources
            };
            json!({
                "Effect": "Allow",
                "Action": s.actions,
                "Resource": res,
                "Condition": window_condition(start, end, require_mfa),
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The trust statement for an assume_role grant: the user may assume the
/// role inside the window, with MFA if required, under their own session name.
pub fn trust_statement(
    sid: &str,
    principal: &str,
    session_name: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    require_mfa: bool,
) -> Value {
    let mut condition = window_condition(start, end, require_mfa);
    condition["StringEquals"] = json!({"sts:RoleSessionName": session_name});
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
        "Condition": condition,
    })
}

/// A deny of everything for role sessions: those whose `aws:userid` is one of
/// `userids` (`<RoleId>:<session name>`; a `*` in one makes it a pattern),
/// issued before `issued_before`, from `from` on (`None`: at once). IAM
/// itself ends such sessions, whether jit runs again or not.
pub fn session_deny(
    sid: &str,
    userids: &[String],
    issued_before: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
) -> Value {
    let operator = if userids.iter().any(|u| u.contains('*')) {
        "StringLike"
    } else {
        "StringEquals"
    };
    let ids = match userids {
        [one] => json!(one),
        many => json!(many),
    };
    let mut condition = json!({
        operator: {"aws:userid": ids},
        "DateLessThan": {"aws:TokenIssueTime": iam_time(issued_before)},
    });
    if let Some(from) = from {
        condition["DateGreaterThan"] = json!({"aws:CurrentTime": iam_time(from)});
    }
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": condition,
    })
}

/// The trust statement that stands in for an empty statement list (which IAM
/// rejects): an explicit deny, so the policy means "nobody may assume".
pub fn nobody_statement(sid: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"],
    })
}

/// Identity Center's bounds on a permission set's session duration, in minutes.
pub const SESSION_MIN_MINUTES: i64 = 60;
pub const SESSION_MAX_MINUTES: i64 = 12 * 60;

/// The session duration of an identity_center grant's permission set: the
/// window's length, within Identity Center's 1-12 hours. A window shorter
/// than an hour still gets a 1-hour session; the policy's window condition
/// ends its access on time all the same.
pub fn session_minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
    (end - start)
        .num_minutes()
        .clamp(SESSION_MIN_MINUTES, SESSION_MAX_MINUTES)
}

/// Minutes as an ISO 8601 duration (`PT2H`, `PT1H30M`).
pub fn iso_duration(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (h, 0) => format!("PT{h}H"),
        (0, m) => format!("PT{m}M"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

/// The minutes of an ISO 8601 duration of hours, minutes and seconds
/// (`PT1H`, `PT90M`, `PT3600S`); `None` for anything else.
pub fn parse_iso_duration(text: &str) -> Option<i64> {
    let rest = text.strip_prefix("PT")?;
    let (mut seconds, mut number) = (0i64, String::new());
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            'H' | 'M' | 'S' => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                seconds += n * match c {
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
            }
            _ => return None,
        }
    }
    (number.is_empty() && !rest.is_empty()).then_some(seconds / 60)
}

/// An Identity Center assignment as the permission set document lists it.
pub fn assignment(account: &str, principal_type: &str, principal_id: &str) -> String {
    format!("{account}:{principal_type}:{principal_id}")
}

/// What jit holds a permission set to, as one document: its inline policy
/// (`Version`, `Statement`), `SessionDuration`, the `Assignments` it has
/// (see [`assignment`], sorted) and the `ManagedPolicies` attached to it
/// (jit attaches none). Drift in any of them is a planned update.
pub fn permission_set_document(
    inline: &Value,
    session_duration: &str,
    mut assignments: Vec<String>,
    mut managed_policies: Vec<String>,
) -> Value {
    assignments.sort();
    assignments.dedup();
    managed_policies.sort();
    let mut doc = json!({
        "Version": inline.get("Version").cloned().unwrap_or(json!("2012-10-17")),
        "Statement": inline.get("Statement").cloned().unwrap_or(json!([])),
    });
    doc["SessionDuration"] = json!(session_duration);
    doc["Assignments"] = json!(assignments);
    doc["ManagedPolicies"] = json!(managed_policies);
    doc
}

/// The inline policy part of a permission set document.
pub fn inline_part(doc: &Value) -> Value {
    json!({
        "Version": doc.get("Version").cloned().unwrap_or(json!("2012-10-17")),
        "Statement": doc.get("Statement").cloned().unwrap_or(json!([])),
    })
}

/// A single statement as a document, so statements compare like policies.
pub fn as_document(statement: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

pub fn minify(doc: &Value) -> String {
    serde_json::to_string(doc).expect("a JSON value always serializes")
}

/// IAM's size measure: characters, whitespace not counted.
pub fn iam_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Keys whose value IAM treats as a set whether written as one string or a list.
const SET_KEYS: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// Principal values IAM treats as sets too (`{"AWS": "arn"}` = `{"AWS": ["arn"]}`).
fn normalize_principal(v: &mut Value) {
    if let Value::Object(kinds) = v {
        for (_, ids) in kinds.iter_mut() {
            *ids = as_sorted_list(ids);
        }
    }
}

/// A canonical form: statements always a list; Action/Resource and condition
/// values always sorted lists. Two documents mean the same when these are equal.
pub fn normalize(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(st) = doc.as_object_mut().and_then(|obj| obj.get_mut("Statement")) {
        if st.is_object() {
            *st = Value::Array(vec![st.take()]);
        }
        if let Some(list) = st.as_array_mut() {
            for s in list.iter_mut() {
                normalize_statement(s);
            }
        }
    }
    doc
}

fn normalize_statement(s: &mut Value) {
    let Some(obj) = s.as_object_mut() else { return };
    for key in SET_KEYS {
        if let Some(v) = obj.get_mut(*key) {
            *v = as_sorted_list(v);
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(v) = obj.get_mut(key) {
            normalize_principal(v);
        }
    }
    if let Some(Value::Object(ops)) = obj.get_mut("Condition") {
        for (_, keys) in ops.iter_mut() {
            if let Value::Object(keys) = keys {
                for (_, v) in keys.iter_mut() {
                    *v = as_sorted_list(v);
                }
            }
        }
    }
}

fn as_sorted_list(v: &Value) -> Value {
    let mut items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    items.sort_by_key(|x| x.to_string());
    items.dedup();
    Value::Array(items)
}

/// `None` when the documents mean the same; otherwise what differs, for the plan.
pub fn drift(actual: &Value, desired: &Value) -> Option<String> {
    let (a, d) = (normalize(actual), normalize(desired));
    if a == d {
        return None;
    }
    let blank = Map::new();
    // Keys beside the statements (a permission set's SessionDuration,
    // Assignments, ManagedPolicies; a policy's Version).
    let (ta, td) = (
        a.as_object().unwrap_or(&blank),
        d.as_object().unwrap_or(&blank),
    );
    let mut outer: Vec<String> = ta
        .keys()
        .chain(td.keys())
        .filter(|k| *k != "Statement" && ta.get(*k) != td.get(*k))
        .cloned()
        .collect();
    outer.sort();
    outer.dedup();
    let with_outer = |what: String| {
        if outer.is_empty() {
            what
        } else {
            format!("{what}; {} differs", outer.join(", "))
        }
    };
    let empty = Vec::new();
    let statements = |v: &Value| {
        v.get("Statement")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (sa, sd) = (statements(&a), statements(&d));
    if sa.len() != sd.len() {
        return Some(with_outer(format!(
            "{} statement(s) instead of {}",
            sa.len(),
            sd.len()
        )));
    }
    let mut keys: Vec<String> = Vec::new();
    for (x, y) in sa.iter().zip(&sd) {
        let (x, y) = (
            x.as_object().unwrap_or(&blank),
            y.as_object().unwrap_or(&blank),
        );
        for k in x.keys().chain(y.keys()) {
            if x.get(k) != y.get(k) && !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    if keys.is_empty() {
        if outer.is_empty() {
            return Some("document differs".into());
        }
        return Some(format!("{} differs", outer.join(", ")));
    }
    keys.sort();
    Some(with_outer(format!("{} differs", keys.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Meta, Statement};
    use crate::diag::Loc;

    fn role(statements: Vec<(Vec<&str>, Vec<&str>)>) -> Role {
        let meta = Meta {
            loc: Loc::file("r.hcl"),
            attrs: Default::default(),
        };
        Role {
            name: "r".into(),
            description: String::new(),
            statements: statements
                .into_iter()
                .map(|(a, r)| Statement {
                    actions: a.into_iter().map(String::from).collect(),
                    resources: r.into_iter().map(String::from).collect(),
                    meta: meta.clone(),
                })
                .collect(),
            meta,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn grant_document_has_window_and_mfa() {
        let r = role(vec![
            (vec!["rds:Describe*"], vec![]),
            (vec!["s3:ListBucket"], vec!["arn:aws:s3:::b"]),
        ]);
        let doc = grant_document(
            &r,
            &["arn:db".into()],
            t("2026-11-23T09:00:00Z"),
            t("2026-11-23T11:00:00Z"),
            true,
        );
        let s = &doc["Statement"];
        assert_eq!(s[0]["Resource"], json!(["arn:db"]));
        assert_eq!(s[1]["Resource"], json!(["arn:aws:s3:::b"]));
        assert_eq!(
            s[0]["Condition"]["DateGreaterThan"]["aws:CurrentTime"],
            "2026-11-23T09:00:00Z"
        );
        assert_eq!(
            s[0]["Condition"]["DateLessThan"]["aws:CurrentTime"],
            "2026-11-23T11:00:00Z"
        );
        assert_eq!(
            s[0]["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
            "true"
        );
        let no_mfa = grant_document(
            &r,
            &[],
            t("2026-11-23T09:00:00Z"),
            t("2026-11-23T11:00:00Z"),
            false,
        );
        assert!(no_mfa["Statement"][0]["Condition"].get("Bool").is_none());
    }

    #[test]
    fn semantic_equality_ignores_order_and_singletons() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["b", "a"]}});
        let b = json!({"Statement": [{"Resource": ["a", "b"], "Action": ["s3:GetObject"], "Effect": "Allow"}], "Version": "2012-10-17"});
        assert_eq!(drift(&a, &b), None);
    }

    #[test]
    fn drift_names_the_differing_key() {
        let a = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:*"], "Resource": ["a"]}]});
        let b = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["a"]}]});
        assert_eq!(drift(&a, &b).as_deref(), Some("Action differs"));
    }

    #[test]
    fn session_duration_is_the_window_within_one_to_twelve_hours() {
        let start = t("2026-11-23T09:00:00Z");
        let m = |end: &str| iso_duration(session_minutes(start, t(end)));
        assert_eq!(m("2026-11-23T11:00:00Z"), "PT2H");
        assert_eq!(m("2026-11-23T10:30:00Z"), "PT1H30M");
        // Shorter than an hour: still a 1-hour session; the policy's window
        // condition ends the access at 09:15 all the same.
        assert_eq!(m("2026-11-23T09:15:00Z"), "PT1H");
        assert_eq!(m("2026-11-25T09:00:00Z"), "PT12H");
        for text in ["PT2H", "PT1H30M", "PT90M", "PT5400S"] {
            assert!(parse_iso_duration(text).is_some(), "{text}");
        }
        assert_eq!(parse_iso_duration("PT90M"), Some(90));
        assert_eq!(parse_iso_duration("PT2H"), Some(120));
        assert_eq!(parse_iso_duration("P1D"), None);
        assert_eq!(parse_iso_duration("PT"), None);
        assert_eq!(parse_iso_duration("PT2"), None);
    }

    #[test]
    fn permission_set_drift_names_what_differs() {
        let r = role(vec![(vec!["s3:GetObject"], vec!["arn:aws:s3:::b"])]);
        let inline = grant_document(
            &r,
            &[],
            t("2026-11-23T09:00:00Z"),
            t("2026-11-23T11:00:00Z"),
            false,
        );
        let desired = permission_set_document(&inline, "PT2H", vec!["1:USER:u".into()], vec![]);
        assert_eq!(inline_part(&desired), inline);
        let same = permission_set_document(&inline, "PT2H", vec!["1:USER:u".into()], vec![]);
        assert_eq!(drift(&same, &desired), None);
        let longer = permission_set_document(&inline, "PT12H", vec!["1:USER:u".into()], vec![]);
        assert_eq!(
            drift(&longer, &desired).as_deref(),
            Some("SessionDuration differs")
        );
        let shared = permission_set_document(
            &inline,
            "PT2H",
            vec!["1:USER:x".into(), "1:USER:u".into()],
            vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()],
        );
        assert_eq!(
            drift(&shared, &desired).as_deref(),
            Some("Assignments, ManagedPolicies differs")
        );
        let mut wider = longer.clone();
        wider["Statement"][0]["Action"] = json!("s3:*");
        assert_eq!(
            drift(&wider, &desired).as_deref(),
            Some("Action differs; SessionDuration differs")
        );
    }

    #[test]
    fn size_ignores_whitespace() {
        assert_eq!(iam_size("{ \"a\" : 1 }\n"), 7);
    }
}
