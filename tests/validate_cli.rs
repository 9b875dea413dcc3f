//! `jit validate` on the shipped examples: acme is clean, and each
//! examples/invalid case reports exactly its one error at the right line.

use std::path::Path;
use std::process::Command;

fn validate(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jit"))
        .arg("-C")
        .arg(dir)
        .arg("validate")
        .args(extra)
        .output()
        .unwrap()
}

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

#[test]
fn acme_is_valid() {
    let out = validate(&examples().join("acme"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("Valid: 7 users, 3 teams, 6 roles, 6 contracts, 3 requests.")
    );
}

#[test]
fn policies_templates_are_valid_definitions() {
    // The shipped templates and guardrails parse as definitions files.
    let out = validate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("syntax error") && !err.contains("unknown attribute"),
        "{err}"
    );
}

#[test]
fn every_invalid_example_reports_its_error_at_its_line() {
    let mut cases = 0;
    for entry in std::fs::read_dir(examples().join("invalid")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        cases += 1;
        let expect = std::fs::read_to_string(dir.join("expect")).unwrap();
        let out = validate(&dir, &[]);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(out.status.code(), Some(1), "{name} should fail validation");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
        let wanted: Vec<&str> = expect.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            errors.len(),
            wanted.len(),
            "{name}: expected exactly {wanted:?}, got:\n{stderr}"
        );
        for want in wanted {
            let (location, phrase) = want.split_once(": ").unwrap();
            let hit = errors
                .iter()
                .any(|e| e.starts_with(&format!("{location}:")) && e.contains(phrase));
            assert!(
                hit,
                "{name}: no error at {location} containing {phrase:?} in:\n{stderr}"
            );
        }
    }
    assert!(cases >= 20, "only {cases} invalid examples found");
}

#[test]
fn three_mistakes_are_all_reported_sorted_by_file() {
    let out = validate(&examples().join("invalid/three-mistakes"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let files: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "contracts/db-read.hcl",
            "people.hcl",
            "requests/alice-db.hcl"
        ],
        "{stderr}"
    );
    assert!(stderr.contains("3 errors found."), "{stderr}");
}

#[test]
fn json_format_gives_diagnostics_as_data() {
    let out = validate(
        &examples().join("invalid/duration-too-long"),
        &["--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], "requests/alice-db.hcl");
    assert_eq!(d["line"], 5);
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().unwrap().contains("exceeds"));
}
