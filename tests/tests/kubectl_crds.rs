//! Custom resources as a user drives them with the real kubectl: the sample controller's
//! `Foo` CRD applied as YAML is served at once, with its printer columns, short names and
//! category, schema defaults, pruning and validation, CEL rules, and status and scale
//! subresources; deleting the CRD deletes its objects.

use std::time::Duration;

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::helm::fixture;
use keelson_tests::simulated::{condition, get_json};

const FOO: &str = r#"
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata:
  name: example-foo
spec:
  deploymentName: example-foo
  replicas: 3
"#;

/// `keelson up` with the Foo CRD applied and Established. The sample controller, which
/// `keelson up` runs for its own Foo type, is left out: these tests write Foos' status.
fn with_foo_crd() -> KeelsonUp {
    let k = KeelsonUp::start(&["--controllers=*,-foo-controller"]);
    let crd = fixture("crds/foo.yaml");
    let crd = crd.to_string_lossy();
    k.ok(&["apply", "-f", &crd]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/foos.samplecontroller.k8s.io",
        "--timeout=30s",
    ]);
    k
}

#[test]
fn an_applied_crd_is_established_and_its_names_accepted() {
    let k = with_foo_crd();
    let crd = get_json(&k, &["crd", "foos.samplecontroller.k8s.io"]);
    assert_eq!(
        condition(&crd, "NamesAccepted").map(|c| c["status"].clone()),
        Some("True".into())
    );
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Foo");
    assert_eq!(
        crd["status"]["storedVersions"],
        serde_json::json!(["v1alpha1"])
    );
    let resources = k.ok(&["api-resources", "--api-group=samplecontroller.k8s.io"]);
    assert!(resources.contains("foos"), "{resources}");
    assert!(resources.contains("fo "), "{resources}");
    assert!(resources.contains("Foo"), "{resources}");
}

#[test]
fn objects_are_created_and_listed_with_the_printer_columns() {
    let k = with_foo_crd();
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    let table = k.ok(&["get", "foos"]);
    let header = table.lines().next().unwrap_or_default();
    for column in ["NAME", "DEPLOYMENT", "REPLICAS", "AVAILABLE", "AGE"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with("example-foo"), "{table}");
    assert!(row.contains(" 3 "), "{table}");
    // The short name and the `all` category reach it too.
    assert!(k.ok(&["get", "fo"]).contains("example-foo"));
    assert!(k
        .ok(&["get", "all"])
        .contains("foo.samplecontroller.k8s.io/example-foo"));
}

#[test]
fn defaults_apply_and_unknown_fields_are_pruned() {
    let k = with_foo_crd();
    let manifest = r#"
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata:
  name: defaulted
spec:
  deploymentName: defaulted
  colour: blue
"#;
    let out = k.kubectl_stdin(&["create", "--validate=false", "-f", "-"], manifest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let foo = get_json(&k, &["foo", "defaulted"]);
    assert_eq!(foo["spec"]["replicas"], 1);
    assert!(foo["spec"].get("colour").is_none(), "{foo}");
    let strict = k.kubectl_stdin(
        &["create", "--validate=strict", "-f", "-"],
        &manifest.replace("defaulted", "strict"),
    );
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success());
    assert!(stderr.contains("unknown field \"spec.colour\""), "{stderr}");
}

#[test]
fn schema_violations_are_refused_with_upstreams_message() {
    let k = with_foo_crd();
    let err = k
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &FOO.replace("replicas: 3", "replicas: 11"),
        )
        .stderr;
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
        "{err}"
    );
    let err = k
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &FOO.replace("  deploymentName: example-foo\n", ""),
        )
        .stderr;
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("spec.deploymentName: Required value"), "{err}");
}

#[test]
fn a_cel_transition_rule_keeps_a_field_immutable() {
    let k = with_foo_crd();
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    let err = k.fails(&[
        "patch",
        "foo",
        "example-foo",
        "--type=merge",
        "-p",
        r#"{"spec":{"deploymentName":"other"}}"#,
    ]);
    assert!(
        err.contains("spec.deploymentName: Invalid value: \"other\": deploymentName is immutable"),
        "{err}"
    );
    // Other fields still change.
    k.ok(&[
        "patch",
        "foo",
        "example-foo",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":5}}"#,
    ]);
    assert_eq!(get_json(&k, &["foo", "example-foo"])["spec"]["replicas"], 5);
}

