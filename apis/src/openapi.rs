//! The documents clients read to learn the API, built from the catalogue: OpenAPI v3 (one
//! per group version, with upstream's `x-kubernetes-*` extensions) and discovery, plain and
//! aggregated (`apidiscovery.k8s.io/v2`). `codegen` writes them to the API server's `generated/` folder.

use serde_json::{json, Map, Value};

use crate::catalogue::{self, ApiResource};

/// `api/v1` or `apis/apps/v1`: the path of a group version below `/openapi/v3/` and `/`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn resources_of<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ApiResource> + 'a {
    catalogue::builtin()
        .iter()
        .filter(move |r| r.group() == group && r.version() == version)
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// The OpenAPI v3 document of one group version: its paths and every schema they reference.
pub fn openapi_v3(group: &str, version: &str) -> Value {
    let settings = schemars::generate::SchemaSettings::openapi3();
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    for r in resources_of(group, version) {
        (r.kind.schema)(&mut generator);
        add_paths(&mut paths, r);
        for s in r.facts.subresources {
            if let Some(kind) = catalogue::kind_type(s.group, s.version, s.kind) {
                (kind.schema)(&mut generator);
            }
        }
    }
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    annotate_schemas(&mut schemas);
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": crate::KUBERNETES_VERSION },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// Adds upstream's extensions: the group/version/kind of each top-level kind (kubectl
/// explain finds kinds by it) and the merge metadata of properties.
fn annotate_schemas(schemas: &mut Map<String, Value>) {
    for kind in catalogue::KINDS {
        if let Some(Value::Object(schema)) = schemas.get_mut((kind.definition)().as_ref()) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(kind.group, kind.version, kind.kind)]),
            );
            // k8s-openapi lists `metadata` as required (its Rust field is not optional);
            // upstream's schemas never do, and kubectl's client-side validation would
            // refuse bodies without it.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|r| r != "metadata");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
        }
    }
    for field in catalogue::merge_meta() {
        let Some(property) = schemas
            .get_mut(field.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(field.property))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut set = |key: &str, value: Option<&str>| {
            if let Some(v) = value {
                property.insert(key.into(), Value::String(v.into()));
            }
        };
        set("x-kubernetes-patch-strategy", field.patch_strategy);
        set("x-kubernetes-patch-merge-key", field.patch_merge_key);
        set("x-kubernetes-list-type", field.list_type);
        set("x-kubernetes-map-type", field.map_type);
        if !field.list_map_keys.is_empty() {
            property.insert(
                "x-kubernetes-list-map-keys".into(),
                json!(field.list_map_keys),
            );
        }
    }
}

fn schema_ref(definition: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{definition}") })
}

fn query(name: &str, description: &str, type_: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": type_, "uniqueItems": true } })
}

fn path_param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "uniqueItems": true } })
}

fn write_params() -> Vec<Value> {
    vec![
        query("dryRun", "When present, indicates that modifications should not be persisted. Valid values: All.", "string"),
        query("fieldManager", "A name associated with the actor or entity that is making these changes.", "string"),
        query(
            "fieldValidation",
            "How the server treats unknown or duplicate fields in the request body: Ignore, Warn (the default) or Strict.",
            "string",
        ),
    ]
}

fn operation(
    r: &ApiResource,
    action: &str,
    kind: (&str, &str, &str),
    body: bool,
    extra: Vec<Value>,
) -> Value {
    let (group, version, kind_name) = kind;
    let definition = catalogue::kind_type(group, version, kind_name)
        .map(|k| (k.definition)().into_owned())
        .unwrap_or_default();
    let mut op = json!({
        "description": format!("{action} {}", r.facts.kind),
        "operationId": format!("{action}{}", r.facts.kind),
        "tags": [catalogue::group_version(r.group(), r.version())],
        "parameters": extra,
        "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": schema_ref(&definition) } } } },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(group, version, kind_name),
    });
    if body {
        let content_types: &[&str] = if action == "patch" {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &["application/json"]
        };
        let content: Map<String, Value> = content_types
            .iter()
            .map(|ct| {
                let schema = if action == "patch" {
                    json!({ "type": "object" })
                } else {
                    schema_ref(&definition)
                };
                (ct.to_string(), json!({ "schema": schema }))
            })
            .collect();
        op["requestBody"] = json!({ "required": true, "content": content });
    }
    op
}

