//! Behaviour that real clients found to differ from upstream v1.35, each with the request
//! that found it: boolean query parameters, JSON field order, response formats of every
//! verb, TokenReview audiences, field selectors on unset booleans, Secret `stringData`,
//! defaults on every write, Service validation, apply removing list entries, and the routes
//! and bootstrap objects clients expect (ComponentStatuses, ephemeral containers, CSR
//! approval, RBAC roles).

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::https::{answer, assert_status, Https};
use serde_json::{json, Value};

async fn up() -> (KeelsonUp, Https) {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let https = Https::new(&up.data_dir, &up.server);
    (up, https)
}

const CONFIG_MAPS: &str = "/api/v1/namespaces/default/configmaps";

async fn post(https: &Https, path: &str, body: Value) -> Value {
    let (code, created) = https
        .send(
            reqwest::Method::POST,
            path,
            "application/json",
            serde_json::to_vec(&body).expect("JSON"),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    created
}

/// The raw text of a GET: what tests of byte order read.
async fn get_text(https: &Https, path: &str) -> String {
    https
        .send_with(reqwest::Method::GET, path, &[], vec![])
        .await
        .text()
        .await
        .expect("a body")
}

async fn get(https: &Https, path: &str) -> Value {
    let (code, found) = https.send(reqwest::Method::GET, path, "", vec![]).await;
    assert_eq!(code, 200, "{found}");
    found
}

#[tokio::test]
async fn watch_is_true_unless_zero_or_false() {
    let (_up, https) = up().await;
    post(&https, CONFIG_MAPS, json!({"metadata": {"name": "w"}})).await;
    for value in ["True", "TRUE", "t", "yes", "1", ""] {
        let response = https
            .send_with(
                reqwest::Method::GET,
                &format!("{CONFIG_MAPS}?watch={value}&timeoutSeconds=1"),
                &[],
                vec![],
            )
            .await;
        let text = response.text().await.expect("the stream");
        let first: Value =
            serde_json::from_str(text.lines().next().unwrap_or("")).expect("an event");
        assert_eq!(first["type"], "ADDED", "watch={value:?}: {text}");
    }
    for value in ["false", "False", "0"] {
        let list = get(&https, &format!("{CONFIG_MAPS}?watch={value}")).await;
        assert_eq!(list["kind"], "ConfigMapList", "watch={value:?}");
    }
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn json_comes_in_upstream_field_order() {
    let (_up, https) = up().await;
    let created = post(
        &https,
        CONFIG_MAPS,
        json!({"data": {"b": "2", "a": "1"}, "metadata": {"labels": {"z": "1", "y": "2"}, "name": "ordered"}}),
    )
    .await;
    let text = get_text(&https, &format!("{CONFIG_MAPS}/ordered")).await;
    assert!(
        text.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"ordered","namespace":"default","uid":"#),
        "{text}"
    );
    // Serde keeps the order of the text (preserve_order), so keys show it.
    let read: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        keys(&read["metadata"]),
        [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "labels"
        ]
    );
    assert_eq!(keys(&read["metadata"]["labels"]), ["y", "z"]);
    assert_eq!(keys(&read["data"]), ["a", "b"]);
    assert_eq!(keys(&created), ["kind", "apiVersion", "metadata", "data"]);
    let missing = get_text(&https, &format!("{CONFIG_MAPS}/missing")).await;
    let status: Value = serde_json::from_str(&missing).expect("JSON");
    assert_eq!(
        keys(&status),
        [
            "kind",
            "apiVersion",
            "metadata",
            "status",
            "message",
            "reason",
            "details",
            "code"
        ]
    );
}

#[tokio::test]
async fn every_verb_answers_with_partial_object_metadata_when_asked() {
    let (_up, https) = up().await;
    post(
        &https,
        CONFIG_MAPS,
        json!({"metadata": {"name": "m"}, "data": {"a": "b"}}),
    )
    .await;
    let accept = (
        "Accept",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    );
    let requests: [(reqwest::Method, String, &str, Value); 4] = [
        (
            reqwest::Method::PATCH,
            format!("{CONFIG_MAPS}/m"),
            "application/merge-patch+json",
            json!({"data": {"a": "c"}}),
        ),
        (
            reqwest::Method::PUT,
            format!("{CONFIG_MAPS}/m"),
            "application/json",
            json!({"metadata": {"name": "m"}, "data": {"a": "d"}}),
        ),
        (
            reqwest::Method::POST,
            CONFIG_MAPS.to_string(),
            "application/json",
            json!({"metadata": {"name": "n"}}),
        ),
        (
            reqwest::Method::DELETE,
            format!("{CONFIG_MAPS}/m"),
            "application/json",
            json!({}),
        ),
    ];
    for (method, path, content_type, body) in requests {
        let response = https
            .send_with(
                method.clone(),
                &path,
                &[accept, ("Content-Type", content_type)],
                serde_json::to_vec(&body).expect("JSON"),
            )
            .await;
        let (code, object) = answer(response).await;
        assert!(code < 300, "{method} {path}: {code} {object}");
        assert_eq!(
            object["kind"], "PartialObjectMetadata",
            "{method} {path}: {object}"
        );
        assert!(object.get("data").is_none(), "{object}");
    }
}

#[tokio::test]
async fn token_reviews_honour_audiences() {
    let (_up, https) = up().await;
    let token_for = |audiences: Value| {
        serde_json::to_vec(&json!({"spec": {"audiences": audiences}})).expect("JSON")
    };
    https
        .wait_for("/api/v1/namespaces/default/serviceaccounts/default")
        .await;
    let path = "/api/v1/namespaces/default/serviceaccounts/default/token";
    let (_, api) = https
        .send(
            reqwest::Method::POST,
            path,
            "application/json",
            token_for(json!(["api"])),
        )
        .await;
    let (_, default) = https
        .send(
            reqwest::Method::POST,
            path,
            "application/json",
            token_for(json!([])),
        )
        .await;
    let review = |token: &Value, audiences: Value| {
        serde_json::to_vec(&json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token["status"]["token"], "audiences": audiences},
        }))
        .expect("JSON")
    };
    let reviews = "/apis/authentication.k8s.io/v1/tokenreviews";
    let (_, for_api) = https
        .send(
            reqwest::Method::POST,
            reviews,
            "application/json",
            review(&api, json!(["api"])),
        )
        .await;
    assert_eq!(for_api["status"]["authenticated"], true, "{for_api}");
    assert_eq!(for_api["status"]["audiences"], json!(["api"]));
    let (_, default_for_api) = https
        .send(
            reqwest::Method::POST,
            reviews,
            "application/json",
            review(&default, json!(["api"])),
        )
        .await;
    assert_eq!(
        default_for_api["status"]["authenticated"], false,
        "{default_for_api}"
    );
    let (_, api_for_default) = https
        .send(
            reqwest::Method::POST,
            reviews,
            "application/json",
            review(&api, json!([])),
        )
        .await;
    assert_eq!(
        api_for_default["status"]["authenticated"], false,
        "{api_for_default}"
    );
}

