//! Input that used to break the server, each with the exact request that found it, over
//! real HTTPS: a malformed TokenRequest, unbounded token lifetimes, silent and oversized
//! connections, a watch from the largest revision, SIGTERM, oversized ConfigMaps and Secrets,
//! racing unconditional updates, and impersonation.

use std::time::{Duration, Instant};

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::https::{assert_status, Https};
use keelson_tests::in_process::InProcess;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn https(up: &KeelsonUp) -> Https {
    Https::new(&up.data_dir, &up.server)
}

async fn up(extra: &'static [&'static str]) -> KeelsonUp {
    tokio::task::spawn_blocking(move || KeelsonUp::start(extra))
        .await
        .expect("keelson up")
}

const TOKEN: &str = "/api/v1/namespaces/default/serviceaccounts/default/token";
/// Made by a controller soon after the start.
const DEFAULT_SERVICE_ACCOUNT: &str = "/api/v1/namespaces/default/serviceaccounts/default";

#[tokio::test]
async fn a_token_request_with_a_malformed_spec_is_a_bad_request() {
    let up = up(&[]).await;
    let https = https(&up);
    for body in [r#"{"spec":1}"#, r#"{"spec":{"audiences":7}}"#, "[]", "7"] {
        let answer = https
            .send(
                reqwest::Method::POST,
                TOKEN,
                "application/json",
                body.into(),
            )
            .await;
        assert_status(&answer, 400, "BadRequest");
    }
    https.wait_for(DEFAULT_SERVICE_ACCOUNT).await;
    let ok = https
        .send(
            reqwest::Method::POST,
            TOKEN,
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(ok.0, 201, "{}", ok.1);
}

#[tokio::test]
async fn token_lifetimes_are_bounded_as_upstream() {
    let up = up(&[]).await;
    let https = https(&up);
    https.wait_for(DEFAULT_SERVICE_ACCOUNT).await;
    let request = |seconds: Value| {
        serde_json::to_vec(&json!({"spec": {"expirationSeconds": seconds}})).expect("JSON")
    };
    for seconds in [json!(599), json!(1u64 << 33), json!(i64::MAX), json!(-1)] {
        let answer = https
            .send(
                reqwest::Method::POST,
                TOKEN,
                "application/json",
                request(seconds.clone()),
            )
            .await;
        assert_status(&answer, 422, "Invalid");
        assert_eq!(
            answer.1["details"]["causes"][0]["field"], "spec.expirationSeconds",
            "{seconds}: {}",
            answer.1
        );
    }
    let longest = https
        .send(
            reqwest::Method::POST,
            TOKEN,
            "application/json",
            request(json!(1u64 << 32)),
        )
        .await;
    assert_eq!(longest.0, 201, "{}", longest.1);
    let expires = longest.1["status"]["expirationTimestamp"]
        .as_str()
        .expect("an expiry");
    let year: i32 = expires[..4].parse().expect("a year");
    assert!((2150..2300).contains(&year), "{expires}");
}

#[tokio::test]
async fn silent_connections_do_not_lock_clients_out() {
    // Under a soft limit of 1,024 open files, 1,100 connections that send nothing.
    rlimit::increase_nofile_limit(8192).expect("the test's own open-file limit");
    let up = tokio::task::spawn_blocking(|| KeelsonUp::start_with_open_file_limit(&[], 1024))
        .await
        .expect("keelson up");
    let address = up.server.trim_start_matches("https://").to_string();
    let mut silent = Vec::new();
    for _ in 0..1100 {
        silent.push(
            tokio::net::TcpStream::connect(&address)
                .await
                .expect("connect"),
        );
    }
    let https = https(&up);
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        https.send(reqwest::Method::GET, "/api/v1/namespaces", "", vec![]),
    )
    .await
    .expect("a client is served while silent connections are open");
    assert_eq!(answer.0, 200, "{}", answer.1);
    drop(silent);
}

/// An in-process server whose listener deadlines are short, for tests of the deadlines.
async fn short_deadlines() -> (InProcess, Https) {
    let server = InProcess::with_config(|api| {
        api.limits.handshake_timeout = Duration::from_secs(1);
        api.limits.header_timeout = Duration::from_secs(1);
        api.limits.body_timeout = Duration::from_secs(1);
    })
    .await;
    let base = format!("https://{}", server.server.advertised());
    let https = Https::new(server.data_dir(), &base);
    (server, https)
}

