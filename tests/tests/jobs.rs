//! The Job controller and ttl-after-finished against an in-process server, with a stand-in
//! for the nodes that finishes the Jobs' pods: completions and parallelism, Indexed Jobs,
//! the backoff limit, and deletion after the TTL.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use keelson_tests::workloads::{eventually, finish_pods, owned_pods, with_controllers};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;

fn job(name: &str, spec: serde_json::Value) -> Job {
    let mut spec = spec;
    spec["template"] = json!({
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]},
    });
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("a Job")
}

fn condition(job: &Job, type_: &str) -> Option<(String, Option<String>)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test]
async fn a_job_runs_its_completions_within_its_parallelism() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = jobs
        .create(
            &PostParams::default(),
            &job("batch", json!({"completions": 3, "parallelism": 2})),
        )
        .await
        .expect("create");
    let uid = created.uid().expect("a uid");
    // Never more than two at once before any finishes.
    eventually("two pods", || async {
        owned_pods(&pods, &uid).await.len() == 2
    })
    .await;
    let _nodes = finish_pods(client.clone(), "default", |_| Some("Succeeded"));
    eventually("the job complete", || async {
        jobs.get("batch")
            .await
            .is_ok_and(|j| condition(&j, "Complete").is_some())
    })
    .await;
    let done = jobs.get("batch").await.expect("get");
    let status = done.status.expect("a status");
    assert_eq!(status.succeeded, Some(3));
    assert!(status.completion_time.is_some());
    let again = jobs.get("batch").await.expect("get");
    assert!(condition(&again, "SuccessCriteriaMet").is_some());
}

#[tokio::test]
async fn an_indexed_job_runs_each_index_once() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = jobs
        .create(
            &PostParams::default(),
            &job(
                "indexed",
                json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            ),
        )
        .await
        .expect("create");
    let uid = created.uid().expect("a uid");
    eventually("three pods", || async {
        owned_pods(&pods, &uid).await.len() == 3
    })
    .await;
    let mut indexes: Vec<String> = owned_pods(&pods, &uid)
        .await
        .iter()
        .filter_map(|p| {
            p.annotations()
                .get("batch.kubernetes.io/job-completion-index")
                .cloned()
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    let hostnames: Vec<String> = owned_pods(&pods, &uid)
        .await
        .iter()
        .filter_map(|p| p.spec.as_ref()?.hostname.clone())
        .collect();
    assert!(
        hostnames.iter().all(|h| h.starts_with("indexed-")),
        "{hostnames:?}"
    );
    let _nodes = finish_pods(client.clone(), "default", |_| Some("Succeeded"));
    eventually("the job complete", || async {
        jobs.get("indexed").await.is_ok_and(|j| {
            condition(&j, "Complete").is_some()
                && j.status.and_then(|s| s.completed_indexes).as_deref() == Some("0-2")
        })
    })
    .await;
}

#[tokio::test]
async fn a_job_failing_past_its_backoff_limit_fails() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job("doomed", json!({"backoffLimit": 1})),
    )
    .await
    .expect("create");
    let _nodes = finish_pods(client.clone(), "default", |_| Some("Failed"));
    eventually("the job failed", || async {
        jobs.get("doomed").await.is_ok_and(|j| {
            condition(&j, "Failed")
                .is_some_and(|(_, r)| r.as_deref() == Some("BackoffLimitExceeded"))
        })
    })
    .await;
    assert_eq!(
        jobs.get("doomed")
            .await
            .expect("get")
            .status
            .and_then(|s| s.failed),
        Some(2)
    );
}

#[tokio::test]
async fn a_finished_job_is_deleted_after_its_ttl() {
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job("brief", json!({"ttlSecondsAfterFinished": 1})),
    )
    .await
    .expect("create");
    let _nodes = finish_pods(client.clone(), "default", |_| Some("Succeeded"));
    eventually("the job deleted", || async {
        jobs.get_opt("brief").await.ok().flatten().is_none()
    })
    .await;
}

#[tokio::test]
async fn a_cron_job_starts_a_job_at_its_scheduled_minute() {
    use k8s_openapi::api::batch::v1::CronJob;
    let (server, _manager) = with_controllers().await;
    let client = server.client();
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let cj: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}],
            }}}},
        },
    }))
    .expect("a CronJob");
    let uid = cron_jobs
        .create(&PostParams::default(), &cj)
        .await
        .expect("create")
        .uid()
        .expect("uid");
    // The next minute starts within 60 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(75);
    let job = loop {
        let found = jobs
            .list(&Default::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .find(|j| j.owner_references().iter().any(|r| r.uid == uid));
        if let Some(job) = found {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no Job within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let minutes: i64 = job
        .name_any()
        .trim_start_matches("tick-")
        .parse()
        .expect("named after the minute");
    assert!(minutes > 29_000_000, "{}", job.name_any());
    assert!(job
        .annotations()
        .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp"));
    eventually("the CronJob's status", || async {
        cron_jobs
            .get("tick")
            .await
            .ok()
            .and_then(|c| c.status)
            .is_some_and(|s| s.last_schedule_time.is_some() && s.active.is_some())
    })
    .await;
}
