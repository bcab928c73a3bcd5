//! The batch kinds' defaults and validation: a Job's spec (counts, completion mode, pod
//! failure and replacement policies, the template's restart policy), the selector the
//! registry generates for it, and a CronJob's schedule, policies and job template.

use serde_json::{json, Map, Value};

use super::cron::schedule_error;
use super::pods::validate_pod_template;
use super::rules::{int, is_create, label_selector, list, nonnegative, one_of, text};
use super::set_default;
use super::workloads::selector_matches_template;
use crate::selectors::LabelSelector;
use crate::status::Cause;
use crate::validation::dns1123_label_errors;

/// The labels the registry adds to a Job's template, for its generated selector.
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

/// An Indexed Job's largest parallelism, and its largest number of failed indexes.
const MAX_INDEXED: i64 = 100_000;
/// Above this many completions, a per-index backoff needs tighter limits.
const COMPLETIONS_SOFT_LIMIT: i64 = 100_000;
const HIGH_COMPLETIONS_LIMIT: i64 = 10_000;
const MAX_POD_FAILURE_RULES: usize = 20;
const POD_FAILURE_ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];

/// Copies the template's labels to an object without labels (`SetDefaults_Job`).
fn labels_from_template(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    let empty = obj
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    if let (Some(labels), true) = (labels, empty) {
        super::set(obj, &["metadata", "labels"], labels);
    }
}

/// `SetDefaults_Job`.
pub fn job_defaults(obj: &mut Value) {
    let completions = obj.pointer("/spec/completions").is_some();
    let parallelism = obj.pointer("/spec/parallelism").is_some();
    if !completions && !parallelism {
        set_default(obj, &["spec", "completions"], json!(1));
    }
    set_default(obj, &["spec", "parallelism"], json!(1));
    let per_index = obj.pointer("/spec/backoffLimitPerIndex").is_some();
    set_default(
        obj,
        &["spec", "backoffLimit"],
        json!(if per_index { i32::MAX } else { 6 }),
    );
    labels_from_template(obj);
    set_default(obj, &["spec", "completionMode"], json!("NonIndexed"));
    set_default(obj, &["spec", "suspend"], json!(false));
    set_default(obj, &["spec", "manualSelector"], json!(false));
    let replacement = if obj.pointer("/spec/podFailurePolicy").is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(obj, &["spec", "podReplacementPolicy"], json!(replacement));
    let rules = obj
        .pointer_mut("/spec/podFailurePolicy/rules")
        .and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        let patterns = rule
            .get_mut("onPodConditions")
            .and_then(Value::as_array_mut);
        for pattern in patterns.into_iter().flatten() {
            super::set_default_if_empty(pattern, &["status"], json!("True"));
        }
    }
}

/// `SetDefaults_CronJob` (its job template gets only the pod spec's defaults).
pub fn cron_job_defaults(obj: &mut Value) {
    super::set_default_if_empty(obj, &["spec", "concurrencyPolicy"], json!("Allow"));
    set_default(obj, &["spec", "suspend"], json!(false));
    set_default(obj, &["spec", "successfulJobsHistoryLimit"], json!(3));
    set_default(obj, &["spec", "failedJobsHistoryLimit"], json!(1));
}

fn manual_selector(spec: Option<&Value>) -> bool {
    spec.and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// What the registry does to a new Job (`generateSelectorIfNeeded`): unless the selector
/// is manual, the template gets labels naming the Job and its uid, and the selector
/// selects the uid. The object's labels then default to the template's.
pub fn prepare_job(obj: &mut Value) {
    if manual_selector(obj.get("spec")) {
        return;
    }
    let uid = obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
    let name = obj
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::Null);
    for (label, value) in [
        (LEGACY_JOB_NAME, &name),
        (JOB_NAME, &name),
        (LEGACY_CONTROLLER_UID, &uid),
        (CONTROLLER_UID, &uid),
    ] {
        set_default(
            obj,
            &["spec", "template", "metadata", "labels", label],
            value.clone(),
        );
    }
    if obj.pointer("/spec/selector").is_none_or(Value::is_null) {
        super::set(obj, &["spec", "selector"], json!({}));
    }
    set_default(
        obj,
        &["spec", "selector", "matchLabels", CONTROLLER_UID],
        uid,
    );
    labels_from_template(obj);
}

