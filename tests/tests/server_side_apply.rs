//! Server-side apply with field management, through the real kubectl and kube-rs: the
//! managedFields kubectl reads after it takes a Deployment over from client-side apply,
//! conflicts between field managers and forcing them, and fields a manager stops applying.

use k8s_openapi::api::core::v1::ConfigMap;
use keelson_tests::cluster::KeelsonUp;
use keelson_tests::in_process::InProcess;
use keelson_tests::simulated::get_json;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::{json, Value};

fn deployment(replicas: u32, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n{labels}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
    )
}

const APP_AND_TIER: &str = "    app: web\n    tier: front\n";
const APP_ONLY: &str = "    app: web\n";

fn read(k: &KeelsonUp) -> Value {
    get_json(k, &["deployment", "web", "--show-managed-fields"])
}

/// The entry of `manager` with `operation`.
fn entry<'v>(obj: &'v Value, manager: &str, operation: &str) -> Option<&'v Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

#[test]
fn server_side_apply_takes_a_deployment_over_from_client_side_apply() {
    let k = KeelsonUp::start(&[]);
    k.ok_stdin(&["apply", "-f", "-"], &deployment(2, APP_AND_TIER));
    let before = read(&k);
    let csa = entry(&before, "kubectl-client-side-apply", "Update")
        .unwrap_or_else(|| panic!("a client-side apply entry: {before}"));
    assert_eq!(csa["fieldsV1"]["f:spec"]["f:replicas"], json!({}), "{csa}");
    assert!(
        csa["fieldsV1"]["f:metadata"]["f:annotations"]
            .get("f:kubectl.kubernetes.io/last-applied-configuration")
            .is_some(),
        "{csa}"
    );

    // The same manifest applied server-side: no conflict, and kubectl then moves the
    // client-side entry's fields to its own Apply entry.
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &deployment(2, APP_AND_TIER),
    );
    let after = read(&k);
    assert!(
        entry(&after, "kubectl-client-side-apply", "Update").is_none(),
        "{after}"
    );
    let applied = entry(&after, "kubectl", "Apply").unwrap_or_else(|| panic!("{after}"));
    assert_eq!(applied["apiVersion"], "apps/v1");
    assert_eq!(applied["fieldsType"], "FieldsV1");
    assert!(applied["time"].is_string(), "{applied}");
    assert!(applied.get("subresource").is_none(), "{applied}");
    let fields = &applied["fieldsV1"];
    assert_eq!(
        fields["f:metadata"]["f:labels"]["f:tier"],
        json!({}),
        "{fields}"
    );
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}), "{fields}");
    assert_eq!(fields["f:spec"]["f:selector"], json!({}), "{fields}");
    let container =
        &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(container["f:image"], json!({}), "{fields}");
    assert!(
        fields["f:metadata"]["f:annotations"]
            .get("f:kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "the migration leaves the annotation unowned: {fields}"
    );

    // Now only kubectl applies the label: dropping it removes it.
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &deployment(2, APP_ONLY),
    );
    let dropped = read(&k);
    assert_eq!(
        dropped["metadata"]["labels"],
        json!({"app": "web"}),
        "{dropped}"
    );
}

