//! Shared informers against an in-process server: a loop that subscribes after the
//! informer listed still sees every existing object first, as an informer's late handler
//! gets an add for each (without it, a controller started late would never reconcile the
//! objects that do not change).

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_reconcilers::Context;
use keelson_tests::in_process::InProcess;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn a_late_subscriber_sees_the_existing_objects() {
    let server = InProcess::start().await;
    let client = server.client();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let existing: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "existing"}})).expect("a ConfigMap");
    configmaps
        .create(&PostParams::default(), &existing)
        .await
        .expect("create");
    let ctx = Context::new(client);
    let informer = ctx.informers.core_v1_configmaps();
    let mut early = informer.subscribe().boxed();
    informer.ready().await;
    // Listed already: a new subscriber still gets the object first.
    let mut late = informer.subscribe().boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), late.next())
        .await
        .expect("the late subscriber got nothing")
        .expect("a ConfigMap");
    assert_eq!(first.metadata.name.as_deref(), Some("existing"));
    let first = tokio::time::timeout(Duration::from_secs(10), early.next())
        .await
        .expect("the early subscriber got nothing")
        .expect("a ConfigMap");
    assert_eq!(first.metadata.name.as_deref(), Some("existing"));
}
