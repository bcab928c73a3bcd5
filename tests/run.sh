#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs what the tests need,
# builds the keelson binary the end-to-end tests drive, then runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/tools/install-packages.sh clang libclang-dev protobuf-compiler etcd-server build-essential tzdata
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi

cargo fmt --all --check
# One build of every target: the binary for the end-to-end tests and every test. Keep these
# commands workspace-wide so dependency features (and so RocksDB's build) never differ.
cargo build --workspace --all-targets
# Generated files must match the catalogue (the binary comes from the build above).
"${CARGO_TARGET_DIR:-target}/debug/codegen" --check
# The end-to-end tests install the real kubectl, helm and the Python client themselves
# (tests/tools/). The handler-level property test (tests/tests/api_fuzz.rs) runs a fixed
# number of cases.
export PROPTEST_CASES="${PROPTEST_CASES:-2000}"
cargo test --workspace --no-fail-fast
