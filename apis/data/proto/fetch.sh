#!/bin/sh
# Copies upstream v1.35's generated.proto files (tag v0.35.0 of each staging repository) here:
# the inputs `catalogue::proto_source` checks protobuf_fields.rs and field_order.rs against.
# Usage: fetch.sh <dir holding clones of kubernetes/{api,apimachinery,apiextensions-apiserver,kube-aggregator}>
set -eu
src=$1
out=$(dirname "$0")
copy() { # repo path
    mkdir -p "$out/$1/$(dirname "$2")"
    # Comment and blank lines are left out: only the declarations are read.
    git -C "$src/$1" show "v0.35.0:$2" | sed '/^[[:space:]]*\/\//d; /^[[:space:]]*$/d' >"$out/$1/$2"
}
for v in admission/v1 admissionregistration/v1 apidiscovery/v2 apps/v1 authentication/v1 \
    authorization/v1 autoscaling/v1 autoscaling/v2 batch/v1 certificates/v1 coordination/v1 \
    core/v1 discovery/v1 events/v1 flowcontrol/v1 networking/v1 node/v1 policy/v1 rbac/v1 \
    resource/v1 scheduling/v1 storage/v1; do
    copy api "$v/generated.proto"
done
for p in pkg/api/resource pkg/apis/meta/v1 pkg/runtime pkg/runtime/schema pkg/util/intstr; do
    copy apimachinery "$p/generated.proto"
done
copy apiextensions-apiserver pkg/apis/apiextensions/v1/generated.proto
copy kube-aggregator pkg/apis/apiregistration/v1/generated.proto
