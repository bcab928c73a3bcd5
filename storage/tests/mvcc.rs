//! MVCC semantics of a real single-member store (RocksDB + Raft), through the in-process API.

use std::collections::BTreeMap;
use std::time::Duration;

use keelson_storage::*;
use tempfile::TempDir;

async fn member() -> (Member, TempDir) {
    member_with_progress_every(Duration::from_millis(100)).await
}

async fn member_with_progress_every(progress_interval: Duration) -> (Member, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    pki::init_ca(&dir.path().join("ca"), "test-ca").unwrap();
    pki::issue(
        &dir.path().join("ca"),
        &dir.path().join("pki"),
        "member-1",
        &pki::default_sans(),
    )
    .unwrap();
    let identity = pki::TlsIdentity::load(&dir.path().join("pki")).unwrap();
    let mut config = MemberConfig::single(
        dir.path().to_path_buf(),
        "127.0.0.1:0".parse().unwrap(),
        identity,
    );
    config.progress_interval = progress_interval;
    config.compaction_interval = None;
    (Member::start(config).await.unwrap(), dir)
}

async fn put(m: &Member, key: &str, value: &str) -> Revision {
    m.txn(TxnRequest {
        success: vec![Op::put(key, value)],
        ..Default::default()
    })
    .await
    .unwrap()
    .revision
}

