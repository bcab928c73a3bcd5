//! Nodes.

use super::{FieldLabel, Strategy};

pub struct Nodes;
impl Strategy for Nodes {
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[FieldLabel::boolean("spec.unschedulable")];
        LABELS
    }
}
