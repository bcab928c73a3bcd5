//! Bad input over real HTTPS: every answer is a `Status` with upstream's code and reason,
//! nothing is stored, and the server keeps serving.

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::https::{assert_status, Https};
use serde_json::Value;

#[tokio::test]
async fn bad_requests_get_statuses_and_store_nothing() {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let https = Https::new(&up.data_dir, &up.server);
    let post = reqwest::Method::POST;
    let configmaps = "/api/v1/namespaces/default/configmaps";

    let malformed = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            b"{\"metadata\": ".to_vec(),
        )
        .await;
    assert_status(&malformed, 400, "BadRequest");
    let yaml = https
        .send(
            post.clone(),
            configmaps,
            "application/yaml",
            b"metadata: [unclosed\n".to_vec(),
        )
        .await;
    assert_status(&yaml, 400, "BadRequest");
    let protobuf = https
        .send(
            post.clone(),
            configmaps,
            "application/vnd.kubernetes.protobuf",
            b"k8s\x00\xff\xff".to_vec(),
        )
        .await;
    assert_status(&protobuf, 400, "BadRequest");
    let mut huge = br#"{"metadata":{"name":"huge"},"data":{"a":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024 + 1));
    huge.extend(br#""}}"#);
    let too_large = https
        .send(post.clone(), configmaps, "application/json", huge)
        .await;
    assert_status(&too_large, 413, "RequestEntityTooLarge");
    let deep = format!(
        "{{\"metadata\":{{\"name\":\"deep\"}},\"data\":{}{}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            deep.into_bytes(),
        )
        .await;
    assert_status(&deep, 400, "BadRequest");
    let wrong_types = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            br#"{"metadata":{"name":"typed"},"data":{"a":1}}"#.to_vec(),
        )
        .await;
    assert_status(&wrong_types, 400, "BadRequest");
    let wrong_kind = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            br#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"kind"}}"#.to_vec(),
        )
        .await;
    assert_status(&wrong_kind, 400, "BadRequest");
    let not_an_object = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            b"[1,2]".to_vec(),
        )
        .await;
    assert_status(&not_an_object, 400, "BadRequest");
    let unknown_type = https
        .send(post.clone(), configmaps, "text/csv", b"a,b".to_vec())
        .await;
    assert_status(&unknown_type, 415, "UnsupportedMediaType");

    let bad_name = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            br#"{"metadata":{"name":"Bad_Name"}}"#.to_vec(),
        )
        .await;
    assert_status(&bad_name, 422, "Invalid");
    assert_eq!(bad_name.1["details"]["causes"][0]["field"], "metadata.name");
    let bad_label = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            br#"{"metadata":{"name":"ok","labels":{"bad key":"v"}}}"#.to_vec(),
        )
        .await;
    assert_status(&bad_label, 422, "Invalid");
    let no_name = https
        .send(
            post.clone(),
            configmaps,
            "application/json",
            br#"{"metadata":{}}"#.to_vec(),
        )
        .await;
    assert_status(&no_name, 422, "Invalid");
    let bad_pod = https
        .send(
            post.clone(),
            "/api/v1/namespaces/default/pods",
            "application/json",
            br#"{"metadata":{"name":"p"},"spec":{"containers":[]}}"#.to_vec(),
        )
        .await;
    assert_status(&bad_pod, 422, "Invalid");
    let bad_selector = https
        .send(
            reqwest::Method::GET,
            &format!("{configmaps}?labelSelector=a%20in%20(b"),
            "",
            vec![],
        )
        .await;
    assert_status(&bad_selector, 400, "BadRequest");
    let bad_field = https
        .send(
            reqwest::Method::GET,
            &format!("{configmaps}?fieldSelector=spec.nodeName%3Dx"),
            "",
            vec![],
        )
        .await;
    assert_status(&bad_field, 400, "BadRequest");
    let bad_continue = https
        .send(
            reqwest::Method::GET,
            &format!("{configmaps}?limit=1&continue=garbage"),
            "",
            vec![],
        )
        .await;
    assert_status(&bad_continue, 400, "BadRequest");
    let bad_patch = https
        .send(
            reqwest::Method::PATCH,
            "/api/v1/namespaces/default/services/kubernetes",
            "application/json-patch+json",
            br#"{"not":"a list"}"#.to_vec(),
        )
        .await;
    assert_status(&bad_patch, 400, "BadRequest");

    let unknown = https
        .send(reqwest::Method::GET, "/api/v1/widgets", "", vec![])
        .await;
    assert_status(&unknown, 404, "NotFound");
    let unknown_group = https
        .send(
            reqwest::Method::GET,
            "/apis/nope.example.com/v1/things",
            "",
            vec![],
        )
        .await;
    assert_status(&unknown_group, 404, "NotFound");
    let collection_put = https
        .send(
            reqwest::Method::PUT,
            configmaps,
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_status(&collection_put, 405, "MethodNotAllowed");
    let read_only = https
        .send(
            post.clone(),
            "/api/v1/componentstatuses",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_status(&read_only, 405, "MethodNotAllowed");

    // Nothing was stored, and the server still answers.
    let (code, list) = https
        .send(reqwest::Method::GET, configmaps, "", vec![])
        .await;
    assert_eq!(code, 200);
    // Only what the root CA publisher makes in every namespace.
    let stored: Vec<&Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cm| cm["metadata"]["name"] != "kube-root-ca.crt")
        .collect();
    assert!(stored.is_empty(), "{list}");
    assert_eq!(up.ok(&["get", "--raw", "/readyz"]), "ok");
}

