//! Reading IAM costs O(pages): `AwsCloud::read` follows GetAccountAuthorizationDetails'
//! `Marker` across pages (moto never paginates, so this serves IAM's real XML
//! shapes from a local fake), decoding URL-encoded documents and sorting what
//! jit owns from what it must not touch.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use jit::config::{Account, Meta};
use jit::diag::Loc;
use jit::iam::aws::AwsCloud;
use jit::iam::{Cloud, Target};

fn enc(doc: &str) -> String {
    doc.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}"#;

fn page1() -> String {
    format!(
        r#"<GetAccountAuthorizationDetailsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
<GetAccountAuthorizationDetailsResult>
<IsTruncated>true</IsTruncated>
<Marker>page-2</Marker>
<UserDetailList>
<member><Path>/</Path><UserName>alice</UserName><UserId>AIDA1</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>
<UserPolicyList>
<member><PolicyName>jit-alice-db</PolicyName><PolicyDocument>{doc}</PolicyDocument></member>
<member><PolicyName>baseline</PolicyName><PolicyDocument>{doc}</PolicyDocument></member>
</UserPolicyList>
<GroupList/><AttachedManagedPolicies/><Tags/></member>
</UserDetailList>
<GroupDetailList/><RoleDetailList/><Policies/>
</GetAccountAuthorizationDetailsResult>
<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetAccountAuthorizationDetailsResponse>"#,
        doc = enc(DOC)
    )
}

fn page2() -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Sid":"JitAliceAdmin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    format!(
        r#"<GetAccountAuthorizationDetailsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
<GetAccountAuthorizationDetailsResult>
<IsTruncated>false</IsTruncated>
<UserDetailList>
<member><Path>/</Path><UserName>bob</UserName><UserId>AIDA2</UserId><Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>
<UserPolicyList/><GroupList/>
<AttachedManagedPolicies><member><PolicyName>jit-bob-s3</PolicyName><PolicyArn>arn:aws:iam::123456789012:policy/jit/jit-bob-s3</PolicyArn></member></AttachedManagedPolicies>
<Tags/></member>
</UserDetailList>
<GroupDetailList/>
<RoleDetailList>
<member><Path>/</Path><RoleName>ops</RoleName><RoleId>AROA1</RoleId><Arn>arn:aws:iam::123456789012:role/ops</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>
<AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument>
<InstanceProfileList/>
<RolePolicyList>
<member><PolicyName>jit-carol-ops</PolicyName><PolicyDocument>{doc}</PolicyDocument></member>
<member><PolicyName>jit-session-revocations</PolicyName><PolicyDocument>{doc}</PolicyDocument></member>
</RolePolicyList>
<AttachedManagedPolicies/><Tags/></member>
</RoleDetailList>
<Policies>
<member><PolicyName>jit-bob-s3</PolicyName><PolicyId>ANPA1</PolicyId><Arn>arn:aws:iam::123456789012:policy/jit/jit-bob-s3</Arn><Path>/jit/</Path><DefaultVersionId>v1</DefaultVersionId><AttachmentCount>1</AttachmentCount><IsAttachable>true</IsAttachable>
<PolicyVersionList><member><Document>{doc}</Document><VersionId>v1</VersionId><IsDefaultVersion>true</IsDefaultVersion></member></PolicyVersionList></member>
</Policies>
</GetAccountAuthorizationDetailsResult>
<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata>
</GetAccountAuthorizationDetailsResponse>"#,
        doc = enc(DOC),
        trust = enc(trust)
    )
}

/// Serves page 1, or page 2 when the request carries `Marker=page-2`; records bodies.
fn fake_iam() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let xml = if body.contains("Marker=page-2") {
                page2()
            } else {
                page1()
            };
            seen.lock().unwrap().push(body);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                xml.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(xml.as_bytes());
        }
    });
    (url, bodies)
}

#[test]
fn reads_every_page_once_and_keeps_only_what_jit_owns() {
    let (url, bodies) = fake_iam();
    let mut cloud = AwsCloud::for_endpoint("2026-11-23T09:00:00Z".parse().unwrap(), &url).unwrap();
    let account = Account {
        name: "prod".into(),
        id: "123456789012".into(),
        role_arn: None,
        meta: Meta {
            loc: Loc::file("jit.hcl"),
            attrs: Default::default(),
        },
    };
    let state = cloud.read(&account).unwrap();

    assert_eq!(state.calls, 2, "one call per page");
    let bodies = bodies.lock().unwrap();
    assert!(
        bodies[0].contains("Action=GetAccountAuthorizationDetails")
            && !bodies[0].contains("Marker")
    );
    assert!(bodies[1].contains("Marker=page-2"));

    let targets: Vec<Target> = state.owned.iter().map(|o| o.target.clone()).collect();
    assert_eq!(
        targets,
        [
            Target::UserPolicy {
                user: "alice".into(),
                policy: "jit-alice-db".into()
            },
            Target::RolePolicy {
                role: "ops".into(),
                policy: "jit-carol-ops".into()
            },
            Target::ManagedPolicy {
                policy: "jit-bob-s3".into(),
                principal: "user/bob".into()
            },
            Target::TrustStatement {
                role: "ops".into(),
                sid: "JitAliceAdmin".into()
            },
        ]
    );
    assert!(
        state
            .owned
            .iter()
            .all(|o| o.document["Version"] == "2012-10-17"),
        "documents are URL-decoded"
    );
    assert!(
        state.foreign_inline_size["user/alice"] > 50,
        "baseline counts toward alice's quota"
    );
    assert!(
        state.foreign_inline_size["role/ops"] > 50,
        "the revocation list is bookkeeping, not a grant"
    );
    assert!(
        state.foreign_trust_size["ops"] > 50,
        "the foreign trust statement counts"
    );
    for p in ["user/alice", "user/bob", "role/ops"] {
        assert!(state.principals.contains(p), "{p}");
    }
}