#[tokio::test]
async fn an_unset_boolean_matches_false_in_a_field_selector() {
    let (_up, https) = up().await;
    post(&https, "/api/v1/nodes", json!({"metadata": {"name": "n1"}})).await;
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    };
    let unschedulable_false = get(
        &https,
        "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse",
    )
    .await;
    assert_eq!(names(&unschedulable_false), ["n1"]);
    let unschedulable_true = get(
        &https,
        "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue",
    )
    .await;
    assert!(names(&unschedulable_true).is_empty());
}

const SECRETS: &str = "/api/v1/namespaces/default/secrets";

#[tokio::test]
async fn secret_string_data_is_merged_on_every_write() {
    let (up, https) = up().await;
    let created = post(
        &https,
        SECRETS,
        json!({"metadata": {"name": "s"}, "stringData": {"a": "one"}}),
    )
    .await;
    assert_eq!(created["data"], json!({"a": "b25l"}));
    assert!(created.get("stringData").is_none());
    let (_, replaced) = https
        .send(
            reqwest::Method::PUT,
            &format!("{SECRETS}/s"),
            "application/json",
            serde_json::to_vec(&json!({"metadata": {"name": "s"}, "data": {"a": "b25l"}, "stringData": {"b": "two"}})).expect("JSON"),
        )
        .await;
    assert_eq!(
        replaced["data"],
        json!({"a": "b25l", "b": "dHdv"}),
        "{replaced}"
    );
    let (_, patched) = https
        .send(
            reqwest::Method::PATCH,
            &format!("{SECRETS}/s"),
            "application/merge-patch+json",
            br#"{"stringData":{"a":"three"}}"#.to_vec(),
        )
        .await;
    assert_eq!(patched["data"]["a"], "dGhyZWU=", "{patched}");
    up.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\nstringData:\n  c: four\n",
    );
    let applied = get(&https, &format!("{SECRETS}/applied")).await;
    assert_eq!(applied["data"], json!({"c": "Zm91cg=="}), "{applied}");
    assert!(applied.get("stringData").is_none());
}