#[test]
fn status_and_scale_subresources_change_only_their_part() {
    let k = with_foo_crd();
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    // The main resource ignores status; the status subresource takes it.
    k.ok(&[
        "patch",
        "foo",
        "example-foo",
        "--type=merge",
        "-p",
        r#"{"status":{"availableReplicas":2}}"#,
    ]);
    assert!(get_json(&k, &["foo", "example-foo"])["status"]["availableReplicas"].is_null());
    k.ok(&[
        "patch",
        "foo",
        "example-foo",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"availableReplicas":2}}"#,
    ]);
    let foo = get_json(&k, &["foo", "example-foo"]);
    assert_eq!(foo["status"]["availableReplicas"], 2);
    assert_eq!(foo["metadata"]["generation"], 1);
    k.ok(&["scale", "foo", "example-foo", "--replicas=7"]);
    let foo = get_json(&k, &["foo", "example-foo"]);
    assert_eq!(foo["spec"]["replicas"], 7);
    assert_eq!(foo["metadata"]["generation"], 2);
    let scale = get_json(&k, &["foo", "example-foo", "--subresource=scale"]);
    assert_eq!(scale["spec"]["replicas"], 7);
    assert_eq!(scale["status"]["replicas"], 2);
}

#[test]
fn explain_describes_the_custom_kind() {
    let k = with_foo_crd();
    let out = k.ok(&["explain", "foo.spec"]);
    assert!(out.contains("deploymentName"), "{out}");
    assert!(
        out.contains("The name of the Deployment this Foo owns."),
        "{out}"
    );
}

#[test]
fn watching_custom_objects_sees_their_changes() {
    let k = with_foo_crd();
    let mut watch = k
        .kubectl_command(&[
            "get",
            "foos",
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl get --watch");
    std::thread::sleep(Duration::from_secs(1));
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.ok(&["delete", "foo", "example-foo"]);
    std::thread::sleep(Duration::from_secs(1));
    let _ = watch.kill();
    let out = watch.wait_with_output().expect("watch output");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains(r#""type":"ADDED""#), "{out}");
    assert!(out.contains(r#""type":"DELETED""#), "{out}");
}

#[test]
fn deleting_the_crd_deletes_its_objects_and_stops_serving_it() {
    let k = with_foo_crd();
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.ok(&[
        "delete",
        "crd",
        "foos.samplecontroller.k8s.io",
        "--timeout=30s",
    ]);
    let foos = "/apis/samplecontroller.k8s.io/v1alpha1/namespaces/default/foos";
    k.eventually(Duration::from_secs(10), "foos to be gone", || {
        !k.kubectl(&["get", "--raw", foos]).status.success()
    });
    let err = k.fails(&["get", "--raw", foos]);
    assert!(
        err.contains("the server could not find the requested resource"),
        "{err}"
    );
    let resources = k.ok(&["api-resources"]);
    assert!(
        !resources.contains("samplecontroller.k8s.io"),
        "{resources}"
    );
    // Made again, the CRD serves an empty resource: the old objects went with it.
    let crd = fixture("crds/foo.yaml");
    k.ok(&["apply", "-f", &crd.to_string_lossy()]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/foos.samplecontroller.k8s.io",
    ]);
    let list = get_json(&k, &["foos"]);
    assert_eq!(list["items"], serde_json::json!([]));
}

#[test]
fn a_crd_whose_names_are_taken_is_not_established() {
    let k = with_foo_crd();
    let crd = std::fs::read_to_string(fixture("crds/foo.yaml")).expect("fixture");
    let clash = crd
        .replace(
            "name: foos.samplecontroller.k8s.io",
            "name: bars.samplecontroller.k8s.io",
        )
        .replace("plural: foos", "plural: bars");
    k.ok_stdin(&["apply", "-f", "-"], &clash);
    k.eventually(Duration::from_secs(10), "NamesAccepted=False", || {
        let crd = get_json(&k, &["crd", "bars.samplecontroller.k8s.io"]);
        condition(&crd, "NamesAccepted").is_some_and(|c| c["status"] == "False")
    });
    let crd = get_json(&k, &["crd", "bars.samplecontroller.k8s.io"]);
    assert_eq!(
        condition(&crd, "Established").map(|c| c["status"].clone()),
        Some("False".into())
    );
    assert!(!k.kubectl(&["get", "bars"]).status.success());
}

#[test]
fn a_webhook_conversion_is_refused_with_a_clear_message() {
    let k = KeelsonUp::start(&[]);
    let crd = std::fs::read_to_string(fixture("crds/foo.yaml")).expect("fixture");
    let webhook = crd.replace(
        "  scope: Namespaced\n",
        "  scope: Namespaced\n  conversion:\n    strategy: Webhook\n    webhook:\n      conversionReviewVersions: [\"v1\"]\n      clientConfig:\n        url: https://example.com/convert\n",
    );
    let out = k.kubectl_stdin(&["apply", "-f", "-"], &webhook);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "spec.conversion.strategy: Unsupported value: \"Webhook\": supported values: \"None\""
        ),
        "{err}"
    );
}

const TWO_VERSIONS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, kind: CronTab}
  versions:
    - name: v1beta1
      served: true
      storage: false
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {cronSpec: {type: string}}}
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {cronSpec: {type: string}}}
    - name: v1alpha1
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
"#;

