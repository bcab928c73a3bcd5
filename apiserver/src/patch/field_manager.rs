//! Who writes and what that does to `metadata.managedFields` on every write that is not an
//! apply (upstream's `FieldManager.Update`): the writer's `Update` entry takes the fields
//! the write added or changed from every other manager, and fields the write removed leave
//! every manager's set. Sets that end up empty go, and an object whose managers all went
//! has no `managedFields`.
//!
//! Managed fields a write names itself replace the object's (so clients can edit or migrate
//! them, as kubectl does when it takes over from client-side apply), unless the list is
//! empty (kept from the object, so that clients unaware of the field cannot drop it) or
//! the write is to a subresource; one empty entry (`[{}]`) clears them, as upstream's.

use serde_json::Value;

use super::managed_fields::{self, Element, Entry, FieldSet, UPDATE};
use super::strategic::SchemaIndex;
use super::typed::{self, Typed};
use crate::registry::{Target, WriteOptions};

/// Upstream's limit on a manager's name.
const MAX_MANAGER_LENGTH: usize = 128;

/// The manager upstream records for an apply to an object that has no managed fields, which
/// then owns every field the object had.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Metadata no manager owns (upstream's `stripMetaManager`).
const STRIPPED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
];

/// One write's manager and what its ownership depends on.
pub struct Writer<'a> {
    pub manager: String,
    /// `v1`, `apps/v1`: the version entries are recorded at.
    pub api_version: String,
    pub subresource: Option<&'a str>,
    /// An apply's `force`: take conflicting fields from their owners.
    pub force: bool,
    /// Whether the kind has a status subresource, so that writes to the object itself own
    /// no part of `status` (upstream's reset fields).
    status_separate: bool,
    schema: Typed<'static>,
}

impl<'a> Writer<'a> {
    pub fn new(target: &Target<'_>, subresource: Option<&'a str>, opts: &WriteOptions) -> Self {
        let schema = match target.resource.schema {
            Some(raw) => Typed::custom(raw),
            None => Typed::new(
                SchemaIndex::new(crate::documents::schemas())
                    .definition(&target.resource.kind_definition()),
            ),
        };
        Writer {
            manager: manager_name(opts.field_manager.as_deref(), opts.user_agent.as_deref()),
            api_version: target.resource.api_version(),
            subresource,
            force: opts.force,
            status_separate: target.resource.subresource("status").is_some(),
            schema,
        }
    }

    /// A writer of objects whose schema is `schema` (for tests and callers without a target).
    pub fn with_schema(manager: &str, api_version: &str, schema: Typed<'static>) -> Self {
        Writer {
            manager: manager.to_string(),
            api_version: api_version.to_string(),
            subresource: None,
            force: false,
            status_separate: false,
            schema,
        }
    }