fn add_paths(paths: &mut Map<String, Value>, r: &ApiResource) {
    let base = format!("/{}", group_version_path(r.group(), r.version()));
    let collection = if r.namespaced() {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural())
    } else {
        format!("{base}/{}", r.plural())
    };
    let kind = (r.group(), r.version(), r.facts.kind);
    let scope_params: Vec<Value> = if r.namespaced() {
        vec![path_param("namespace")]
    } else {
        vec![]
    };
    let mut collection_ops = Map::new();
    let mut item_ops = Map::new();
    for verb in r.facts.verbs {
        match *verb {
            "list" => {
                collection_ops.insert("get".into(), operation(r, "list", kind, false, vec![]));
            }
            "create" => {
                collection_ops.insert(
                    "post".into(),
                    operation(r, "post", kind, true, write_params()),
                );
            }
            "deletecollection" => {
                collection_ops.insert(
                    "delete".into(),
                    operation(r, "deletecollection", kind, false, vec![]),
                );
            }
            "get" => {
                item_ops.insert("get".into(), operation(r, "get", kind, false, vec![]));
            }
            "update" => {
                item_ops.insert(
                    "put".into(),
                    operation(r, "put", kind, true, write_params()),
                );
            }
            "patch" => {
                let mut params = write_params();
                params.push(query(
                    "force",
                    "Force is going to \"force\" Apply requests.",
                    "boolean",
                ));
                item_ops.insert("patch".into(), operation(r, "patch", kind, true, params));
            }
            "delete" => {
                item_ops.insert("delete".into(), operation(r, "delete", kind, false, vec![]));
            }
            _ => {}
        }
    }
    if !collection_ops.is_empty() {
        collection_ops.insert("parameters".into(), Value::Array(scope_params.clone()));
        paths.insert(collection.clone(), Value::Object(collection_ops));
    }
    if !item_ops.is_empty() {
        let mut params = scope_params.clone();
        params.push(path_param("name"));
        item_ops.insert("parameters".into(), Value::Array(params));
        paths.insert(format!("{collection}/{{name}}"), Value::Object(item_ops));
    }
    for s in r.facts.subresources {
        let Some(_) = catalogue::kind_type(s.group, s.version, s.kind) else {
            continue;
        };
        let sub_kind = (s.group, s.version, s.kind);
        let mut ops = Map::new();
        for verb in s.verbs {
            let (method, action, body) = match *verb {
                "get" => ("get", "get", false),
                "update" => ("put", "put", true),
                "patch" => ("patch", "patch", true),
                "create" => ("post", "post", true),
                _ => continue,
            };
            let params = if body { write_params() } else { vec![] };
            ops.insert(method.into(), operation(r, action, sub_kind, body, params));
        }
        if !ops.is_empty() {
            let mut params = scope_params.clone();
            params.push(path_param("name"));
            ops.insert("parameters".into(), Value::Array(params));
            paths.insert(
                format!("{collection}/{{name}}/{}", s.name),
                Value::Object(ops),
            );
        }
    }
}

fn scope(r: &ApiResource) -> &'static str {
    if r.namespaced() {
        "Namespaced"
    } else {
        "Cluster"
    }
}

