//! Printers of `batch/v1` jobs and cron jobs.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, CONTAINERS, IMAGES, NAME, SELECTOR};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", "Succeeded pods out of required completions."),
    col("Duration", "string", "Time the job took, or has taken so far."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", "string", "Cron schedule of the job."),
    col("Timezone", "string", "Time zone the schedule is interpreted in."),
    col("Suspend", "boolean", "Whether new runs are suspended."),
    col("Active", "integer", "Number of jobs currently running."),
    col("Last Schedule", "string", "Time since a job was last scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `batch/v1/jobs`.
pub struct Jobs;

impl Printer for Jobs {
    fn columns(&self) -> &'static [Column] {
        JOB_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        job_cells(obj, now)
    }
}

/// `batch/v1/cronjobs`.
pub struct CronJobs;

impl Printer for CronJobs {
    fn columns(&self) -> &'static [Column] {
        CRON_JOB_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        cron_job_cells(obj, now)
    }
}

fn job_condition_true(o: &Value, type_: &str) -> bool {
    arr(o, &["status", "conditions"])
        .iter()
        .find(|c| st(c, &["type"]) == type_)
        .is_some_and(|c| st(c, &["status"]) == "True")
}

fn job_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(o, &["status", "succeeded"]);
    let completions = match at(o, &["spec", "completions"]).and_then(as_int) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(o, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        timestamp(o, &["status", "startTime"]),
        timestamp(o, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_signed(now.duration_since(start)),
        (Some(start), Some(end)) => human_signed(end.duration_since(start)),
    };
    let status = if job_condition_true(o, "Complete") {
        "Complete"
    } else if job_condition_true(o, "Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if job_condition_true(o, "Suspended") {
        "Suspended"
    } else if job_condition_true(o, "FailureTarget") {
        "FailureTarget"
    } else if job_condition_true(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(at(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        json!(status),
        json!(completions),
        json!(duration),
        age(o, now),
        names,
        images,
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn cron_job_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match timestamp(o, &["status", "lastScheduleTime"]) {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let time_zone = at(o, &["spec", "timeZone"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let job_spec = at(o, &["spec", "jobTemplate", "spec"]);
    let (names, images) = container_cells(job_spec.and_then(|s| at(s, &["template", "spec"])));
    vec![
        name(o),
        json!(st(o, &["spec", "schedule"])),
        json!(time_zone),
        json!(bool_ptr(at(o, &["spec", "suspend"]))),
        json!(arr(o, &["status", "active"]).len()),
        json!(last_schedule),
        age(o, now),
        names,
        images,
        json!(format_label_selector(
            job_spec.and_then(|s| at(s, &["selector"]))
        )),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn job_and_cron_job_rows() {
        let job = json!({
            "metadata": meta("j", "2024-05-01T11:00:00Z"),
            "spec": {"completions": 3, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}},
            "status": {"succeeded": 3, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:02:30Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            cells("batch", "jobs", &job, now())[1..4],
            [json!("Complete"), json!("3/3"), json!("2m30s")]
        );
        let cron = json!({"spec": {"schedule": "*/5 * * * *", "suspend": false}, "status": {"active": [{}]}});
        assert_eq!(
            cells("batch", "cronjobs", &cron, now())[1..6],
            [
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
    }
}