/// Reads until the peer closes the connection (or a read fails); what was read.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for {within:?}"),
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_shakes_hands_is_closed() {
    let (server, _) = short_deadlines().await;
    let mut tcp = tokio::net::TcpStream::connect(server.server.address())
        .await
        .expect("connect");
    read_until_closed(&mut tcp, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed() {
    let (_server, https) = short_deadlines().await;
    let mut tls = https.raw_tls().await;
    tls.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    read_until_closed(&mut tls, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let (_server, https) = short_deadlines().await;
    let mut tls = https.raw_tls().await;
    tls.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut tls, Duration::from_secs(10)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn a_body_longer_than_the_limit_is_refused_before_it_is_sent() {
    let (_server, https) = short_deadlines().await;
    let mut tls = https.raw_tls().await;
    // Declares 10 GiB, sends 10 bytes.
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{\"metadata";
    tls.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut tls, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("RequestEntityTooLarge"), "{text}");
}

#[tokio::test]
async fn a_body_that_stops_coming_times_out() {
    let (_server, https) = short_deadlines().await;
    let mut tls = https.raw_tls().await;
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"metadata";
    tls.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
}

#[tokio::test]
async fn an_eight_mebibyte_header_gets_431() {
    let (_server, https) = short_deadlines().await;
    let tls = https.raw_tls().await;
    let (mut read, mut write) = tokio::io::split(tls);
    let writer = tokio::spawn(async move {
        let mut request = b"GET /api HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 8 << 20));
        request.extend(b"\r\n\r\n");
        // The server stops reading early; what it drains lets this finish or fail quietly.
        let _ = write.write_all(&request).await;
    });
    let answer = read_until_closed(&mut read, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    let _ = writer.await;
}

#[tokio::test]
async fn a_watch_from_the_largest_revision_does_not_replay_history() {
    let up = up(&[]).await;
    let https = https(&up);
    let path = "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=18446744073709551615";
    let answer = https.send(reqwest::Method::GET, path, "", vec![]).await;
    assert_status(&answer, 504, "Timeout");
    let past = "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=18446744073709551616";
    let answer = https.send(reqwest::Method::GET, past, "", vec![]).await;
    assert_status(&answer, 400, "BadRequest");
}

#[tokio::test]
async fn sigterm_ends_watches_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let start = |data: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || KeelsonUp::start_in(&data, &[]))
            .await
            .expect("keelson up")
    };
    let mut up = start(data.clone()).await;
    let https = https(&up);
    let created = https
        .send(
            reqwest::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            br#"{"metadata":{"name":"kept"},"data":{"a":"b"}}"#.to_vec(),
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    let watch = https
        .send_with(
            reqwest::Method::GET,
            "/api/v1/namespaces/default/configmaps?watch=1",
            &[],
            vec![],
        )
        .await;
    assert_eq!(watch.status().as_u16(), 200);
    let status = tokio::task::spawn_blocking(move || {
        let status = up.terminate(Duration::from_secs(30));
        (up, status)
    });
    // The watch ends cleanly: its body completes without an error.
    let body = tokio::time::timeout(Duration::from_secs(30), watch.bytes())
        .await
        .expect("the watch ended")
        .expect("the watch ended cleanly");
    assert!(String::from_utf8_lossy(&body).contains("\"ADDED\""));
    let (up, status) = status.await.expect("terminate");
    assert!(status.success(), "keelson up exited with {status}");
    drop(up);
    let again = start(data).await;
    let kept = Https::new(&again.data_dir, &again.server)
        .send(
            reqwest::Method::GET,
            "/api/v1/namespaces/default/configmaps/kept",
            "",
            vec![],
        )
        .await;
    assert_eq!(kept.0, 200, "{}", kept.1);
}

#[tokio::test]
async fn config_maps_and_secrets_over_a_mebibyte_are_invalid() {
    let up = up(&[]).await;
    let https = https(&up);
    let big = "x".repeat(1024 * 1024 + 1);
    let config_map = json!({"metadata": {"name": "big"}, "data": {"k": big}});
    let answer = https
        .send(
            reqwest::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            serde_json::to_vec(&config_map).expect("JSON"),
        )
        .await;
    assert_status(&answer, 422, "Invalid");
    assert_eq!(
        answer.1["details"]["causes"][0]["reason"],
        "FieldValueTooLong"
    );
    let secret = json!({"metadata": {"name": "big"}, "stringData": {"k": big}});
    let answer = https
        .send(
            reqwest::Method::POST,
            "/api/v1/namespaces/default/secrets",
            "application/json",
            serde_json::to_vec(&secret).expect("JSON"),
        )
        .await;
    assert_status(&answer, 422, "Invalid");
    assert_eq!(answer.1["details"]["causes"][0]["field"], "data");
}

#[tokio::test]
async fn racing_updates_without_a_resource_version_all_succeed() {
    let up = up(&[]).await;
    let https = std::sync::Arc::new(https(&up));
    let path = "/api/v1/namespaces/default/configmaps/raced";
    let created = https
        .send(
            reqwest::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            br#"{"metadata":{"name":"raced"}}"#.to_vec(),
        )
        .await;
    assert_eq!(created.0, 201);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let https = https.clone();
            tokio::spawn(async move {
                let mut codes = Vec::new();
                for i in 0..40 {
                    let body = json!({"metadata": {"name": "raced"}, "data": {"writer": format!("{w}-{i}")}});
                    let (code, _) = https
                        .send(
                            reqwest::Method::PUT,
                            path,
                            "application/json",
                            serde_json::to_vec(&body).expect("JSON"),
                        )
                        .await;
                    codes.push(code);
                }
                codes
            })
        })
        .collect();
    for worker in workers {
        let codes = worker.await.expect("a worker");
        assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    }
}

const TOKENS: &str = "dev-token,dev,1001,\"developers\"\n";

#[tokio::test]
async fn impersonation_acts_as_the_impersonated_user() {
    let up = up(&[]).await;
    let whoami = up.ok(&[
        "--as=dev",
        "--as-group=devs",
        "auth",
        "whoami",
        "-o",
        "json",
    ]);
    let review: Value = serde_json::from_str(&whoami).expect("JSON");
    assert_eq!(review["status"]["userInfo"]["username"], "dev");
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        json!(["devs", "system:authenticated"])
    );
    let can = up.kubectl(&["--as=dev", "auth", "can-i", "delete", "namespaces"]);
    let said = String::from_utf8_lossy(&can.stdout);
    assert!(said.starts_with("no"), "{said}");
    let can = up.kubectl(&["auth", "can-i", "delete", "namespaces"]);
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "yes");
}

