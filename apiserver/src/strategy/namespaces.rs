//! Namespaces: upstream's label of their own name, `spec.finalizers`, and the phase.

use serde_json::{json, Value};

use super::{set, set_default, FieldLabel, NameRule, Strategy};

pub struct Namespaces;
impl Strategy for Namespaces {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
    fn prepare_for_delete(&self, marked: &mut Value) {
        set(marked, &["status"], json!({ "phase": "Terminating" }));
    }
    /// `finalize` changes only `spec.finalizers`.
    fn write_subresource(
        &self,
        name: &str,
        current: &Value,
        body: &Value,
        decode: &mut dyn FnMut(&Value) -> crate::status::ApiResult<Value>,
    ) -> Option<crate::status::ApiResult<Value>> {
        if name != "finalize" {
            return None;
        }
        Some(decode(body).map(|decoded| {
            let mut new = current.clone();
            let finalizers = decoded
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            set(&mut new, &["spec"], json!({ "finalizers": finalizers }));
            new
        }))
    }
    fn default(&self, obj: &mut Value) {
        // Upstream labels every namespace with its own name.
        let name = obj
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        set(
            obj,
            &["metadata", "labels", "kubernetes.io/metadata.name"],
            name,
        );
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        set(obj, &["status"], json!({ "phase": "Active" }));
        set_default(obj, &["spec", "finalizers"], json!(["kubernetes"]));
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // spec.finalizers change only through the finalize subresource.
        if let Some(finalizers) = old.pointer("/spec/finalizers") {
            set(new, &["spec"], json!({ "finalizers": finalizers }));
        }
    }
    fn field_labels(&self) -> &'static [FieldLabel] {
        const LABELS: &[FieldLabel] = &[FieldLabel::field("status.phase")];
        LABELS
    }
    fn pending_finalizers(&self, obj: &Value) -> bool {
        obj.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }
}
