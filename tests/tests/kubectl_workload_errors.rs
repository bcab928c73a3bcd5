//! Bad workload input, as the real kubectl reports it from `keelson up`: an invalid cron
//! schedule or time zone and a selector that does not match its template get upstream's
//! 422 messages, and unknown `--controllers` names keep the server from starting.

use keelson_tests::cluster::KeelsonUp;

#[test]
fn an_invalid_cron_schedule_is_refused_with_upstreams_message() {
    let k = KeelsonUp::start(&[]);
    let err = k.fails(&[
        "create",
        "cronjob",
        "bad",
        "--image=busybox:1.36",
        "--schedule=61 * * * *",
    ]);
    assert!(
        err.contains(r#"CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"#),
        "{err}"
    );
}

#[test]
fn an_unknown_time_zone_is_refused_with_upstreams_message() {
    let k = KeelsonUp::start(&[]);
    let manifest = r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: mars}
spec:
  schedule: "0 * * * *"
  timeZone: Mars/Olympus_Mons
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.36}]}
"#;
    let out = k.kubectl_stdin(&["apply", "-f", "-"], manifest);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons"#),
        "{err}"
    );
}

#[test]
fn a_selector_that_does_not_match_the_template_is_refused() {
    let k = KeelsonUp::start(&[]);
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatched}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1.27}]}
"#;
    let out = k.kubectl_stdin(&["apply", "-f", "-"], manifest);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The Deployment "mismatched" is invalid: spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`"#),
        "{err}"
    );
}

#[test]
fn unknown_controllers_keep_the_server_from_starting() {
    let stderr = keelson_tests::keelson_fails(&[
        "up",
        "--data-dir",
        "/nonexistent/keelson",
        "--controllers=*,-no-such-controller",
    ]);
    assert!(stderr.contains("no-such-controller"), "{stderr}");
}