const SERVICES: &str = "/api/v1/namespaces/default/services";

#[tokio::test]
async fn defaults_apply_to_every_write() {
    let (up, https) = up().await;
    let created = post(
        &https,
        SERVICES,
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"name": "a", "port": 80}]}}),
    )
    .await;
    let mut replaced = created.clone();
    replaced["spec"]["ports"] = json!([{"name": "a", "port": 80}, {"name": "b", "port": 81}]);
    let (code, replaced) = https
        .send(
            reqwest::Method::PUT,
            &format!("{SERVICES}/web"),
            "application/json",
            serde_json::to_vec(&replaced).expect("JSON"),
        )
        .await;
    assert_eq!(code, 200, "{replaced}");
    assert_eq!(
        replaced["spec"]["ports"][1]["protocol"], "TCP",
        "{replaced}"
    );
    assert_eq!(replaced["spec"]["ports"][1]["targetPort"], 81, "{replaced}");
    up.ok(&["create", "deployment", "d", "--image=nginx:1.27"]);
    let (code, patched) = https
        .send(
            reqwest::Method::PATCH,
            "/apis/apps/v1/namespaces/default/deployments/d",
            "application/strategic-merge-patch+json",
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox","ports":[{"containerPort":80}]}]}}}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    let side = patched["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "side"))
        .cloned()
        .expect("the added container");
    assert_eq!(side["imagePullPolicy"], "Always", "{side}");
    assert_eq!(side["terminationMessagePolicy"], "File", "{side}");
    assert_eq!(side["ports"][0]["protocol"], "TCP", "{side}");
}

#[tokio::test]
async fn a_service_with_two_ports_of_one_name_is_invalid() {
    let (_up, https) = up().await;
    let body = json!({"metadata": {"name": "dup"}, "spec": {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]}});
    let answer = https
        .send(
            reqwest::Method::POST,
            SERVICES,
            "application/json",
            serde_json::to_vec(&body).expect("JSON"),
        )
        .await;
    assert_status(&answer, 422, "Invalid");
    assert_eq!(
        answer.1["details"]["causes"][0]["field"],
        "spec.ports[1].name"
    );
    assert_eq!(
        answer.1["details"]["causes"][0]["message"],
        "Duplicate value: \"http\""
    );
}