    pub fn schema(&self) -> Typed<'static> {
        self.schema
    }

    /// Whether apply tracks ownership through this subresource; the other subresources
    /// (`scale`) merge an apply without it.
    pub fn tracks_apply(&self) -> bool {
        matches!(self.subresource, None | Some("status"))
    }

    /// Whether this write may own `path`: never the identity metadata, and only its own part
    /// of the object when the object has parts (the status subresource and the rest).
    pub fn owns(&self, path: &[Element]) -> bool {
        let is = |field: &str, element: Option<&Element>| {
            element.is_some_and(|e| e.strip_prefix("f:") == Some(field))
        };
        match path {
            [] => return false,
            [one] if ["f:apiVersion", "f:kind", "f:metadata"].contains(&one.as_str()) => {
                return false
            }
            [meta, field]
                if meta == "f:metadata" && STRIPPED_METADATA.iter().any(|s| is(s, Some(field))) =>
            {
                return false
            }
            _ => {}
        }
        let first = path.first();
        match self.subresource {
            None => !(self.status_separate && is("status", first)),
            Some("status") => is("status", first),
            Some("scale") => is("spec", first) && is("replicas", path.get(1)),
            Some(_) => true,
        }
    }

    /// The comparison of two versions of an object, limited to what this write may own.
    pub fn compare(&self, old: &Value, new: &Value) -> typed::Comparison {
        typed::compare(&without_managed(old), &without_managed(new), self.schema)
            .filter(|p| self.owns(p))
    }

    fn entry(&self, operation: &str, fields: FieldSet, time: Option<String>) -> Entry {
        Entry {
            manager: self.manager.clone(),
            operation: operation.to_string(),
            api_version: self.api_version.clone(),
            time,
            subresource: self.subresource.map(str::to_string),
            fields,
        }
    }

    /// A new `Apply` entry of this writer.
    pub fn apply_entry(&self, fields: FieldSet, time: Option<String>) -> Entry {
        self.entry(managed_fields::APPLY, fields, time)
    }

    /// Records a create, update or non-apply patch in `new`'s managedFields; `live` is the
    /// object before the write (none for a create).
    pub fn record_update(&self, live: Option<&Value>, new: &mut Value, now: &str) {
        let written = new.pointer_mut("/metadata/managedFields").map(Value::take);
        if written.as_ref().is_some_and(managed_fields::is_reset) {
            managed_fields::store(new, &[]);
            return;
        }
        let from_write = written
            .filter(|_| self.subresource.is_none())
            .and_then(|w| managed_fields::decode(&w).ok())
            .filter(|entries| !entries.is_empty());
        let entries = match from_write {
            Some(entries) => entries,
            None => live.map(entries_of).unwrap_or_default(),
        };
        let empty = Value::Object(Default::default());
        let comparison = self.compare(live.unwrap_or(&empty), new);
        let entries = self.update_entries(entries, &comparison, now);
        managed_fields::store(new, &entries);
    }

    /// The entries after an update whose changes `comparison` holds.
    fn update_entries(
        &self,
        mut entries: Vec<Entry>,
        comparison: &typed::Comparison,
        now: &str,
    ) -> Vec<Entry> {
        let changed = comparison.changed();
        for entry in &mut entries {
            entry.fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
        }
        // Writes without a manager (the server's own) take fields from others but own none.
        if !changed.is_empty() && !self.manager.is_empty() {
            let mine = self.entry(UPDATE, FieldSet::new(), None);
            match entries.iter_mut().find(|e| e.same_manager(&mine)) {
                Some(entry) => {
                    entry.fields = entry.fields.union(&changed);
                    entry.time = Some(now.to_string());
                }
                None => entries.push(self.entry(UPDATE, changed, Some(now.to_string()))),
            }
        }
        entries.retain(|e| !e.fields.is_empty());
        entries
    }

    /// Upstream's first apply to an object without managed fields: every field it has goes
    /// to the `before-first-apply` manager, so that an apply can conflict with them.
    pub fn before_first_apply(&self, live: &Value, now: &str) -> Vec<Entry> {
        let updater = Writer {
            manager: BEFORE_FIRST_APPLY.to_string(),
            api_version: self.api_version.clone(),
            subresource: None,
            force: true,
            status_separate: self.status_separate,
            schema: self.schema,
        };
        let comparison = updater.compare(&Value::Object(Default::default()), live);
        updater.update_entries(Vec::new(), &comparison, now)
    }
}

/// The entries an object holds; ones that do not decode count as none, as upstream's
/// `UpdateNoErrors` drops garbage.
pub fn entries_of(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(|list| managed_fields::decode(list).ok())
        .unwrap_or_default()
}

fn without_managed(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    copy
}

