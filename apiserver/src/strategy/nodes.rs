//! Nodes. A node registers with its status (capacity, allocatable, conditions), as the
//! kubelet and upstream's scheduler benchmarks create them: upstream's node strategy keeps
//! the status on create.

use super::{FieldLabel, Strategy};

pub struct Nodes;
impl Strategy for Nodes {
    fn keeps_status_on_create(&self) -> bool {
        true
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[FieldLabel::boolean("spec.unschedulable")];
        LABELS
    }
}
