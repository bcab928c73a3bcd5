//! The printer of events, served by core `v1` and by `events.k8s.io/v1` under other
//! field names.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", "Time since the event was last observed."),
    col("Type", "string", "Type of the event (Normal, Warning)."),
    col("Reason", "string", "Short reason for the event."),
    col("Object", "string", "Object the event is about."),
    wide("Subobject", "string", "Field path of the part of the object involved."),
    wide("Source", "string", "Component (and host) that reported the event."),
    col("Message", "string", "Human-readable description of the event."),
    wide("First Seen", "string", "Time since the event was first observed."),
    wide("Count", "string", "Number of times the event occurred."),
    Column { priority: 1, ..NAME },
];

/// `v1/events`.
pub struct CoreEvents;

impl Printer for CoreEvents {
    fn columns(&self) -> &'static [Column] {
        EVENT_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        event_cells(obj, &CORE_EVENT_FIELDS, now)
    }
}

/// `events.k8s.io/v1/events`: core's printer over the newer field names.
pub struct EventsV1Events;

impl Printer for EventsV1Events {
    fn columns(&self) -> &'static [Column] {
        EVENT_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        event_cells(obj, &EVENTS_V1_FIELDS, now)
    }
}

/// Where an event's fields live in core/v1 versus events.k8s.io/v1.
struct EventFields {
    involved: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
    reporting_controller: &'static str,
}

const CORE_EVENT_FIELDS: EventFields = EventFields {
    involved: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
    reporting_controller: "reportingComponent",
};

const EVENTS_V1_FIELDS: EventFields = EventFields {
    involved: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    reporting_controller: "reportingController",
};

fn event_cells(o: &Value, f: &EventFields, now: Timestamp) -> Vec<Value> {
    // Newer events only carry eventTime/series; fall back through them like upstream.
    let first = match timestamp(o, &[f.first]) {
        Some(t) => since(Some(t), now),
        None => since(timestamp(o, &["eventTime"]), now),
    };
    let mut last = match timestamp(o, &[f.last]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int(o, &[f.count]);
    if has_obj(o, &["series"]) {
        last = since(timestamp(o, &["series", "lastObservedTime"]), now);
        count = int(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = st(o, &[f.involved, "kind"]).to_lowercase();
    let involved_name = st(o, &[f.involved, "name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let component = first_non_empty(
        st(o, &[f.source, "component"]),
        st(o, &[f.reporting_controller]),
    );
    let instance = first_non_empty(st(o, &[f.source, "host"]), st(o, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(st(o, &["type"])),
        json!(st(o, &["reason"])),
        json!(target),
        json!(st(o, &[f.involved, "fieldPath"])),
        json!(source),
        json!(st(o, &[f.message]).trim()),
        json!(first),
        json!(count),
        name(o),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn event_row() {
        assert_eq!(
            col_names("", "events", 0),
            ["Last Seen", "Type", "Reason", "Object", "Message"]
        );
        assert_eq!(
            col_names("", "events", 1),
            ["Subobject", "Source", "First Seen", "Count", "Name"]
        );
        let ev = json!({
            "metadata": meta("web-0.17a", "2024-05-01T11:00:00Z"),
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{a}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container \n",
            "type": "Warning",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-05-01T11:00:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 7
        });
        assert_eq!(
            cells("", "events", &ev, now()),
            vec![
                json!("2m"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{a}"),
                json!("kubelet, n1"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(7),
                json!("web-0.17a")
            ]
        );
        // events.k8s.io objects and series-only events print through the same printer.
        let v1 = json!({
            "metadata": meta("e", "2024-05-01T11:00:00Z"),
            "regarding": {"kind": "Node", "name": "n1"},
            "note": "ok", "type": "Normal", "reason": "Ready",
            "eventTime": "2024-05-01T11:30:00.000000Z",
            "reportingController": "kubelet",
            "series": {"count": 3, "lastObservedTime": "2024-05-01T11:59:00.000000Z"}
        });
        let c = cells("events.k8s.io", "events", &v1, now());
        assert_eq!(c[0], json!("60s"));
        assert_eq!(c[3], json!("node/n1"));
        assert_eq!(c[5], json!("kubelet"));
        assert_eq!(c[6], json!("ok"));
        assert_eq!(c[7], json!("30m"));
        assert_eq!(c[8], json!(3));
    }
}
