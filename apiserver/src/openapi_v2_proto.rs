//! The OpenAPI v2 document in the protobuf form kubectl asks for
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, gnostic's `openapi.v2`
//! messages). kubectl validates `List` manifests against it; only the messages and fields
//! that the JSON document uses are declared.

use prost::Message;
use serde_json::Value;

/// What clients put in Accept to ask for it.
pub const ACCEPT: &str = "application/com.github.proto-openapi.spec.v2";
/// The Content-Type of the answer (`@` is not a media-type character, so the answer spells
/// the version with a dot).
pub const CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

#[derive(Clone, PartialEq, Message)]
struct Document {
    #[prost(string, tag = "1")]
    swagger: String,
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
}

#[derive(Clone, PartialEq, Message)]
struct Info {
    #[prost(string, tag = "1")]
    title: String,
    #[prost(string, tag = "2")]
    version: String,
}

#[derive(Clone, PartialEq, Message)]
struct Paths {
    #[prost(message, repeated, tag = "2")]
    path: Vec<NamedPathItem>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedPathItem {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<PathItem>,
}

#[derive(Clone, PartialEq, Message)]
struct PathItem {
    #[prost(message, optional, tag = "2")]
    get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    delete: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    parameters: Vec<ParametersItem>,
}

#[derive(Clone, PartialEq, Message)]
struct Operation {
    #[prost(string, repeated, tag = "1")]
    tags: Vec<String>,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "5")]
    operation_id: String,
    #[prost(message, repeated, tag = "8")]
    parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    responses: Option<Responses>,
    #[prost(message, repeated, tag = "13")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, Message)]
struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    parameter: Option<Parameter>,
}

#[derive(Clone, PartialEq, Message)]
struct Parameter {
    #[prost(message, optional, tag = "2")]
    non_body_parameter: Option<NonBodyParameter>,
}

#[derive(Clone, PartialEq, Message)]
struct NonBodyParameter {
    #[prost(message, optional, tag = "3")]
    query_parameter_sub_schema: Option<QueryParameter>,
    #[prost(message, optional, tag = "4")]
    path_parameter_sub_schema: Option<PathParameter>,
}

#[derive(Clone, PartialEq, Message)]
struct QueryParameter {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "6")]
    r#type: String,
    #[prost(bool, tag = "20")]
    unique_items: bool,
}

#[derive(Clone, PartialEq, Message)]
struct PathParameter {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "5")]
    r#type: String,
    #[prost(bool, tag = "19")]
    unique_items: bool,
}

#[derive(Clone, PartialEq, Message)]
struct Responses {
    #[prost(message, repeated, tag = "1")]
    response_code: Vec<NamedResponseValue>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedResponseValue {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<ResponseValue>,
}

#[derive(Clone, PartialEq, Message)]
struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    response: Option<Response>,
}

#[derive(Clone, PartialEq, Message)]
struct Response {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(message, optional, tag = "2")]
    schema: Option<SchemaItem>,
}

#[derive(Clone, PartialEq, Message)]
struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    schema: Option<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Definitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedSchema {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Schema {
    #[prost(string, tag = "1")]
    r#ref: String,
    #[prost(string, tag = "2")]
    format: String,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(string, repeated, tag = "19")]
    required: Vec<String>,
    #[prost(message, optional, boxed, tag = "21")]
    additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    properties: Option<Properties>,
    #[prost(message, repeated, tag = "31")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, Message)]
struct AdditionalPropertiesItem {
    #[prost(message, optional, tag = "1")]
    schema: Option<Schema>,
    #[prost(bool, optional, tag = "2")]
    boolean: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Properties {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedAny {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Any>,
}

#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "2")]
    yaml: String,
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// `x-*` keys as vendor extensions, their values as YAML (JSON is YAML).
fn extensions(v: &Value) -> Vec<NamedAny> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, value)| NamedAny {
            name: k.clone(),
            value: Some(Any {
                yaml: value.to_string(),
            }),
        })
        .collect()
}

fn schema(v: &Value, depth: usize) -> Schema {
    if depth > 64 {
        return Schema::default();
    }
    // A `$ref` with a description beside it is wrapped in `allOf` in v3; v2 has it plain.
    let single_ref = v
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|all| all.len() == 1)
        .and_then(|all| all.first())
        .and_then(|only| only.get("$ref"))
        .and_then(Value::as_str);
    let named = |map: Option<&Value>| -> Vec<NamedSchema> {
        map.and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, s)| NamedSchema {
                name: name.clone(),
                value: Some(schema(s, depth + 1)),
            })
            .collect()
    };
    let properties = named(v.get("properties"));
    Schema {
        r#ref: single_ref
            .map(str::to_string)
            .unwrap_or_else(|| str_of(v, "$ref")),
        format: str_of(v, "format"),
        description: str_of(v, "description"),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        additional_properties: match v.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(Box::new(AdditionalPropertiesItem {
                schema: None,
                boolean: Some(*b),
            })),
            Some(s @ Value::Object(_)) => Some(Box::new(AdditionalPropertiesItem {
                schema: Some(schema(s, depth + 1)),
                boolean: None,
            })),
            _ => None,
        },
        r#type: v.get("type").and_then(Value::as_str).map(|t| TypeItem {
            value: vec![t.to_string()],
        }),
        items: v.get("items").map(|i| ItemsItem {
            schema: vec![schema(i, depth + 1)],
        }),
        all_of: if single_ref.is_some() {
            Vec::new()
        } else {
            v.get("allOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|s| schema(s, depth + 1))
                .collect()
        },
        properties: (!properties.is_empty()).then_some(Properties {
            additional_properties: properties,
        }),
        vendor_extension: extensions(v),
    }
}

