//! kube-rs against Keelson: CRUD, every patch type, and kube-runtime watchers (list+watch
//! and watch-list), both over HTTPS with the generated kubeconfig and in process through
//! the API server's tower service.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use keelson_tests::cluster::KeelsonUp;
use keelson_tests::in_process::InProcess;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::json;

fn config_map(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "suite": "kube-rs" } },
        "data": { "key": value },
    }))
    .expect("a ConfigMap")
}

fn api_error_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// CRUD and patches through one client.
async fn crud(client: Client) {
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &config_map("crud", "1"))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let err = api
        .create(&PostParams::default(), &config_map("crud", "1"))
        .await
        .expect_err("duplicate");
    assert_eq!(api_error_code(&err), Some(409));

    let got = api.get("crud").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("key"))
            .map(String::as_str),
        Some("1")
    );
    let listed = api
        .list(&ListParams::default().labels("suite=kube-rs"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    assert!(api
        .list(&ListParams::default().labels("suite=other"))
        .await
        .expect("list")
        .items
        .is_empty());

    let mut replaced = got.clone();
    replaced.data = Some([("key".to_string(), "2".to_string())].into());
    let replaced = api
        .replace("crud", &PostParams::default(), &replaced)
        .await
        .expect("replace");
    // The old resourceVersion is stale now.
    let err = api
        .replace("crud", &PostParams::default(), &got)
        .await
        .expect_err("stale replace");
    assert_eq!(api_error_code(&err), Some(409));

    let pp = PatchParams::default();
    api.patch(
        "crud",
        &pp,
        &Patch::Merge(json!({ "data": { "merge": "yes" } })),
    )
    .await
    .expect("merge patch");
    api.patch(
        "crud",
        &pp,
        &Patch::Strategic(json!({ "data": { "strategic": "yes" } })),
    )
    .await
    .expect("strategic patch");
    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{ "op": "add", "path": "/data/json", "value": "yes" }]))
            .expect("json patch");
    api.patch("crud", &pp, &Patch::<()>::Json(json_patch))
        .await
        .expect("json patch");
    let applied = api
        .patch("crud", &PatchParams::apply("keelson-tests"), &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "crud" }, "data": { "applied": "yes" },
        })))
        .await
        .expect("apply patch");
    let data = applied.data.unwrap_or_default();
    for key in ["merge", "strategic", "json", "applied"] {
        assert_eq!(
            data.get(key).map(String::as_str),
            Some("yes"),
            "{key} in {data:?}"
        );
    }
    assert_ne!(
        applied.metadata.resource_version,
        replaced.metadata.resource_version
    );
    // Server-side apply creates what is missing.
    let made = api
        .patch("applied", &PatchParams::apply("keelson-tests"), &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "applied" }, "data": { "a": "b" },
        })))
        .await
        .expect("apply creates");
    assert!(made.metadata.uid.is_some());

    api.delete("crud", &DeleteParams::default())
        .await
        .expect("delete");
    api.delete("applied", &DeleteParams::default())
        .await
        .expect("delete");
    let err = api.get("crud").await.expect_err("deleted");
    assert_eq!(api_error_code(&err), Some(404));
}

/// A watcher sees the initial list, then additions, changes and deletions.
async fn watch(client: Client, config: watcher::Config, name: &str) {
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(
        &PostParams::default(),
        &config_map(&format!("{name}-before"), "0"),
    )
    .await
    .expect("create");
    let mut events = watcher::watcher(api.clone(), config).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next()).await {
            Ok(Ok(Some(Event::InitApply(cm)))) => {
                initial.push(cm.metadata.name.unwrap_or_default())
            }
            Ok(Ok(Some(Event::InitDone))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!("watcher ended before its initial list: {other:?}"),
        }
    }
    assert!(initial.contains(&format!("{name}-before")), "{initial:?}");
    let live = format!("{name}-live");
    api.create(&PostParams::default(), &config_map(&live, "1"))
        .await
        .expect("create");
    api.patch(
        &live,
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "key": "2" } })),
    )
    .await
    .expect("patch");
    api.delete(&live, &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(20), events.try_next())
            .await
            .expect("a watch event in time")
            .expect("no watch error")
            .expect("the watch goes on");
        match event {
            Event::Apply(cm) if cm.metadata.name.as_deref() == Some(live.as_str()) => {
                seen.push(format!(
                    "apply:{}",
                    cm.data
                        .unwrap_or_default()
                        .get("key")
                        .cloned()
                        .unwrap_or_default()
                ))
            }
            Event::Delete(cm) if cm.metadata.name.as_deref() == Some(live.as_str()) => {
                seen.push("delete".into())
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["apply:1", "apply:2", "delete"]);
}

async fn https_client(up: &KeelsonUp) -> Client {
    keelson_tests::in_process::https_client(&up.kubeconfig).await
}

/// CRUD, then a list+watch watcher and a watch-list watcher.
async fn crud_and_both_watches(client: Client) {
    crud(client.clone()).await;
    watch(client.clone(), watcher::Config::default(), "listwatch").await;
    watch(
        client,
        watcher::Config::default().streaming_lists(),
        "watchlist",
    )
    .await;
}

#[tokio::test]
async fn crud_and_watch_over_https() {
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start(&[]))
        .await
        .expect("keelson up");
    let client = https_client(&up).await;
    crud_and_both_watches(client).await;
}

#[tokio::test]
async fn crud_and_watch_in_process() {
    let server = InProcess::start().await;
    let client = server.client();
    crud_and_both_watches(client).await;
    // In process and over HTTPS are the same server.
    let https: Api<ConfigMap> = Api::namespaced(server.https_client().await, "default");
    assert!(https.get("listwatch-before").await.is_ok());
}
