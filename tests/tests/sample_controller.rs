//! The example operator end to end: `keelson up --simulated-nodes 3` serves the `Foo` type
//! of `apis/src/crds/` as a built-in and runs its reconciler; a Foo gets its Deployment and
//! running pods, reports them, scales with the Foo and goes with it. The same type works
//! from kube-rs, with server-side apply.

use std::time::Duration;

use keelson_apis::crds::foo::{Foo, FooSpec};
use keelson_tests::cluster::KeelsonUp;
use keelson_tests::simulated::get_json;
use kube::api::{Api, Patch, PatchParams};

const FOO: &str = r#"
apiVersion: samplecontroller.k8s.io/v1alpha1
kind: Foo
metadata:
  name: example-foo
spec:
  deploymentName: example-foo
  replicas: 3
"#;

fn running_pods(k: &KeelsonUp) -> usize {
    get_json(k, &["pods", "-l", "controller=example-foo"])["items"]
        .as_array()
        .map_or(0, |pods| {
            pods.iter()
                .filter(|p| {
                    p["status"]["phase"] == "Running"
                        && p["metadata"]["deletionTimestamp"].is_null()
                })
                .count()
        })
}

fn available(k: &KeelsonUp) -> serde_json::Value {
    get_json(k, &["foo", "example-foo"])["status"]["availableReplicas"].clone()
}

#[test]
fn a_foo_gets_its_deployment_and_running_pods_and_reports_them() {
    let k = KeelsonUp::start(&["--simulated-nodes", "3"]);
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.eventually(Duration::from_secs(60), "3 running pods", || {
        running_pods(&k) == 3
    });
    let deployment = get_json(&k, &["deployment", "example-foo"]);
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["metadata"]["ownerReferences"][0]["kind"], "Foo");
    k.eventually(Duration::from_secs(30), "availableReplicas 3", || {
        available(&k) == 3
    });
    let table = k.ok(&["get", "foo", "example-foo"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|row| row.contains("example-foo   3          3")),
        "{table}"
    );
}

#[test]
fn scaling_the_foo_scales_its_deployment() {
    let k = KeelsonUp::start(&["--simulated-nodes", "3"]);
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.eventually(Duration::from_secs(60), "availableReplicas 3", || {
        available(&k) == 3
    });
    k.ok(&["scale", "foo", "example-foo", "--replicas=5"]);
    k.eventually(Duration::from_secs(60), "5 running pods", || {
        running_pods(&k) == 5
    });
    k.eventually(Duration::from_secs(30), "availableReplicas 5", || {
        available(&k) == 5
    });
    assert_eq!(
        get_json(&k, &["deployment", "example-foo"])["spec"]["replicas"],
        5
    );
}

#[test]
fn deleting_the_foo_deletes_its_deployment() {
    let k = KeelsonUp::start(&["--simulated-nodes", "3"]);
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.eventually(Duration::from_secs(60), "the deployment", || {
        k.kubectl(&["get", "deployment", "example-foo"])
            .status
            .success()
    });
    k.ok(&["delete", "foo", "example-foo"]);
    k.eventually(Duration::from_secs(60), "the deployment to go", || {
        !k.kubectl(&["get", "deployment", "example-foo"])
            .status
            .success()
    });
}

#[test]
fn a_deployment_of_that_name_made_by_someone_else_is_left_alone() {
    let k = KeelsonUp::start(&[]);
    k.ok(&[
        "create",
        "deployment",
        "example-foo",
        "--image=busybox",
        "--replicas=1",
    ]);
    k.ok_stdin(&["apply", "-f", "-"], FOO);
    k.eventually(
        Duration::from_secs(30),
        "an ErrResourceExists event",
        || {
            k.ok(&["get", "events", "--field-selector=reason=ErrResourceExists"])
                .contains("already exists and is not managed by Foo")
        },
    );
    assert_eq!(
        get_json(&k, &["deployment", "example-foo"])["spec"]["replicas"],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_derived_type_is_applied_and_read_with_kube_rs() {
    let k = KeelsonUp::start(&[]);
    let client = keelson_tests::in_process::https_client(&k.kubeconfig).await;
    let foos: Api<Foo> = Api::namespaced(client, "default");
    let foo = Foo::new(
        "applied",
        FooSpec {
            deployment_name: "applied".into(),
            replicas: 2,
        },
    );
    let params = PatchParams::apply("sample-test");
    let applied = foos
        .patch("applied", &params, &Patch::Apply(&foo))
        .await
        .expect("server-side apply of a Foo");
    assert_eq!(applied.spec.replicas, 2);
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"sample-test".to_string()),
        "{managers:?}"
    );
    let listed = foos.list(&Default::default()).await.expect("list Foos");
    assert!(listed
        .items
        .iter()
        .any(|f| f.spec.deployment_name == "applied"));
    let bad = Foo::new(
        "bad",
        FooSpec {
            deployment_name: "bad".into(),
            replicas: 11,
        },
    );
    let err = foos
        .create(&Default::default(), &bad)
        .await
        .expect_err("11 replicas refused");
    let kube::Error::Api(status) = err else {
        panic!("expected a Status, got {err:?}");
    };
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("should be less than or equal to 10"),
        "{}",
        status.message
    );
}