async fn next_events(watch: &mut WatchStream) -> (Revision, Vec<Event>) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), watch.next_message())
            .await
            .expect("a watch message within 10 s")
            .expect("the watch is open");
        match msg {
            WatchMessage::Events { revision, events } => return (revision, events),
            WatchMessage::Progress { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn compare_on_stale_mod_revision_fails_and_writes_nothing() {
    let (m, _dir) = member().await;
    let first = put(&m, "/k", "v1").await;
    let second = put(&m, "/k", "v2").await;
    assert_eq!(second, first + 1);
    let stale = TxnRequest {
        compare: vec![Compare::ModRevision {
            key: b"/k".to_vec(),
            revision: first,
        }],
        success: vec![Op::put("/k", "v3"), Op::put("/other", "x")],
        failure: vec![Op::get("/k")],
    };
    let resp = m.txn(stale.clone()).await.unwrap();
    assert!(!resp.succeeded);
    assert_eq!(resp.revision, second, "a failed compare takes no revision");
    match &resp.responses[..] {
        [OpResponse::Get { kv: Some(kv) }] => assert_eq!(kv.value, b"v2"),
        other => panic!("unexpected responses {other:?}"),
    }
    assert_eq!(m.get(b"/k").await.unwrap().unwrap().value, b"v2");
    assert!(m.get(b"/other").await.unwrap().is_none());

    // The same transaction on the current revision succeeds, both writes at one revision.
    let fresh = TxnRequest {
        compare: vec![Compare::ModRevision {
            key: b"/k".to_vec(),
            revision: second,
        }],
        ..stale
    };
    let resp = m.txn(fresh).await.unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.revision, second + 1);
    assert_eq!(
        m.get(b"/other").await.unwrap().unwrap().mod_revision,
        second + 1
    );
}

#[tokio::test]
async fn absent_and_exists_compares_guard_creation() {
    let (m, _dir) = member().await;
    let create = TxnRequest {
        compare: vec![Compare::Absent {
            key: b"/c".to_vec(),
        }],
        success: vec![Op::put("/c", "1")],
        failure: vec![],
    };
    assert!(m.txn(create.clone()).await.unwrap().succeeded);
    assert!(!m.txn(create).await.unwrap().succeeded);
    let guarded_delete = TxnRequest {
        compare: vec![Compare::Exists {
            key: b"/c".to_vec(),
        }],
        success: vec![Op::delete("/c")],
        failure: vec![],
    };
    assert!(m.txn(guarded_delete.clone()).await.unwrap().succeeded);
    assert!(!m.txn(guarded_delete).await.unwrap().succeeded);
}

#[tokio::test]
async fn version_and_create_revision_across_delete_and_recreate() {
    let (m, _dir) = member().await;
    let created = put(&m, "/v", "a").await;
    let updated = put(&m, "/v", "b").await;
    let kv = m.get(b"/v").await.unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (created, updated, 2)
    );

    let del = m
        .txn(TxnRequest {
            success: vec![Op::delete("/v")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(del.revision, updated + 1);
    assert!(m.get(b"/v").await.unwrap().is_none());

    // Deleting a missing key changes nothing and takes no revision.
    let noop = m
        .txn(TxnRequest {
            success: vec![Op::delete("/v")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(noop.revision, del.revision);

    let recreated = put(&m, "/v", "c").await;
    let kv = m.get(b"/v").await.unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (recreated, recreated, 1)
    );
}

#[tokio::test]
async fn paging_at_a_fixed_revision_sees_every_key_once_while_writes_go_on() {
    let (m, _dir) = member().await;
    let mut expected = BTreeMap::new();
    let mut before_writes = 0;
    for i in 0..120 {
        let key = format!("/p/{i:04}");
        before_writes = put(&m, &key, &format!("v{i}")).await;
        expected.insert(key, format!("v{i}"));
    }
    // A writer changes, deletes and adds keys under the prefix during the paged read.
    let writer = {
        let m = m.clone();
        tokio::spawn(async move {
            for i in 0..120 {
                let ops = vec![
                    Op::put(format!("/p/{:04}", i), "changed"),
                    Op::delete(format!("/p/{:04}", (i + 60) % 120)),
                    Op::put(format!("/p/{:04}x", i), "new"),
                ];
                m.txn(TxnRequest {
                    success: ops,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        })
    };
    let mut seen = BTreeMap::new();
    // Every page is read at the revision before the writer's first write.
    let mut req = RangeRequest {
        limit: 7,
        revision: before_writes,
        ..RangeRequest::prefix("/p/")
    };
    let mut pinned = None;
    loop {
        let page = m.range(req.clone()).await.unwrap();
        let at = *pinned.get_or_insert(page.revision);
        assert_eq!(page.revision, at);
        for kv in &page.kvs {
            let key = String::from_utf8(kv.key.clone()).unwrap();
            assert!(kv.mod_revision <= at);
            assert!(
                seen.insert(key, String::from_utf8(kv.value.clone()).unwrap())
                    .is_none(),
                "key returned twice"
            );
        }
        if !page.more {
            break;
        }
        req.start_after = page.kvs.last().unwrap().key.clone();
        req.revision = at;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let latest_when_paging_ended = m
        .range(RangeRequest::key("/p/0000"))
        .await
        .unwrap()
        .revision;
    writer.await.unwrap();
    assert!(
        latest_when_paging_ended > pinned.unwrap(),
        "no write happened while paging"
    );
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_watch_from_an_old_revision_replays_exactly_the_missed_events_in_order() {
    let (m, _dir) = member().await;
    let start = put(&m, "/w/a", "1").await;
    put(&m, "/elsewhere", "x").await;
    put(&m, "/w/b", "2").await;
    m.txn(TxnRequest {
        success: vec![Op::delete("/w/a")],
        ..Default::default()
    })
    .await
    .unwrap();
    let last = put(&m, "/w/a", "3").await;

    let mut watch = m
        .watch(WatchRequest {
            prefix: b"/w/".to_vec(),
            start_revision: start,
        })
        .unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < 4 {
        let (revision, events) = next_events(&mut watch).await;
        for e in events {
            replayed.push((
                revision,
                e.kind,
                String::from_utf8(e.kv.key).unwrap(),
                e.prev_kv.map(|p| p.value),
            ));
        }
    }
    assert_eq!(
        replayed,
        vec![
            (start, EventKind::Put, "/w/a".to_string(), None),
            (start + 2, EventKind::Put, "/w/b".to_string(), None),
            (
                start + 3,
                EventKind::Delete,
                "/w/a".to_string(),
                Some(b"1".to_vec())
            ),
            (last, EventKind::Put, "/w/a".to_string(), None),
        ]
    );
    // Then it follows live writes, and reports progress while quiet.
    let live = put(&m, "/w/c", "4").await;
    let (revision, events) = next_events(&mut watch).await;
    assert_eq!((revision, events.len()), (live, 1));
    let quiet = tokio::time::timeout(Duration::from_secs(5), watch.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(quiet, WatchMessage::Progress { revision: live });
}

#[tokio::test]
async fn compaction_makes_older_reads_and_watches_fail_with_compacted() {
    let (m, _dir) = member().await;
    let old = put(&m, "/c/a", "1").await;
    let mid = put(&m, "/c/a", "2").await;
    let newest = put(&m, "/c/a", "3").await;
    // Before compaction the old value is readable at its revision.
    let at_old = m
        .range(RangeRequest {
            revision: old,
            ..RangeRequest::prefix("/c/")
        })
        .await
        .unwrap();
    assert_eq!(at_old.kvs[0].value, b"1");

    m.compact(mid).await.unwrap();
    assert!(matches!(
        m.range(RangeRequest { revision: old, ..RangeRequest::prefix("/c/") }).await,
        Err(StoreError::Compacted { compact_revision, .. }) if compact_revision == mid
    ));
    assert!(matches!(
        m.watch(WatchRequest {
            prefix: b"/c/".to_vec(),
            start_revision: old
        }),
        Err(StoreError::Compacted { .. })
    ));
    // The compact revision itself and later stay readable; a watch after it works.
    let at_mid = m
        .range(RangeRequest {
            revision: mid,
            ..RangeRequest::prefix("/c/")
        })
        .await
        .unwrap();
    assert_eq!(at_mid.kvs[0].value, b"2");
    let mut watch = m
        .watch(WatchRequest {
            prefix: b"/c/".to_vec(),
            start_revision: newest,
        })
        .unwrap();
    assert_eq!(next_events(&mut watch).await.0, newest);
    // Compacting backwards or into the future is refused.
    assert!(matches!(
        m.compact(old).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        m.compact(newest + 10).await,
        Err(StoreError::FutureRevision { .. })
    ));
    assert!(matches!(
        m.range(RangeRequest {
            revision: newest + 10,
            ..RangeRequest::prefix("/c/")
        })
        .await,
        Err(StoreError::FutureRevision { .. })
    ));
}

#[tokio::test]
async fn lease_expiry_deletes_its_keys_and_emits_delete_events() {
    let (m, _dir) = member().await;
    let lease = m.lease_grant(1).await.unwrap();
    let mut watch = m
        .watch(WatchRequest {
            prefix: b"/l/".to_vec(),
            start_revision: 0,
        })
        .unwrap();
    let attach = |key: &str| Op::Put {
        key: key.as_bytes().to_vec(),
        value: b"x".to_vec(),
        lease: lease.id,
    };
    let created = m
        .txn(TxnRequest {
            success: vec![attach("/l/a"), attach("/l/b"), Op::put("/l/keep", "y")],
            ..Default::default()
        })
        .await
        .unwrap()
        .revision;
    assert_eq!(next_events(&mut watch).await.0, created);

    let (revision, events) = next_events(&mut watch).await;
    assert!(revision > created);
    let mut deleted: Vec<_> = events
        .iter()
        .map(|e| (e.kind, String::from_utf8(e.kv.key.clone()).unwrap()))
        .collect();
    deleted.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        deleted,
        vec![
            (EventKind::Delete, "/l/a".to_string()),
            (EventKind::Delete, "/l/b".to_string())
        ]
    );
    assert!(m.get(b"/l/a").await.unwrap().is_none());
    assert!(m.get(b"/l/keep").await.unwrap().is_some());
    // The lease is gone: attaching to it fails and writes nothing.
    let err = m
        .txn(TxnRequest {
            success: vec![attach("/l/c")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::LeaseNotFound(lease.id));
    assert!(m.get(b"/l/c").await.unwrap().is_none());
}

#[tokio::test]
async fn keepalive_holds_a_lease_and_revoke_ends_it() {
    let (m, _dir) = member().await;
    let lease = m.lease_grant(1).await.unwrap();
    m.txn(TxnRequest {
        success: vec![Op::Put {
            key: b"/ka".to_vec(),
            value: b"x".to_vec(),
            lease: lease.id,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(m.lease_keepalive(lease.id).await.unwrap().ttl_seconds, 1);
    }
    assert!(
        m.get(b"/ka").await.unwrap().is_some(),
        "kept alive past its TTL"
    );
    m.lease_revoke(lease.id).await.unwrap();
    assert!(m.get(b"/ka").await.unwrap().is_none());
    assert_eq!(
        m.lease_keepalive(lease.id).await.unwrap_err(),
        StoreError::LeaseNotFound(lease.id)
    );
}

#[tokio::test]
async fn invalid_keys_are_refused_before_anything_is_written() {
    let (m, _dir) = member().await;
    let before = put(&m, "/ok", "1").await;
    let empty = m
        .txn(TxnRequest {
            success: vec![Op::put("/fine", "1"), Op::put("", "x")],
            ..Default::default()
        })
        .await;
    assert!(matches!(empty, Err(StoreError::InvalidKey(_))));
    let huge = m
        .txn(TxnRequest {
            success: vec![Op::put(vec![b'k'; 70_000], "x")],
            ..Default::default()
        })
        .await;
    assert!(matches!(huge, Err(StoreError::InvalidKey(_))));
    assert!(m.get(b"/fine").await.unwrap().is_none());
    assert_eq!(
        m.range(RangeRequest::prefix("/")).await.unwrap().revision,
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_progress_reports_revisions_written_elsewhere() {
    let (m, _dir) = member_with_progress_every(Duration::from_secs(3600)).await;
    // Many fresh watches: the request may reach a watch before it has taken the write from
    // its live feed, and it must still not report an older revision.
    for round in 0..100 {
        let mut watch = m
            .watch(WatchRequest {
                prefix: b"/registry/quiet/".to_vec(),
                start_revision: 0,
            })
            .unwrap();
        let elsewhere = put(&m, "/registry/busy/a", "1").await;
        watch.progress_requester().request();
        // The periodic notification is an hour away; this one is on demand.
        let message = tokio::time::timeout(Duration::from_secs(30), watch.next_message())
            .await
            .expect("a progress notification")
            .expect("the watch goes on");
        match message {
            WatchMessage::Progress { revision } => assert!(
                revision >= elsewhere,
                "round {round}: progress at {revision}, but {elsewhere} was written before the request"
            ),
            other => panic!("the quiet prefix saw {other:?}"),
        }
    }
}
