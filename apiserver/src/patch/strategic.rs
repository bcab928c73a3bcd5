//! Strategic merge patch (`application/strategic-merge-patch+json`), applied on the server.
//!
//! kubectl (`apply`, `edit`, `patch`) and most controllers send this patch type for built-in
//! resources, so its result has to match the upstream apiserver's
//! (`k8s.io/apimachinery/pkg/util/strategicpatch`) closely, including the odd corners such as
//! where new list items land. Which lists merge by key and which maps are replaced whole comes
//! from the `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` extensions of the
//! OpenAPI v3 schemas, read through [`SchemaIndex`]; without a schema, maps merge and lists are
//! replaced. `x-kubernetes-list-type` is deliberately not consulted: upstream derives strategic
//! merge behaviour from the patch tags only, and list types can disagree with them.
//!
//! Directives understood: `$patch` (`replace`/`delete` in maps, `replace`/`delete` elements in
//! keyed lists), `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
//! None of them ever reaches the result.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

type Object = Map<String, Value>;
type Result<T, E = StrategicPatchError> = std::result::Result<T, E>;

/// Nesting limit for patch processing; JSON parsers already cap depth, this keeps a hand-built
/// `Value` from exhausting the stack.
const MAX_DEPTH: usize = 200;
/// Bound on `$ref`/`allOf` hops when resolving a schema, so reference cycles terminate.
const MAX_SCHEMA_STEPS: usize = 64;
/// How much of a map or list an error message quotes.
const MAX_QUOTED_CHARS: usize = 256;

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const REF_PREFIXES: [&str; 3] = ["#/components/schemas/", "#/definitions/", "#/$defs/"];

/// Navigates merge metadata in an OpenAPI v3 schema map.
#[derive(Clone, Copy)]
pub struct SchemaIndex<'a> {
    schemas: &'a Map<String, Value>,
}

impl<'a> SchemaIndex<'a> {
    pub fn new(schemas: &'a Map<String, Value>) -> Self {
        Self { schemas }
    }

    /// The node of a top-level definition such as "io.k8s.api.apps.v1.Deployment".
    pub fn definition(&self, name: &str) -> Option<SchemaNode<'a>> {
        let raw = self.schemas.get(name)?.as_object()?;
        Some(SchemaNode { index: *self, raw })
    }

    /// The node of a schema written out in full, such as a CRD's `openAPIV3Schema`.
    pub fn node(&self, raw: &'a Object) -> SchemaNode<'a> {
        SchemaNode { index: *self, raw }
    }

    fn resolve_ref(&self, reference: &str) -> Option<&'a Object> {
        let name = REF_PREFIXES
            .iter()
            .find_map(|prefix| reference.strip_prefix(prefix))?;
        // JSON-pointer escaping; k8s definition names never need it, but it costs nothing.
        let name = name.replace("~1", "/").replace("~0", "~");
        self.schemas.get(&name)?.as_object()
    }
}

/// One schema position (resolved through $ref/allOf); carries the index to follow further refs.
#[derive(Clone, Copy)]
pub struct SchemaNode<'a> {
    index: SchemaIndex<'a>,
    /// The schema as written at this position (e.g. the property schema holding the `$ref`);
    /// the patch extensions are read from here, structure is looked up through references.
    raw: &'a Object,
}

