//! Any text as a request, a contract, a role or `jit.hcl` of the acme repo
//! (the first byte picks which): parsing and validation end in diagnostics
//! that name a file of the repo, never in a panic, a hang or a stack
//! overflow.
#![no_main]

mod acme;

use libfuzzer_sys::fuzz_target;

const SLOTS: &[&str] = &[
    "requests/alice-inc-1234.hcl",
    "contracts/prod-db-read.hcl",
    "jit.hcl",
    "roles/rds-read.hcl",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    {
        let slot = SLOTS[usize::from(pick) % SLOTS.len()];
        let files = acme::with(slot, &text);
        let (repo, diags) = jit::config::parse_files(&files);
        let checks = jit::config::validate::validate(&repo);
        for d in diags.iter().chain(&checks) {
            let file = &*d.loc.file;
            assert!(
                file == "requests/" || files.iter().any(|f| f.path == file),
                "diagnostic names no file of the repo: {d}"
            );
            assert!(d.loc.line >= 1 && d.loc.col >= 1, "{d}");
            assert!(!d.message.is_empty(), "{d:?}");
            let _ = d.to_string();
        }
    }
});
