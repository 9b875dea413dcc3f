//! IAM Identity Center (`sso-admin`) and Identity Store on moto_server, over
//! their JSON APIs with std only: set up and inspect Identity Center apart
//! from the code under test. One client per account (moto's
//! `x-moto-account-id` header); moto gives every account its own instance.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

pub struct Sso {
    addr: SocketAddr,
    account: String,
}

impl Sso {
    /// `endpoint` is `http://127.0.0.1:PORT`.
    pub fn new(endpoint: &str, account: &str) -> Sso {
        let addr = endpoint
            .trim_start_matches("http://")
            .parse()
            .expect("moto endpoint is host:port");
        Sso {
            addr,
            account: account.to_string(),
        }
    }

    /// Calls `target` (`SWBExternalService.X` or `AWSIdentityStore.X`).
    pub fn call(&self, service: &str, target: &str, body: Value) -> Result<Value, String> {
        let body = body.to_string();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nAuthorization: {auth}\r\nx-moto-account-id: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            self.account,
            body.len()
        );
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("incomplete HTTP response")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("bad status line")?;
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = crate::common::moto::dechunk(&body);
        }
        let text = String::from_utf8_lossy(&body).to_string();
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}: {text}"));
        }
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    }

    fn admin(&self, op: &str, body: Value) -> Value {
        self.call("sso", &format!("SWBExternalService.{op}"), body.clone())
            .unwrap_or_else(|e| panic!("sso-admin {op} {body}: {e}"))
    }

    fn store(&self, op: &str, body: Value) -> Value {
        self.call(
            "identitystore",
            &format!("AWSIdentityStore.{op}"),
            body.clone(),
        )
        .unwrap_or_else(|e| panic!("identitystore {op} {body}: {e}"))
    }

    /// The account's instance: (instance ARN, identity store id).
    pub fn instance(&self) -> (String, String) {
        let out = self.admin("ListInstances", json!({}));
        let i = &out["Instances"][0];
        (
            i["InstanceArn"].as_str().expect("InstanceArn").to_string(),
            i["IdentityStoreId"]
                .as_str()
                .expect("IdentityStoreId")
                .to_string(),
        )
    }

    /// Creates an Identity Store user; returns its id.
    pub fn create_user(&self, store: &str, user_name: &str) -> String {
        let out = self.store(
            "CreateUser",
            json!({"IdentityStoreId": store, "UserName": user_name, "DisplayName": user_name,
                   "Name": {"GivenName": "Test", "FamilyName": user_name}}),
        );
        out["UserId"].as_str().expect("UserId").to_string()
    }

    /// Every permission set: (name, ARN), sorted by name.
    pub fn permission_sets(&self, instance: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"InstanceArn": instance});
            if let Some(t) = &token {
                body["NextToken"] = json!(t);
            }
            let page = self.admin("ListPermissionSets", body);
            for arn in page["PermissionSets"].as_array().into_iter().flatten() {
                let arn = arn.as_str().unwrap().to_string();
                let d = self.describe(instance, &arn);
                out.push((d["Name"].as_str().unwrap_or_default().to_string(), arn));
            }
            token = page["NextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        out.sort();
        out
    }

    /// The ARN of the permission set named `name`, if any.
    pub fn arn_of(&self, instance: &str, name: &str) -> Option<String> {
        self.permission_sets(instance)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }

    pub fn describe(&self, instance: &str, arn: &str) -> Value {
        self.admin(
            "DescribePermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn}),
        )["PermissionSet"]
            .clone()
    }

    pub fn create_permission_set(&self, instance: &str, name: &str) -> String {
        let out = self.admin(
            "CreatePermissionSet",
            json!({"InstanceArn": instance, "Name": name, "SessionDuration": "PT1H"}),
        );
        out["PermissionSet"]["PermissionSetArn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn inline_policy(&self, instance: &str, arn: &str) -> Option<Value> {
        let out = self.admin(
            "GetInlinePolicyForPermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn}),
        );
        let raw = out["InlinePolicy"].as_str().unwrap_or_default();
        (!raw.is_empty()).then(|| serde_json::from_str(raw).expect("inline policy JSON"))
    }

    pub fn put_inline_policy(&self, instance: &str, arn: &str, doc: &Value) {
        self.admin(
            "PutInlinePolicyToPermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn, "InlinePolicy": doc.to_string()}),
        );
    }

    pub fn set_session_duration(&self, instance: &str, arn: &str, duration: &str) {
        self.admin(
            "UpdatePermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn, "SessionDuration": duration}),
        );
    }

    pub fn attach_managed_policy(&self, instance: &str, arn: &str, policy: &str) {
        self.admin(
            "AttachManagedPolicyToPermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn, "ManagedPolicyArn": policy}),
        );
    }

    pub fn managed_policies(&self, instance: &str, arn: &str) -> Vec<String> {
        let out = self.admin(
            "ListManagedPoliciesInPermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn}),
        );
        out["AttachedManagedPolicies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["Arn"].as_str().map(str::to_string))
            .collect()
    }

    pub fn assign(&self, instance: &str, arn: &str, account: &str, user_id: &str) {
        self.admin(
            "CreateAccountAssignment",
            json!({"InstanceArn": instance, "PermissionSetArn": arn, "TargetId": account,
                   "TargetType": "AWS_ACCOUNT", "PrincipalType": "USER", "PrincipalId": user_id}),
        );
    }

    /// The principal ids assigned the permission set in `account`, sorted.
    pub fn assignments(&self, instance: &str, arn: &str, account: &str) -> Vec<String> {
        let out = self.admin(
            "ListAccountAssignments",
            json!({"InstanceArn": instance, "PermissionSetArn": arn, "AccountId": account}),
        );
        let mut ids: Vec<String> = out["AccountAssignments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["PrincipalId"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// The accounts the permission set is provisioned to.
    pub fn provisioned_accounts(&self, instance: &str, arn: &str) -> Vec<String> {
        let out = self.admin(
            "ListAccountsForProvisionedPermissionSet",
            json!({"InstanceArn": instance, "PermissionSetArn": arn}),
        );
        out["AccountIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect()
    }
}