/// The manager of a write: its `fieldManager`, else the product of its User-Agent
/// (`kubectl/v1.35.0 (linux/amd64)` is `kubectl`), as upstream's `prefixFromUserAgent`.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(name) = field_manager.filter(|m| !m.is_empty()) {
        return name.to_string();
    }
    let product = user_agent
        .and_then(|ua| ua.split('/').next())
        .unwrap_or_default();
    let mut out = String::new();
    for c in product.chars().filter(|c| !c.is_control()) {
        if out.len() >= MAX_MANAGER_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-01-01T00:00:00Z";
    const LATER: &str = "2026-01-02T00:00:00Z";

    fn writer(manager: &str) -> Writer<'static> {
        let index = SchemaIndex::new(crate::documents::schemas());
        Writer::with_schema(
            manager,
            "apps/v1",
            Typed::new(index.definition("io.k8s.api.apps.v1.Deployment")),
        )
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}},
        })
    }

    fn managers(obj: &Value) -> Vec<(String, String)> {
        obj["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["manager"].as_str().unwrap().to_string(),
                    e["operation"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn fields_of(obj: &Value, manager: &str) -> Value {
        obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == manager)
            .map(|e| e["fieldsV1"].clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn a_create_owns_every_field_but_identity_metadata() {
        let mut obj = deployment(1, "nginx");
        writer("kubectl-create").record_update(None, &mut obj, NOW);
        let entry = &obj["metadata"]["managedFields"][0];
        assert_eq!(entry["manager"], "kubectl-create");
        assert_eq!(entry["operation"], "Update");
        assert_eq!(entry["apiVersion"], "apps/v1");
        assert_eq!(entry["time"], NOW);
        let fields = &entry["fieldsV1"];
        assert_eq!(
            fields["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}})
        );
        assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
        assert_eq!(fields["f:spec"]["f:selector"], json!({}));
        assert!(fields.get("f:apiVersion").is_none());
    }

    #[test]
    fn an_update_takes_the_fields_it_changes_from_their_owner() {
        let mut live = deployment(1, "nginx");
        writer("creator").record_update(None, &mut live, NOW);
        let mut new = deployment(3, "nginx");
        new["metadata"]["managedFields"] = live["metadata"]["managedFields"].clone();
        writer("scaler").record_update(Some(&live), &mut new, LATER);
        assert_eq!(
            fields_of(&new, "scaler"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(fields_of(&new, "creator")["f:spec"]
            .get("f:replicas")
            .is_none());
        assert!(fields_of(&new, "creator")["f:spec"]
            .get("f:template")
            .is_some());
    }

    #[test]
    fn an_update_that_changes_nothing_records_nothing() {
        let mut live = deployment(1, "nginx");
        writer("creator").record_update(None, &mut live, NOW);
        let mut same = live.clone();
        writer("other").record_update(Some(&live), &mut same, LATER);
        assert_eq!(managers(&same), [("creator".into(), "Update".into())]);
    }

    #[test]
    fn removed_fields_leave_every_manager_and_empty_entries_go() {
        let mut live = deployment(1, "nginx");
        writer("creator").record_update(None, &mut live, NOW);
        let mut new = live.clone();
        new["metadata"]["labels"] = json!({"app": "web", "tier": "x"});
        writer("labeller").record_update(Some(&live), &mut new, NOW);
        let live = new;
        let mut new = live.clone();
        new["metadata"]
            .as_object_mut()
            .unwrap()
            .shift_remove("labels");
        writer("remover").record_update(Some(&live), &mut new, LATER);
        // The labeller owned only the label that went: its entry goes with it.
        assert_eq!(managers(&new), [("creator".into(), "Update".into())]);
        assert!(fields_of(&new, "creator")["f:metadata"].is_null());
    }

    #[test]
    fn written_managed_fields_replace_the_objects_and_one_empty_entry_clears_them() {
        let mut live = deployment(1, "nginx");
        writer("creator").record_update(None, &mut live, NOW);
        let mut new = live.clone();
        new["metadata"]["managedFields"] = json!([{"manager": "mine", "operation": "Apply",
            "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        writer("kubectl").record_update(Some(&live), &mut new, LATER);
        assert_eq!(managers(&new), [("mine".into(), "Apply".into())]);

        let mut kept = live.clone();
        kept["metadata"]["managedFields"] = json!([]);
        writer("kubectl").record_update(Some(&live), &mut kept, LATER);
        assert_eq!(managers(&kept), [("creator".into(), "Update".into())]);

        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        writer("kubectl").record_update(Some(&live), &mut cleared, LATER);
        assert!(cleared["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn a_status_write_records_a_status_entry_owning_only_status() {
        let mut live = deployment(1, "nginx");
        writer("creator").record_update(None, &mut live, NOW);
        let mut new = live.clone();
        new["status"] = json!({"replicas": 1});
        let mut status_writer = writer("kube-controller-manager");
        status_writer.subresource = Some("status");
        status_writer.record_update(Some(&live), &mut new, LATER);
        let entry = new["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == "kube-controller-manager")
            .unwrap()
            .clone();
        assert_eq!(entry["subresource"], "status");
        assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    }

    #[test]
    fn managers_are_named_by_field_manager_else_user_agent() {
        assert_eq!(manager_name(Some("helm"), Some("kubectl/v1.35")), "helm");
        assert_eq!(
            manager_name(None, Some("kubectl/v1.35.0 (linux/amd64) kubernetes/abc")),
            "kubectl"
        );
        assert_eq!(manager_name(Some(""), Some("kube-rs/0.1")), "kube-rs");
        assert_eq!(manager_name(None, None), "");
        assert_eq!(
            manager_name(None, Some(&"x".repeat(300))).len(),
            MAX_MANAGER_LENGTH
        );
    }
}
