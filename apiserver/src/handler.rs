//! One request, start to end: authenticate, authorize, route (health, version, discovery,
//! OpenAPI, resources), decode, call the registry, and encode the answer in the format the
//! client accepts. Every failure is a `Status`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::auth::{self, User};
use crate::codec::{self, Format};
use crate::documents;
use crate::params::{self, Query};
use crate::patch::PatchType;
use crate::registry::{FieldValidation, Outcome, Target, WriteOptions};
use crate::request::{self, ResourceRequest, Verb};
use crate::resource::Printer;
use crate::status::{ApiError, ApiResult};
use crate::strategy::CreateAction;
use crate::watch::{self, WatchObject, WatchOptions};
use crate::ApiServerState;

fn json_response(code: u16, value: &Value) -> Response<Body> {
    bytes_response(
        code,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn bytes_response(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.code, &err.to_status())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Handles one request from `user` (already authenticated by the connection, or `None`).
pub async fn handle<B>(
    state: Arc<ApiServerState>,
    tls_user: Option<User>,
    req: Request<B>,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    // A panic is a defect of the server, not the client's fault: it is logged with the
    // request and answered as a 500 Status rather than a reset connection.
    let handled = std::panic::AssertUnwindSafe(handle_inner(&state, tls_user, req));
    let response = match futures::FutureExt::catch_unwind(handled).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => error_response(&e),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%method, %path, "request handler panicked: {what}");
            error_response(&ApiError::internal(format!(
                "an error on the server ({what}) has prevented the request from succeeding"
            )))
        }
    };
    state.metrics.observe(
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    response
}

async fn handle_inner<B>(
    state: &Arc<ApiServerState>,
    tls_user: Option<User>,
    req: Request<B>,
) -> ApiResult<Response<Body>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let user = auth::authenticate(state, tls_user, &parts.headers).await?;
    let user = auth::impersonate(state, user, &parts.headers)?;
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query())
        .with_user_agent(header_str(&parts.headers, header::USER_AGENT));
    let accept = header_str(&parts.headers, header::ACCEPT).map(str::to_string);
    if auth::is_public_path(&path) {
        return Ok(public(state, &path, &query).await);
    }
    if user.is_anonymous() {
        return Err(ApiError::unauthorized());
    }
    if !auth::authorized(&user, state.authorization_mode)
        && !auth::allowed_to_every_user(parts.method.as_str(), &path)
    {
        return Err(ApiError::forbidden(format!(
            "User \"{}\" cannot {} path \"{path}\"",
            user.name,
            parts.method.as_str().to_lowercase()
        )));
    }
    if let Some(response) = documents_response(state, &path, &query, accept.as_deref()) {
        return response;
    }
    if path == "/metrics" {
        return Ok(bytes_response(
            200,
            "text/plain; version=0.0.4",
            state.metrics.render(),
        ));
    }
    let Some(request) = request::parse(&parts.method, &path, &query)? else {
        return Err(ApiError::not_found_path());
    };
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    let body = read_body(&parts.headers, body, state.body_timeout).await?;
    let deprecation = state
        .registry
        .target(&request.group, &request.version, &request.resource, None)
        .and_then(|t| t.strategy().deprecation());
    let response = resource(
        state,
        &user,
        request,
        &query,
        accept.as_deref(),
        &content_type,
        body,
    )
    .await;
    // Upstream warns on every request to a deprecated resource, failed ones included.
    match (deprecation, response) {
        (Some(warning), Ok(r)) => Ok(with_warnings(r, &[warning.to_string()])),
        (Some(warning), Err(e)) => Ok(with_warnings(error_response(&e), &[warning.to_string()])),
        (None, response) => response,
    }
}

