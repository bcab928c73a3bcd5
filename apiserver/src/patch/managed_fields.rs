//! `metadata.managedFields`: field sets in the `FieldsV1` encoding and the entries that
//! record which manager owns which set, as upstream's `fieldpath.Set` and
//! `ManagedFieldsEntry`.
//!
//! A set is held as the set of its member paths; a path is a list of `FieldsV1` keys
//! (`f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`). In `FieldsV1` a member with children
//! is marked by a `"."` key, a member without children is an empty object.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// One path element, in its `FieldsV1` spelling.
pub type Element = String;
pub type Path = Vec<Element>;

/// Bound on the nesting a `FieldsV1` document may have, so decoding cannot exhaust the stack.
const MAX_DEPTH: usize = 100;

/// A set of field paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    pub fn insert(&mut self, path: Path) {
        if !path.is_empty() {
            self.0.insert(path);
        }
    }

    pub fn contains(&self, path: &[Element]) -> bool {
        self.0.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// The paths `keep` accepts.
    pub fn filter(&self, keep: impl Fn(&[Element]) -> bool) -> FieldSet {
        FieldSet(self.0.iter().filter(|p| keep(p)).cloned().collect())
    }

    /// Whether some member lies at or under `prefix`.
    pub fn has_under(&self, prefix: &[Element]) -> bool {
        self.0
            .range(prefix.to_vec()..)
            .next()
            .is_some_and(|p| p.starts_with(prefix))
    }

    /// Decodes a `FieldsV1` document.
    pub fn from_fields_v1(doc: &Value) -> Result<FieldSet, String> {
        let mut set = FieldSet::new();
        let mut path = Vec::new();
        decode_set(doc, &mut path, &mut set, 0)?;
        Ok(set)
    }

    /// Encodes the set as a `FieldsV1` document.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<Element, Node>,
        }
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for element in path {
                node = node.children.entry(element.clone()).or_default();
            }
            node.member = true;
        }
        fn encode(node: &Node) -> Value {
            let mut out = Map::new();
            if node.member && !node.children.is_empty() {
                out.insert(".".into(), json!({}));
            }
            for (key, child) in &node.children {
                out.insert(key.clone(), encode(child));
            }
            Value::Object(out)
        }
        encode(&root)
    }
}

impl FromIterator<Path> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Path>>(iter: I) -> FieldSet {
        FieldSet(iter.into_iter().filter(|p| !p.is_empty()).collect())
    }
}

fn decode_set(
    doc: &Value,
    path: &mut Path,
    set: &mut FieldSet,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("FieldsV1 nested deeper than {MAX_DEPTH} levels"));
    }
    let Value::Object(map) = doc else {
        return Err(format!("expected an object in FieldsV1, got {doc}"));
    };
    for (key, child) in map {
        if key == "." {
            set.insert(path.clone());
            continue;
        }
        if !["f:", "k:", "v:", "i:"].iter().any(|p| key.starts_with(p)) {
            return Err(format!("unexpected key {key:?} in FieldsV1"));
        }
        path.push(key.clone());
        match child {
            Value::Object(m) if m.is_empty() => set.insert(path.clone()),
            _ => decode_set(child, path, set, depth + 1)?,
        }
        path.pop();
    }
    Ok(())
}

/// A path as upstream prints it in conflicts: `.spec.containers[name="web"].image`.
pub fn path_string(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let fields = match serde_json::from_str::<Value>(key) {
                Ok(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_string(v)))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => key.to_string(),
            };
            out.push_str(&format!("[{fields}]"));
        } else if let Some(value) = element.strip_prefix("v:") {
            let shown = serde_json::from_str::<Value>(value)
                .map(|v| value_string(&v))
                .unwrap_or_else(|_| value.to_string());
            out.push_str(&format!("[={shown}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

/// A value as upstream's `value.ToString`: strings quoted, the rest as written.
fn value_string(value: &Value) -> String {
    value.to_string()
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

impl Entry {
    pub fn is_apply(&self) -> bool {
        self.operation == APPLY
    }

    /// Whether two entries belong to one manager: upstream keys appliers by name, operation
    /// and subresource, and updaters by their API version as well.
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.is_apply() || self.api_version == other.api_version)
    }

    /// How upstream names the manager in a conflict: `"kubectl"`, or
    /// `"kube-controller-manager" using apps/v1` for an updater.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if !self.is_apply() {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn decode(raw: &Value) -> Result<Entry, String> {
        let text = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_string);
        let operation = text("operation").unwrap_or_default();
        if operation != APPLY && operation != UPDATE {
            return Err("operation must be `Apply` or `Update`".into());
        }
        let api_version = text("apiVersion").unwrap_or_default();
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match text("fieldsType").as_deref() {
            Some("FieldsV1") => {}
            None | Some("") => return Err("missing fieldsType in managed fields entry".into()),
            Some(other) => return Err(format!("invalid fieldsType {other:?}")),
        }
        let fields = match raw.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(doc) => FieldSet::from_fields_v1(doc)?,
        };
        Ok(Entry {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version,
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields,
        })
    }

    fn encode(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), json!(self.manager));
        out.insert("operation".into(), json!(self.operation));
        out.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            out.insert("time".into(), json!(time));
        }
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(sub) = &self.subresource {
            out.insert("subresource".into(), json!(sub));
        }
        Value::Object(out)
    }
}

