//! A Deployment's status from its ReplicaSets, with upstream's conditions: `Available`
//! (minimum availability) and `Progressing` (a new set created or found, progressing,
//! complete, timed out past `progressDeadlineSeconds`, paused).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";

fn sum(sets: &[&ReplicaSet], field: impl Fn(&ReplicaSet) -> Option<i32>) -> i32 {
    sets.iter()
        .filter_map(|rs| field(rs))
        .fold(0, i32::saturating_add)
}

fn status_of(rs: &ReplicaSet) -> Option<&k8s_openapi::api::apps::v1::ReplicaSetStatus> {
    rs.status.as_ref()
}

/// Sets a condition, keeping its transition time when the status does not change.
pub fn set_condition(
    conditions: &mut Vec<DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: jiff::Timestamp,
) {
    let existing = conditions.iter().position(|c| c.type_ == type_);
    if let Some(i) = existing {
        if let Some(c) = conditions.get(i) {
            if c.status == status
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message.as_str())
            {
                return;
            }
        }
    }
    let transition = existing
        .and_then(|i| conditions.get(i))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(transition),
    };
    match existing {
        Some(i) => {
            if let Some(c) = conditions.get_mut(i) {
                *c = condition;
            }
        }
        None => conditions.push(condition),
    }
}

/// Whether the rollout is complete: every replica updated and available, no old ones.
pub fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    status.updated_replicas == Some(replicas)
        && status.replicas == Some(replicas)
        && status.available_replicas == Some(replicas)
        && status.observed_generation >= d.metadata.generation
}

/// The next status of `d` from its sets (`new` among them).
pub fn next(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    max_unavailable: i32,
    now: jiff::Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    let available = sum(all, |rs| status_of(rs).and_then(|s| s.available_replicas));
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(all, |rs| status_of(rs).map(|s| s.replicas))),
        updated_replicas: Some(new.and_then(status_of).map_or(0, |s| s.replicas)),
        ready_replicas: Some(sum(all, |rs| status_of(rs).and_then(|s| s.ready_replicas))),
        available_replicas: Some(available),
        unavailable_replicas: Some((replicas - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    let mut conditions = status.conditions.take().unwrap_or_default();
    if available >= replicas - max_unavailable {
        set_condition(
            &mut conditions,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            now,
        );
    } else {
        set_condition(
            &mut conditions,
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            now,
        );
    }
    let subject = new.and_then(|rs| rs.metadata.name.clone()).map_or_else(
        || {
            format!(
                "Deployment {:?}",
                d.metadata.name.clone().unwrap_or_default()
            )
        },
        |n| format!("ReplicaSet {n:?}"),
    );
    if spec.paused == Some(true) {
        set_condition(
            &mut conditions,
            PROGRESSING,
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            now,
        );
    } else if spec.progress_deadline_seconds.is_some() {
        let current = conditions.iter().find(|c| c.type_ == PROGRESSING).cloned();
        let progressed = status.updated_replicas > old.updated_replicas
            || status.replicas < old.replicas
            || status.ready_replicas > old.ready_replicas
            || status.available_replicas > old.available_replicas;
        if complete(d, &status) {
            set_condition(
                &mut conditions,
                PROGRESSING,
                "True",
                NEW_RS_AVAILABLE,
                format!("{subject} has successfully progressed."),
                now,
            );
        } else if progressed
            || current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some("DeploymentPaused"))
        {
            let reason = if current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some("DeploymentPaused"))
            {
                "DeploymentResumed"
            } else {
                "ReplicaSetUpdated"
            };
            let message = if reason == "DeploymentResumed" {
                "Deployment is resumed".to_string()
            } else {
                format!("{subject} is progressing.")
            };
            // Progress moves the update time even when nothing else changes.
            conditions.retain(|c| c.type_ != PROGRESSING);
            let transition = current
                .filter(|c| c.status == "True")
                .and_then(|c| c.last_transition_time)
                .unwrap_or(Time(now));
            conditions.push(DeploymentCondition {
                type_: PROGRESSING.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(message),
                last_update_time: Some(Time(now)),
                last_transition_time: Some(transition),
            });
        } else if timed_out(d, current.as_ref(), now) {
            set_condition(
                &mut conditions,
                PROGRESSING,
                "False",
                TIMED_OUT,
                format!("{subject} has timed out progressing."),
                now,
            );
        }
    }
    status.conditions = Some(conditions);
    status
}

/// Whether the rollout has made no progress for `progressDeadlineSeconds`.
pub fn timed_out(
    d: &Deployment,
    progressing: Option<&DeploymentCondition>,
    now: jiff::Timestamp,
) -> bool {
    let Some(deadline) = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds) else {
        return false;
    };
    let Some(c) = progressing else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| now.duration_since(t.0).as_secs_f64() > f64::from(deadline)),
    }
}