/// Reads a request body of at most [`codec::MAX_BODY_BYTES`]: a larger declared length is
/// refused before anything is read, and a body that does not arrive in time is a 504.
async fn read_body<B>(headers: &HeaderMap, body: B, timeout: Duration) -> ApiResult<Bytes>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        ApiError::too_large(format!(
            "the request body is larger than {} bytes",
            codec::MAX_BODY_BYTES
        ))
    };
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
    if declared.is_some_and(|l| l > codec::MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, codec::MAX_BODY_BYTES);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(ApiError::timeout(format!(
            "the request body did not arrive within {}s",
            timeout.as_secs()
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Ok(Err(e)) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

async fn public(state: &ApiServerState, path: &str, query: &Query) -> Response<Body> {
    if path == "/version" {
        return json_response(200, &crate::version_info());
    }
    let store_ok = state.registry.store().status().leader.is_some();
    let checks = [
        ("ping", true),
        ("etcd", store_ok),
        ("poststarthook/bootstrap-namespaces", true),
    ];
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    let code = if failed.is_empty() { 200 } else { 500 };
    let mut body = String::new();
    if query.get("verbose").is_some() || !failed.is_empty() {
        for (name, ok) in checks {
            body.push_str(&format!(
                "[{}]{name} {}\n",
                if ok { "+" } else { "-" },
                if ok { "ok" } else { "failed" }
            ));
        }
        let check = path.trim_start_matches('/');
        if failed.is_empty() {
            body.push_str(&format!("{check} check passed\n"));
        } else {
            body.push_str(&format!("{check} check failed\n"));
        }
    } else {
        body.push_str("ok");
    }
    bytes_response(code, "text/plain; charset=utf-8", body)
}

/// Discovery and OpenAPI documents, or `None` when the path is not one.
fn documents_response(
    state: &ApiServerState,
    path: &str,
    query: &Query,
    accept: Option<&str>,
) -> Option<ApiResult<Response<Body>>> {
    let aggregated = codec::wants_aggregated_discovery(accept);
    let custom = state.registry.resources.custom();
    let custom_docs = crate::custom::documents::of(&custom);
    let response = match path.trim_end_matches('/') {
        "/api" if aggregated => bytes_response(
            200,
            codec::AGGREGATED_DISCOVERY_CONTENT_TYPE,
            documents::AGGREGATED_API,
        ),
        "/apis" if aggregated && custom.is_empty() => bytes_response(
            200,
            codec::AGGREGATED_DISCOVERY_CONTENT_TYPE,
            documents::AGGREGATED_APIS,
        ),
        "/apis" if aggregated => bytes_response(
            200,
            codec::AGGREGATED_DISCOVERY_CONTENT_TYPE,
            custom_docs.aggregated().to_vec(),
        ),
        "/api" => json_response(
            200,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": state.advertise.clone() }],
            }),
        ),
        "/apis" if custom.is_empty() => {
            bytes_response(200, "application/json", documents::API_GROUP_LIST)
        }
        "/apis" => json_response(200, custom_docs.api_group_list()),
        "/openapi/v2" if accept.is_some_and(|a| a.contains(crate::openapi_v2_proto::ACCEPT)) => {
            if custom.is_empty() {
                bytes_response(
                    200,
                    crate::openapi_v2_proto::CONTENT_TYPE,
                    documents::openapi_v2_protobuf(),
                )
            } else {
                bytes_response(
                    200,
                    crate::openapi_v2_proto::CONTENT_TYPE,
                    custom_docs.v2().protobuf.clone(),
                )
            }
        }
        "/openapi/v2" => match codec::negotiate(accept, false) {
            Ok(Format::Json) if custom.is_empty() => {
                bytes_response(200, "application/json", documents::openapi_v2())
            }
            Ok(Format::Json) => {
                bytes_response(200, "application/json", custom_docs.v2().json.clone())
            }
            _ => {
                return Some(Err(ApiError::not_acceptable(
                    "the OpenAPI v2 document is served as JSON or protobuf",
                )))
            }
        },
        "/openapi/v3" => {
            let mut paths: serde_json::Map<String, Value> = documents::all()
                .iter()
                .map(|d| (d.path.to_string(), json!({ "serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.openapi_v3_hash) })))
                .collect();
            for (path, _, hash) in custom_docs.v3() {
                let url = format!("/openapi/v3/{path}?hash={hash}");
                paths.insert(path.clone(), json!({ "serverRelativeURL": url }));
            }
            json_response(200, &json!({ "paths": paths }))
        }
        p if p.starts_with("/openapi/v3/") => {
            let gv = p.get("/openapi/v3/".len()..).unwrap_or("");
            if let Some(docs) = documents::group_version(gv) {
                let mut r = bytes_response(200, "application/json", docs.openapi_v3);
                if query.get("hash") == Some(docs.openapi_v3_hash) {
                    r.headers_mut().insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, immutable"),
                    );
                }
                r
            } else {
                let doc = custom_docs.v3().iter().find(|(path, _, _)| path == gv);
                match doc {
                    Some((_, doc, _)) => bytes_response(200, "application/json", doc.clone()),
                    None => return Some(Err(ApiError::not_found_path())),
                }
            }
        }
        p => {
            let trimmed = p.trim_start_matches('/');
            let custom_list = trimmed
                .strip_prefix("apis/")
                .and_then(|gv| gv.split_once('/'))
                .and_then(|(g, v)| crate::custom::discovery::resource_list(&custom, g, v));
            if let Some(docs) = documents::group_version(trimmed) {
                bytes_response(200, "application/json", docs.resource_list)
            } else if let Some(list) = custom_list {
                json_response(200, &list)
            } else if let Some(group) = trimmed.strip_prefix("apis/").filter(|g| !g.contains('/')) {
                let groups = custom_docs.api_group_list();
                let found = groups
                    .get("groups")
                    .and_then(Value::as_array)
                    .and_then(|gs| {
                        gs.iter()
                            .find(|g| g.get("name").and_then(Value::as_str) == Some(group))
                    });
                match found {
                    Some(g) => {
                        let mut g = g.clone();
                        crate::strategy::set(&mut g, &["kind"], json!("APIGroup"));
                        crate::strategy::set(&mut g, &["apiVersion"], json!("v1"));
                        json_response(200, &g)
                    }
                    None => return Some(Err(ApiError::not_found_path())),
                }
            } else {
                return None;
            }
        }
    };
    Some(Ok(response))
}

/// Write options for a create or update whose body is `body`: JSON bodies are checked for
/// fields named twice unless validation is off.
fn body_write_options(query: &Query, content_type: &str, body: &[u8]) -> ApiResult<WriteOptions> {
    let mut opts = params::write_options(query)?;
    let json = matches!(
        content_type.split(';').next().unwrap_or("").trim(),
        "" | "application/json"
    );
    if json && opts.field_validation != FieldValidation::Ignore {
        opts.duplicate_fields = codec::duplicate_fields(body);
    }
    Ok(opts)
}

fn with_warnings(mut response: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

/// Encodes an object (or list) in the negotiated format.
fn object_response(
    code: u16,
    format: Format,
    target: &Target<'_>,
    value: &Value,
    include_object: &str,
) -> Response<Body> {
    // Lists hold stored objects, already in order; a single object may come from a write.
    let ordered;
    let value = if value.get("items").is_none() {
        let mut copy = value.clone();
        crate::field_order::canonicalize(&mut copy);
        ordered = copy;
        &ordered
    } else {
        value
    };
    match format {
        Format::Json => json_response(code, value),
        Format::Yaml => match serde_yaml::to_string(value) {
            Ok(yaml) => bytes_response(code, "application/yaml", yaml),
            Err(e) => error_response(&ApiError::internal(format!("cannot encode YAML: {e}"))),
        },
        Format::Table => json_response(code, &as_table(target, value, include_object)),
        Format::Metadata => json_response(code, &as_metadata(value)),
    }
}

/// The PartialObjectMetadata form of an object, or a PartialObjectMetadataList of a list.
fn as_metadata(value: &Value) -> Value {
    let partial = |obj: &Value| {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
        })
    };
    match value.get("items").and_then(Value::as_array) {
        Some(items) => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": value.get("metadata").cloned().unwrap_or(json!({})),
            "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        None => partial(value),
    }
}

fn as_table(target: &Target<'_>, value: &Value, include_object: &str) -> Value {
    let now = jiff::Timestamp::now();
    let (objects, meta) = match value.get("items").and_then(Value::as_array) {
        Some(items) => (
            items.clone(),
            value.get("metadata").cloned().unwrap_or(json!({})),
        ),
        None => {
            let rv = value
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            (vec![value.clone()], json!({ "resourceVersion": rv }))
        }
    };
    match target.resource.printer {
        Printer::Builtin(printer) => {
            crate::table::table(printer, &objects, meta, include_object, now)
        }
        Printer::Columns(columns) => {
            crate::table::custom_table(columns, &objects, meta, include_object, now)
        }
    }
}

async fn resource(
    state: &Arc<ApiServerState>,
    user: &User,
    request: ResourceRequest,
    query: &Query,
    accept: Option<&str>,
    content_type: &str,
    body: Bytes,
) -> ApiResult<Response<Body>> {
    let target = state
        .registry
        .target(
            &request.group,
            &request.version,
            &request.resource,
            request.namespace.as_deref(),
        )
        .ok_or_else(ApiError::not_found_path)?;
    let resource = target.resource;
    if let Some(sub) = &request.subresource {
        if resource.subresource(sub).is_none() {
            return Err(ApiError::not_found_path());
        }
    }
    let verb_allowed = match &request.subresource {
        Some(sub) => resource
            .subresource(sub)
            .is_some_and(|s| s.verbs.contains(&request.verb.as_str())),
        None => resource.has_verb(request.verb.as_str()),
    };
    if !verb_allowed {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({} {})",
            request.verb.as_str(),
            request.resource
        )));
    }
    if !resource.namespaced() && request.namespace.is_some() {
        return Err(ApiError::not_found_path());
    }
    let registry = &state.registry;
    // Every verb answers in the format asked for; a Table or metadata-only view is of the
    // resource's own objects (and of `status`, which is the whole object).
    let transform_ok = matches!(request.subresource.as_deref(), None | Some("status"));
    let format = codec::negotiate(accept, transform_ok)?;
    let include_object = params::include_object(query)?;
    let name = request.name.as_deref().unwrap_or("");
    let sub = request.subresource.as_deref();
    if resource.namespaced()
        && request.namespace.is_none()
        && !matches!(request.verb, Verb::List | Verb::Watch)
    {
        return Err(ApiError::not_found_path());
    }
    if let Some(objects) = target.strategy().computed(registry) {
        return computed(&target, &request, query, format, objects);
    }
    // These connect to a pod's node, a node's agent or a service's endpoints; the node
    // agent that serves them is not built yet, so the API server says so in upstream's terms.
    if matches!(
        sub,
        Some("log" | "exec" | "attach" | "portforward" | "proxy")
    ) {
        let obj = registry.get(&target, name).await?;
        return Err(match resource.plural() {
            "pods" => match obj.pointer("/spec/nodeName").and_then(Value::as_str) {
                Some(node) if !node.is_empty() => ApiError::unavailable(format!(
                    "the node agent of node {node} is not reachable for {}/{name}",
                    sub.unwrap_or("")
                )),
                _ => ApiError::bad_request(format!("pod {name} does not have a host assigned")),
            },
            "services" => {
                ApiError::unavailable(format!("no endpoints available for service \"{name}\""))
            }
            _ => ApiError::unavailable(format!("the node agent of node {name} is not reachable")),
        });
    }
    match request.verb {
        Verb::Get => {
            let obj = registry
                .get_at(&target, name, query.resource_version()?)
                .await?;
            let view = crate::registry::subresource_view(&target, sub, &obj)?;
            Ok(object_response(200, format, &target, &view, include_object))
        }
        Verb::List => {
            let opts = params::list_options(query)?;
            if format == Format::Json {
                if let Some(bytes) = registry.list_json(&target, &opts).await? {
                    return Ok(bytes_response(200, "application/json", bytes));
                }
            }
            let list = registry.list(&target, &opts).await?;
            Ok(object_response(200, format, &target, &list, include_object))
        }
        Verb::Watch => {
            let opts = WatchOptions {
                list: params::list_options(query)?,
                allow_bookmarks: query.flag("allowWatchBookmarks"),
                send_initial_events: query.optional_flag("sendInitialEvents"),
                timeout: params::watch_timeout(query)?,
            };
            let events = watch::watch(registry, target, opts).await?;
            let include = include_object.to_string();
            let namespace = request.namespace.clone();
            let base = target.in_namespace(None);
            let lines = events.map(move |event| {
                let target = base.in_namespace(namespace.as_deref());
                let object = match (format, event.object) {
                    (Format::Json | Format::Yaml, WatchObject::Json(bytes)) => bytes,
                    (_, object) if event.kind == "ERROR" || event.kind == "BOOKMARK" => {
                        serde_json::to_vec(&object.into_value()).unwrap_or_default()
                    }
                    (Format::Table, object) => {
                        serde_json::to_vec(&as_table(&target, &object.into_value(), &include))
                            .unwrap_or_default()
                    }
                    (Format::Metadata, object) => {
                        serde_json::to_vec(&as_metadata(&object.into_value())).unwrap_or_default()
                    }
                    (_, object) => serde_json::to_vec(&object.into_value()).unwrap_or_default(),
                };
                let mut line = format!("{{\"type\":\"{}\",\"object\":", event.kind).into_bytes();
                line.extend_from_slice(&object);
                line.extend_from_slice(b"}\n");
                Ok::<Bytes, std::convert::Infallible>(Bytes::from(line))
            });
            let mut response = Response::new(Body::from_stream(lines));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, private"),
            );
            Ok(response)
        }
        Verb::Create => {
            let opts = body_write_options(query, content_type, &body)?;
            let body = codec::decode_body(content_type, &body)?;
            match target.strategy().on_create(sub) {
                CreateAction::Store => {}
                CreateAction::TokenRequest => {
                    let outcome = crate::token_request::create(state, &target, name, body).await?;
                    return Ok(outcome_response(outcome, format, &target));
                }
                CreateAction::Review(review) => {
                    let reviewed =
                        crate::reviews::review(state, user, review, resource.group(), body).await?;
                    return Ok(json_response(201, &reviewed));
                }
                CreateAction::BindNamedPod => {
                    let pod_name = body
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let pods = Target::builtin("", "v1", "pods", request.namespace.as_deref())
                        .ok_or_else(ApiError::not_found_path)?;
                    registry
                        .update(&pods, &pod_name, Some("binding"), body, &opts)
                        .await?;
                    return Ok(json_response(201, &success_status(201)));
                }
                CreateAction::Bind => {
                    registry.update(&target, name, sub, body, &opts).await?;
                    return Ok(json_response(201, &success_status(201)));
                }
                CreateAction::Evict => {
                    crate::eviction::admit(registry, &target, name, &opts).await?;
                    let options = body.get("deleteOptions").cloned().unwrap_or(json!({}));
                    registry.delete(&target, name, &options, &opts).await?;
                    return Ok(json_response(201, &success_status(201)));
                }
                CreateAction::Refused(why) => {
                    return Err(ApiError::method_not_allowed(why));
                }
                CreateAction::NotAllowed => {
                    return Err(ApiError::method_not_allowed(format!(
                        "creating {}/{} is not supported",
                        request.resource,
                        sub.unwrap_or_default()
                    )))
                }
            }
            let outcome = registry.create(&target, body, &opts).await?;
            Ok(outcome_response(outcome, format, &target))
        }
        Verb::Update => {
            let opts = body_write_options(query, content_type, &body)?;
            let body = codec::decode_body(content_type, &body)?;
            let outcome = registry.update(&target, name, sub, body, &opts).await?;
            Ok(outcome_response(
                subresource_outcome(&target, sub, outcome)?,
                format,
                &target,
            ))
        }
        Verb::Patch => {
            let opts = params::write_options(query)?;
            let patch_type = PatchType::from_content_type(content_type)?;
            // Custom resources have no patch strategies to merge by, as upstream's.
            if patch_type == PatchType::Strategic && target.resource.is_custom() {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            if patch_type == PatchType::Apply
                && opts.field_manager.as_deref().is_none_or(str::is_empty)
            {
                return Err(ApiError::bad_request(
                    "PATCH with an apply patch requires a fieldManager",
                ));
            }
            let outcome = registry
                .patch(&target, name, sub, patch_type, &body, &opts)
                .await?;
            Ok(outcome_response(
                subresource_outcome(&target, sub, outcome)?,
                format,
                &target,
            ))
        }
        Verb::Delete => {
            let opts = params::write_options(query)?;
            let options = delete_options(content_type, &body, query)?;
            let outcome = registry.delete(&target, name, &options, &opts).await?;
            Ok(outcome_response(outcome, format, &target))
        }
        Verb::DeleteCollection => {
            let opts = params::write_options(query)?;
            let options = delete_options(content_type, &body, query)?;
            let list = registry
                .delete_collection(&target, &params::list_options(query)?, &options, &opts)
                .await?;
            Ok(object_response(200, format, &target, &list, include_object))
        }
    }
}

