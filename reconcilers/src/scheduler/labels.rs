//! Label selectors and node selectors, compiled once per pod and matched against many label
//! sets: upstream's `labels.Selector` (from a `metav1.LabelSelector`) and the node affinity
//! `NodeSelector` (terms ORed, requirements ANDed, `Gt`/`Lt` on integers, `matchFields` on
//! `metadata.name`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object (absent labels are an empty set).
pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

/// One requirement on one label.
#[derive(Clone, Debug, PartialEq)]
pub struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    /// `key in (value)`.
    pub fn equals(key: &str, value: &str) -> Requirement {
        Requirement {
            key: key.to_string(),
            op: Op::In(vec![value.to_string()]),
        }
    }

    fn parse(key: &str, operator: &str, values: &[String]) -> Result<Requirement, String> {
        let single_int = || -> Result<i64, String> {
            match values {
                [v] => v.parse::<i64>().map_err(|_| {
                    format!("for 'Gt', 'Lt' operators, the value must be an integer: {v:?}")
                }),
                _ => Err("for 'Gt', 'Lt' operators, exactly one value is required".into()),
            }
        };
        let op = match operator {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "for 'in', 'notin' operators, values set can't be empty (key {key:?})"
                ))
            }
            "In" => Op::In(values.to_vec()),
            "NotIn" => Op::NotIn(values.to_vec()),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "values set must be empty for exists and does not exist (key {key:?})"
                ))
            }
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt(single_int()?),
            "Lt" => Op::Lt(single_int()?),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        Ok(Requirement {
            key: key.to_string(),
            op,
        })
    }

    fn matches_value(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Op::In(_), None) => false,
            (Op::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Op::NotIn(_), None) => true,
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
            (Op::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
            (Op::Gt(_) | Op::Lt(_), None) => false,
        }
    }

    fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }
}