/// Decodes a `managedFields` list; entries of one manager are merged, as upstream keys them.
pub fn decode(list: &Value) -> Result<Vec<Entry>, String> {
    let Value::Array(items) = list else {
        return Err("managedFields must be a list".into());
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(items.len());
    for raw in items {
        let entry = Entry::decode(raw)?;
        match entries.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(existing) => existing.fields = existing.fields.union(&entry.fields),
            None => entries.push(entry),
        }
    }
    Ok(entries)
}

/// Whether a written `managedFields` is upstream's request to clear them: one empty entry.
pub fn is_reset(list: &Value) -> bool {
    matches!(list, Value::Array(items) if items.len() == 1
        && items.first().is_some_and(|e| e.as_object().is_some_and(Map::is_empty)))
}

/// Encodes entries in upstream's order (appliers first, then by time, manager, API version
/// and subresource), leaving out the ones that own nothing.
pub fn encode(entries: &[Entry]) -> Value {
    let mut kept: Vec<&Entry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    kept.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    Value::Array(kept.into_iter().map(Entry::encode).collect())
}

/// Writes `entries` into `obj`'s metadata; no entry means no `managedFields` at all.
pub fn store(obj: &mut Value, entries: &[Entry]) {
    let encoded = encode(entries);
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if encoded.as_array().is_some_and(Vec::is_empty) {
        meta.shift_remove("managedFields");
    } else {
        meta.insert("managedFields".into(), encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(elements: &[&str]) -> Path {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_members_with_children() {
        let doc = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
        });
        let set = FieldSet::from_fields_v1(&doc).unwrap();
        assert!(set.contains(&path(&["f:metadata", "f:labels"])));
        assert!(set.contains(&path(&["f:metadata", "f:labels", "f:app"])));
        assert!(!set.contains(&path(&["f:metadata"])));
        assert_eq!(set.len(), 4);
        assert_eq!(set.to_fields_v1(), doc);
    }

    #[test]
    fn garbage_fields_v1_is_refused() {
        assert!(FieldSet::from_fields_v1(&json!({"spec": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:spec": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }

    #[test]
    fn set_operations() {
        let a: FieldSet = [path(&["f:a"]), path(&["f:b"])].into_iter().collect();
        let b: FieldSet = [path(&["f:b"]), path(&["f:c"])].into_iter().collect();
        assert_eq!(a.union(&b).len(), 3);
        assert_eq!(a.intersection(&b), [path(&["f:b"])].into_iter().collect());
        assert_eq!(a.difference(&b), [path(&["f:a"])].into_iter().collect());
        assert!(a.has_under(&path(&["f:a"])));
        assert!(!a.has_under(&path(&["f:c"])));
    }

    #[test]
    fn paths_print_as_upstream_prints_them() {
        let p = path(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"web\"}",
            "f:args",
            "v:\"-v\"",
        ]);
        assert_eq!(
            path_string(&p),
            ".spec.containers[name=\"web\"].args[=\"-v\"]"
        );
        let p = path(&["f:spec", "f:ports", "k:{\"port\":80,\"protocol\":\"TCP\"}"]);
        assert_eq!(path_string(&p), ".spec.ports[port=80,protocol=\"TCP\"]");
    }

    #[test]
    fn entries_decode_merge_and_encode_sorted() {
        let list = json!([
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2026-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}},
            {"manager": "gone", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {}},
        ]);
        let entries = decode(&list).unwrap();
        assert_eq!(entries.len(), 3);
        let encoded = encode(&entries);
        let managers: Vec<&str> = encoded
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["a", "b"]);
        assert!(decode(&json!([{"manager": "x", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}])).is_err());
    }

    #[test]
    fn one_empty_entry_is_a_reset_and_an_empty_list_is_not() {
        assert!(is_reset(&json!([{}])));
        assert!(!is_reset(&json!([])));
        assert!(!is_reset(&json!([{"manager": "x"}])));
    }

    #[test]
    fn updaters_are_described_with_their_version() {
        let entry = Entry {
            manager: "kubectl-client-side-apply".into(),
            operation: UPDATE.into(),
            api_version: "apps/v1".into(),
            time: None,
            subresource: None,
            fields: FieldSet::new(),
        };
        assert_eq!(
            entry.describe(),
            "\"kubectl-client-side-apply\" using apps/v1"
        );
    }
}