/// A read of a computed resource (ComponentStatuses): get and list only.
fn computed(
    target: &Target<'_>,
    request: &ResourceRequest,
    query: &Query,
    format: Format,
    objects: Vec<Value>,
) -> ApiResult<Response<Body>> {
    match request.verb {
        Verb::Get => {
            let name = request.name.as_deref().unwrap_or("");
            let found = objects
                .into_iter()
                .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name));
            match found {
                Some(obj) => Ok(object_response(200, format, target, &obj, "Metadata")),
                None => {
                    let singular = target.resource.facts.singular;
                    let mut err = ApiError::not_found("", singular, name);
                    err.message = format!("{singular} \"{name}\" not found");
                    Err(err)
                }
            }
        }
        Verb::List => {
            let opts = params::list_options(query)?;
            crate::registry::check_field_selector(target, &opts.fields)?;
            let items: Vec<Value> = objects
                .into_iter()
                .filter(|o| crate::registry::selected(target, o, &opts.labels, &opts.fields))
                .collect();
            let list = json!({
                "kind": format!("{}List", target.resource.facts.kind),
                "apiVersion": target.resource.api_version(),
                "metadata": {},
                "items": items,
            });
            Ok(object_response(200, format, target, &list, "Metadata"))
        }
        verb => Err(ApiError::method_not_allowed(format!(
            "{} is not supported on resources of kind \"{}\"",
            verb.as_str(),
            request.resource
        ))),
    }
}