/// A compiled label selector: every requirement must hold. A missing selector selects
/// nothing; an empty one (`{}`) selects everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches no label set (upstream's `labels.Nothing()`).
    pub fn nothing() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// The selector that matches every label set (`labels.Everything()`).
    pub fn everything() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: false,
        }
    }

    /// `metav1.LabelSelectorAsSelector`: `None` selects nothing; an invalid expression is an
    /// error.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Selector, String> {
        let Some(selector) = selector else {
            return Ok(Selector::nothing());
        };
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::equals(key, value));
        }
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.as_deref().unwrap_or_default();
            // Label selectors have no Gt/Lt.
            if matches!(expr.operator.as_str(), "Gt" | "Lt") {
                return Err(format!(
                    "{:?} is not a valid label selector operator",
                    expr.operator
                ));
            }
            requirements.push(Requirement::parse(&expr.key, &expr.operator, values)?);
        }
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// A selector from a `map[string]string` (a Service's or ReplicationController's):
    /// every pair must match; an empty map selects everything.
    pub fn from_map(map: &Labels) -> Selector {
        Selector {
            requirements: map.iter().map(|(k, v)| Requirement::equals(k, v)).collect(),
            nothing: false,
        }
    }

    /// Adds requirements (ANDed).
    pub fn and(mut self, more: impl IntoIterator<Item = Requirement>) -> Selector {
        self.requirements.extend(more);
        self
    }

    /// Whether it has no requirements (upstream's `Empty()`: true for "everything").
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, to merge into another selector.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn matches(&self, labels: Option<&Labels>) -> bool {
        if self.nothing {
            return false;
        }
        let empty = Labels::new();
        let labels = labels.unwrap_or(&empty);
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// One compiled node selector term: its label and field requirements are ANDed. A term
/// with no requirement, or with one that does not parse, matches no node.
#[derive(Clone, Debug)]
pub struct NodeTerm {
    labels: Vec<Requirement>,
    /// Requirements on `metadata.name`, the only field a term can select on.
    names: Vec<Requirement>,
    valid: bool,
}

impl NodeTerm {
    pub fn new(term: &NodeSelectorTerm) -> NodeTerm {
        let mut valid = true;
        let mut parse = |r: &NodeSelectorRequirement| {
            let values = r.values.as_deref().unwrap_or_default();
            match Requirement::parse(&r.key, &r.operator, values) {
                Ok(req) => Some(req),
                Err(_) => {
                    valid = false;
                    None
                }
            }
        };
        let labels: Vec<Requirement> = term
            .match_expressions
            .iter()
            .flatten()
            .filter_map(&mut parse)
            .collect();
        let names: Vec<Requirement> = term
            .match_fields
            .iter()
            .flatten()
            .filter_map(|r| {
                if r.key != "metadata.name" || !matches!(r.operator.as_str(), "In" | "NotIn") {
                    return None;
                }
                parse(r)
            })
            .collect();
        // A field requirement on anything else makes the term invalid, as upstream's
        // field selector conversion refuses it.
        let fields = term.match_fields.as_ref().map_or(0, Vec::len);
        if names.len() != fields {
            valid = false;
        }
        NodeTerm {
            valid: valid && !(labels.is_empty() && names.is_empty()),
            labels,
            names,
        }
    }

    pub fn matches(&self, node: &Node) -> bool {
        if !self.valid {
            return false;
        }
        let empty = Labels::new();
        let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
        let name = node.metadata.name.as_deref();
        self.labels.iter().all(|r| r.matches(labels))
            && self.names.iter().all(|r| r.matches_value(name))
    }

    /// The node names a term is limited to by `metadata.name In (...)`, if it is.
    pub fn names_in(&self) -> Option<Vec<String>> {
        let mut out: Option<Vec<String>> = None;
        for r in &self.names {
            if let Op::In(values) = &r.op {
                out = Some(match out {
                    None => values.clone(),
                    Some(previous) => previous
                        .into_iter()
                        .filter(|n| values.contains(n))
                        .collect(),
                });
            }
        }
        out
    }
}

/// What a pod requires of its node (upstream's `RequiredNodeAffinity`): its `nodeSelector`
/// and any of the terms of its required node affinity.
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    selector: Option<Selector>,
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    pub fn new(
        node_selector: Option<&Labels>,
        required: Option<&NodeSelector>,
    ) -> RequiredNodeAffinity {
        RequiredNodeAffinity {
            selector: node_selector
                .filter(|s| !s.is_empty())
                .map(Selector::from_map),
            terms: required.map(|r| r.node_selector_terms.iter().map(NodeTerm::new).collect()),
        }
    }

    /// Whether the pod places no requirement on the node.
    pub fn is_empty(&self) -> bool {
        self.selector.is_none() && self.terms.is_none()
    }

    /// The terms of the required node affinity, if any.
    pub fn terms(&self) -> &[NodeTerm] {
        self.terms.as_deref().unwrap_or_default()
    }

    /// Whether `node` satisfies the selector and (when present) one of the terms.
    pub fn matches(&self, node: &Node) -> bool {
        if let Some(selector) = &self.selector {
            if !selector.matches(node.metadata.labels.as_ref()) {
                return false;
            }
        }
        match &self.terms {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(node)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node(name: &str, pairs: &[(&str, &str)]) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some(labels(pairs));
        node
    }

    fn label_selector(json: serde_json::Value) -> Selector {
        let s: LabelSelector = serde_json::from_value(json).expect("selector");
        Selector::from_label_selector(Some(&s)).expect("valid")
    }

    #[test]
    fn label_selectors() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(!Selector::from_label_selector(None)
            .expect("valid")
            .matches(Some(&l)));
        let everything = label_selector(serde_json::json!({}));
        assert!(everything.is_empty() && everything.matches(None));
        assert!(
            label_selector(serde_json::json!({"matchLabels": {"app": "web"}})).matches(Some(&l))
        );
        assert!(
            !label_selector(serde_json::json!({"matchLabels": {"app": "db"}})).matches(Some(&l))
        );
        let expr = |op: &str, values: &[&str]| {
            label_selector(serde_json::json!({
                "matchExpressions": [{"key": "tier", "operator": op, "values": values}]
            }))
        };
        assert!(expr("In", &["front", "back"]).matches(Some(&l)));
        assert!(!expr("NotIn", &["front"]).matches(Some(&l)));
        assert!(expr("NotIn", &["front"]).matches(None));
        assert!(expr("Exists", &[]).matches(Some(&l)));
        assert!(expr("DoesNotExist", &[]).matches(None));
        let bad: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]
        }))
        .expect("selector");
        assert!(Selector::from_label_selector(Some(&bad)).is_err());
    }

    #[test]
    fn node_selector_terms() {
        let n = node("node-1", &[("zone", "a"), ("cores", "8")]);
        let term = |json: serde_json::Value| {
            NodeTerm::new(&serde_json::from_value::<NodeSelectorTerm>(json).expect("term"))
        };
        assert!(
            !term(serde_json::json!({})).matches(&n),
            "an empty term matches nothing"
        );
        assert!(term(serde_json::json!({"matchExpressions": [
            {"key": "cores", "operator": "Gt", "values": ["4"]},
            {"key": "zone", "operator": "In", "values": ["a", "b"]},
        ]}))
        .matches(&n));
        assert!(!term(serde_json::json!({"matchExpressions": [
            {"key": "cores", "operator": "Lt", "values": ["4"]},
        ]}))
        .matches(&n));
        assert!(
            !term(serde_json::json!({"matchExpressions": [
                {"key": "cores", "operator": "Gt", "values": ["many"]},
            ]}))
            .matches(&n),
            "a term that does not parse matches nothing"
        );
        let by_name = term(serde_json::json!({"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["node-1", "node-2"]},
        ]}));
        assert!(by_name.matches(&n));
        assert_eq!(
            by_name.names_in(),
            Some(vec!["node-1".into(), "node-2".into()])
        );
        assert!(!by_name.matches(&node("node-3", &[])));
    }

    #[test]
    fn required_node_affinity_ands_the_selector_and_ors_the_terms() {
        let affinity: NodeSelector = serde_json::from_value(serde_json::json!({
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            ]
        }))
        .expect("affinity");
        let required =
            RequiredNodeAffinity::new(Some(&labels(&[("disk", "ssd")])), Some(&affinity));
        assert!(required.matches(&node("n", &[("zone", "b"), ("disk", "ssd")])));
        assert!(!required.matches(&node("n", &[("zone", "b")])));
        assert!(!required.matches(&node("n", &[("zone", "c"), ("disk", "ssd")])));
        assert!(RequiredNodeAffinity::new(None, None).matches(&node("n", &[])));
    }
}