impl<'a> SchemaNode<'a> {
    /// The schema of field `name`; for maps (`additionalProperties`) the schema of any value.
    pub fn property(&self, name: &str) -> Option<SchemaNode<'a>> {
        self.find(|schema| {
            schema
                .get("properties")?
                .as_object()?
                .get(name)?
                .as_object()
        })
        .or_else(|| self.find(|schema| schema.get("additionalProperties")?.as_object()))
        .map(|raw| self.at(raw))
    }

    /// The schema of the elements of a list.
    pub fn items(&self) -> Option<SchemaNode<'a>> {
        self.find(|schema| schema.get("items")?.as_object())
            .map(|raw| self.at(raw))
    }

    pub fn patch_strategy(&self) -> Option<&'a str> {
        self.raw.get("x-kubernetes-patch-strategy")?.as_str()
    }

    pub fn merge_key(&self) -> Option<&'a str> {
        self.raw.get("x-kubernetes-patch-merge-key")?.as_str()
    }

    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`), which server-side apply follows.
    pub fn list_type(&self) -> Option<&'a str> {
        self.raw.get("x-kubernetes-list-type")?.as_str()
    }

    /// `x-kubernetes-list-map-keys` of a `map` list.
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.raw
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether this position is a map with arbitrary keys (`additionalProperties`) rather
    /// than a struct.
    pub fn is_map(&self) -> bool {
        self.find(|schema| schema.get("additionalProperties")?.as_object())
            .is_some()
            && self
                .find(|schema| schema.get("properties")?.as_object())
                .is_none()
    }

    /// The first `key` found here or through `$ref`/`allOf` (`properties`, `default`,
    /// `x-kubernetes-map-type`, or the `$ref` itself), for readers other than the merge.
    pub fn lookup(&self, key: &str) -> Option<&'a Value> {
        self.find(|schema| schema.get(key))
    }

    fn at(&self, raw: &'a Object) -> SchemaNode<'a> {
        SchemaNode {
            index: self.index,
            raw,
        }
    }

    /// Depth-first search over this schema, its `$ref` target and its `allOf` members (first
    /// member first, as upstream only looks at `allOf[0]`), bounded against cycles.
    fn find<T>(&self, mut pick: impl FnMut(&'a Object) -> Option<T>) -> Option<T> {
        let mut stack = vec![self.raw];
        let mut steps = 0;
        while let Some(schema) = stack.pop() {
            steps += 1;
            if steps > MAX_SCHEMA_STEPS {
                return None;
            }
            if let Some(found) = pick(schema) {
                return Some(found);
            }
            if let Some(members) = schema.get("allOf").and_then(Value::as_array) {
                stack.extend(members.iter().rev().filter_map(Value::as_object));
            }
            if let Some(target) = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| self.index.resolve_ref(reference))
            {
                stack.push(target);
            }
        }
        None
    }
}

/// Why a strategic merge patch could not be applied. All of them are the client's fault
/// (a malformed patch, or one that does not fit the stored object).
#[derive(Debug, thiserror::Error)]
pub enum StrategicPatchError {
    #[error("invalid JSON document: the {what} must be a JSON object, not a {actual}")]
    NotAnObject {
        what: &'static str,
        actual: &'static str,
    },
    #[error("unknown patch type: {value} in map: {map}")]
    UnknownPatchType { value: String, map: String },
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey { map: String, key: String },
    #[error("cannot merge lists without merge key for field {field:?}")]
    NoMergeKeyDeclared { field: String },
    #[error("expected a {expected}, but received a {actual}")]
    WrongType {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("lists of lists are not supported")]
    ListOfLists,
    #[error("invalid patch format of retainKeys")]
    InvalidRetainKeys,
    #[error("patch content doesn't match retainKeys list: field {0:?} is not retained")]
    RetainKeysMismatch(String),
    #[error("invalid patch format of setElementOrder list")]
    InvalidSetElementOrder,
    #[error("invalid patch format of primitive list")]
    InvalidDeleteFromPrimitiveList,
    #[error("the order in patch list {patch} doesn't match $setElementOrder list {order}")]
    SetElementOrderMismatch { patch: String, order: String },
    #[error("patch is nested deeper than {0} levels")]
    TooDeep(usize),
}

/// Applies a strategic merge patch. `schema` is None for unknown types: then maps merge
/// recursively and lists are replaced (plain JSON merge patch behaviour plus directives).
pub fn apply(original: &Value, patch: &Value, schema: Option<SchemaNode<'_>>) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(StrategicPatchError::NotAnObject {
            what: "patch",
            actual: kind(patch),
        });
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Object::new(),
        other => {
            return Err(StrategicPatchError::NotAnObject {
                what: "original object",
                actual: kind(other),
            })
        }
    };
    let merged = merge_map(Some(original), patch, schema, 0)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// Patch metadata of one field, decoded from its schema.
#[derive(Clone, Copy, Default)]
struct FieldMeta<'s> {
    merge: bool,
    replace: bool,
    merge_key: Option<&'s str>,
}

fn field_meta<'s>(schema: Option<SchemaNode<'s>>) -> FieldMeta<'s> {
    let Some(node) = schema else {
        return FieldMeta::default();
    };
    let mut meta = FieldMeta {
        merge_key: node.merge_key().filter(|key| !key.is_empty()),
        ..FieldMeta::default()
    };
    // "retainKeys" needs no flag: a `$retainKeys` directive is honoured wherever it appears.
    for strategy in node.patch_strategy().unwrap_or_default().split(',') {
        match strategy.trim() {
            "merge" => meta.merge = true,
            "replace" => meta.replace = true,
            _ => {}
        }
    }
    meta
}

fn enter(depth: usize) -> Result<usize> {
    if depth >= MAX_DEPTH {
        return Err(StrategicPatchError::TooDeep(MAX_DEPTH));
    }
    Ok(depth + 1)
}

/// Merges `patch` into `original` (None: nothing to merge into). Returns None when the map is
/// to be left out entirely, i.e. `$patch: delete` with nothing to delete.
fn merge_map(
    original: Option<Object>,
    patch: &Object,
    schema: Option<SchemaNode<'_>>,
    depth: usize,
) -> Result<Option<Object>> {
    let depth = enter(depth)?;
    match patch.get(PATCH_DIRECTIVE) {
        None => merge_fields(original.unwrap_or_default(), patch, schema, depth).map(Some),
        Some(Value::String(d)) if d == "replace" => {
            merge_fields(Object::new(), patch, schema, depth).map(Some)
        }
        // Upstream empties an existing map rather than removing the field.
        Some(Value::String(d)) if d == "delete" => Ok(original.map(|_| Object::new())),
        Some(other) => Err(unknown_patch_type(other, patch)),
    }
}

/// The body of [`merge_map`] once `$patch` has been dealt with (that key is ignored here).
fn merge_fields(
    mut original: Object,
    patch: &Object,
    schema: Option<SchemaNode<'_>>,
    depth: usize,
) -> Result<Object> {
    if let Some(retain) = patch.get(RETAIN_KEYS_DIRECTIVE) {
        apply_retain_keys(&mut original, retain, patch)?;
    }

    // Ordered lists first, as upstream does: they consume their patch list, and a
    // `$deleteFromPrimitiveList` for the same field then applies to the ordered result.
    let mut ordered: Vec<&str> = Vec::new();
    for (key, order) in patch {
        let Some(field) = directive_field(
            key,
            SET_ELEMENT_ORDER_PREFIX,
            StrategicPatchError::InvalidSetElementOrder,
        )?
        else {
            continue;
        };
        let child = schema.and_then(|s| s.property(field));
        if set_element_order(&mut original, field, order, patch.get(field), child, depth)? {
            ordered.push(field);
        }
    }

    for (key, value) in patch {
        if key == PATCH_DIRECTIVE
            || key == RETAIN_KEYS_DIRECTIVE
            || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
            || ordered.contains(&key.as_str())
        {
            continue;
        }
        if let Some(field) = directive_field(
            key,
            DELETE_FROM_PRIMITIVE_LIST_PREFIX,
            StrategicPatchError::InvalidDeleteFromPrimitiveList,
        )? {
            delete_from_primitive_list(&mut original, field, value)?;
            continue;
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let child = schema.and_then(|s| s.property(key));
        match original.get_mut(key) {
            // Merged in place, so the field keeps its position if maps ever preserve order.
            Some(slot) => {
                match merge_value(Some(std::mem::take(slot)), value, child, key, depth)? {
                    Some(merged) => *slot = merged,
                    None => {
                        original.remove(key);
                    }
                }
            }
            None => {
                if let Some(merged) = merge_value(None, value, child, key, depth)? {
                    original.insert(key.clone(), merged);
                }
            }
        }
    }
    Ok(original)
}

/// `Some(field)` for `<prefix>/<field>`, None for keys without the prefix; a key that starts
/// with the prefix but has no `/` is malformed.
fn directive_field<'k>(
    key: &'k str,
    prefix: &str,
    malformed: StrategicPatchError,
) -> Result<Option<&'k str>> {
    match key.strip_prefix(prefix) {
        None => Ok(None),
        Some(rest) => rest.strip_prefix('/').map(Some).ok_or(malformed),
    }
}

/// Drops the keys of `original` that `$retainKeys` does not list, after checking that the
/// patch itself only sets retained keys (upstream rejects such a patch).
fn apply_retain_keys(original: &mut Object, retain: &Value, patch: &Object) -> Result<()> {
    let Value::Array(retained) = retain else {
        return Err(StrategicPatchError::InvalidRetainKeys);
    };
    let is_retained = |key: &str| retained.iter().any(|r| r.as_str() == Some(key));
    for (key, value) in patch {
        if !value.is_null() && !is_directive_key(key) && !is_retained(key) {
            return Err(StrategicPatchError::RetainKeysMismatch(key.clone()));
        }
    }
    original.retain(|key, _| is_retained(key));
    Ok(())
}

fn is_directive_key(key: &str) -> bool {
    key == PATCH_DIRECTIVE
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// `$deleteFromPrimitiveList/<field>`: removes every listed value, whatever the field's
/// strategy; a missing list stays missing.
fn delete_from_primitive_list(original: &mut Object, field: &str, to_delete: &Value) -> Result<()> {
    let to_delete = match to_delete {
        Value::Array(values) => values,
        Value::Null => return Ok(()),
        other => return Err(wrong_type("list", other)),
    };
    if let Some(Value::Array(list)) = original.get_mut(field) {
        list.retain(|value| !to_delete.contains(value));
    }
    Ok(())
}

/// Merges one field's patch value into its original value (None when absent).
fn merge_value(
    original: Option<Value>,
    patch: &Value,
    schema: Option<SchemaNode<'_>>,
    field: &str,
    depth: usize,
) -> Result<Option<Value>> {
    match (original, patch) {
        (Some(Value::Object(original)), Value::Object(patch)) => {
            let original = (!field_meta(schema).replace).then_some(original);
            Ok(merge_map(original, patch, schema, depth)?.map(Value::Object))
        }
        (Some(Value::Array(original)), Value::Array(patch)) => {
            merge_list(original, patch, schema, field, depth).map(|list| Some(Value::Array(list)))
        }
        // Nothing to merge with, or the type changes: the patch value wins.
        (_, patch) => clean_value(patch, schema, depth),
    }
}

/// A patch value taken as is, minus nulls in maps and directives (which have nothing to act
/// on). None when it is a `$patch: delete` map.
fn clean_value(
    value: &Value,
    schema: Option<SchemaNode<'_>>,
    depth: usize,
) -> Result<Option<Value>> {
    match value {
        Value::Object(map) => Ok(merge_map(None, map, schema, depth)?.map(Value::Object)),
        Value::Array(items) => {
            clean_list(items, schema, depth).map(|list| Some(Value::Array(list)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

fn clean_list(items: &[Value], schema: Option<SchemaNode<'_>>, depth: usize) -> Result<Vec<Value>> {
    let depth = enter(depth)?;
    let item_schema = schema.and_then(|s| s.items());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        // Element directives (`$patch: delete/replace`) have no original list to act on.
        if item
            .as_object()
            .is_some_and(|map| map.contains_key(PATCH_DIRECTIVE))
        {
            continue;
        }
        out.extend(clean_value(item, item_schema, depth)?);
    }
    Ok(out)
}

/// Merges a patch list into an original list according to the field's strategy.
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    schema: Option<SchemaNode<'_>>,
    field: &str,
    depth: usize,
) -> Result<Vec<Value>> {
    let meta = field_meta(schema);
    if !meta.merge {
        return clean_list(patch, schema, depth);
    }
    let depth = enter(depth)?;
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    match meta.merge_key {
        Some(key) => {
            let item_schema = schema.and_then(|s| s.items());
            merge_keyed_list(original, patch, key, item_schema, depth)
        }
        None => merge_primitive_list(original, patch, field),
    }
}

/// Set semantics over scalars: the union, patch values placed per upstream's ordering rule.
fn merge_primitive_list(original: Vec<Value>, patch: &[Value], field: &str) -> Result<Vec<Value>> {
    for value in original.iter().chain(patch) {
        match value {
            Value::Object(_) => {
                return Err(StrategicPatchError::NoMergeKeyDeclared {
                    field: field.to_owned(),
                })
            }
            Value::Array(_) => return Err(StrategicPatchError::ListOfLists),
            _ => {}
        }
    }
    let server_pos = first_positions(original.iter().map(identity_string));
    let mut seen = HashSet::new();
    let patch_items: Vec<(Option<usize>, Value)> = patch
        .iter()
        .filter(|value| seen.insert(identity_string(value)))
        .map(|value| {
            (
                server_pos.get(&identity_string(value)).copied(),
                value.clone(),
            )
        })
        .collect();
    // `seen` now holds the patch values, so this keeps server-only values, deduplicated.
    let server_only: Vec<(Option<usize>, Value)> = original
        .into_iter()
        .filter(|value| seen.insert(identity_string(value)))
        .map(|value| (server_pos.get(&identity_string(&value)).copied(), value))
        .collect();
    Ok(interleave(server_only, patch_items))
}

/// Lists of maps merged by `key`: `$patch` elements first, then matching items merged and new
/// ones added, then upstream's ordering.
fn merge_keyed_list(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    item_schema: Option<SchemaNode<'_>>,
    depth: usize,
) -> Result<Vec<Value>> {
    let mut regular: Vec<&Object> = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let map = as_map(item)?;
        match map.get(PATCH_DIRECTIVE) {
            None => regular.push(map),
            Some(Value::String(d)) if d == "delete" => {
                let target = map.get(key).ok_or_else(|| missing_merge_key(map, key))?;
                original.retain(|item| item.get(key) != Some(target));
            }
            // Keep scanning: the other `$patch` elements must still be valid.
            Some(Value::String(d)) if d == "replace" => replace = true,
            Some(Value::String(d)) if d == "merge" => {
                return Err(StrategicPatchError::MergeDirectiveInList)
            }
            Some(other) => return Err(unknown_patch_type(other, map)),
        }
    }
    if replace {
        let mut list = Vec::with_capacity(regular.len());
        for map in regular {
            list.extend(merge_map(None, map, item_schema, depth)?.map(Value::Object));
        }
        return Ok(list);
    }

    let mut server_pos = HashMap::new();
    for (i, item) in original.iter().enumerate() {
        server_pos
            .entry(identity_string(merge_key_of(item, key)?))
            .or_insert(i);
    }
    // Where each key value sits in `merged`; a patch item merges into the first match.
    let mut slots = server_pos.clone();
    let mut merged = original;
    let mut patch_pos = HashMap::new();
    for map in &regular {
        let id = identity_string(map.get(key).ok_or_else(|| missing_merge_key(map, key))?);
        let next = patch_pos.len();
        patch_pos.entry(id.clone()).or_insert(next);
        match slots.get(&id).and_then(|&i| merged.get_mut(i)) {
            Some(slot) => {
                // Every original item was checked to be a map when `server_pos` was built.
                let current = match std::mem::take(slot) {
                    Value::Object(current) => current,
                    _ => Object::new(),
                };
                let item = merge_map(Some(current), map, item_schema, depth)?;
                *slot = Value::Object(item.unwrap_or_default());
            }
            None => {
                slots.insert(id, merged.len());
                let item = merge_map(None, map, item_schema, depth)?;
                merged.push(Value::Object(item.unwrap_or_default()));
            }
        }
    }

    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let id = identity_string(merge_key_of(&item, key)?);
        let at_server = server_pos.get(&id).copied();
        match patch_pos.get(&id) {
            Some(&at_patch) => patch_items.push((at_patch, (at_server, item))),
            // Already in original order: `merged` keeps original items where they were.
            None => server_only.push((at_server, item)),
        }
    }
    patch_items.sort_by_key(|(at_patch, _)| *at_patch);
    let patch_items = patch_items.into_iter().map(|(_, item)| item).collect();
    Ok(interleave(server_only, patch_items))
}

/// `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the result
/// like upstream: listed items in the directive's order, the server-only rest slotted in by
/// their original positions. Returns false when the field is left to the ordinary merge.
fn set_element_order(
    original: &mut Object,
    field: &str,
    order: &Value,
    patch_value: Option<&Value>,
    schema: Option<SchemaNode<'_>>,
    depth: usize,
) -> Result<bool> {
    let Value::Array(order) = order else {
        return Err(wrong_type("list", order));
    };
    let patch_list = match patch_value {
        None => None,
        Some(Value::Array(list)) => Some(list),
        // The list is being deleted; there is nothing left to order.
        Some(Value::Null) => return Ok(false),
        Some(other) => return Err(wrong_type("list", other)),
    };
    // Taken in place (the slot is refilled below) so the field keeps its position.
    let original_list = match original.get_mut(field) {
        None | Some(Value::Null) => None,
        Some(slot @ Value::Array(_)) => match std::mem::take(slot) {
            Value::Array(list) => Some(list),
            _ => None,
        },
        Some(other) => return Err(wrong_type("list", other)),
    };
    if original_list.is_none() && patch_list.is_none() {
        return Ok(true);
    }
    let merge_key = field_meta(schema).merge_key;
    if let Some(patch_list) = patch_list {
        validate_order(patch_list, order, merge_key)?;
    }

    let identity = |item: &Value| -> Result<String> {
        match merge_key {
            Some(key) => merge_key_of(item, key).map(identity_string),
            None => Ok(identity_string(item)),
        }
    };
    let server_pos = match &original_list {
        Some(list) => first_positions(list.iter().map(&identity).collect::<Result<Vec<_>>>()?),
        None => HashMap::new(),
    };
    let order_pos = first_positions(order.iter().map(&identity).collect::<Result<Vec<_>>>()?);

    let merged = match (original_list, patch_list) {
        (Some(list), None) => list,
        (None, Some(patch_list)) => clean_list(patch_list, schema, depth)?,
        (Some(list), Some(patch_list)) => merge_list(list, patch_list, schema, field, depth)?,
        (None, None) => return Ok(true),
    };

    let mut listed = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let id = identity(&item)?;
        let at_server = server_pos.get(&id).copied();
        match order_pos.get(&id) {
            Some(&at_order) => listed.push((at_order, (at_server, item))),
            None => server_only.push((at_server.unwrap_or(usize::MAX), (at_server, item))),
        }
    }
    listed.sort_by_key(|(at_order, _)| *at_order);
    server_only.sort_by_key(|(at_server, _)| *at_server);
    let ordered = interleave(
        server_only.into_iter().map(|(_, item)| item).collect(),
        listed.into_iter().map(|(_, item)| item).collect(),
    );
    original.insert(field.to_owned(), Value::Array(ordered));
    Ok(true)
}

