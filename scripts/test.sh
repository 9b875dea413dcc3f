#!/usr/bin/env bash
# Installs what the tests need (moto_server in a venv) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/moto.sh
source scripts/lib/moto.sh
ensure_moto
export JIT_MOTO_SERVER # integration tests start their own servers with it
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

echo "==> cargo fmt --all -- --check"
cargo fmt --all -- --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "==> cargo test --all-targets"
cargo test --all-targets

echo "scripts/test.sh: OK (fmt, clippy and all tests passed)"
