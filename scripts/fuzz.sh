#!/usr/bin/env bash
# Fuzzes jit's HCL reader (parse + validate) and `jit fmt` with cargo-fuzz
# (libFuzzer) on the nightly toolchain, a fixed number of iterations per
# target, seeded with the example access repos. Not part of scripts/test.sh.
#
#   scripts/fuzz.sh              # every target, JIT_FUZZ_RUNS (200000) each
#   scripts/fuzz.sh fmt          # one target
#   JIT_FUZZ_RUNS=1000000 scripts/fuzz.sh
#
# A finding is a crash file in fuzz/artifacts/<target>/; reproduce it with
# `cargo +nightly fuzz run -s none <target> <file>`, fix it, add a unit test,
# and copy the file to fuzz/regressions/<target>/ (tests/hostile_input.rs
# runs every file there; this script seeds the corpus with them).
#
# The sanitizer is off by default (JIT_FUZZ_SANITIZER=address turns it on):
# jit is safe Rust, and AddressSanitizer would rebuild the C dependencies
# (libgit2, aws-lc) instrumented for little gain; panics, stack overflows,
# timeouts and memory blow-ups are caught by libFuzzer either way.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${JIT_FUZZ_RUNS:-200000}"
toolchain="${JIT_FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${JIT_FUZZ_SANITIZER:-none}"

if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  echo "==> rustup toolchain install $toolchain"
  rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(parse fmt)
fi

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  # Seeds: every example file, valid and invalid (named by content, so
  # seeding twice adds nothing). The parse target reads its first byte as
  # the file the text stands for: 0 a request, 1 a contract, 2 jit.hcl,
  # 3 a role.
  find examples -name '*.hcl' -type f | while read -r f; do
    seed="$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
    if [ "$target" = parse ]; then
      case "$f" in
        */requests/*) pick='\000' ;;
        */contracts/*) pick='\001' ;;
        */roles/*) pick='\003' ;;
        *) pick='\002' ;;
      esac
      { printf "$pick"; cat "$f"; } >"$seed"
    else
      cp "$f" "$seed"
    fi
  done
  # And every earlier finding (each has a regression test).
  if [ -d "fuzz/regressions/$target" ]; then
    cp fuzz/regressions/"$target"/* "$corpus"/
  fi
  echo "==> fuzz $target: $runs runs"
  cargo "+$toolchain" fuzz run -s "$sanitizer" "$target" "$corpus" -- \
    -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "scripts/fuzz.sh: OK (${targets[*]}: $runs runs each, no finding)"