#[tokio::test]
async fn impersonation_needs_permission_to_impersonate() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, TOKENS).expect("the token file");
    let flag = format!("--token-auth-file={}", tokens.display());
    let up = tokio::task::spawn_blocking(move || KeelsonUp::start(&[&flag]))
        .await
        .expect("keelson up");
    let https = https(&up);
    let response = https
        .anonymous
        .get(format!("{}/api/v1/namespaces", https.base))
        .bearer_auth("dev-token")
        .header("Impersonate-User", "admin")
        .send()
        .await
        .expect("a response");
    let answer = keelson_tests::https::answer(response).await;
    assert_status(&answer, 403, "Forbidden");
    assert_eq!(
        answer.1["message"],
        "users \"admin\" is forbidden: User \"dev\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let group_only = https
        .send_with(
            reqwest::Method::GET,
            "/api/v1/namespaces",
            &[("Impersonate-Group", "system:masters")],
            vec![],
        )
        .await;
    assert_eq!(group_only.status().as_u16(), 400);
}

#[tokio::test]
async fn writes_naming_a_resource_version_that_is_not_a_revision_are_bad_requests() {
    let up = up(&[]).await;
    let https = https(&up);
    let created = https
        .send(
            reqwest::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            br#"{"metadata":{"name":"rv"}}"#.to_vec(),
        )
        .await;
    assert_eq!(created.0, 201);
    let path = "/api/v1/namespaces/default/configmaps/rv";
    for rv in ["abc", "-1", "18446744073709551616"] {
        let body = json!({"metadata": {"name": "rv", "resourceVersion": rv}});
        let put = https
            .send(
                reqwest::Method::PUT,
                path,
                "application/json",
                serde_json::to_vec(&body).expect("JSON"),
            )
            .await;
        assert_status(&put, 400, "BadRequest");
        let patch = https
            .send(
                reqwest::Method::PATCH,
                path,
                "application/merge-patch+json",
                serde_json::to_vec(&body).expect("JSON"),
            )
            .await;
        assert_status(&patch, 400, "BadRequest");
    }
}
