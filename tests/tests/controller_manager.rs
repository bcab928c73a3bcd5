//! The controller manager: leader election over a Lease (one candidate leads; another takes
//! over when it stops), and `--controllers` parsed as upstream's flag is.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use keelson_reconcilers::leader::LeaderElection;
use keelson_tests::in_process::InProcess;
use tokio_util::sync::CancellationToken;

fn quick(name: &str) -> LeaderElection {
    let mut election = LeaderElection::new(name);
    election.lease_duration = Duration::from_secs(2);
    election.renew_deadline = Duration::from_millis(1500);
    election.retry_period = Duration::from_millis(200);
    election
}

#[tokio::test]
async fn one_candidate_leads_and_another_takes_over_when_it_stops() {
    let server = InProcess::start().await;
    let client = server.client();
    let first = quick("test-lease");
    let second = quick("test-lease");
    let first_stop = CancellationToken::new();
    assert!(first.acquire(&client, &first_stop).await);
    let holding = {
        let client = client.clone();
        let stop = first_stop.clone();
        let first = first.clone();
        tokio::spawn(async move { first.hold(&client, &stop).await })
    };
    // While the first renews, the second does not get the lease, for several lease terms.
    let second_stop = CancellationToken::new();
    let attempt = tokio::time::timeout(
        Duration::from_secs(6),
        second.acquire(&client, &second_stop),
    )
    .await;
    assert!(attempt.is_err(), "two candidates led at once");
    let leases: kube::Api<Lease> = kube::Api::namespaced(client.clone(), "kube-system");
    let lease = leases.get("test-lease").await.expect("the lease");
    let spec = lease.spec.expect("a spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(first.identity.as_str())
    );
    assert_eq!(spec.lease_duration_seconds, Some(2));
    // The first stops (and releases the lease): the second takes it.
    first_stop.cancel();
    holding.await.expect("the first stops");
    let taken = tokio::time::timeout(
        Duration::from_secs(30),
        second.acquire(&client, &second_stop),
    )
    .await
    .expect("the second candidate takes over");
    assert!(taken);
    let spec = leases
        .get("test-lease")
        .await
        .expect("the lease")
        .spec
        .expect("a spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(second.identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test]
async fn a_lease_whose_holder_died_is_taken_after_it_expires() {
    let server = InProcess::start().await;
    let client = server.client();
    let dead = quick("expiring");
    // Took the lease and never renewed it (its process died).
    assert!(dead.acquire(&client, &CancellationToken::new()).await);
    let next = quick("expiring");
    let taken = tokio::time::timeout(
        Duration::from_secs(30),
        next.acquire(&client, &CancellationToken::new()),
    )
    .await
    .expect("the lease is taken once it expired");
    assert!(taken);
}

#[test]
fn unknown_controllers_are_refused_at_start() {
    let out =
        keelson_tests::keelson(&["up", "--controllers=*,nope", "--data-dir", "/nonexistent/x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"nope\" is not in the list of known controllers"),
        "{stderr}"
    );
}

#[test]
fn the_loops_report_workqueue_metrics() {
    let up = keelson_tests::cluster::KeelsonUp::start(&[]);
    up.ok(&["create", "deployment", "measured", "--image=nginx:1.27"]);
    up.eventually(
        std::time::Duration::from_secs(30),
        "the deployment controller's metrics",
        || {
            let metrics = up.ok(&["get", "--raw", "/metrics"]);
            metrics.contains("workqueue_adds_total{name=\"deployment-controller\"}")
                && metrics.contains("workqueue_work_duration_seconds_bucket{")
                && metrics.contains("apiserver_request_total{")
        },
    );
}