/// A `Status` that reports success (binding and eviction answer with one).
fn success_status(code: u16) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code })
}

/// A write to a subresource answers with the subresource's view (a Scale for `scale`).
fn subresource_outcome(
    target: &Target<'_>,
    sub: Option<&str>,
    outcome: Outcome,
) -> ApiResult<Outcome> {
    Ok(Outcome {
        object: crate::registry::subresource_view(target, sub, &outcome.object)?,
        ..outcome
    })
}

/// DeleteOptions from the body, or from query parameters as older clients send them.
fn delete_options(content_type: &str, body: &[u8], query: &Query) -> ApiResult<Value> {
    let mut options = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        codec::decode_body(content_type, body)?
    };
    if !options.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    let (grace, policy) = params::delete_overrides(query)?;
    if let Some(map) = options.as_object_mut() {
        if let Some(grace) = grace {
            map.insert("gracePeriodSeconds".into(), json!(grace));
        }
        if let Some(policy) = policy {
            map.insert("propagationPolicy".into(), json!(policy));
        }
    }
    match options.get("propagationPolicy").and_then(Value::as_str) {
        None | Some("Orphan" | "Background" | "Foreground") => Ok(options),
        Some(other) => Err(ApiError::invalid("DeleteOptions", "", "", vec![crate::status::Cause {
            reason: "FieldValueNotSupported",
            field: "propagationPolicy".into(),
            message: format!("Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
        }])),
    }
}

fn outcome_response(outcome: Outcome, format: Format, target: &Target<'_>) -> Response<Body> {
    with_warnings(
        object_response(outcome.code, format, target, &outcome.object, "Object"),
        &outcome.warnings,
    )
}
