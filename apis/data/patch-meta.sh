#!/bin/sh
# Writes patch-meta-v1.35.json, the input `catalogue::patch_meta` is checked against: every
# property (or, with property "", definition) of upstream v1.35's swagger.json that carries
# merge metadata, for GA versions (alpha and beta ones are not served).
# Source: kubernetes/kubernetes v1.35.0 api/openapi-spec/swagger.json, as vendored by
# kube-rs/k8s-pb at commit e55968dd870ad2515d10908c3f13845567a1b339
# (k8s-pb-codegen/openapi/swagger.json).
# Usage: patch-meta.sh <swagger.json>
set -eu
jq '[.definitions | to_entries[]
    | select(.key | test("\\.v[0-9]+(alpha|beta)[0-9]+\\.") | not)
    | .key as $d
    | ( (select(.value["x-kubernetes-map-type"]) | {definition: $d, property: "", extensions: {"x-kubernetes-map-type": .value["x-kubernetes-map-type"]}}),
        (.value.properties // {} | to_entries[]
         | {definition: $d, property: .key,
            extensions: (.value | with_entries(select(.key | test("^x-kubernetes-(patch-strategy|patch-merge-key|list-type|list-map-keys|map-type)$"))))}
         | select(.extensions != {})) )]
  | sort_by(.definition, .property)' "$1" >"$(dirname "$0")/patch-meta-v1.35.json"
