//! The generic registry's semantics through kube-rs, in process: paging, selectors, dry run,
//! generateName, finalizers, preconditions, deletecollection, status/spec split, watch from
//! a resourceVersion, bookmarks and 410 Gone.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use keelson_storage::Member;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent,
    WatchParams,
};
use kube::{Api, Client};
use serde_json::json;

struct InProcess {
    member: Member,
    client: Client,
    _server: keelson_tests::in_process::InProcess,
}

async fn start() -> InProcess {
    start_with_watch_cache_size(keelson_apiserver::watch_cache::DEFAULT_HISTORY).await
}

async fn start_with_watch_cache_size(history: usize) -> InProcess {
    let server = keelson_tests::in_process::InProcess::with_watch_cache_size(history).await;
    InProcess {
        member: server.member.clone(),
        client: server.client(),
        _server: server,
    }
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({ "metadata": { "name": name, "labels": labels }, "data": { "k": "v" } }),
    )
    .expect("ConfigMap")
}

fn code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn paging_selectors_dry_run_and_generate_name() {
    let c = start().await;
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    for i in 0..25 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        api.create(
            &PostParams::default(),
            &cm(&format!("cm-{i:02}"), json!({ "tier": tier })),
        )
        .await
        .expect("create");
    }
    // Pages of 10 at one revision give every object once.
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(10);
    let mut revisions = Vec::new();
    loop {
        let page = api.list(&params).await.expect("list page");
        revisions.push(page.metadata.resource_version.clone());
        names.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(names.len(), 25);
    assert!(
        revisions.windows(2).all(|w| w[0] == w[1]),
        "pages read at one revision: {revisions:?}"
    );
    let odd = api
        .list(&ListParams::default().labels("tier=odd"))
        .await
        .expect("list");
    assert_eq!(odd.items.len(), 12);
    let set = api
        .list(&ListParams::default().labels("tier in (odd,even),tier!=even"))
        .await
        .expect("list");
    assert_eq!(set.items.len(), 12);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=cm-03"))
        .await
        .expect("list");
    assert_eq!(by_name.items.len(), 1);
    let err = api
        .list(&ListParams::default().fields("spec.nodeName=x"))
        .await
        .expect_err("unsupported field");
    assert_eq!(code(err), 400);

    // Dry run validates and answers, but stores nothing.
    let dry = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm("dry", json!({})),
        )
        .await
        .expect("dry run");
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert_eq!(code(api.get("dry").await.expect_err("not stored")), 404);

    let mut generated = cm("", json!({}));
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let made = api
        .create(&PostParams::default(), &generated)
        .await
        .expect("generateName");
    let name = made.metadata.name.unwrap_or_default();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // deletecollection by label.
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=even"),
    )
    .await
    .expect("deletecollection");
    assert!(api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .expect("list")
        .items
        .is_empty());
    assert_eq!(
        api.list(&ListParams::default().labels("tier=odd"))
            .await
            .expect("list")
            .items
            .len(),
        12
    );

    // Pod field selectors that upstream supports.
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": "p1" }, "spec": { "nodeName": "n1", "containers": [{ "name": "c", "image": "busybox" }] } })).expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    for (selector, matching) in [
        ("spec.nodeName=n1", 1),
        ("spec.nodeName=n2", 0),
        ("status.phase=Pending", 1),
    ] {
        let listed = pods
            .list(&ListParams::default().fields(selector))
            .await
            .expect("list");
        assert_eq!(listed.items.len(), matching, "{selector}");
    }
}

#[tokio::test]
async fn finalizers_preconditions_and_status_split() {
    let c = start().await;
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let created = api
        .create(&PostParams::default(), &held)
        .await
        .expect("create");
    // A wrong uid precondition refuses the delete.
    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        code(api.delete("held", &wrong).await.expect_err("precondition")),
        409
    );
    let right = DeleteParams {
        preconditions: Some(Preconditions {
            uid: created.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    api.delete("held", &right).await.expect("delete");
    // The finalizer holds it, marked for deletion.
    let marked = api.get("held").await.expect("still there");
    assert!(marked.metadata.deletion_timestamp.is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
    )
    .await
    .expect("remove finalizer");
    assert_eq!(code(api.get("held").await.expect_err("gone")), 404);

    // Status and spec are written separately; generation follows spec only.
    let deployments: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "d" },
        "spec": { "selector": { "matchLabels": { "a": "b" } }, "template": { "metadata": { "labels": { "a": "b" } }, "spec": { "containers": [{ "name": "c", "image": "i" }] } } },
        "status": { "replicas": 99 },
    }))
    .expect("deployment");
    let made = deployments
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    assert_eq!(
        made.status.and_then(|s| s.replicas),
        None,
        "status is reset on create"
    );
    assert_eq!(made.metadata.generation, Some(1));
    deployments
        .patch_status(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "replicas": 3 }, "spec": { "replicas": 7 } })),
        )
        .await
        .expect("status");
    let after = deployments.get("d").await.expect("get");
    assert_eq!(after.status.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        after.spec.as_ref().and_then(|s| s.replicas),
        Some(1),
        "the status subresource leaves spec alone"
    );
    assert_eq!(after.metadata.generation, Some(1));
    deployments
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": 2 }, "status": { "replicas": 0 } })),
        )
        .await
        .expect("spec");
    let after = deployments.get("d").await.expect("get");
    assert_eq!(after.metadata.generation, Some(2));
    assert_eq!(
        after.status.as_ref().and_then(|s| s.replicas),
        Some(3),
        "the main resource leaves status alone"
    );
    // The selector is immutable.
    let err = deployments
        .patch("d", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "selector": { "matchLabels": { "a": "c" } }, "template": { "metadata": { "labels": { "a": "c" } } } } })))
        .await
        .expect_err("immutable");
    assert_eq!(code(err), 422);
}

