//! Reads IAM through the AWS SDK itself, object by object (never the
//! account-wide call jit reads with), to check what jit left there.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aws_sdk_iam::Client;

/// A client for moto at `endpoint`, in `account` (moto gives each account
/// id its own IAM; the client assumes a role there, as jit does).
pub fn client(endpoint: &str, account: &str) -> (tokio::runtime::Runtime, Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load(),
    );
    let assumed = rt.block_on(
        aws_config::sts::AssumeRoleProvider::builder(format!(
            "arn:aws:iam::{account}:role/test-reader"
        ))
        .session_name("tests")
        .configure(&base)
        .build(),
    );
    let conf = aws_sdk_iam::config::Builder::from(&base)
        .credentials_provider(assumed)
        .build();
    (rt, Client::from_conf(conf))
}

fn decode(doc: &str) -> String {
    let text = percent_encoding::percent_decode_str(doc).decode_utf8_lossy();
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.to_string()));
    value.to_string()
}

/// Every object jit owns, by a path-like key, with its document:
/// `user/NAME/inline/jit-…`, `user/NAME/attached/jit-…`,
/// `role/NAME/trust/Jit…` (one per statement), `role/NAME/inline/jit-…`.
pub fn jit_objects(endpoint: &str, account: &str) -> BTreeMap<String, String> {
    let (rt, iam) = client(endpoint, account);
    rt.block_on(async {
        let mut out = BTreeMap::new();
        let users = iam.list_users().send().await.expect("ListUsers");
        for user in users.users() {
            let name = user.user_name();
            let inline = iam
                .list_user_policies()
                .user_name(name)
                .send()
                .await
                .expect("ListUserPolicies");
            for policy in inline
                .policy_names()
                .iter()
                .filter(|p| p.starts_with("jit-"))
            {
                let doc = iam
                    .get_user_policy()
                    .user_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .expect("GetUserPolicy");
                out.insert(
                    format!("user/{name}/inline/{policy}"),
                    decode(doc.policy_document()),
                );
            }
            let attached = iam
                .list_attached_user_policies()
                .user_name(name)
                .send()
                .await
                .expect("ListAttachedUserPolicies");
            for p in attached.attached_policies() {
                let pname = p.policy_name().unwrap_or_default();
                if !pname.starts_with("jit-") {
                    continue;
                }
                let arn = p.policy_arn().unwrap_or_default();
                let policy = iam
                    .get_policy()
                    .policy_arn(arn)
                    .send()
                    .await
                    .expect("GetPolicy");
                let version = policy
                    .policy()
                    .and_then(|p| p.default_version_id())
                    .unwrap_or("v1");
                let doc = iam
                    .get_policy_version()
                    .policy_arn(arn)
                    .version_id(version)
                    .send()
                    .await
                    .expect("GetPolicyVersion");
                let doc = doc
                    .policy_version()
                    .and_then(|v| v.document())
                    .unwrap_or_default();
                out.insert(format!("user/{name}/attached/{pname}"), decode(doc));
            }
        }
        let policies = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .expect("ListPolicies");
        for p in policies.policies() {
            let pname = p.policy_name().unwrap_or_default();
            if pname.starts_with("jit-") {
                out.entry(format!("policy/{pname}"))
                    .or_insert_with(|| p.attachment_count().unwrap_or(0).to_string());
            }
        }
        let roles = iam.list_roles().send().await.expect("ListRoles");
        for role in roles.roles() {
            let name = role.role_name();
            let trust = decode(role.assume_role_policy_document().unwrap_or("{}"));
            let trust: serde_json::Value = serde_json::from_str(&trust).unwrap_or_default();
            if let Some(statements) = trust["Statement"].as_array() {
                for s in statements {
                    if let Some(sid) = s["Sid"].as_str().filter(|sid| sid.starts_with("Jit")) {
                        out.insert(format!("role/{name}/trust/{sid}"), s.to_string());
                    }
                }
            }
            let inline = iam
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .expect("ListRolePolicies");
            for policy in inline
                .policy_names()
                .iter()
                .filter(|p| p.starts_with("jit-"))
            {
                let doc = iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .expect("GetRolePolicy");
                out.insert(
                    format!("role/{name}/inline/{policy}"),
                    decode(doc.policy_document()),
                );
            }
        }
        out
    })
}

/// The request each jit object belongs to, when its name says (inline and
/// managed policies `jit-<request>`, trust Sids aside).
pub fn requests_in(objects: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = objects
        .keys()
        .filter_map(|k| {
            let last = k.rsplit('/').next()?;
            let request = last.strip_prefix("jit-")?;
            (request != "session-revocations").then(|| request.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
