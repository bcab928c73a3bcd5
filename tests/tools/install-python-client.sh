#!/usr/bin/env bash
# Installs the official Kubernetes Python client (the PyPI package `kubernetes`, pinned to the
# release for Kubernetes 1.35, the version Keelson serves) into a venv that the end-to-end
# tests run their scripts with. Prints the venv's python path. Idempotent: a venv that already
# imports that release is reused.
set -euo pipefail

version="35.0.0"
tools="${KEELSON_TOOLS_DIR:-/var/tmp/keelson-tools}"
venv="$tools/python"
python="$venv/bin/python"
have() {
  [ -x "$python" ] &&
    "$python" -c "import sys, importlib.metadata as m; sys.exit(m.version('kubernetes') != '$version')" \
      >/dev/null 2>&1
}
if have; then
  echo "$python"
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
  echo "python3 with the venv module is needed (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
mkdir -p "$tools"
rm -rf "$venv"
python3 -m venv "$venv"
"$python" -m pip install --quiet --disable-pip-version-check "kubernetes==$version" >&2
have || { echo "the venv at $venv does not import kubernetes $version" >&2; exit 1; }
"$python" -c "import kubernetes; print('kubernetes python client', kubernetes.__version__)" >&2
echo "$python"
