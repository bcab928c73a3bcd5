//! Checks on JSON values that several strategies share, each reporting upstream's causes
//! at a field path: reading fields without panicking, non-negative numbers, enumerations,
//! port numbers and names, int-or-percent values, label selectors, and how upstream prints
//! an internal Go struct.

use serde_json::{Map, Value};

use crate::status::Cause;
use crate::validation;

/// `IsNegativeErrorMsg`.
pub const NEGATIVE: &str = "must be greater than or equal to 0";
/// The port protocols, sorted as upstream lists them.
pub const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
/// `InclusiveRangeError(1, 65535)`.
pub const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// A string field of an object, `""` when absent or not a string.
pub fn text<'a>(obj: Option<&'a Value>, key: &str) -> &'a str {
    obj.and_then(|o| o.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// An array field of an object, empty when absent.
pub fn list<'a>(obj: Option<&'a Value>, key: &str) -> &'a [Value] {
    obj.and_then(|o| o.get(key))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A number field of an object.
pub fn int(obj: Option<&Value>, key: &str) -> Option<i64> {
    obj.and_then(|o| o.get(key)).and_then(Value::as_i64)
}

/// Whether an object or array field is present and non-empty.
pub fn non_empty(obj: Option<&Value>, key: &str) -> bool {
    match obj.and_then(|o| o.get(key)) {
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

/// Whether the object is being created: the registry has not given it a resourceVersion
/// yet (an update always carries the stored one by the time it is validated).
pub fn is_create(obj: &Value) -> bool {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
}

/// `ValidateNonnegativeField` of an optional number.
pub fn nonnegative(value: Option<i64>, field: &str, causes: &mut Vec<Cause>) {
    if let Some(n) = value.filter(|n| *n < 0) {
        causes.push(Cause::invalid(field, n, NEGATIVE));
    }
}

/// A value from a fixed list: empty is `Required`, anything else unknown is
/// `NotSupported` with the list in the order given.
pub fn one_of(value: &str, field: &str, valid: &[&str], causes: &mut Vec<Cause>) {
    if value.is_empty() {
        causes.push(Cause::required(field));
    } else if !valid.contains(&value) {
        causes.push(Cause::not_supported(field, value, valid));
    }
}

/// An optional value from a fixed list: only a set value is checked.
pub fn optional_one_of(
    value: Option<&Value>,
    field: &str,
    valid: &[&str],
    causes: &mut Vec<Cause>,
) {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return;
    };
    if !value.as_str().is_some_and(|v| valid.contains(&v)) {
        causes.push(Cause::not_supported(field, value, valid));
    }
}

/// `IsValidPortNum`.
pub fn port_number(port: i64, field: &str, causes: &mut Vec<Cause>) {
    if !(1..=65535).contains(&port) {
        causes.push(Cause::invalid(field, port, PORT_RANGE));
    }
}

/// `ValidatePortNumOrName` of an int-or-string: a port number or an IANA port name.
pub fn port_number_or_name(value: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    match value {
        Some(Value::String(name)) => {
            validation::push_invalid(causes, field, name, validation::port_name_errors(name))
        }
        other => port_number(other.and_then(Value::as_i64).unwrap_or(0), field, causes),
    }
}

/// The number of an int-or-percent, as upstream's `getIntOrPercentValue` reads it: a
/// valid percent's number, an int, or a string's leading `Atoi` (0 when it is not one).
pub fn int_or_percent_value(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(s)) => percent_value(s).or_else(|| s.parse().ok()).unwrap_or(0),
        Some(v) => v.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// The number of a valid percent string such as `25%`.
fn percent_value(s: &str) -> Option<i64> {
    if validation::percent_errors(s).is_empty() {
        s.strip_suffix('%').and_then(|d| d.parse().ok())
    } else {
        None
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative int or a valid percent string.
pub fn int_or_percent(value: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    match value {
        Some(Value::String(s)) => {
            for msg in validation::percent_errors(s) {
                causes.push(Cause::invalid(field, s.as_str(), &msg));
            }
        }
        Some(v) => nonnegative(v.as_i64(), field, causes),
        None => {}
    }
}

/// `IsNotMoreThan100Percent`.
pub fn not_over_100_percent(value: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    if let Some(Value::String(s)) = value {
        if percent_value(s).is_some_and(|p| p > 100) {
            causes.push(Cause::invalid(
                field,
                s.as_str(),
                "must not be greater than 100%",
            ));
        }
    }
}

/// `ValidateLabelSelector` of a meta/v1 LabelSelector (`None` is valid).
pub fn label_selector(selector: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return;
    };
    validation::validate_labels(
        selector.get("matchLabels"),
        &format!("{field}.matchLabels"),
        causes,
    );
    for (i, expr) in list(Some(selector), "matchExpressions").iter().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        let values = list(Some(expr), "values");
        match text(Some(expr), "operator") {
            "In" | "NotIn" if values.is_empty() => causes.push(Cause::required_with(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => causes.push(Cause::forbidden(
                format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => causes.push(Cause::invalid(
                format!("{at}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = text(Some(expr), "key");
        validation::push_invalid(
            causes,
            &format!("{at}.key"),
            key,
            validation::label_key_errors(key),
        );
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            validation::push_invalid(
                causes,
                &format!("{at}.values[{j}]"),
                value,
                validation::label_value_errors(value),
            );
        }
    }
}

/// Whether a LabelSelector has neither matchLabels nor matchExpressions.
pub fn selector_is_empty(selector: &Value) -> bool {
    !non_empty(Some(selector), "matchLabels") && !non_empty(Some(selector), "matchExpressions")
}

/// How upstream prints an internal (unversioned) Go struct in a message: its fields under
/// their Go names, in order, missing ones as `null`. `fields` pairs each Go name with the
/// JSON field it comes from.
pub fn go_struct(obj: Option<&Value>, fields: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (go_name, json_name) in fields {
        let value = obj
            .and_then(|o| o.get(*json_name))
            .cloned()
            .unwrap_or(Value::Null);
        out.insert((*go_name).to_string(), value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(f: impl FnOnce(&mut Vec<Cause>)) -> Vec<(String, String)> {
        let mut causes = Vec::new();
        f(&mut causes);
        causes.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn one(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_string(), message.to_string())]
    }

    #[test]
    fn enumerations_and_numbers() {
        assert_eq!(
            run(|c| one_of("", "f", &["A"], c)),
            one("f", "Required value")
        );
        assert_eq!(
            run(|c| one_of("X", "f", &["A", "B"], c)),
            one(
                "f",
                "Unsupported value: \"X\": supported values: \"A\", \"B\""
            )
        );
        assert!(run(|c| one_of("A", "f", &["A"], c)).is_empty());
        assert_eq!(
            run(|c| nonnegative(Some(-1), "f", c)),
            one("f", "Invalid value: -1: must be greater than or equal to 0")
        );
        assert!(run(|c| nonnegative(Some(0), "f", c)).is_empty());
        assert_eq!(
            run(|c| optional_one_of(Some(&json!("x")), "f", &["A"], c)),
            one("f", "Unsupported value: \"x\": supported values: \"A\"")
        );
    }

    #[test]
    fn ports() {
        assert_eq!(
            run(|c| port_number_or_name(Some(&json!(70000)), "p", c)),
            one(
                "p",
                "Invalid value: 70000: must be between 1 and 65535, inclusive"
            )
        );
        assert_eq!(
            run(|c| port_number_or_name(Some(&json!("Web")), "p", c)),
            one("p", "Invalid value: \"Web\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        );
        assert!(run(|c| port_number_or_name(Some(&json!("http")), "p", c)).is_empty());
        assert_eq!(
            run(|c| port_number_or_name(None, "p", c)),
            one(
                "p",
                "Invalid value: 0: must be between 1 and 65535, inclusive"
            )
        );
    }

    #[test]
    fn int_or_percents() {
        assert_eq!(int_or_percent_value(Some(&json!("25%"))), 25);
        assert_eq!(int_or_percent_value(Some(&json!(3))), 3);
        assert_eq!(int_or_percent_value(Some(&json!("7"))), 7);
        assert_eq!(int_or_percent_value(Some(&json!("x"))), 0);
        assert_eq!(
            run(|c| int_or_percent(Some(&json!(-1)), "m", c)),
            one("m", "Invalid value: -1: must be greater than or equal to 0")
        );
        assert_eq!(
            run(|c| int_or_percent(Some(&json!("5")), "m", c)),
            one("m", "Invalid value: \"5\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
        );
        assert_eq!(
            run(|c| not_over_100_percent(Some(&json!("101%")), "m", c)),
            one(
                "m",
                "Invalid value: \"101%\": must not be greater than 100%"
            )
        );
        assert!(run(|c| not_over_100_percent(Some(&json!("100%")), "m", c)).is_empty());
    }

    #[test]
    fn label_selectors() {
        let selector = json!({
            "matchLabels": {"app": "-bad"},
            "matchExpressions": [
                {"key": "a", "operator": "In"},
                {"key": "b", "operator": "Exists", "values": ["x"]},
                {"key": "c", "operator": "Near", "values": ["x"]},
            ]
        });
        let got = run(|c| label_selector(Some(&selector), "spec.selector", c));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[2].operator",
            ]
        );
        assert_eq!(
            got[1].1,
            "Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            got[3].1,
            "Invalid value: \"Near\": not a valid selector operator"
        );
        assert!(selector_is_empty(&json!({"matchLabels": {}})));
        assert!(!selector_is_empty(&json!({"matchLabels": {"a": "b"}})));
    }

    #[test]
    fn go_structs_and_creates() {
        assert_eq!(
            go_struct(
                Some(&json!({"type": "X"})),
                &[("Type", "type"), ("RollingUpdate", "rollingUpdate")]
            )
            .to_string(),
            r#"{"Type":"X","RollingUpdate":null}"#
        );
        assert!(is_create(&json!({"metadata": {}})));
        assert!(!is_create(&json!({"metadata": {"resourceVersion": "5"}})));
    }
}
