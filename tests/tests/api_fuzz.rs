//! Property tests that reach the handler: arbitrary methods, paths (every resource and
//! subresource of the catalogue, and garbage), query strings, headers and bodies go to the
//! in-process API server. Every answer must be a success or a well-formed `Status` with the
//! same code, never a 500 (a panic is answered as one), and a failed request must store
//! nothing. `PROPTEST_CASES` sets the budget (`tests/run.sh` fixes it).

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::BodyExt;
use keelson_tests::in_process::InProcess;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

/// One server (and its runtime) for all cases: starting one per case would dominate.
fn server() -> &'static (tokio::runtime::Runtime, InProcess) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, InProcess)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime.block_on(async {
            let server = InProcess::start().await;
            // Something to find: a config map and a deployment in "default".
            let client = server.client();
            let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                kube::Api::namespaced(client, "default");
            let cm = serde_json::from_value(json!({"metadata": {"name": "x"}, "data": {"a": "b"}}))
                .expect("a config map");
            cms.create(&Default::default(), &cm).await.expect("create");
            server
        });
        (runtime, server)
    })
}

/// A path: a real resource path of the catalogue (with namespace, name and subresource
/// variations), or garbage.
fn path() -> impl Strategy<Value = String> {
    let resources = keelson_apis::catalogue::builtin();
    let real = (
        0..resources.len(),
        prop::option::of(prop_oneof![Just("default".to_string()), "[a-z-]{1,8}"]),
        prop::option::of(prop_oneof![Just("x".to_string()), "[a-zA-Z0-9.%-]{1,12}"]),
        prop::option::of(prop_oneof![
            Just(0usize),
            Just(1),
            Just(2),
            Just(3),
            4usize..6
        ]),
    )
        .prop_map(move |(i, ns, name, sub)| {
            let Some(r) = resources.get(i) else {
                return "/".to_string();
            };
            let mut path = if r.group().is_empty() {
                format!("/api/{}", r.version())
            } else {
                format!("/apis/{}/{}", r.group(), r.version())
            };
            if let (true, Some(ns)) = (r.namespaced(), &ns) {
                path.push_str(&format!("/namespaces/{ns}"));
            }
            path.push_str(&format!("/{}", r.plural()));
            if let Some(name) = name {
                path.push_str(&format!("/{name}"));
                if let Some(i) = sub {
                    let subs = r.facts.subresources;
                    match subs.get(i) {
                        Some(s) => path.push_str(&format!("/{}", s.name)),
                        None => path.push_str("/bogus"),
                    }
                }
            }
            path
        });
    prop_oneof![
        8 => real,
        1 => "(/[a-z0-9.%{}-]{0,10}){0,8}",
        1 => Just("/api/v1/namespaces/default/serviceaccounts/default/token".to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("watch"),
        Just("resourceVersion"),
        Just("resourceVersionMatch"),
        Just("limit"),
        Just("continue"),
        Just("labelSelector"),
        Just("fieldSelector"),
        Just("timeoutSeconds"),
        Just("allowWatchBookmarks"),
        Just("sendInitialEvents"),
        Just("dryRun"),
        Just("fieldManager"),
        Just("fieldValidation"),
        Just("force"),
        Just("gracePeriodSeconds"),
        Just("propagationPolicy"),
        Just("includeObject"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just("true".to_string()),
        Just("0".to_string()),
        Just("18446744073709551615".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-1".to_string()),
        Just("All".to_string()),
        Just("Strict".to_string()),
        "[ -~]{0,12}",
    ];
    prop::collection::vec((key, value), 0..4).prop_map(|pairs| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            q.append_pair(k, &v);
        }
        q.finish()
    })
}

/// Arbitrary JSON, a few levels deep, with keys objects have.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        "[a-z0-9:/.-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("name".to_string()),
                    Just("spec".to_string()),
                    Just("status".to_string()),
                    Just("data".to_string()),
                    Just("stringData".to_string()),
                    Just("kind".to_string()),
                    Just("apiVersion".to_string()),
                    Just("resourceVersion".to_string()),
                    Just("expirationSeconds".to_string()),
                    Just("containers".to_string()),
                    Just("ports".to_string()),
                    Just("replicas".to_string()),
                    Just("$patch".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => json_value().prop_map(|v| {
            // A named object of the kind, so that writes get past the name checks.
            let mut obj = json!({"metadata": {"name": "fuzz"}});
            if let (Some(o), Value::Object(extra)) = (obj.as_object_mut(), v) {
                o.extend(extra.into_iter().filter(|(k, _)| k != "metadata"));
            }
            serde_json::to_vec(&obj).unwrap_or_default()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/json"),
        Just("application/yaml"),
        Just("application/vnd.kubernetes.protobuf"),
        Just("application/json-patch+json"),
        Just("application/merge-patch+json"),
        Just("application/strategic-merge-patch+json"),
        Just("application/apply-patch+yaml"),
        Just("text/plain"),
        Just(""),
    ]
}

fn accept() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/json"),
        Just("application/yaml"),
        Just("application/json;as=Table;v=v1;g=meta.k8s.io"),
        Just("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
        Just("application/vnd.kubernetes.protobuf"),
        Just("*/*"),
        Just(""),
    ]
}

fn method() -> impl Strategy<Value = http::Method> {
    prop_oneof![
        Just(http::Method::GET),
        Just(http::Method::POST),
        Just(http::Method::PUT),
        Just(http::Method::PATCH),
        Just(http::Method::DELETE),
        Just(http::Method::OPTIONS),
    ]
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Every case talks to a server; shrinking through thousands of them is too slow.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_request_gets_a_status_or_success_and_failures_store_nothing(
        method in method(),
        path in path(),
        query in query(),
        content_type in content_type(),
        accept in accept(),
        body in body(),
    ) {
        let (runtime, server) = server();
        let outcome = runtime.block_on(async {
            let before = server.member.status().revision;
            let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let mut request = http::Request::builder().method(method.clone()).uri(&uri);
            if !content_type.is_empty() {
                request = request.header("Content-Type", content_type);
            }
            if !accept.is_empty() {
                request = request.header("Accept", accept);
            }
            let Ok(request) = request.body(http_body_util::Full::new(bytes::Bytes::from(body.clone()))) else {
                // The generator made a URI that http refuses: nothing reaches the server.
                return Ok(());
            };
            let response = server.server.service().oneshot(request).await.expect("infallible");
            let code = response.status().as_u16();
            let content = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            // Watches stream until their timeout: what arrives in a moment is enough.
            let collected = tokio::time::timeout(Duration::from_millis(500), response.into_body().collect()).await;
            let bytes = match collected {
                Ok(Ok(c)) => c.to_bytes().to_vec(),
                Ok(Err(e)) => return Err(format!("the body failed: {e}")),
                Err(_) if code == 200 => return Ok(()),
                Err(_) => return Err(format!("an error answer ({code}) did not end")),
            };
            if code == 500 {
                return Err(format!("500: {}", String::from_utf8_lossy(&bytes)));
            }
            if code >= 400 {
                let status: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{code} with a body that is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))?;
                if status["kind"] != "Status" || status["code"] != code || status["status"] != "Failure"
                    || status["reason"].as_str().is_none_or(str::is_empty) || !content.starts_with("application/json") {
                    return Err(format!("{code} with a malformed Status: {status}"));
                }
                let after = server.member.status().revision;
                if after != before {
                    return Err(format!("a failed request ({code} {}) changed the store: revision {before} -> {after}", status["message"]));
                }
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{method} {path}?{query} ({content_type}, accept {accept}) body {}: {}",
            String::from_utf8_lossy(&body), outcome.err().unwrap_or_default());
    }
}
