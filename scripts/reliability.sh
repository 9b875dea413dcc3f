#!/usr/bin/env bash
# Runs the reliability suite (injected faults, kill -9 trials, concurrent
# runners) and prints its figures: the FIGURES lines docs/reliability.md
# quotes. The same tests run in scripts/test.sh; this shows their numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/moto.sh
source scripts/lib/moto.sh
ensure_moto
export JIT_MOTO_SERVER

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --test reliability -- --nocapture 2>&1 | tee "$out" | grep -E '^test |test result' || true
if ! grep -q 'test result: ok' "$out"; then
  echo "scripts/reliability.sh: the reliability suite failed" >&2
  tail -50 "$out" >&2
  exit 1
fi
grep '^FIGURES' "$out"
