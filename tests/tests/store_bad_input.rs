//! Bad input to a store member: corrupt and foreign data dirs, a certificate from another CA,
//! malformed peer messages, a member that is down. Each gets a clear error, no panic, and
//! leaves data untouched.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use keelson_storage::pki::TlsIdentity;
use keelson_storage::transport::{HttpClient, TransportError};
use keelson_tests::*;

/// Every file under `dir` with its contents.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.to_string_lossy().into_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

fn serve_fails(data_dir: &Path) -> String {
    let address = format!("127.0.0.1:{}", free_port());
    let stderr = keelson_fails(&[
        "store",
        "serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--listen",
        &address,
    ]);
    stderr
}

/// Starts a single member and writes a key; returns the process and its address.
async fn member_with_data(data_dir: &Path) -> (MemberProcess, String) {
    let (member, store) = start_single_member(data_dir).await;
    store.put("/keep", "me").await.unwrap();
    let address = member.address.clone();
    (member, address)
}

#[tokio::test]
async fn a_foreign_data_dir_is_refused_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("store")).unwrap();
    std::fs::write(data.join("store/notes.txt"), "somebody else's files").unwrap();
    let before = snapshot_dir(&data);
    let stderr = serve_fails(&data);
    assert!(
        stderr.contains("is not a Keelson store data dir"),
        "{stderr}"
    );
    // The identity is made before the store is opened; the store dir itself is untouched.
    let after: BTreeMap<_, _> = snapshot_dir(&data)
        .into_iter()
        .filter(|(p, _)| p.contains("/store/"))
        .collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_corrupt_data_dir_is_refused_with_a_clear_error_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (mut member, _) = member_with_data(&data).await;
    member.kill();
    // Damage RocksDB's manifest pointer.
    std::fs::write(data.join("store/CURRENT"), "MANIFEST-999999\n").unwrap();
    let before = snapshot_dir(&data.join("store"));
    let stderr = serve_fails(&data);
    assert!(stderr.contains("cannot open the store"), "{stderr}");
    assert_eq!(before, snapshot_dir(&data.join("store")));
}