#[tokio::test]
async fn apply_removes_the_list_entries_it_no_longer_applies() {
    let (up, https) = up().await;
    let service = |port: u16| {
        format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: applied\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: {port}\n")
    };
    up.ok_stdin(&["apply", "--server-side", "-f", "-"], &service(8080));
    up.ok_stdin(&["apply", "--server-side", "-f", "-"], &service(9090));
    let read = get(&https, &format!("{SERVICES}/applied")).await;
    let ports: Vec<&Value> = read["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["port"])
        .collect();
    assert_eq!(ports, [&json!(9090)], "{read}");
    let managers: Vec<&Value> = read["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| &m["manager"])
        .collect();
    assert_eq!(managers, [&json!("kubectl")], "{read}");
}

#[tokio::test]
async fn component_statuses_are_served_with_the_deprecation_warning() {
    let (up, https) = up().await;
    let response = https
        .send_with(
            reqwest::Method::GET,
            "/api/v1/componentstatuses",
            &[],
            vec![],
        )
        .await;
    let warning = response
        .headers()
        .get("warning")
        .and_then(|w| w.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(
        warning,
        "299 - \"v1 ComponentStatus is deprecated in v1.19+\""
    );
    let (_, list) = answer(response).await;
    let etcd = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "etcd-0"))
        .cloned()
        .expect("etcd-0");
    assert_eq!(etcd["conditions"][0]["status"], "True", "{etcd}");
    let missing = https
        .send(
            reqwest::Method::GET,
            "/api/v1/componentstatuses/nope",
            "",
            vec![],
        )
        .await;
    assert_status(&missing, 404, "NotFound");
    assert_eq!(missing.1["message"], "componentstatus \"nope\" not found");
    let table = up.ok(&["get", "componentstatuses"]);
    assert!(table.contains("etcd-0"), "{table}");
}

#[tokio::test]
async fn ephemeral_containers_can_be_added_but_not_removed() {
    let (_up, https) = up().await;
    post(
        &https,
        "/api/v1/namespaces/default/pods",
        // Left alone by the scheduler, whose status writes would race the PUT below.
        json!({"metadata": {"name": "p"}, "spec": {"schedulerName": "elsewhere", "containers": [{"name": "app", "image": "nginx:1.27"}]}}),
    )
    .await;
    let path = "/api/v1/namespaces/default/pods/p/ephemeralcontainers";
    let (code, pod) = https
        .send(
            reqwest::Method::PATCH,
            path,
            "application/strategic-merge-patch+json",
            br#"{"spec":{"ephemeralContainers":[{"name":"debugger","image":"busybox","stdin":true,"tty":true}]}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{pod}");
    assert_eq!(pod["spec"]["ephemeralContainers"][0]["name"], "debugger");
    let read = get(&https, path).await;
    assert_eq!(read["kind"], "Pod");
    let mut removed = read.clone();
    removed["spec"]["ephemeralContainers"] = json!([]);
    let answer = https
        .send(
            reqwest::Method::PUT,
            path,
            "application/json",
            serde_json::to_vec(&removed).expect("JSON"),
        )
        .await;
    assert_status(&answer, 422, "Invalid");
}

#[tokio::test]
async fn certificate_signing_requests_are_approved_through_their_subresource() {
    let (up, https) = up().await;
    let key = rcgen::KeyPair::generate().expect("a key");
    let params = rcgen::CertificateParams::new(vec!["jane".to_string()]).expect("params");
    let request = params
        .serialize_request(&key)
        .expect("a CSR")
        .pem()
        .expect("PEM");
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(request);
    post(
        &https,
        "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        json!({"metadata": {"name": "jane"}, "spec": {"request": encoded, "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}),
    )
    .await;
    up.ok(&["certificate", "approve", "jane"]);
    let csr = get(
        &https,
        "/apis/certificates.k8s.io/v1/certificatesigningrequests/jane",
    )
    .await;
    assert_eq!(csr["status"]["conditions"][0]["type"], "Approved", "{csr}");
    let (code, status) = https
        .send(
            reqwest::Method::PATCH,
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/jane/status",
            "application/merge-patch+json",
            br#"{"status":{"certificate":"Y2VydA=="}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["status"]["certificate"], "Y2VydA==");
}

#[tokio::test]
async fn bootstrap_rbac_roles_and_bindings_exist() {
    let (up, https) = up().await;
    let names = up.ok(&["get", "clusterroles", "-o", "name"]);
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
    ] {
        assert!(
            names
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{role}")),
            "{role}: {names}"
        );
    }
    let binding = get(
        &https,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin",
    )
    .await;
    assert_eq!(
        binding["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}])
    );
    let view = get(
        &https,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
    )
    .await;
    assert_eq!(
        view["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]
            ["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    assert!(
        view["rules"].as_array().is_some_and(|r| !r.is_empty()),
        "{view}"
    );
}

#[tokio::test]
async fn a_pod_resize_changes_only_container_resources() {
    let (_up, https) = up().await;
    post(
        &https,
        "/api/v1/namespaces/default/pods",
        json!({"metadata": {"name": "r"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m"}}}]}}),
    )
    .await;
    let (code, pod) = https
        .send(
            reqwest::Method::PATCH,
            "/api/v1/namespaces/default/pods/r/resize",
            "application/strategic-merge-patch+json",
            br#"{"spec":{"containers":[{"name":"app","image":"busybox","resources":{"requests":{"cpu":"200m"}}}]}}"#.to_vec(),
        )
        .await;
    assert_eq!(code, 200, "{pod}");
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "200m"
    );
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.27");
}

#[tokio::test]
async fn proxies_say_what_they_cannot_reach() {
    let (_up, https) = up().await;
    let service = https
        .send(
            reqwest::Method::GET,
            "/api/v1/namespaces/default/services/kubernetes/proxy",
            "",
            vec![],
        )
        .await;
    assert_status(&service, 503, "ServiceUnavailable");
    let missing = https
        .send(
            reqwest::Method::GET,
            "/api/v1/namespaces/default/services/missing/proxy",
            "",
            vec![],
        )
        .await;
    assert_status(&missing, 404, "NotFound");
}