/// The plain `APIResourceList` of one group version (`/api/v1`, `/apis/apps/v1`).
pub fn api_resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for r in resources_of(group, version) {
        let mut entry = json!({
            "name": r.plural(),
            "singularName": r.facts.singular,
            "namespaced": r.namespaced(),
            "kind": r.facts.kind,
            "verbs": r.facts.verbs,
        });
        if !r.facts.short_names.is_empty() {
            entry["shortNames"] = json!(r.facts.short_names);
        }
        if !r.facts.categories.is_empty() {
            entry["categories"] = json!(r.facts.categories);
        }
        resources.push(entry);
        for s in r.facts.subresources {
            let mut sub = json!({
                "name": format!("{}/{}", r.plural(), s.name),
                "singularName": "",
                "namespaced": r.namespaced(),
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.group != group || s.version != version {
                sub["group"] = json!(s.group);
                sub["version"] = json!(s.version);
            }
            resources.push(sub);
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": catalogue::group_version(group, version),
        "resources": resources,
    })
}

/// The plain `APIGroupList` of `/apis`.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = catalogue::group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(group, versions)| {
            let listed: Vec<Value> = versions
                .iter()
                .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
                .collect();
            json!({ "name": group, "versions": listed, "preferredVersion": listed.first() })
        })
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// The aggregated discovery of `/api` (`core == true`) or `/apis`.
pub fn aggregated_discovery(core: bool) -> Value {
    let items: Vec<Value> = catalogue::group_versions()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = resources_of(group, version)
                        .map(|r| {
                            let mut entry = json!({
                                "resource": r.plural(),
                                "responseKind": gvk(r.group(), r.version(), r.facts.kind),
                                "scope": scope(r),
                                "singularResource": r.facts.singular,
                                "verbs": r.facts.verbs,
                            });
                            if !r.facts.short_names.is_empty() {
                                entry["shortNames"] = json!(r.facts.short_names);
                            }
                            if !r.facts.categories.is_empty() {
                                entry["categories"] = json!(r.facts.categories);
                            }
                            if !r.facts.subresources.is_empty() {
                                let subs: Vec<Value> = r
                                    .facts
                                    .subresources
                                    .iter()
                                    .map(|s| {
                                        json!({
                                            "subresource": s.name,
                                            "responseKind": gvk(s.group, s.version, s.kind),
                                            "verbs": s.verbs,
                                        })
                                    })
                                    .collect();
                                entry["subresources"] = json!(subs);
                            }
                            entry
                        })
                        .collect();
                    json!({ "version": version, "resources": resources, "freshness": "Current" })
                })
                .collect();
            json!({ "metadata": { "name": group, "creationTimestamp": null }, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// The OpenAPI v2 (swagger) document derived from the v3 documents: the same schemas under
/// `definitions`, and each operation with its `x-kubernetes-*` extensions and parameters.
pub fn openapi_v2(v3_documents: &[Value]) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for doc in v3_documents {
        if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
            definitions.extend(schemas.clone());
        }
        let Some(v3_paths) = doc.get("paths").and_then(Value::as_object) else {
            continue;
        };
        for (path, item) in v3_paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            let mut v2_item = Map::new();
            for (method, op) in item {
                if method == "parameters" {
                    v2_item.insert(method.clone(), v2_parameters(op));
                    continue;
                }
                let mut v2_op = Map::new();
                for (key, value) in op.as_object().into_iter().flatten() {
                    match key.as_str() {
                        "parameters" => {
                            v2_op.insert(key.clone(), v2_parameters(value));
                        }
                        "requestBody" | "responses" => {}
                        _ => {
                            v2_op.insert(key.clone(), value.clone());
                        }
                    }
                }
                let schema = op
                    .pointer("/responses/200/content/application~1json/schema")
                    .cloned();
                let mut ok = json!({ "description": "OK" });
                if let Some(schema) = schema {
                    ok["schema"] = schema;
                }
                v2_op.insert("responses".into(), json!({ "200": ok }));
                v2_item.insert(method.clone(), Value::Object(v2_op));
            }
            paths.insert(path.clone(), Value::Object(v2_item));
        }
    }
    let doc = json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": crate::KUBERNETES_VERSION },
        "paths": paths,
        "definitions": definitions,
    });
    // v2 keeps its schemas under `definitions`.
    let text = doc
        .to_string()
        .replace("#/components/schemas/", "#/definitions/");
    serde_json::from_str(&text).unwrap_or(doc)
}

/// v3 parameters (`schema: {type}`) in v2's form (`type` inline).
fn v2_parameters(params: &Value) -> Value {
    let converted: Vec<Value> = params
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut p = p.clone();
            if let Some(obj) = p.as_object_mut() {
                if let Some(Value::Object(schema)) = obj.remove("schema") {
                    obj.extend(schema);
                }
            }
            p
        })
        .collect();
    Value::Array(converted)
}
