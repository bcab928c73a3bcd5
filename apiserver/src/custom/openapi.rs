//! The OpenAPI v3 document of a custom group version: the paths of its resources (PATCH
//! naming `fieldValidation`, which kubectl looks for before it leaves validation to the
//! server) and the schemas of its kinds, with the `meta/v1` schemas they refer to.

use serde_json::{json, Map, Value};

use crate::resource::Descriptor;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn reference(definition: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{definition}")})
}

fn operation(id: &str, kind: &Value, query: &[&str], body: Option<&str>, answer: &str) -> Value {
    let parameters: Vec<Value> = query
        .iter()
        .map(|name| {
            json!({"name": name, "in": "query", "schema": {"type": if *name == "watch" { "boolean" } else { "string" }}, "uniqueItems": true})
        })
        .collect();
    let mut op = json!({
        "operationId": id,
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference(answer)}}}},
        "x-kubernetes-group-version-kind": kind,
    });
    if let Some(body) = body {
        if let Some(map) = op.as_object_mut() {
            map.insert(
                "requestBody".into(),
                json!({"content": {body: {"schema": reference(answer)}}, "required": true}),
            );
        }
    }
    op
}

fn paths_of(d: &Descriptor, paths: &mut Map<String, Value>) {
    let gvk = json!({"group": d.group(), "version": d.version(), "kind": d.kind()});
    let base = if d.namespaced() {
        format!(
            "/apis/{}/{}/namespaces/{{namespace}}/{}",
            d.group(),
            d.version(),
            d.plural()
        )
    } else {
        format!("/apis/{}/{}/{}", d.group(), d.version(), d.plural())
    };
    let def = d.definition.as_ref();
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    paths.insert(
        base.clone(),
        json!({
            "get": operation(&format!("list{}", d.kind()), &gvk, &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"], None, def),
            "post": operation(&format!("create{}", d.kind()), &gvk, &write, Some("application/json"), def),
            "delete": operation(&format!("deletecollection{}", d.kind()), &gvk, &["labelSelector"], None, "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        }),
    );
    let mut one = json!({
        "get": operation(&format!("read{}", d.kind()), &gvk, &["resourceVersion"], None, def),
        "put": operation(&format!("replace{}", d.kind()), &gvk, &write, Some("application/json"), def),
        "patch": operation(&format!("patch{}", d.kind()), &gvk, &["dryRun", "fieldManager", "fieldValidation", "force"], Some("application/merge-patch+json"), def),
        "delete": operation(&format!("delete{}", d.kind()), &gvk, &["dryRun"], None, "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
    });
    if let Some(o) = one.as_object_mut() {
        o.insert(
            "parameters".into(),
            json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]),
        );
    }
    paths.insert(format!("{base}/{{name}}"), one);
    for sub in d.facts.subresources {
        let answer = if sub.name == "scale" {
            "io.k8s.api.autoscaling.v1.Scale"
        } else {
            def
        };
        paths.insert(
            format!("{base}/{{name}}/{}", sub.name),
            json!({
                "get": operation(&format!("read{}{}", d.kind(), sub.name), &gvk, &[], None, answer),
                "put": operation(&format!("replace{}{}", d.kind(), sub.name), &gvk, &write, Some("application/json"), answer),
                "patch": operation(&format!("patch{}{}", d.kind(), sub.name), &gvk, &["dryRun", "fieldManager", "fieldValidation", "force"], Some("application/merge-patch+json"), answer),
            }),
        );
    }
}

/// The kind's schema as a component: the CRD's schema with `apiVersion`, `kind` and
/// `metadata` described as every kind has them.
fn kind_schema(d: &Descriptor) -> Value {
    let mut schema = d
        .schema
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(o) = schema.as_object_mut() {
        let props = o.entry("properties").or_insert_with(|| json!({}));
        if let Some(props) = props.as_object_mut() {
            props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
            props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
            props.insert(
                "metadata".into(),
                json!({"allOf": [reference(OBJECT_META)], "description": "Standard object's metadata."}),
            );
        }
        o.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": d.group(), "version": d.version(), "kind": d.kind()}]),
        );
    }
    schema
}

/// Adds `name` and every schema it refers to, from the built-in documents.
fn add_with_references(name: &str, schemas: &mut Map<String, Value>) {
    if schemas.contains_key(name) {
        return;
    }
    let Some(schema) = crate::documents::schemas().get(name) else {
        return;
    };
    schemas.insert(name.to_string(), schema.clone());
    let mut refs = Vec::new();
    collect_refs(schema, &mut refs);
    for r in refs {
        add_with_references(&r, schemas);
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    out.push(name.to_string());
                }
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The OpenAPI v3 document of a custom group version, if one is served.
pub fn document(custom: &[&'static Descriptor], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Descriptor> = custom
        .iter()
        .copied()
        .filter(|d| d.group() == group && d.version() == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for d in &served {
        paths_of(d, &mut paths);
        schemas.insert(d.definition.to_string(), kind_schema(d));
    }
    for meta in [
        OBJECT_META,
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.api.autoscaling.v1.Scale",
    ] {
        add_with_references(meta, &mut schemas);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// The OpenAPI v2 document with the paths and definitions of the served custom resources,
/// as JSON and in the protobuf form kubectl asks for.
pub struct OpenApiV2 {
    pub json: Vec<u8>,
    pub protobuf: Vec<u8>,
}

/// The v2 document with the paths and definitions of `custom` merged into the built-in
/// one (`super::documents` keeps it per set of custom resources).
pub fn v2_with(custom: &[&'static Descriptor]) -> OpenApiV2 {
    let mut group_versions: Vec<(&str, &str)> =
        custom.iter().map(|d| (d.group(), d.version())).collect();
    group_versions.sort_unstable();
    group_versions.dedup();
    let documents: Vec<Value> = group_versions
        .iter()
        .filter_map(|(g, v)| document(custom, g, v))
        .collect();
    let extra = keelson_apis::openapi::openapi_v2(&documents);
    let mut doc: Value =
        serde_json::from_slice(crate::documents::openapi_v2()).unwrap_or(Value::Null);
    for section in ["paths", "definitions"] {
        let (Some(into), Some(from)) = (
            doc.get_mut(section).and_then(Value::as_object_mut),
            extra.get(section).and_then(Value::as_object),
        ) else {
            continue;
        };
        for (name, value) in from {
            // The meta/v1 definitions a custom document carries are the built-in ones.
            into.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    OpenApiV2 {
        json: serde_json::to_vec(&doc).unwrap_or_default(),
        protobuf: crate::openapi_v2_proto::encode(&doc),
    }
}