/// Upstream requires the patch list's items to appear in `$setElementOrder` in the same
/// relative order (deletions and other `$patch` elements aside).
fn validate_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut candidates = Vec::with_capacity(patch.len());
    for item in patch {
        if merge_key.is_some() {
            if as_map(item)?.contains_key(PATCH_DIRECTIVE) {
                continue;
            }
        } else if item
            .as_object()
            .is_some_and(|map| map.contains_key(PATCH_DIRECTIVE))
        {
            continue;
        }
        candidates.push(item);
    }
    let mut remaining = candidates.iter().peekable();
    for wanted in order {
        let Some(next) = remaining.peek() else { break };
        let matches = match merge_key {
            Some(key) => merge_key_of(next, key)? == merge_key_of(wanted, key)?,
            None => **next == wanted,
        };
        if matches {
            remaining.next();
        }
    }
    if remaining.next().is_some() {
        return Err(StrategicPatchError::SetElementOrderMismatch {
            patch: quote(&Value::Array(patch.to_vec())),
            order: quote(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

/// Upstream's merge of two individually ordered lists (`mergeSortedSlice`): a server-only item
/// goes first only when both it and the next patch item existed on the server and it came
/// earlier there. This is why a new item patched into a list lands in front of the server's
/// items. Each item carries its position in the original list, if it had one.
fn interleave(
    server_only: Vec<(Option<usize>, Value)>,
    patch_items: Vec<(Option<usize>, Value)>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(server_only.len() + patch_items.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some((l, _)), Some((r, _))) => matches!((l, r), (Some(l), Some(r)) if l < r),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next.map(|(_, item)| item));
    }
    out
}

/// Values compared the way upstream's `==` on decoded JSON does, usable as a hash key.
fn identity_string(value: &Value) -> String {
    value.to_string()
}

fn first_positions(ids: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut positions = HashMap::new();
    for (i, id) in ids.into_iter().enumerate() {
        positions.entry(id).or_insert(i);
    }
    positions
}

fn as_map(value: &Value) -> Result<&Object> {
    value.as_object().ok_or_else(|| wrong_type("map", value))
}

fn merge_key_of<'v>(item: &'v Value, key: &str) -> Result<&'v Value> {
    let map = as_map(item)?;
    map.get(key).ok_or_else(|| missing_merge_key(map, key))
}

