//! The [`Strategy`] of a custom resource version: its structural schema prunes, defaults
//! and validates objects, its CEL rules validate them (transition rules against the old
//! object), and its subresources decide what status and scale mean.

use serde_json::Value;

use super::cel::Rules;
use super::schema::Structural;
use crate::status::Cause;
use crate::strategy::{ScalePaths, Strategy};

pub struct CustomStrategy {
    schema: Option<Structural>,
    rules: Option<Rules>,
    has_status: bool,
    scale: ScalePaths,
    /// The CRD is being deleted: its objects go, and no new one is made.
    terminating: bool,
}

/// `.spec.replicas` as a JSON pointer (`/spec/replicas`), leaked as descriptors are.
fn pointer(path: &str) -> &'static str {
    let pointer = path.trim().replace('.', "/");
    let pointer = if pointer.starts_with('/') {
        pointer
    } else {
        format!("/{pointer}")
    };
    Box::leak(pointer.into_boxed_str())
}

impl CustomStrategy {
    /// The strategy of one version of a CRD (`spec.versions[i]`).
    pub fn new(version: &Value, kind: &str) -> Result<CustomStrategy, String> {
        let raw = version.pointer("/schema/openAPIV3Schema");
        let schema = raw.map(Structural::parse).transpose().map_err(|errors| {
            format!(
                "the schema of {kind} is not structural: {}",
                errors.join("; ")
            )
        })?;
        let rules = raw
            .map(Rules::compile)
            .transpose()
            .map_err(|causes| {
                let listed: Vec<String> = causes
                    .iter()
                    .map(|c| format!("{}: {}", c.field, c.message))
                    .collect();
                format!(
                    "the validation rules of {kind} do not compile: {}",
                    listed.join("; ")
                )
            })?
            .filter(|rules| !rules.is_empty());
        let scale = match version.pointer("/subresources/scale") {
            Some(scale) => ScalePaths {
                spec_replicas: pointer(
                    scale
                        .get("specReplicasPath")
                        .and_then(Value::as_str)
                        .unwrap_or(".spec.replicas"),
                ),
                status_replicas: pointer(
                    scale
                        .get("statusReplicasPath")
                        .and_then(Value::as_str)
                        .unwrap_or(".status.replicas"),
                ),
                selector: scale
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(pointer),
                selector_is_object: false,
            },
            None => ScalePaths::REPLICAS,
        };
        Ok(CustomStrategy {
            schema,
            rules,
            has_status: version.pointer("/subresources/status").is_some(),
            scale,
            terminating: false,
        })
    }

    /// The same strategy for a CRD that is being deleted.
    pub fn terminating(self, terminating: bool) -> CustomStrategy {
        CustomStrategy {
            terminating,
            ..self
        }
    }

    /// The parts of an object whose change is a new generation: all but metadata, and
    /// status when it is a subresource.
    fn generational<'a>(&self, obj: &'a Value) -> Vec<(&'a String, &'a Value)> {
        obj.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| {
                        !(matches!(k.as_str(), "metadata" | "apiVersion" | "kind")
                            || self.has_status && k.as_str() == "status")
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Strategy for CustomStrategy {
    fn on_create(&self, subresource: Option<&str>) -> crate::strategy::CreateAction {
        use crate::strategy::CreateAction;
        match subresource {
            _ if self.terminating => CreateAction::Refused(
                "create not allowed while custom resource definition is terminating",
            ),
            None => CreateAction::Store,
            Some(_) => CreateAction::NotAllowed,
        }
    }
    fn default(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            schema.apply_defaults(obj);
        }
    }
    fn prune(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            schema.prune(obj);
        }
    }
    fn keeps_status_on_create(&self) -> bool {
        // Without a status subresource, status is an ordinary field.
        !self.has_status
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        crate::strategy::set(obj, &["metadata", "generation"], Value::from(1));
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if self.generational(new) == self.generational(old) {
            return;
        }
        let next = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .saturating_add(1);
        crate::strategy::set(new, &["metadata", "generation"], Value::from(next));
    }
    fn validate(&self, obj: &Value, causes: &mut Vec<Cause>) {
        if let Some(schema) = &self.schema {
            causes.extend(schema.validate(obj));
        }
    }
    fn validate_rules(&self, obj: &Value, old: Option<&Value>, causes: &mut Vec<Cause>) {
        if let Some(rules) = &self.rules {
            causes.extend(rules.validate(obj, old));
        }
    }
    fn scale(&self) -> ScalePaths {
        self.scale
    }
}
