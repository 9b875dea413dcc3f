//! The valid access repo of examples/acme, which each fuzz input replaces
//! one file of.

use jit::config::SourceFile;

pub const FILES: &[(&str, &str)] = &[
    (
        "contracts/dev-sso-debug.hcl",
        include_str!("../../examples/acme/contracts/dev-sso-debug.hcl"),
    ),
    (
        "contracts/prod-breakglass.hcl",
        include_str!("../../examples/acme/contracts/prod-breakglass.hcl"),
    ),
    (
        "contracts/prod-data-bucket-rw.hcl",
        include_str!("../../examples/acme/contracts/prod-data-bucket-rw.hcl"),
    ),
    (
        "contracts/prod-db-read.hcl",
        include_str!("../../examples/acme/contracts/prod-db-read.hcl"),
    ),
    (
        "contracts/prod-read-only.hcl",
        include_str!("../../examples/acme/contracts/prod-read-only.hcl"),
    ),
    (
        "contracts/prod-ssm-session.hcl",
        include_str!("../../examples/acme/contracts/prod-ssm-session.hcl"),
    ),
    (
        "guardrails.hcl",
        include_str!("../../examples/acme/guardrails.hcl"),
    ),
    ("jit.hcl", include_str!("../../examples/acme/jit.hcl")),
    ("people.hcl", include_str!("../../examples/acme/people.hcl")),
    (
        "requests/alice-inc-1234.hcl",
        include_str!("../../examples/acme/requests/alice-inc-1234.hcl"),
    ),
    (
        "requests/dave-logs-triage.hcl",
        include_str!("../../examples/acme/requests/dave-logs-triage.hcl"),
    ),
    (
        "requests/frank-s3-backfill.hcl",
        include_str!("../../examples/acme/requests/frank-s3-backfill.hcl"),
    ),
    (
        "roles/breakglass-admin.hcl",
        include_str!("../../examples/acme/roles/breakglass-admin.hcl"),
    ),
    (
        "roles/rds-read.hcl",
        include_str!("../../examples/acme/roles/rds-read.hcl"),
    ),
    (
        "roles/read-only.hcl",
        include_str!("../../examples/acme/roles/read-only.hcl"),
    ),
    (
        "roles/s3-bucket-rw.hcl",
        include_str!("../../examples/acme/roles/s3-bucket-rw.hcl"),
    ),
    (
        "roles/ssm-session.hcl",
        include_str!("../../examples/acme/roles/ssm-session.hcl"),
    ),
    (
        "roles/sso-debug.hcl",
        include_str!("../../examples/acme/roles/sso-debug.hcl"),
    ),
    (
        "teams/dba.hcl",
        include_str!("../../examples/acme/teams/dba.hcl"),
    ),
    (
        "teams/eng.hcl",
        include_str!("../../examples/acme/teams/eng.hcl"),
    ),
    (
        "teams/security.hcl",
        include_str!("../../examples/acme/teams/security.hcl"),
    ),
];

/// The files a request of prod-db-read needs: the context of each input,
/// kept small so that the fuzzer runs fast.
const CORE: &[&str] = &[
    "jit.hcl",
    "people.hcl",
    "guardrails.hcl",
    "teams/dba.hcl",
    "teams/eng.hcl",
    "teams/security.hcl",
    "roles/rds-read.hcl",
    "contracts/prod-db-read.hcl",
    "requests/alice-inc-1234.hcl",
];

/// The core acme files with `path` holding `text` instead.
pub fn with(path: &str, text: &str) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = FILES
        .iter()
        .filter(|(p, _)| *p != path && CORE.contains(p))
        .map(|(p, t)| SourceFile {
            path: p.to_string(),
            text: t.to_string(),
        })
        .collect();
    files.push(SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    });
    files
}
