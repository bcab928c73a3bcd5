#!/usr/bin/env bash
# Starts Keelson on this machine: installs the Debian packages the build needs when they are
# missing (as root; otherwise says what to install), then builds and runs `keelson up`.
set -euo pipefail
cd "$(dirname "$0")"
tests/tools/install-packages.sh clang libclang-dev protobuf-compiler build-essential tzdata
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
exec cargo run --release -- up "$@"