#[tokio::test]
async fn watch_from_a_revision_bookmarks_and_gone() {
    // A small watch cache: its history soon no longer reaches back to `rv` below.
    let c = start_with_watch_cache_size(4).await;
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    let first = api
        .create(&PostParams::default(), &cm("w1", json!({})))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.clone().unwrap_or_default();
    api.create(&PostParams::default(), &cm("w2", json!({})))
        .await
        .expect("create");
    api.delete("w1", &DeleteParams::default())
        .await
        .expect("delete");
    // From w1's revision: exactly what happened after it, then bookmarks.
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut seen = Vec::new();
    let mut bookmark = false;
    while !(seen.len() == 2 && bookmark) {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("event in time")
            .expect("ok")
            .expect("open");
        match event {
            WatchEvent::Added(o) => {
                seen.push(format!("added {}", o.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Deleted(o) => {
                seen.push(format!("deleted {}", o.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Bookmark(_) => bookmark = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["added w2", "deleted w1"]);
    drop(stream);
    for i in 0..8 {
        api.patch(
            "w2",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "n": i.to_string() } })),
        )
        .await
        .expect("patch");
    }
    // After compaction, and past the cache's history, the old revision is gone: 410.
    let current = c.member.status().revision;
    c.member.compact(current).await.expect("compact");
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .expect("in time")
        .expect("ok")
        .expect("an event");
    match event {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
}

#[tokio::test]
async fn pod_binding_eviction_and_node_routes() {
    let c = start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "c", "image": "busybox" }] } })).expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    // Logs of an unscheduled pod: upstream's 400.
    let err = pods
        .logs("p", &Default::default())
        .await
        .expect_err("no host");
    assert_eq!(code(err), 400);
    let binding = json!({ "apiVersion": "v1", "kind": "Binding", "metadata": { "name": "p" }, "target": { "kind": "Node", "name": "node-1" } });
    pods.create_subresource::<serde_json::Value, serde_json::Value>(
        "binding",
        "p",
        &PostParams::default(),
        &binding,
    )
    .await
    .expect("bind");
    let bound = pods.get("p").await.expect("get");
    // The binding marks the pod scheduled, as upstream's does.
    let scheduled = bound
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .map(|c| c.status.clone());
    assert_eq!(scheduled.as_deref(), Some("True"));
    assert_eq!(
        bound.spec.and_then(|s| s.node_name).as_deref(),
        Some("node-1")
    );
    // A pod with scheduling gates cannot be bound.
    let gated: Pod = serde_json::from_value(json!({ "metadata": { "name": "gated" }, "spec": {
        "schedulingGates": [{ "name": "example.com/wait" }],
        "containers": [{ "name": "c", "image": "busybox" }] } }))
    .expect("pod");
    pods.create(&PostParams::default(), &gated)
        .await
        .expect("create");
    let gated_binding = json!({ "apiVersion": "v1", "kind": "Binding", "metadata": { "name": "gated" }, "target": { "kind": "Node", "name": "node-1" } });
    let err = pods
        .create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            "gated",
            &PostParams::default(),
            &gated_binding,
        )
        .await
        .expect_err("gated");
    assert_eq!(code(err), 409);
    // A node registers with its status (capacity, allocatable), as a kubelet does.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(c.client.clone());
    let node = serde_json::from_value(json!({ "metadata": { "name": "node-1" },
        "status": { "capacity": { "cpu": "2", "pods": "110" }, "allocatable": { "cpu": "2", "pods": "110" } } }))
    .expect("node");
    let created = nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let allocatable = created
        .status
        .and_then(|s| s.allocatable)
        .unwrap_or_default();
    assert_eq!(allocatable.get("cpu").map(|q| q.0.as_str()), Some("2"));
    let err = pods
        .create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            "p",
            &PostParams::default(),
            &binding,
        )
        .await
        .expect_err("bound twice");
    assert_eq!(code(err), 409);
    // Until the node agent exists, its routes answer 503 for a scheduled pod.
    let err = pods
        .logs("p", &Default::default())
        .await
        .expect_err("no node agent");
    assert_eq!(code(err), 503);
    // An eviction deletes gracefully: a pod on a node is marked, for its node to stop.
    pods.evict("p", &Default::default()).await.expect("evict");
    let evicted = pods
        .get("p")
        .await
        .expect("still there while its node stops it");
    assert!(evicted.metadata.deletion_timestamp.is_some());
    pods.delete(
        "p",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .expect("force delete");
    assert_eq!(code(pods.get("p").await.expect_err("gone")), 404);
}