#[test]
fn several_versions_are_served_over_one_storage_version() {
    let k = KeelsonUp::start(&["--controllers=*,-foo-controller"]);
    k.ok_stdin(&["apply", "-f", "-"], TWO_VERSIONS);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
    ]);
    let beta = "/apis/stable.example.com/v1beta1/namespaces/default/crontabs";
    let made = r#"{"apiVersion":"stable.example.com/v1beta1","kind":"CronTab","metadata":{"name":"nightly"},"spec":{"cronSpec":"0 0 * * *"}}"#;
    k.ok_stdin(&["create", "-f", "-"], made);
    // Read at either served version; kubectl prefers v1, the newest GA one.
    let v1 = get_json(&k, &["crontab", "nightly"]);
    assert_eq!(v1["apiVersion"], "stable.example.com/v1");
    assert_eq!(v1["spec"]["cronSpec"], "0 0 * * *");
    let old: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "--raw", &format!("{beta}/nightly")])).expect("JSON");
    assert_eq!(old["apiVersion"], "stable.example.com/v1beta1");
    let crd = get_json(&k, &["crd", "crontabs.stable.example.com"]);
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1"]));
    // A version that is not served is not there.
    let err = k.fails(&[
        "get",
        "--raw",
        "/apis/stable.example.com/v1alpha1/namespaces/default/crontabs",
    ]);
    assert!(
        err.contains("NotFound") || err.contains("could not find"),
        "{err}"
    );
    let group: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "--raw", "/apis/stable.example.com"])).expect("JSON");
    assert_eq!(group["preferredVersion"]["version"], "v1");
}

#[test]
fn openapi_v2_and_v3_describe_the_custom_kind() {
    let k = with_foo_crd();
    let v2: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "--raw", "/openapi/v2"])).expect("JSON");
    let foo = &v2["definitions"]["io.k8s.samplecontroller.v1alpha1.Foo"];
    let maximum = foo["properties"]["spec"]["properties"]["replicas"]["maximum"].as_f64();
    assert_eq!(maximum, Some(10.0), "{foo}");
    assert_eq!(foo["x-kubernetes-group-version-kind"][0]["kind"], "Foo");
    assert!(v2["paths"]
        ["/apis/samplecontroller.k8s.io/v1alpha1/namespaces/{namespace}/foos/{name}"]["patch"]
        .is_object());
    // The built-in definitions are all still there.
    assert!(v2["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
    let v3: serde_json::Value = serde_json::from_str(&k.ok(&[
        "get",
        "--raw",
        "/openapi/v3/apis/samplecontroller.k8s.io/v1alpha1",
    ]))
    .expect("JSON");
    let patch = &v3["paths"]
        ["/apis/samplecontroller.k8s.io/v1alpha1/namespaces/{namespace}/foos/{name}"]["patch"];
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"fieldValidation"), "{patch}");
}

#[test]
fn a_terminating_crd_refuses_new_objects_until_it_is_gone() {
    let k = with_foo_crd();
    // A finalizer holds the object, and so the CRD, in deletion.
    k.ok_stdin(
        &["apply", "-f", "-"],
        &FOO.replace(
            "  name: example-foo\n",
            "  name: example-foo\n  finalizers: [\"example.com/hold\"]\n",
        ),
    );
    k.ok(&[
        "delete",
        "crd",
        "foos.samplecontroller.k8s.io",
        "--wait=false",
    ]);
    k.eventually(Duration::from_secs(10), "the CRD to be Terminating", || {
        let crd = get_json(&k, &["crd", "foos.samplecontroller.k8s.io"]);
        condition(&crd, "Terminating").is_some_and(|c| c["status"] == "True")
    });
    let err = k
        .kubectl_stdin(
            &["create", "-f", "-"],
            &FOO.replace("name: example-foo", "name: another"),
        )
        .stderr;
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("create not allowed while custom resource definition is terminating"),
        "{err}"
    );
    k.ok(&[
        "patch",
        "foo",
        "example-foo",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    k.eventually(Duration::from_secs(15), "the CRD to go", || {
        !k.kubectl(&["get", "crd", "foos.samplecontroller.k8s.io"])
            .status
            .success()
    });
}
