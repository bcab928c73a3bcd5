//! Discovery of custom resources: their groups and resource lists, plain and aggregated,
//! merged into the built-in documents codegen wrote.

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::resource::Descriptor;

/// Sets `key` of a JSON object (a no-op on anything else).
fn put(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert(key.to_string(), value);
    }
}

/// Upstream's version priority: GA before beta before alpha, higher numbers first, and
/// versions that do not look like Kubernetes versions last, alphabetically.
pub fn version_priority(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (major, tail) = rest.split_at(digits);
        let major: u64 = major.parse().ok()?;
        if tail.is_empty() {
            return Some((0, major, 0));
        }
        let (stage, minor) = if let Some(m) = tail.strip_prefix("beta") {
            (1, m)
        } else if let Some(m) = tail.strip_prefix("alpha") {
            (2, m)
        } else {
            return None;
        };
        Some((stage, major, minor.parse().ok()?))
    }
    match (parse(a), parse(b)) {
        (Some((sa, ma, na)), Some((sb, mb, nb))) => sa
            .cmp(&sb)
            .then_with(|| mb.cmp(&ma))
            .then_with(|| nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The custom groups, each with its versions in priority order.
fn groups(custom: &[&'static Descriptor]) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for d in custom {
        match groups.iter_mut().find(|(g, _)| *g == d.group()) {
            Some((_, versions)) if !versions.contains(&d.version()) => versions.push(d.version()),
            Some(_) => {}
            None => groups.push((d.group(), vec![d.version()])),
        }
    }
    for (_, versions) in &mut groups {
        versions.sort_by(|a, b| version_priority(a, b));
    }
    groups.sort_by(|a, b| a.0.cmp(b.0));
    groups
}

/// The `APIGroup` of each custom group.
pub fn api_groups(custom: &[&'static Descriptor]) -> Vec<Value> {
    groups(custom)
        .into_iter()
        .map(|(group, versions)| {
            let listed: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                .collect();
            json!({
                "name": group,
                "versions": listed,
                "preferredVersion": listed.first().cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// The `APIResourceList` of a custom group version, if one is served.
pub fn resource_list(custom: &[&'static Descriptor], group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for d in custom
        .iter()
        .filter(|d| d.group() == group && d.version() == version)
    {
        let mut entry = json!({
            "name": d.plural(),
            "singularName": d.facts.singular,
            "namespaced": d.namespaced(),
            "kind": d.kind(),
            "verbs": d.facts.verbs,
        });
        if !d.facts.short_names.is_empty() {
            put(&mut entry, "shortNames", json!(d.facts.short_names));
        }
        if !d.facts.categories.is_empty() {
            put(&mut entry, "categories", json!(d.facts.categories));
        }
        resources.push(entry);
        for sub in d.facts.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", d.plural(), sub.name),
                "singularName": "",
                "namespaced": d.namespaced(),
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if sub.group != d.group() {
                put(&mut entry, "group", json!(sub.group));
                put(&mut entry, "version", json!(sub.version));
            }
            resources.push(entry);
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    }))
}

/// The aggregated discovery entries (`APIGroupDiscovery`) of the custom groups.
pub fn aggregated(custom: &[&'static Descriptor]) -> Vec<Value> {
    groups(custom)
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = custom
                        .iter()
                        .filter(|d| d.group() == group && d.version() == *version)
                        .map(|d| aggregated_resource(d))
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({
                "metadata": {"name": group, "creationTimestamp": null},
                "versions": versions,
            })
        })
        .collect()
}

fn aggregated_resource(d: &Descriptor) -> Value {
    let mut entry = json!({
        "resource": d.plural(),
        "responseKind": {"group": d.group(), "version": d.version(), "kind": d.kind()},
        "scope": if d.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": d.facts.singular,
        "verbs": d.facts.verbs,
    });
    if !d.facts.short_names.is_empty() {
        put(&mut entry, "shortNames", json!(d.facts.short_names));
    }
    if !d.facts.categories.is_empty() {
        put(&mut entry, "categories", json!(d.facts.categories));
    }
    let subresources: Vec<Value> = d
        .facts
        .subresources
        .iter()
        .map(|s| {
            json!({
                "subresource": s.name,
                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                "verbs": s.verbs,
            })
        })
        .collect();
    if !subresources.is_empty() {
        put(&mut entry, "subresources", json!(subresources));
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_kubernetes_priority() {
        let mut versions = vec![
            "v1alpha1",
            "foo",
            "v1",
            "v2beta1",
            "v1beta2",
            "v2",
            "v11alpha2",
        ];
        versions.sort_by(|a, b| version_priority(a, b));
        assert_eq!(
            versions,
            [
                "v2",
                "v1",
                "v2beta1",
                "v1beta2",
                "v11alpha2",
                "v1alpha1",
                "foo"
            ]
        );
    }
}
