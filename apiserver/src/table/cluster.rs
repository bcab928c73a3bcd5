//! Printers of cluster-wide settings: namespaces, priority classes and admission webhook
//! configurations.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the namespace."),
    AGE,
];

#[rustfmt::skip]
static PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Value", "integer", "Priority given to pods of this class."),
    col("Global-Default", "boolean", "Whether this is the default class for pods without one."),
    AGE,
    col("PreemptionPolicy", "string", "Whether pods of this class may preempt others."),
];

#[rustfmt::skip]
static WEBHOOK_CONFIGURATION_COLUMNS: &[Column] = &[
    NAME,
    col("Webhooks", "integer", "Number of webhooks in this configuration."),
    AGE,
];

/// `v1/namespaces`.
pub struct Namespaces;

impl Printer for Namespaces {
    fn columns(&self) -> &'static [Column] {
        NAMESPACE_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(st(obj, &["status", "phase"])),
            age(obj, now),
        ]
    }
}

/// `scheduling.k8s.io/v1/priorityclasses`.
pub struct PriorityClasses;

impl Printer for PriorityClasses {
    fn columns(&self) -> &'static [Column] {
        PRIORITY_CLASS_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(int(obj, &["value"])),
            json!(flag(obj, &["globalDefault"])),
            age(obj, now),
            json!(st(obj, &["preemptionPolicy"])),
        ]
    }
}

/// `admissionregistration.k8s.io/v1` mutating and validating webhook configurations.
pub struct WebhookConfigurations;

impl Printer for WebhookConfigurations {
    fn columns(&self) -> &'static [Column] {
        WEBHOOK_CONFIGURATION_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(arr(obj, &["webhooks"]).len()),
            age(obj, now),
        ]
    }
}
