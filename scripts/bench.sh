#!/usr/bin/env bash
# jit at company size, as printed figures (no pass/fail): 2,000 users and
# 10,000 live grants, the same live set behind 100,000 archived requests, and
# 1,000 grants applied through 50 ms of added latency. The last line is one
# JSON object with every figure; docs/performance.md says what each means and
# its target.
#
#   scripts/bench.sh                      # the full sizes, 5-8 minutes on 2 cores
#   USERS=500 LIVE=2000 ARCHIVED=20000 APPLY_GRANTS=200 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/moto.sh
source scripts/lib/moto.sh
ensure_moto

echo "==> building jit (release)"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$(dirname "$JIT_MOTO_SERVER")/python" scripts/lib/bench.py \
    "$PWD/target/release/jit" "$JIT_MOTO_SERVER" "$work"