#[tokio::test]
async fn the_watch_cache_serves_lists_and_resumes_watches_past_store_compaction() {
    let c = start().await;
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "default");
    // A list primes the resource's cache.
    api.list(&ListParams::default()).await.expect("list");
    let created = api
        .create(&PostParams::default(), &cm("cached", json!({})))
        .await
        .expect("create");
    let rv = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    api.patch(
        "cached",
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "k": "w" } })),
    )
    .await
    .expect("patch");
    // A consistent list sees the write at once.
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0]
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("w")
    );
    // The store forgets the history; the cache still has it, so the watch resumes.
    let current = c.member.status().revision;
    c.member.compact(current).await.expect("compact");
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .expect("in time")
        .expect("ok")
        .expect("an event");
    match event {
        WatchEvent::Modified(o) => assert_eq!(
            o.data.and_then(|d| d.get("k").cloned()).as_deref(),
            Some("w")
        ),
        other => panic!("expected the modification from the cache's history, got {other:?}"),
    }
    // Another namespace's watcher, served by the same cache, sees only its namespace.
    let other: Api<ConfigMap> = Api::namespaced(c.client.clone(), "kube-system");
    let mut other_stream = other
        .watch(&WatchParams::default().timeout(3), &rv)
        .await
        .expect("watch")
        .boxed();
    api.delete("cached", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while let Ok(Ok(Some(event))) =
        tokio::time::timeout(Duration::from_secs(5), other_stream.try_next()).await
    {
        if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) = event {
            seen.push(o.metadata.name.unwrap_or_default());
        }
    }
    assert!(seen.is_empty(), "kube-system watcher saw {seen:?}");
}

#[tokio::test]
async fn writes_into_a_terminating_namespace_are_refused() {
    // No namespace controller runs here, so a deleted namespace stays Terminating.
    let c = start().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.client.clone());
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({ "metadata": { "name": "leaving" } })).expect("namespace");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create");
    namespaces
        .delete("leaving", &DeleteParams::default())
        .await
        .expect("delete");
    let marked = namespaces.get("leaving").await.expect("still there");
    assert_eq!(
        marked.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let api: Api<ConfigMap> = Api::namespaced(c.client.clone(), "leaving");
    let err = api
        .create(&PostParams::default(), &cm("late", json!({})))
        .await
        .expect_err("terminating");
    assert_eq!(code(err), 403);
    let missing: Api<ConfigMap> = Api::namespaced(c.client.clone(), "never-made");
    assert_eq!(
        code(
            missing
                .create(&PostParams::default(), &cm("x", json!({})))
                .await
                .expect_err("missing")
        ),
        404
    );
}

#[tokio::test]
async fn evictions_respect_disruption_budgets() {
    let c = start().await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    for name in ["a", "b"] {
        let pod: Pod = serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "app": "web" } }, "spec": { "nodeName": "n1", "containers": [{ "name": "c", "image": "busybox" }] } })).expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create");
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": "Running" } })),
        )
        .await
        .expect("running");
    }
    let budgets: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(c.client.clone(), "default");
    let pdb = serde_json::from_value(json!({ "metadata": { "name": "web" }, "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app": "web" } } } })).expect("pdb");
    budgets
        .create(&PostParams::default(), &pdb)
        .await
        .expect("create pdb");
    // No disruption allowed (the budget's status says so): 429, and the pod stays.
    let err = pods
        .evict("a", &Default::default())
        .await
        .expect_err("budget");
    assert_eq!(code(err), 429);
    assert!(pods
        .get("a")
        .await
        .expect("still there")
        .metadata
        .deletion_timestamp
        .is_none());
    // One allowed: the first eviction uses it up, the second is refused.
    budgets.patch_status("web", &PatchParams::default(), &Patch::Merge(json!({ "status": { "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2 } }))).await.expect("status");
    pods.evict("a", &Default::default()).await.expect("evict a");
    assert!(pods
        .get("a")
        .await
        .expect("marked")
        .metadata
        .deletion_timestamp
        .is_some());
    assert_eq!(
        budgets
            .get("web")
            .await
            .expect("pdb")
            .status
            .map(|s| s.disruptions_allowed),
        Some(0)
    );
    assert_eq!(
        code(
            pods.evict("b", &Default::default())
                .await
                .expect_err("used up")
        ),
        429
    );
}
