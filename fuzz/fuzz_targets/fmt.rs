//! Any text through `jit fmt`: an error names the file; a formatted result
//! is canonical (formatting it again changes nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match jit::fmt::format("contracts/x.hcl", &text) {
        Ok(out) => match jit::fmt::format("contracts/x.hcl", &out) {
            Ok(again) => assert_eq!(again, out, "formatting is not idempotent"),
            Err(d) => panic!("formatted output does not format again: {d}\n{out}"),
        },
        Err(d) => assert_eq!(&*d.loc.file, "contracts/x.hcl", "{d}"),
    }
});