fn parameters(v: Option<&Value>) -> Vec<ParametersItem> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let non_body = if str_of(p, "in") == "path" {
                NonBodyParameter {
                    query_parameter_sub_schema: None,
                    path_parameter_sub_schema: Some(PathParameter {
                        required: true,
                        r#in: "path".into(),
                        description: str_of(p, "description"),
                        name: str_of(p, "name"),
                        r#type: str_of(p, "type"),
                        unique_items: true,
                    }),
                }
            } else {
                NonBodyParameter {
                    query_parameter_sub_schema: Some(QueryParameter {
                        required: false,
                        r#in: "query".into(),
                        description: str_of(p, "description"),
                        name: str_of(p, "name"),
                        r#type: str_of(p, "type"),
                        unique_items: true,
                    }),
                    path_parameter_sub_schema: None,
                }
            };
            ParametersItem {
                parameter: Some(Parameter {
                    non_body_parameter: Some(non_body),
                }),
            }
        })
        .collect()
}

fn operation(v: Option<&Value>) -> Option<Operation> {
    let v = v?;
    let ok = v.pointer("/responses/200");
    Some(Operation {
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        description: str_of(v, "description"),
        operation_id: str_of(v, "operationId"),
        parameters: parameters(v.get("parameters")),
        responses: Some(Responses {
            response_code: vec![NamedResponseValue {
                name: "200".into(),
                value: Some(ResponseValue {
                    response: Some(Response {
                        description: "OK".into(),
                        schema: ok.and_then(|r| r.get("schema")).map(|s| SchemaItem {
                            schema: Some(schema(s, 0)),
                        }),
                    }),
                }),
            }],
        }),
        vendor_extension: extensions(v),
    })
}

/// Encodes the JSON OpenAPI v2 document as gnostic protobuf.
pub fn encode(doc: &Value) -> Vec<u8> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, item)| NamedPathItem {
            name: name.clone(),
            value: Some(PathItem {
                get: operation(item.get("get")),
                put: operation(item.get("put")),
                post: operation(item.get("post")),
                delete: operation(item.get("delete")),
                patch: operation(item.get("patch")),
                parameters: parameters(item.get("parameters")),
            }),
        })
        .collect();
    let definitions = doc
        .get("definitions")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s, 0)),
        })
        .collect();
    Document {
        swagger: str_of(doc, "swagger"),
        info: Some(Info {
            title: doc
                .pointer("/info/title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            version: doc
                .pointer("/info/version")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
        }),
        paths: Some(Paths { path: paths }),
        definitions: Some(Definitions {
            additional_properties: definitions,
        }),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_declared_messages() {
        let doc = serde_json::json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": "v1.35.0" },
            "paths": { "/api/v1/pods": { "get": { "operationId": "listPods", "x-kubernetes-action": "list",
                "parameters": [{ "name": "limit", "in": "query", "type": "integer" }] } } },
            "definitions": { "io.k8s.api.core.v1.Pod": {
                "type": "object",
                "x-kubernetes-group-version-kind": [{ "group": "", "kind": "Pod", "version": "v1" }],
                "properties": { "spec": { "allOf": [{ "$ref": "#/definitions/io.k8s.api.core.v1.PodSpec" }], "description": "d" },
                                "labels": { "type": "object", "additionalProperties": { "type": "string" } } },
            } },
        });
        let bytes = encode(&doc);
        let back = Document::decode(bytes.as_slice()).unwrap();
        assert_eq!(back.swagger, "2.0");
        let pod = &back.definitions.unwrap().additional_properties[0];
        let pod_schema = pod.value.clone().unwrap();
        assert_eq!(pod_schema.r#type.unwrap().value, ["object"]);
        assert_eq!(
            pod_schema.vendor_extension[0].name,
            "x-kubernetes-group-version-kind"
        );
        let props = pod_schema.properties.unwrap().additional_properties;
        let spec = props
            .iter()
            .find(|p| p.name == "spec")
            .unwrap()
            .value
            .clone()
            .unwrap();
        assert_eq!(spec.r#ref, "#/definitions/io.k8s.api.core.v1.PodSpec");
        let op = back.paths.unwrap().path[0]
            .value
            .clone()
            .unwrap()
            .get
            .unwrap();
        assert_eq!(op.operation_id, "listPods");
    }
}