#[tokio::test]
async fn a_data_dir_of_another_member_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (mut member, _) = member_with_data(&data).await;
    member.kill();
    let address = format!("127.0.0.1:{}", free_port());
    let stderr = keelson_fails(&[
        "store",
        "serve",
        "--id",
        "2",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        &address,
    ]);
    assert!(
        stderr.contains("belongs to store member 1, not 2"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_both_ways() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (_member, address) = member_with_data(&data).await;
    let stranger = make_cluster_pki(&root.path().join("other-cluster"), &[]);

    // A client with another CA's identity: the CLI says what is wrong and exits non-zero.
    let stderr = keelson_fails(&[
        "store",
        "status",
        "--endpoints",
        &address,
        "--pki-dir",
        stranger.to_str().unwrap(),
    ]);
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");

    // A stranger's client certificate is refused even by a client that trusts the member's CA.
    let mixed = root.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::copy(data.join("pki/ca.crt"), mixed.join("ca.crt")).unwrap();
    std::fs::copy(stranger.join("tls.crt"), mixed.join("tls.crt")).unwrap();
    std::fs::copy(stranger.join("tls.key"), mixed.join("tls.key")).unwrap();
    // (keelson_fails asserts the command is refused.)
    let stderr = keelson_fails(&[
        "store",
        "get",
        "/keep",
        "--endpoints",
        &address,
        "--pki-dir",
        mixed.to_str().unwrap(),
    ]);
    assert!(stderr.contains("failed"), "{stderr}");

    // The member's own identity still works.
    let ok = keelson_ok(&[
        "store",
        "get",
        "/keep",
        "--endpoints",
        &address,
        "--pki-dir",
        data.join("pki").to_str().unwrap(),
    ]);
    assert_eq!(ok.trim(), "me");
}

#[tokio::test]
async fn malformed_peer_messages_get_400_and_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (mut member, address) = member_with_data(&data).await;
    let http = HttpClient::new(&TlsIdentity::load(&data.join("pki")).unwrap()).unwrap();
    for path in [
        "/raft/append",
        "/raft/vote",
        "/raft/snapshot",
        "/internal/propose",
        "/v1/txn",
        "/v1/range",
        "/v1/watch",
    ] {
        for garbage in [
            vec![],
            vec![0xff; 3],
            b"definitely not bincode".to_vec(),
            vec![0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ] {
            let result: Result<(), TransportError> = http
                .call(&address, path, &garbage, Some(Duration::from_secs(5)))
                .await;
            match result {
                Err(TransportError::Failed { reason, .. }) => {
                    assert!(
                        reason.contains("400") && reason.contains("malformed request body"),
                        "{path}: {reason}"
                    )
                }
                other => panic!("{path}: expected a 400, got {other:?}"),
            }
        }
    }
    assert!(
        member.is_running(),
        "the member died: {}",
        member.log_text()
    );
    let store = client(std::slice::from_ref(&address), &data.join("pki"));
    assert_eq!(store.get("/keep").await.unwrap().unwrap().value, b"me");
    assert!(!member.log_text().contains("panicked"));
}

#[tokio::test]
async fn a_member_that_is_down_and_bad_keys_get_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (mut member, address) = member_with_data(&data).await;
    let pki = data.join("pki");
    let pki = pki.to_str().unwrap();
    let stderr = keelson_fails(&[
        "store",
        "put",
        "",
        "x",
        "--endpoints",
        &address,
        "--pki-dir",
        pki,
    ]);
    assert!(stderr.contains("invalid key"), "{stderr}");

    member.kill();
    let stderr = keelson_fails(&[
        "store",
        "get",
        "/keep",
        "--endpoints",
        &address,
        "--pki-dir",
        pki,
    ]);
    assert!(
        stderr.contains("cannot reach the store member at"),
        "{stderr}"
    );

    let nowhere = root.path().join("nowhere");
    let stderr = keelson_fails(&[
        "store",
        "status",
        "--endpoints",
        &address,
        "--pki-dir",
        nowhere.to_str().unwrap(),
    ]);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[tokio::test]
async fn the_cli_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (_member, address) = member_with_data(&data).await;
    let pki = data.join("pki");
    let e = [
        "--endpoints",
        address.as_str(),
        "--pki-dir",
        pki.to_str().unwrap(),
    ];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter().chain(e.iter()).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>| keelson_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        run(with(&["store", "put", "/registry/pods/default/a", "A"])).starts_with("OK (revision")
    );
    run(with(&["store", "put", "/registry/pods/default/b", "B"]));
    run(with(&[
        "store",
        "put",
        "/registry/configmaps/default/c",
        "C",
    ]));
    assert_eq!(
        run(with(&["store", "get", "/registry/pods/default/b"])),
        "B\n"
    );
    assert_eq!(
        run(with(&["store", "keys", "/registry/"])),
        "/registry/configmaps/default/c\n/registry/pods/default/a\n/registry/pods/default/b\n"
    );
    run(with(&["store", "del", "/registry/pods/default/a"]));
    assert_eq!(
        run(with(&["store", "keys", "/registry/pods/"])),
        "/registry/pods/default/b\n"
    );
    let status = run(with(&["store", "status"]));
    assert!(status.contains("leader:        1"), "{status}");
    assert!(status.contains("revision:      5"), "{status}");

    // `watch --rev` replays history, then follows live writes.
    let mut child = std::process::Command::new(keelson_bin())
        .args(with(&["store", "watch", "/registry/pods/", "--rev", "1"]))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let next_line = || {
        lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a watch line within 30 s")
    };
    let replayed: Vec<String> = (0..3).map(|_| next_line()).collect();
    assert_eq!(
        replayed,
        vec![
            "PUT /registry/pods/default/a A (revision 2)",
            "PUT /registry/pods/default/b B (revision 3)",
            "DELETE /registry/pods/default/a (revision 5)",
        ]
    );
    run(with(&[
        "store",
        "put",
        "/registry/configmaps/default/d",
        "D",
    ]));
    run(with(&["store", "put", "/registry/pods/default/e", "E"]));
    assert_eq!(next_line(), "PUT /registry/pods/default/e E (revision 7)");
    child.kill().unwrap();
    child.wait().unwrap();
}
