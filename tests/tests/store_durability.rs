//! A store member killed with SIGKILL in the middle of concurrent writes keeps every write
//! it acknowledged, with its revision, and nothing half-applied.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keelson_storage::{Op, OpResponse, RangeRequest, TxnRequest};
use keelson_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_stream_loses_no_acknowledged_write() {
    let root = tempfile::tempdir().unwrap();
    let (mut member, store) = start_single_member(&root.path().join("member")).await;

    // Each write is a transaction of two keys that must land together.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{w}-{i:06}");
                let txn = TxnRequest {
                    success: vec![
                        Op::put(format!("/a/{name}"), name.clone()),
                        Op::put(format!("/b/{name}"), name.clone()),
                    ],
                    ..Default::default()
                };
                match store.txn(txn).await {
                    Ok(resp) => acked.lock().unwrap().push((name, resp.revision)),
                    Err(_) => return i,
                }
            }
            unreachable!()
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    member.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "only {} writes were acknowledged before the kill",
        acked.len()
    );

    member.start();
    wait_for_leader(&store, Duration::from_secs(30)).await;
    let read_all = |prefix: &'static str| {
        let store = store.clone();
        async move {
            let mut kvs = Vec::new();
            let mut req = RangeRequest::prefix(prefix);
            loop {
                let page = store.range(req.clone()).await.unwrap();
                kvs.extend(page.kvs.iter().cloned());
                if !page.more {
                    return kvs;
                }
                req.start_after = page.kvs.last().unwrap().key.clone();
                req.revision = page.revision;
            }
        }
    };
    let a = read_all("/a/").await;
    let b = read_all("/b/").await;
    let a_map: std::collections::HashMap<_, _> =
        a.iter().map(|kv| (kv.key[3..].to_vec(), kv)).collect();
    for (name, revision) in &acked {
        let kv = a_map
            .get(name.as_bytes())
            .unwrap_or_else(|| panic!("acknowledged write {name} is lost"));
        assert_eq!(
            kv.mod_revision, *revision,
            "write {name} has another revision after restart"
        );
        assert_eq!(kv.value, name.as_bytes());
    }
    // Nothing half-applied: both keys of a transaction or neither, at one revision.
    assert_eq!(a.len(), b.len(), "a transaction was half-applied");
    for (kv_a, kv_b) in a.iter().zip(&b) {
        assert_eq!(kv_a.key[3..], kv_b.key[3..]);
        assert_eq!(kv_a.mod_revision, kv_b.mod_revision);
    }
    // Revisions are dense: one per transaction, none repeated.
    let mut revisions: Vec<u64> = a.iter().map(|kv| kv.mod_revision).collect();
    revisions.sort();
    revisions.dedup();
    assert_eq!(revisions.len(), a.len());

    // And the store goes on taking writes after the restart.
    let resp = store
        .txn(TxnRequest {
            success: vec![Op::put("/after", "1")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(resp.responses[0], OpResponse::Put { prev: None }));
    assert!(resp.revision > *revisions.last().unwrap());
}