#[test]
fn two_field_managers_conflict_on_replicas_until_one_forces() {
    let k = KeelsonUp::start(&[]);
    k.ok_stdin(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        &deployment(1, APP_ONLY),
    );
    let bob =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n";
    let out = k.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
        bob,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"),
        "{stderr}"
    );
    assert_eq!(read(&k)["spec"]["replicas"], 1);

    k.ok_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            "-",
        ],
        bob,
    );
    let forced = read(&k);
    assert_eq!(forced["spec"]["replicas"], 3);
    let alice = entry(&forced, "alice", "Apply").unwrap_or_else(|| panic!("{forced}"));
    assert!(
        alice["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "{alice}"
    );
    let bob = entry(&forced, "bob", "Apply").unwrap_or_else(|| panic!("{forced}"));
    assert_eq!(bob["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn applying_the_value_another_manager_set_is_no_conflict() {
    let k = KeelsonUp::start(&[]);
    k.ok_stdin(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        &deployment(2, APP_ONLY),
    );
    k.ok_stdin(
        &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
    );
    let shared = read(&k);
    for manager in ["alice", "bob"] {
        let e = entry(&shared, manager, "Apply").unwrap_or_else(|| panic!("{shared}"));
        assert_eq!(
            e["fieldsV1"]["f:spec"]["f:replicas"],
            json!({}),
            "{manager}"
        );
    }
}

#[test]
fn a_field_dropped_from_the_applied_manifest_is_removed() {
    let k = KeelsonUp::start(&[]);
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n{data}")
    };
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &cm("  a: one\n  b: two\n"),
    );
    k.ok_stdin(&["apply", "--server-side", "-f", "-"], &cm("  a: one\n"));
    let read = get_json(&k, &["configmap", "settings", "--show-managed-fields"]);
    assert_eq!(read["data"], json!({"a": "one"}), "{read}");
    let applied = entry(&read, "kubectl", "Apply").unwrap_or_else(|| panic!("{read}"));
    assert_eq!(applied["fieldsV1"], json!({"f:data": {"f:a": {}}}));
}

#[test]
fn kubectl_edits_record_update_entries_named_after_the_client() {
    let k = KeelsonUp::start(&[]);
    k.ok(&["create", "configmap", "plain", "--from-literal=a=1"]);
    k.ok(&["label", "configmap", "plain", "team=x"]);
    let read = get_json(&k, &["configmap", "plain", "--show-managed-fields"]);
    let created = entry(&read, "kubectl-create", "Update").unwrap_or_else(|| panic!("{read}"));
    assert_eq!(created["fieldsV1"], json!({"f:data": {".": {}, "f:a": {}}}));
    let labelled = entry(&read, "kubectl-label", "Update").unwrap_or_else(|| panic!("{read}"));
    assert_eq!(
        labelled["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}})
    );
}

/// An applied ConfigMap; `data` null leaves the field out.
fn settings(data: Value) -> Patch<Value> {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}});
    if !data.is_null() {
        cm["data"] = data;
    }
    Patch::Apply(cm)
}

fn managers(cm: &ConfigMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = cm
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            (
                e.manager.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn kube_rs_appliers_conflict_force_and_give_fields_up() {
    let server = InProcess::start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    api.patch(
        "ssa",
        &PatchParams::apply("a"),
        &settings(json!({"k": "1", "shared": "s"})),
    )
    .await
    .expect("a creates");

    // b changing a's field is refused, with upstream's status.
    let err = api
        .patch(
            "ssa",
            &PatchParams::apply("b"),
            &settings(json!({"k": "2"})),
        )
        .await
        .expect_err("a conflict");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}");
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"a\": .data.k"
    );
    let causes = status.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".data.k");
    assert_eq!(causes[0].message, "conflict with \"a\"");

    // b forces, and shares the field it sets to the value it has.
    let forced = api
        .patch(
            "ssa",
            &PatchParams::apply("b").force(),
            &settings(json!({"k": "2", "shared": "s"})),
        )
        .await
        .expect("b forces");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        managers(&forced),
        [("a".into(), "Apply".into()), ("b".into(), "Apply".into())]
    );

    // a gives `shared` up: b still owns it, so it stays. b gives up both: they go.
    api.patch(
        "ssa",
        &PatchParams::apply("a"),
        &settings(json!({"mine": "m"})),
    )
    .await
    .expect("a releases shared");
    let kept = api.get("ssa").await.expect("get");
    assert_eq!(
        kept.data
            .clone()
            .unwrap_or_default()
            .get("shared")
            .map(String::as_str),
        Some("s")
    );
    let released = api
        .patch("ssa", &PatchParams::apply("b"), &settings(Value::Null))
        .await
        .expect("b releases");
    let data = released.data.clone().unwrap_or_default();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["mine"], "{data:?}");
    assert_eq!(managers(&released), [("a".into(), "Apply".into())]);
}