/// `validateGeneratedSelector`: the template carries the generated labels and the selector
/// selects them.
fn validate_generated_selector(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    let Some(selector) = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    else {
        return;
    };
    if manual_selector(spec) {
        return;
    }
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if uid.is_empty() {
        causes.push(Cause::required("metadata.uid"));
    }
    let labels = spec.and_then(|s| s.pointer("/template/metadata/labels"));
    let mut expected = Map::new();
    for (label, value) in [
        (LEGACY_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
        (CONTROLLER_UID, uid),
        (JOB_NAME, name),
    ] {
        let field = format!("spec.template.metadata.labels[{label}]");
        let detail = format!("must be '{value}'");
        match labels.and_then(|l| l.get(label)).and_then(Value::as_str) {
            None => causes.push(Cause::required_with(field, &detail)),
            Some(actual) if actual != value => causes.push(Cause::invalid(
                field,
                labels.unwrap_or(&Value::Null),
                &detail,
            )),
            Some(_) => {}
        }
        expected.insert(label.to_string(), json!(value));
    }
    if let Ok(parsed) = LabelSelector::from_json(selector) {
        if !parsed.matches(&expected) {
            causes.push(Cause::invalid(
                "spec.selector",
                selector,
                "`selector` not auto-generated",
            ));
        }
    }
}

/// `ValidateJob`.
pub fn validate_job(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    validate_generated_selector(obj, causes);
    validate_job_spec(spec, "spec", causes);
    let selector = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null());
    match selector {
        None => causes.push(Cause::required("spec.selector")),
        Some(selector) => label_selector(Some(selector), "spec.selector", causes),
    }
    if let Ok(parsed) = LabelSelector::from_json(selector.unwrap_or(&Value::Null)) {
        selector_matches_template(&parsed, spec, causes);
    }
    let completions = int(spec, "completions").unwrap_or(0);
    if text(spec, "completionMode") == "Indexed" && completions > 0 {
        // Pods are named `<job>-<index>`, which must stay a DNS label.
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let hostname = format!("{name}-{}", completions.saturating_sub(1));
        if !dns1123_label_errors(&hostname).is_empty() {
            causes.push(Cause::invalid(
                "metadata.name",
                name,
                &format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
}

/// `validateJobSpec` at `at` (`spec`, or a CronJob's `spec.jobTemplate.spec`).
fn validate_job_spec(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        nonnegative(int(spec, field), &format!("{at}.{field}"), causes);
    }
    let per_index = int(spec, "backoffLimitPerIndex");
    let max_failed = int(spec, "maxFailedIndexes");
    let parallelism = int(spec, "parallelism");
    let completions = int(spec, "completions");
    if max_failed.is_some() && per_index.is_none() {
        causes.push(Cause::required_with(
            format!("{at}.backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = spec
        .and_then(|s| s.get("completionMode"))
        .filter(|m| !m.is_null());
    let indexed = mode.and_then(Value::as_str) == Some("Indexed");
    if let Some(mode) = mode {
        if !matches!(mode.as_str(), Some("NonIndexed" | "Indexed")) {
            causes.push(Cause::not_supported(
                format!("{at}.completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
    }
    if indexed {
        if completions.is_none() {
            causes.push(Cause::required_with(
                format!("{at}.completions"),
                "when completion mode is Indexed",
            ));
        }
        if let Some(p) = parallelism.filter(|p| *p > MAX_INDEXED) {
            causes.push(Cause::invalid(
                format!("{at}.parallelism"),
                p,
                &format!(
                    "must be less than or equal to {MAX_INDEXED} when completion mode is Indexed"
                ),
            ));
        }
        if let (Some(c), Some(m)) = (completions, max_failed) {
            if m > c {
                causes.push(Cause::invalid(
                    format!("{at}.maxFailedIndexes"),
                    m,
                    "must be less than or equal to completions",
                ));
            }
        }
        if let Some(m) = max_failed.filter(|m| *m > MAX_INDEXED) {
            causes.push(Cause::invalid(
                format!("{at}.maxFailedIndexes"),
                m,
                &format!("must be less than or equal to {MAX_INDEXED}"),
            ));
        }
        if completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT) && per_index.is_some() {
            let above = format!(
                "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
            );
            if max_failed.is_none() {
                causes.push(Cause::required_with(
                    format!("{at}.maxFailedIndexes"),
                    &format!(
                        "must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"
                    ),
                ));
            }
            if let Some(p) = parallelism.filter(|p| *p > HIGH_COMPLETIONS_LIMIT) {
                causes.push(Cause::invalid(
                    format!("{at}.parallelism"),
                    p,
                    &format!("must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {above}"),
                ));
            }
            if let Some(m) = max_failed.filter(|m| *m > HIGH_COMPLETIONS_LIMIT) {
                causes.push(Cause::invalid(
                    format!("{at}.maxFailedIndexes"),
                    m,
                    &format!("must be less than or equal to {HIGH_COMPLETIONS_LIMIT} {above}"),
                ));
            }
        }
    }
    if mode.is_none() || mode.and_then(Value::as_str) == Some("NonIndexed") {
        for (field, value) in [
            ("backoffLimitPerIndex", per_index),
            ("maxFailedIndexes", max_failed),
        ] {
            if let Some(v) = value {
                causes.push(Cause::invalid(
                    format!("{at}.{field}"),
                    v,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let failure_policy = spec
        .and_then(|s| s.get("podFailurePolicy"))
        .filter(|p| !p.is_null());
    if let Some(policy) = failure_policy {
        let rules = list(Some(policy), "rules");
        let at = format!("{at}.podFailurePolicy.rules");
        if rules.len() > MAX_POD_FAILURE_RULES {
            causes.push(Cause::too_many(
                at.as_str(),
                rules.len(),
                MAX_POD_FAILURE_RULES,
            ));
        }
        for (i, rule) in rules.iter().enumerate() {
            let field = format!("{at}[{i}].action");
            match text(Some(rule), "action") {
                "" => causes.push(Cause::required_with(
                    field,
                    "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
                )),
                "FailIndex" if per_index.is_none() => causes.push(Cause::invalid(
                    field,
                    "FailIndex",
                    "requires the backoffLimitPerIndex to be set",
                )),
                action if !POD_FAILURE_ACTIONS.contains(&action) => {
                    causes.push(Cause::not_supported(field, action, POD_FAILURE_ACTIONS))
                }
                _ => {}
            }
        }
    }
    if let Some(replacement) = spec
        .and_then(|s| s.get("podReplacementPolicy"))
        .filter(|p| !p.is_null())
    {
        let value = replacement.as_str().unwrap_or_default();
        let field = format!("{at}.podReplacementPolicy");
        if failure_policy.is_some() {
            if value != "Failed" {
                causes.push(Cause::not_supported(field, value, &["Failed"]));
            }
        } else if !matches!(value, "Failed" | "TerminatingOrFailed") {
            causes.push(Cause::not_supported(
                field,
                value,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    validate_pod_template(
        spec.and_then(|s| s.get("template")),
        &format!("{at}.template"),
        causes,
    );
    // The template defaulter sets `Always`, which a Job may not use.
    let restart = text(
        spec.and_then(|s| s.pointer("/template/spec")),
        "restartPolicy",
    );
    let field = format!("{at}.template.spec.restartPolicy");
    match restart {
        "" | "Always" => causes.push(Cause::required_with(
            field,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {
            if failure_policy.is_some() && restart != "Never" {
                causes.push(Cause::invalid(
                    field,
                    restart,
                    "only \"Never\" is supported when podFailurePolicy is specified",
                ));
            }
        }
        other => causes.push(Cause::not_supported(field, other, &["OnFailure", "Never"])),
    }
}

/// `validateTimeZone` (whether the zone exists is not checked: Keelson has no zone
/// database).
fn validate_time_zone(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(zone) = spec.and_then(|s| s.get("timeZone")).and_then(Value::as_str) else {
        return;
    };
    let field = "spec.timeZone";
    if zone.is_empty() {
        causes.push(Cause::invalid(
            field,
            zone,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let valid_part = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    };
    if !zone.split('/').all(valid_part) {
        causes.push(Cause::invalid(
            field,
            zone,
            &format!("unknown time zone {zone}"),
        ));
        return;
    }
    // Upstream loads the zone (`time.LoadLocation`); one the time zone database lacks is
    // as unknown as a malformed name.
    if !zone.eq_ignore_ascii_case("Local") && jiff::tz::TimeZone::get(zone).is_err() {
        causes.push(Cause::invalid(
            field,
            zone,
            &format!("unknown time zone {zone}"),
        ));
        return;
    }
    if zone.eq_ignore_ascii_case("Local") {
        causes.push(Cause::invalid(
            field,
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
}

/// `ValidateCronJobCreate`/`ValidateCronJobUpdate`.
pub fn validate_cron_job(obj: &Value, causes: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    let schedule = text(spec, "schedule");
    if schedule.is_empty() {
        causes.push(Cause::required("spec.schedule"));
    } else {
        if let Some(error) = schedule_error(schedule) {
            causes.push(Cause::invalid("spec.schedule", schedule, &error));
        }
        if schedule.contains("TZ") {
            causes.push(Cause::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    nonnegative(
        int(spec, "startingDeadlineSeconds"),
        "spec.startingDeadlineSeconds",
        causes,
    );
    validate_time_zone(spec, causes);
    one_of(
        text(spec, "concurrencyPolicy"),
        "spec.concurrencyPolicy",
        &["Allow", "Forbid", "Replace"],
        causes,
    );
    let job_spec = spec.and_then(|s| s.pointer("/jobTemplate/spec"));
    validate_job_spec(job_spec, "spec.jobTemplate.spec", causes);
    if let Some(selector) = job_spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        causes.push(Cause::invalid(
            "spec.jobTemplate.spec.selector",
            selector,
            "`selector` will be auto-generated",
        ));
    }
    if manual_selector(job_spec) {
        causes.push(Cause::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        nonnegative(int(spec, field), &format!("spec.{field}"), causes);
    }
    // The controller appends an 11-character suffix to name the Jobs (at most 63).
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if is_create(obj) && name.len() > 52 {
        causes.push(Cause::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::workloads::{CRON_JOBS, JOBS};
    use super::super::Strategy;
    use super::*;

    fn errors(strategy: &dyn Strategy, mut obj: Value) -> Vec<(String, String)> {
        strategy.default(&mut obj);
        strategy.prepare_for_create(&mut obj);
        let mut causes = Vec::new();
        strategy.validate(&obj, &mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    fn job(extra: Value) -> Value {
        let mut spec = json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": spec})
    }

    #[test]
    fn the_registry_generates_the_selector() {
        let mut obj = job(json!({}));
        JOBS.default(&mut obj);
        JOBS.prepare_for_create(&mut obj);
        assert_eq!(
            obj["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            obj["spec"]["template"]["metadata"]["labels"],
            json!({"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1"})
        );
        assert_eq!(
            obj["metadata"]["labels"],
            obj["spec"]["template"]["metadata"]["labels"]
        );
        let mut causes = Vec::new();
        JOBS.validate(&obj, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
    }

    #[test]
    fn jobs() {
        let cases = [
            (
                job(json!({"parallelism": -1})),
                one("spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                job(json!({"backoffLimit": -1})),
                one("spec.backoffLimit", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                job(json!({"activeDeadlineSeconds": -5})),
                one("spec.activeDeadlineSeconds", "Invalid value: -5: must be greater than or equal to 0"),
            ),
            (
                job(json!({"completions": -1})),
                one("spec.completions", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                job(json!({"completionMode": "Sometimes"})),
                one("spec.completionMode", "Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \"Indexed\""),
            ),
            (
                job(json!({"completionMode": "Indexed", "parallelism": 2})),
                one("spec.completions", "Required value: when completion mode is Indexed"),
            ),
            (
                job(json!({"backoffLimitPerIndex": 1})),
                one("spec.backoffLimitPerIndex", "Invalid value: 1: requires indexed completion mode"),
            ),
            (
                job(json!({"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}})),
                one("spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\""),
            ),
            (
                job(json!({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]},
                    "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}})),
                one("spec.template.spec.restartPolicy", "Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"),
            ),
            (
                job(json!({"podFailurePolicy": {"rules": [{"action": "Retry"}]}})),
                one("spec.podFailurePolicy.rules[0].action", "Unsupported value: \"Retry\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\""),
            ),
            (
                job(json!({"podReplacementPolicy": "Always"})),
                one("spec.podReplacementPolicy", "Unsupported value: \"Always\": supported values: \"Failed\", \"TerminatingOrFailed\""),
            ),
            (
                job(json!({"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}})),
                one("spec.template.metadata.labels", "Invalid value: null: `selector` does not match template `labels`"),
            ),
            (
                job(json!({"selector": {"matchLabels": {"controller-uid": "other"}}})),
                vec![
                    ("spec.selector".to_string(), "Invalid value: {\"matchLabels\":{\"controller-uid\":\"other\",\"batch.kubernetes.io/controller-uid\":\"u-1\"}}: `selector` not auto-generated".to_string()),
                    ("spec.template.metadata.labels".to_string(), "Invalid value: {\"job-name\":\"pi\",\"batch.kubernetes.io/job-name\":\"pi\",\"controller-uid\":\"u-1\",\"batch.kubernetes.io/controller-uid\":\"u-1\"}: `selector` does not match template `labels`".to_string()),
                ],
            ),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&JOBS, obj.clone()), expected, "{obj}");
        }
        let mut too_many = job(json!({"completionMode": "Indexed", "completions": 10}));
        too_many["metadata"]["name"] = json!("a".repeat(62));
        assert_eq!(
            errors(&JOBS, too_many),
            one("metadata.name", &format!("Invalid value: \"{0}\": will not able to create pod with invalid DNS label: {0}-9", "a".repeat(62)))
        );
    }

    fn cron(extra: Value) -> Value {
        let mut spec = json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"metadata": {"name": "tick"}, "spec": spec})
    }

    #[test]
    fn cron_jobs() {
        let cases = [
            (cron(json!({})), vec![]),
            (cron(json!({"schedule": ""})), one("spec.schedule", "Required value")),
            (
                cron(json!({"schedule": "every minute"})),
                one("spec.schedule", "Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]"),
            ),
            (
                cron(json!({"schedule": "TZ=UTC 0 * * * *"})),
                one("spec.schedule", "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
            ),
            (
                cron(json!({"concurrencyPolicy": "Sometimes"})),
                one("spec.concurrencyPolicy", "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""),
            ),
            (
                cron(json!({"successfulJobsHistoryLimit": -1})),
                one("spec.successfulJobsHistoryLimit", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                cron(json!({"startingDeadlineSeconds": -1})),
                one("spec.startingDeadlineSeconds", "Invalid value: -1: must be greater than or equal to 0"),
            ),
            (
                cron(json!({"timeZone": "Local"})),
                one("spec.timeZone", "Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"),
            ),
            (
                cron(json!({"timeZone": "Mars/Olympus_Mons"})),
                one("spec.timeZone", "Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons"),
            ),
            (
                cron(json!({"timeZone": "Mars/Olympus Mons"})),
                one("spec.timeZone", "Invalid value: \"Mars/Olympus Mons\": unknown time zone Mars/Olympus Mons"),
            ),
            (
                cron(json!({"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}})),
                one("spec.jobTemplate.spec.template.spec.restartPolicy", "Required value: valid values: \"OnFailure\", \"Never\""),
            ),
            (
                cron(json!({"jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}})),
                one("spec.jobTemplate.spec.selector", "Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` will be auto-generated"),
            ),
            (
                cron(json!({"jobTemplate": {"spec": {"manualSelector": true, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}})),
                one("spec.jobTemplate.spec.manualSelector", "Unsupported value: true: supported values: \"nil\", \"false\""),
            ),
        ];
        for (obj, expected) in cases {
            assert_eq!(errors(&CRON_JOBS, obj.clone()), expected, "{obj}");
        }
        let mut long = cron(json!({}));
        long["metadata"]["name"] = json!("c".repeat(53));
        assert_eq!(
            errors(&CRON_JOBS, long.clone()),
            one(
                "metadata.name",
                &format!(
                    "Invalid value: \"{}\": must be no more than 52 characters",
                    "c".repeat(53)
                )
            )
        );
        // Only on create: an existing CronJob with a long name may still be updated.
        long["metadata"]["resourceVersion"] = json!("7");
        assert_eq!(errors(&CRON_JOBS, long), vec![]);
    }
}