#[tokio::test]
async fn anonymous_reaches_only_health_and_version() {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let https = Https::new(&up.data_dir, &up.server);
    let get = |path: &'static str| {
        let client = https.anonymous.clone();
        let url = format!("{}{path}", https.base);
        async move {
            let response = client.get(url).send().await.expect("a response");
            let code = response.status().as_u16();
            (code, response.text().await.expect("a body"))
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(get("/livez").await.0, 200);
    let (code, verbose) = get("/readyz?verbose").await;
    assert_eq!(code, 200);
    assert!(
        verbose.contains("[+]etcd ok") && verbose.contains("readyz check passed"),
        "{verbose}"
    );
    let (code, version) = get("/version").await;
    assert_eq!(code, 200);
    assert!(version.contains("\"gitVersion\":\"v1.35."), "{version}");
    let (code, body) = get("/api/v1/namespaces").await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    let metrics = up.ok(&["get", "--raw", "/metrics"]);
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
}

#[tokio::test]
async fn field_validation_strict_warn_and_ignore() {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let https = Https::new(&up.data_dir, &up.server);
    let post = |query: &'static str, body: &'static str| {
        let client = https.client.clone();
        let url = format!("{}/api/v1/namespaces/default/configmaps{query}", https.base);
        async move {
            let response = client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("a response");
            let code = response.status().as_u16();
            let warnings: Vec<String> = response
                .headers()
                .get_all("warning")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            (code, warnings, response.text().await.expect("a body"))
        }
    };
    let (code, _, body) = post(
        "?fieldValidation=Strict",
        r#"{"metadata":{"name":"s"},"bogus":1}"#,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains(r#"strict decoding error: unknown field \"bogus\""#),
        "{body}"
    );
    let (code, _, body) = post(
        "?fieldValidation=Strict",
        r#"{"metadata":{"name":"d","name":"e"}}"#,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains(r#"duplicate field \"metadata.name\""#),
        "{body}"
    );
    let (code, warnings, _) = post("", r#"{"metadata":{"name":"w"},"bogus":1}"#).await;
    assert_eq!(code, 201);
    assert_eq!(warnings, [r#"299 - "unknown field \"bogus\"""#]);
    let (code, warnings, _) = post(
        "?fieldValidation=Ignore",
        r#"{"metadata":{"name":"i"},"bogus":1}"#,
    )
    .await;
    assert_eq!(code, 201);
    assert!(warnings.is_empty());
    let (code, _, body) = post("?fieldValidation=Sometimes", r#"{"metadata":{"name":"x"}}"#).await;
    assert_eq!(code, 400, "{body}");
    // Unknown fields are dropped from what is stored.
    let stored = up.ok(&["get", "configmap", "w", "-o", "json"]);
    assert!(!stored.contains("bogus"), "{stored}");
}

#[tokio::test]
async fn discovery_content_types_are_exact() {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let https = Https::new(&up.data_dir, &up.server);
    let get = |path: &'static str, accept: &'static str| {
        let client = https.client.clone();
        let url = format!("{}{path}", https.base);
        async move {
            let response = client
                .get(url)
                .header("Accept", accept)
                .send()
                .await
                .expect("a response");
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (content_type, response.text().await.expect("a body"))
        }
    };
    let aggregated =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    for path in ["/api", "/apis"] {
        let (content_type, body) = get(path, aggregated).await;
        assert_eq!(
            content_type,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
        let parsed: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(parsed["kind"], "APIGroupDiscoveryList");
        let (content_type, body) = get(path, "application/json").await;
        assert_eq!(content_type, "application/json");
        let parsed: Value = serde_json::from_str(&body).expect("JSON");
        assert_ne!(parsed["kind"], "APIGroupDiscoveryList");
    }
    let (content_type, body) = get(
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .await;
    assert_eq!(content_type, "application/json");
    let table: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][2]["name"], "Up-to-date");
    let (content_type, _) = get(
        "/api/v1/namespaces",
        "application/vnd.kubernetes.protobuf,application/json",
    )
    .await;
    assert_eq!(content_type, "application/json");
}