fn missing_merge_key(map: &Object, key: &str) -> StrategicPatchError {
    StrategicPatchError::MissingMergeKey {
        map: quote(&Value::Object(map.clone())),
        key: key.to_owned(),
    }
}

fn unknown_patch_type(value: &Value, map: &Object) -> StrategicPatchError {
    StrategicPatchError::UnknownPatchType {
        value: match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        map: quote(&Value::Object(map.clone())),
    }
}

fn wrong_type(expected: &'static str, actual: &Value) -> StrategicPatchError {
    StrategicPatchError::WrongType {
        expected,
        actual: kind(actual),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Compact JSON for error messages, cut short so a huge patch does not flood the response.
fn quote(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > MAX_QUOTED_CHARS {
        let mut end = MAX_QUOTED_CHARS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A cut-down apps/v1 Deployment schema exercising every reference style.
    fn schemas() -> Object {
        let value = json!({
            "io.k8s.api.apps.v1.Deployment": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {
                        "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
                        "default": {}
                    },
                    "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]}
                }
            },
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
                    "finalizers": {
                        "type": "array",
                        "items": {"type": "string", "default": ""},
                        "x-kubernetes-list-type": "set",
                        "x-kubernetes-patch-strategy": "merge"
                    }
                }
            },
            "io.k8s.api.apps.v1.DeploymentSpec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    // a bare $ref, not wrapped in allOf
                    "template": {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"}
                }
            },
            "io.k8s.api.core.v1.PodTemplateSpec": {
                "type": "object",
                "properties": {
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                    // the older #/definitions/ style
                    "spec": {"allOf": [{"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}]}
                }
            },
            "io.k8s.api.core.v1.PodSpec": {
                "type": "object",
                "properties": {
                    "containers": {
                        "type": "array",
                        "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}], "default": {}},
                        "x-kubernetes-list-map-keys": ["name"],
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-patch-strategy": "merge"
                    },
                    "volumes": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Volume"},
                        "x-kubernetes-list-map-keys": ["name"],
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-patch-strategy": "merge,retainKeys"
                    },
                    "tolerations": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/io.k8s.api.core.v1.Toleration"},
                        "x-kubernetes-list-type": "atomic"
                    },
                    "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
                    "affinity": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Affinity"}]},
                    "extra": {
                        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Affinity"}],
                        "x-kubernetes-patch-strategy": "replace"
                    }
                }
            },
            "io.k8s.api.core.v1.Container": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "image": {"type": "string"},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {
                        "type": "array",
                        "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.EnvVar"}]},
                        "x-kubernetes-patch-merge-key": "name",
                        "x-kubernetes-patch-strategy": "merge"
                    },
                    "ports": {
                        "type": "array",
                        "items": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"}]},
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-patch-merge-key": "containerPort",
                        "x-kubernetes-patch-strategy": "merge"
                    }
                }
            },
            "io.k8s.api.core.v1.EnvVar": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}}
            },
            "io.k8s.api.core.v1.ContainerPort": {
                "type": "object",
                "properties": {"containerPort": {"type": "integer"}, "name": {"type": "string"}, "protocol": {"type": "string"}}
            },
            "io.k8s.api.core.v1.Volume": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "emptyDir": {"type": "object"},
                    "hostPath": {"type": "object"},
                    "configMap": {"type": "object"}
                }
            },
            "io.k8s.api.core.v1.Toleration": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "operator": {"type": "string"}}
            },
            "io.k8s.api.core.v1.Affinity": {
                "type": "object",
                "properties": {"nodeAffinity": {"type": "object"}, "podAffinity": {"type": "object"}}
            },
            // reference cycle: resolution must terminate
            "Loop": {"$ref": "#/components/schemas/Loop"}
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn deployment<'a>(index: &SchemaIndex<'a>) -> SchemaNode<'a> {
        index.definition("io.k8s.api.apps.v1.Deployment").unwrap()
    }

    fn pod_spec<'a>(index: &SchemaIndex<'a>) -> SchemaNode<'a> {
        deployment(index)
            .property("spec")
            .and_then(|s| s.property("template"))
            .and_then(|t| t.property("spec"))
            .unwrap()
    }

    /// Applies `patch` to a Deployment whose pod spec is `spec`; returns the new pod spec.
    fn patch_pod_spec(spec: Value, patch: Value) -> Result<Value> {
        let schemas = schemas();
        let index = SchemaIndex::new(&schemas);
        let original = json!({"spec": {"template": {"spec": spec}}});
        let patch = json!({"spec": {"template": {"spec": patch}}});
        let result = apply(&original, &patch, Some(deployment(&index)))?;
        Ok(result["spec"]["template"]["spec"].clone())
    }

    fn names(list: &Value) -> Vec<&str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap())
            .collect()
    }

    fn assert_no_directives(value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    assert!(!is_directive_key(key), "directive {key} leaked: {value}");
                    assert_no_directives(child);
                }
            }
            Value::Array(items) => items.iter().for_each(assert_no_directives),
            _ => {}
        }
    }

    #[test]
    fn schema_navigation_follows_refs_allof_and_maps() {
        let schemas = schemas();
        let index = SchemaIndex::new(&schemas);
        let spec = pod_spec(&index);

        let containers = spec.property("containers").unwrap();
        assert_eq!(containers.patch_strategy(), Some("merge"));
        assert_eq!(containers.merge_key(), Some("name"));
        let env = containers.items().unwrap().property("env").unwrap();
        assert_eq!(env.merge_key(), Some("name"));
        assert!(env.items().unwrap().property("value").is_some());

        let volumes = spec.property("volumes").unwrap();
        assert_eq!(volumes.patch_strategy(), Some("merge,retainKeys"));
        assert!(volumes.items().unwrap().property("hostPath").is_some());

        let tolerations = spec.property("tolerations").unwrap();
        assert_eq!(tolerations.patch_strategy(), None);
        assert!(tolerations.items().unwrap().property("operator").is_some());

        // extension beside an allOf is read from the property schema
        let extra = spec.property("extra").unwrap();
        assert_eq!(extra.patch_strategy(), Some("replace"));
        assert!(extra.property("nodeAffinity").is_some());

        // additionalProperties gives the schema of every map value
        let labels = deployment(&index)
            .property("metadata")
            .and_then(|m| m.property("labels"))
            .unwrap();
        assert!(labels.property("any-key").is_some());

        assert!(spec.property("noSuchField").is_none());
        assert!(index.definition("NoSuchType").is_none());
        let cycle = index.definition("Loop").unwrap();
        assert!(cycle.property("x").is_none());
        assert!(cycle.items().is_none());
    }

    #[test]
    fn patch_and_original_must_be_objects() {
        for patch in [json!([1]), json!("x"), json!(null), json!(3)] {
            let err = apply(&json!({}), &patch, None).unwrap_err();
            assert!(
                matches!(err, StrategicPatchError::NotAnObject { .. }),
                "{err}"
            );
        }
        let err = apply(&json!([1]), &json!({}), None).unwrap_err();
        assert!(matches!(err, StrategicPatchError::NotAnObject { .. }));
        // a missing object patches like an empty one
        assert_eq!(
            apply(&Value::Null, &json!({"a": 1}), None).unwrap(),
            json!({"a": 1})
        );
    }

    #[test]
    fn maps_merge_recursively_and_null_deletes() {
        let original = json!({
            "metadata": {"name": "d", "labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}},
            "spec": {"replicas": 1}
        });
        let patch = json!({
            "metadata": {"labels": {"a": null, "c": "3"}, "annotations": null, "ghost": null},
            "spec": {"replicas": 3, "paused": true}
        });
        let result = apply(&original, &patch, None).unwrap();
        assert_eq!(
            result,
            json!({
                "metadata": {"name": "d", "labels": {"b": "2", "c": "3"}},
                "spec": {"replicas": 3, "paused": true}
            })
        );
    }

    #[test]
    fn type_change_takes_patch_value_without_nulls() {
        let original = json!({"a": "scalar", "b": {"keep": 1}});
        let patch = json!({"a": {"x": 1, "gone": null}, "b": "now a string"});
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"a": {"x": 1}, "b": "now a string"})
        );
    }

    #[test]
    fn map_patch_replace_directive() {
        let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3", "d": null}}});
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"metadata": {"labels": {"c": "3"}}, "spec": {"x": 1}})
        );
        // at the top level too
        let patch = json!({"$patch": "replace", "kind": "K"});
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"kind": "K"})
        );
        // and where there was nothing to replace
        let patch = json!({"status": {"$patch": "replace", "phase": "Up"}});
        assert_eq!(
            apply(&json!({}), &patch, None).unwrap(),
            json!({"status": {"phase": "Up"}})
        );
    }

    #[test]
    fn map_patch_delete_directive() {
        let original = json!({"spec": {"affinity": {"nodeAffinity": {}}, "x": 1}});
        let patch =
            json!({"spec": {"affinity": {"$patch": "delete"}, "none": {"$patch": "delete"}}});
        // upstream empties the existing map and adds nothing for a missing one
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"spec": {"affinity": {}, "x": 1}})
        );
        assert_eq!(
            apply(&original, &json!({"$patch": "delete"}), None).unwrap(),
            json!({})
        );
    }

    #[test]
    fn unknown_patch_directive_is_an_error() {
        let err = apply(&json!({"a": {}}), &json!({"a": {"$patch": "bogus"}}), None).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::UnknownPatchType { .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("unknown patch type: bogus in map:"));
        let err = apply(&json!({}), &json!({"$patch": 1}), None).unwrap_err();
        assert!(matches!(err, StrategicPatchError::UnknownPatchType { .. }));
    }

    #[test]
    fn keyed_list_merges_items_recursively() {
        let spec = json!({"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}
        ]});
        let patch = json!({"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "3"}]}
        ]});
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(
            result,
            json!({"containers": [
                {"name": "a", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]},
                {"name": "b", "image": "b:1"}
            ]})
        );
    }

    #[test]
    fn keyed_list_new_items_are_placed_like_upstream() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        // Only new items in the patch: upstream puts them before the server's items.
        let result = patch_pod_spec(
            spec.clone(),
            json!({"containers": [{"name": "c"}, {"name": "d"}]}),
        );
        assert_eq!(names(&result.unwrap()["containers"]), ["c", "d", "a", "b"]);
        // Anchored after an existing item, they follow it in patch order.
        let result = patch_pod_spec(
            spec.clone(),
            json!({"containers": [{"name": "b"}, {"name": "c"}]}),
        );
        assert_eq!(names(&result.unwrap()["containers"]), ["a", "b", "c"]);
        // An empty patch list leaves a merging list alone.
        let result = patch_pod_spec(spec.clone(), json!({"containers": []}));
        assert_eq!(names(&result.unwrap()["containers"]), ["a", "b"]);
        // The patch's order wins over the server's for items it mentions.
        let result = patch_pod_spec(
            spec,
            json!({"containers": [{"name": "b"}, {"name": "a", "image": "i"}]}),
        );
        let result = result.unwrap();
        assert_eq!(names(&result["containers"]), ["b", "a"]);
        assert_eq!(result["containers"][1]["image"], "i");
    }

    #[test]
    fn keyed_list_merges_by_numeric_key() {
        let spec = json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 80, "name": "http"},
            {"containerPort": 443, "name": "https"}
        ]}]});
        let patch = json!({"containers": [{"name": "a", "ports": [
            {"containerPort": 443, "protocol": "TCP"},
            {"containerPort": 8080, "$patch": "delete"},
            {"containerPort": 80, "$patch": "delete"}
        ]}]});
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(
            result["containers"][0]["ports"],
            json!([{"containerPort": 443, "name": "https", "protocol": "TCP"}])
        );
    }

    #[test]
    fn keyed_list_delete_element() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]});
        let patch = json!({"containers": [{"name": "b", "$patch": "delete"}]});
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(names(&result["containers"]), ["a", "c"]);
        assert_no_directives(&result);
    }

    #[test]
    fn keyed_list_replace_element() {
        let spec = json!({"containers": [{"name": "a", "image": "x"}, {"name": "b"}]});
        let patch = json!({"containers": [{"$patch": "replace"}, {"name": "z", "image": "z", "args": null}]});
        let result = patch_pod_spec(spec.clone(), patch).unwrap();
        assert_eq!(result["containers"], json!([{"name": "z", "image": "z"}]));
        // a lone replace element empties the list
        let result = patch_pod_spec(spec, json!({"containers": [{"$patch": "replace"}]})).unwrap();
        assert_eq!(result["containers"], json!([]));
    }

    #[test]
    fn keyed_list_errors() {
        let spec = json!({"containers": [{"name": "a"}]});
        let err =
            patch_pod_spec(spec.clone(), json!({"containers": [{"image": "x"}]})).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::MissingMergeKey { ref key, .. } if key == "name"),
            "{err}"
        );
        let err = patch_pod_spec(spec.clone(), json!({"containers": [{"$patch": "delete"}]}))
            .unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::MissingMergeKey { .. }),
            "{err}"
        );
        let err = patch_pod_spec(spec.clone(), json!({"containers": ["a"]})).unwrap_err();
        assert!(
            matches!(
                err,
                StrategicPatchError::WrongType {
                    expected: "map",
                    actual: "string"
                }
            ),
            "{err}"
        );
        let err =
            patch_pod_spec(spec.clone(), json!({"containers": [{"$patch": "merge"}]})).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::MergeDirectiveInList),
            "{err}"
        );
        let err = patch_pod_spec(
            spec,
            json!({"containers": [{"name": "a", "$patch": "nope"}]}),
        )
        .unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::UnknownPatchType { .. }),
            "{err}"
        );
    }

    #[test]
    fn set_element_order_reorders_keyed_list() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]});
        let patch =
            json!({"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]});
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(names(&result["containers"]), ["c", "a", "b"]);
        assert_no_directives(&result);
    }

    #[test]
    fn set_element_order_keeps_server_only_items_in_place() {
        // upstream "set elements order in a list with server-only items 2", keyed variant
        let spec = json!({"containers": [{"name": "1"}, {"name": "2"}, {"name": "9"}, {"name": "3"}, {"name": "4"}]});
        let patch = json!({"$setElementOrder/containers": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]});
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(names(&result["containers"]), ["2", "1", "9", "4", "3"]);
    }

    #[test]
    fn set_element_order_with_added_and_deleted_items() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]});
        let patch = json!({
            "$setElementOrder/containers": [{"name": "c"}, {"name": "new"}, {"name": "a"}],
            "containers": [{"name": "new"}, {"name": "b", "$patch": "delete"}]
        });
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(names(&result["containers"]), ["c", "new", "a"]);
        // on a list the object does not have yet
        let patch = json!({
            "$setElementOrder/volumes": [{"name": "y"}, {"name": "x"}],
            "volumes": [{"name": "y", "emptyDir": {}}, {"name": "x", "emptyDir": {}}]
        });
        let result = patch_pod_spec(json!({}), patch).unwrap();
        assert_eq!(names(&result["volumes"]), ["y", "x"]);
    }

    #[test]
    fn set_element_order_must_match_patch_list() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let patch = json!({
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}]
        });
        let err = patch_pod_spec(spec.clone(), patch).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::SetElementOrderMismatch { .. }),
            "{err}"
        );
        let patch = json!({"$setElementOrder/containers": [{"image": "x"}]});
        let err = patch_pod_spec(spec.clone(), patch).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::MissingMergeKey { .. }),
            "{err}"
        );
        let err =
            patch_pod_spec(spec.clone(), json!({"$setElementOrder/containers": "a"})).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::WrongType { .. }),
            "{err}"
        );
        let err = patch_pod_spec(spec, json!({"$setElementOrderX": []})).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::InvalidSetElementOrder),
            "{err}"
        );
        // an order for a list that exists nowhere is ignored, as upstream does
        let result = patch_pod_spec(json!({}), json!({"$setElementOrder/volumes": [1]}));
        assert_eq!(result.unwrap(), json!({}));
        let err = patch_pod_spec(json!({}), json!({"$setElementOrder": []})).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::InvalidSetElementOrder),
            "{err}"
        );
    }

    #[test]
    fn primitive_merge_list_is_a_union() {
        let schemas = schemas();
        let index = SchemaIndex::new(&schemas);
        let schema = Some(deployment(&index));
        let original = json!({"metadata": {"finalizers": ["a", "b"]}});
        let run = |patch: Value| apply(&original, &json!({"metadata": patch}), schema).unwrap();

        assert_eq!(
            run(json!({"finalizers": ["b", "c", "c"]}))["metadata"]["finalizers"],
            json!(["a", "b", "c"])
        );
        // a patch of only new values puts them first, as upstream does
        assert_eq!(
            run(json!({"finalizers": ["c"]}))["metadata"]["finalizers"],
            json!(["c", "a", "b"])
        );
        assert_eq!(
            run(json!({"$deleteFromPrimitiveList/finalizers": ["a", "zzz"]}))["metadata"]
                ["finalizers"],
            json!(["b"])
        );
        // deleting from a missing list does not create it
        let result = apply(
            &json!({}),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            schema,
        );
        assert_eq!(result.unwrap(), json!({"metadata": {}}));
        let err = apply(
            &original,
            &json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}),
            schema,
        )
        .unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::InvalidDeleteFromPrimitiveList),
            "{err}"
        );
    }

    #[test]
    fn primitive_list_add_delete_and_order_together() {
        // upstream "add and delete items in lists of scalars"
        let schemas = schemas();
        let index = SchemaIndex::new(&schemas);
        let original = json!({"metadata": {"finalizers": ["1", "2", "3"]}});
        let patch = json!({"metadata": {
            "$setElementOrder/finalizers": ["1", "2", "4"],
            "$deleteFromPrimitiveList/finalizers": ["3"],
            "finalizers": ["4"]
        }});
        let result = apply(&original, &patch, Some(deployment(&index))).unwrap();
        assert_eq!(result, json!({"metadata": {"finalizers": ["1", "2", "4"]}}));
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let spec = json!({"volumes": [
            {"name": "v", "emptyDir": {}},
            {"name": "w", "configMap": {"name": "cm"}}
        ]});
        let patch = json!({"volumes": [
            {"name": "v", "hostPath": {"path": "/x"}, "$retainKeys": ["hostPath", "name"]}
        ]});
        let result = patch_pod_spec(spec.clone(), patch).unwrap();
        assert_eq!(
            result["volumes"],
            json!([{"name": "v", "hostPath": {"path": "/x"}}, {"name": "w", "configMap": {"name": "cm"}}])
        );
        assert_no_directives(&result);

        let patch = json!({"volumes": [{"name": "v", "hostPath": {}, "$retainKeys": ["name"]}]});
        let err = patch_pod_spec(spec.clone(), patch).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::RetainKeysMismatch(ref k) if k == "hostPath"),
            "{err}"
        );
        let patch = json!({"volumes": [{"name": "v", "$retainKeys": "name"}]});
        let err = patch_pod_spec(spec, patch).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::InvalidRetainKeys),
            "{err}"
        );
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced() {
        let spec = json!({
            "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b"}],
            "containers": [{"name": "a", "args": ["x", "y"]}]
        });
        let patch = json!({
            "tolerations": [{"key": "c", "operator": null}],
            "containers": [{"name": "a", "args": ["z"]}]
        });
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_eq!(result["tolerations"], json!([{"key": "c"}]));
        assert_eq!(result["containers"], json!([{"name": "a", "args": ["z"]}]));
    }

    #[test]
    fn replace_strategy_map_is_replaced() {
        let spec = json!({"extra": {"nodeAffinity": {"a": 1}, "podAffinity": {"b": 2}}});
        let result = patch_pod_spec(spec, json!({"extra": {"podAffinity": {"c": 3}}})).unwrap();
        assert_eq!(result["extra"], json!({"podAffinity": {"c": 3}}));
    }

    #[test]
    fn unknown_schema_merges_maps_and_replaces_lists() {
        let original = json!({"spec": {"items": [{"name": "a"}, {"name": "b"}], "m": {"x": 1}}});
        let patch = json!({"spec": {"items": [{"name": "a", "v": 2}], "m": {"y": 2}}});
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"spec": {"items": [{"name": "a", "v": 2}], "m": {"x": 1, "y": 2}}})
        );
        // fields the schema does not know behave the same way
        let result = patch_pod_spec(json!({"future": [1, 2]}), json!({"future": [3]})).unwrap();
        assert_eq!(result["future"], json!([3]));
    }

    #[test]
    fn null_deletes_a_list() {
        let spec = json!({"containers": [{"name": "a"}], "tolerations": [{"key": "a"}]});
        let patch = json!({"containers": null, "tolerations": null, "$setElementOrder/containers": [{"name": "a"}]});
        assert_eq!(patch_pod_spec(spec, patch).unwrap(), json!({}));
    }

    #[test]
    fn directives_in_new_values_never_reach_the_output() {
        let spec = json!({"containers": [{"name": "a"}]});
        let patch = json!({
            "containers": [{
                "name": "new",
                "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                "env": [{"name": "B", "value": "2"}, {"name": "C", "$patch": "delete"}, {"name": "A", "value": "1"}],
                "$deleteFromPrimitiveList/args": ["x"],
                "ports": [{"$patch": "replace"}, {"containerPort": 1}]
            }],
            "volumes": [{"name": "v", "emptyDir": {}, "$retainKeys": ["name", "emptyDir"]}],
            "affinity": {"$patch": "replace", "nodeAffinity": {"z": null}}
        });
        let result = patch_pod_spec(spec, patch).unwrap();
        assert_no_directives(&result);
        assert_eq!(
            result,
            json!({
                "containers": [
                    {"name": "new", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}], "ports": [{"containerPort": 1}]},
                    {"name": "a"}
                ],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "affinity": {"nodeAffinity": {}}
            })
        );
    }

    #[test]
    fn directives_work_without_a_schema() {
        let original = json!({"a": {"x": 1}, "l": [1, 2, 3]});
        let patch = json!({"a": {"$patch": "replace", "y": 2}, "$deleteFromPrimitiveList/l": [2]});
        assert_eq!(
            apply(&original, &patch, None).unwrap(),
            json!({"a": {"y": 2}, "l": [1, 3]})
        );
    }

    #[test]
    fn nesting_depth_is_bounded() {
        let mut deep = json!({"leaf": true});
        for _ in 0..(MAX_DEPTH + 10) {
            deep = json!({"a": deep});
        }
        let err = apply(&json!({}), &deep, None).unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::TooDeep(MAX_DEPTH)),
            "{err}"
        );
        let err = apply(&deep, &deep, None).unwrap_err();
        assert!(matches!(err, StrategicPatchError::TooDeep(_)), "{err}");
        // a realistic depth is fine
        let mut shallow = json!(1);
        for _ in 0..50 {
            shallow = json!({"a": [shallow]});
        }
        assert_eq!(apply(&json!({}), &shallow, None).unwrap(), shallow);
    }

    #[test]
    fn error_messages_quote_briefly() {
        let huge = "x".repeat(10_000);
        let err = patch_pod_spec(
            json!({"containers": []}),
            json!({"containers": [{"image": huge}]}),
        )
        .unwrap_err();
        assert!(err.to_string().len() < 400, "{err}");
        assert!(err
            .to_string()
            .contains("does not contain declared merge key: name"));
    }

    #[test]
    fn kubectl_client_side_apply_changes_one_env_var() {
        let schemas = schemas();
        let index = SchemaIndex::new(&schemas);
        let original = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}"}
            },
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "a", "image": "a:1", "env": [{"name": "A", "value": "1"}]},
                            {"name": "b", "image": "b:1"}
                        ],
                        "tolerations": [{"key": "t", "operator": "Exists"}]
                    }
                }
            }
        });
        // What `kubectl apply` sends when the manifest changes A=1 to A=2.
        let patch = json!({
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}"}
            },
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"name": "A", "value": "2"}],
                    "name": "a"
                }]
            }}}
        });
        let result = apply(&original, &patch, Some(deployment(&index))).unwrap();
        let mut expected = original.clone();
        expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!("{\"new\":true}");
        expected["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("2");
        assert_eq!(result, expected);
        assert_no_directives(&result);
    }
}
