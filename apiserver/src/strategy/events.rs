//! Core Events: their field selectors.

use super::{FieldLabel, Strategy};

pub struct CoreEvents;
impl Strategy for CoreEvents {
    fn expires(&self) -> bool {
        true
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[
            FieldLabel::field("involvedObject.kind"),
            FieldLabel::field("involvedObject.namespace"),
            FieldLabel::field("involvedObject.name"),
            FieldLabel::field("involvedObject.uid"),
            FieldLabel::field("involvedObject.apiVersion"),
            FieldLabel::field("involvedObject.resourceVersion"),
            FieldLabel::field("involvedObject.fieldPath"),
            FieldLabel::field("reason"),
            FieldLabel {
                name: "reportingComponent",
                paths: &["reportingComponent"],
                unset: "",
            },
            // The reporting component, or the controller when an event names none.
            FieldLabel {
                name: "source",
                paths: &["source.component", "reportingComponent"],
                unset: "",
            },
            FieldLabel::field("type"),
        ];
        LABELS
    }
}

/// `events.k8s.io/v1` Events: the core Events in another shape, and as short-lived.
pub struct EventsV1;
impl Strategy for EventsV1 {
    fn expires(&self) -> bool {
        true
    }
}
