//! The numeric keywords (`minimum`, `maximum` and their exclusive forms, `multipleOf`)
//! and the range of a number's format, with kube-openapi's comparisons and messages.

use super::fault::{subj, Fault, Kind};
use super::go_value::{go_float_v, Num};
use super::Node;

/// Go's swag.IsFloat64AJSONInteger: integral (to a relative 1e-9) and within ±2^53.
pub(super) fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_992.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let t = f.trunc();
    if f == t {
        return true;
    }
    let diff = (f - t).abs();
    let sum = f.abs() + t.abs();
    sum > 0.0 && diff / sum < 1e-9
}

/// kube-openapi's IsValueValidAgainstRange: can `rep` be read as the node's
/// numeric type and format.
fn in_range(rep: &str, ty: &str, format: &str) -> bool {
    match (ty, format) {
        ("integer", "int32") => rep.parse::<i32>().is_ok(),
        ("integer", _) => rep.parse::<i64>().is_ok(),
        ("number", "float") => rep.parse::<f32>().is_ok_and(f32::is_finite),
        _ => true,
    }
}

/// Go's strconv.FormatFloat(f, 'f', -1, 64), as swag.FormatFloat64 prints it.
fn rep_of(n: Num) -> String {
    match n {
        Num::I(i) => i.to_string(),
        Num::F(f) => format!("{f}"),
    }
}

fn range_error(prefix: &str, ty: &str, format: &str, path: &str) -> Fault {
    let msg = if format.is_empty() {
        format!("{prefix} value must be of type {ty} (default format) in {path}")
    } else {
        format!("{prefix} value must be of type {ty} with format {format} in {path}")
    };
    Fault::new(Kind::Plain, path, String::new(), msg)
}

fn multiple_of_float(path: &str, data: f64, factor: f64) -> Option<Fault> {
    if factor <= 0.0 {
        let msg = format!(
            "factor MultipleOf declared for {path} must be positive: {}",
            go_float_v(factor)
        );
        return Some(Fault::new(Kind::Invalid, path, go_float_v(factor), msg));
    }
    let mult = if factor < 1.0 {
        1.0 / factor * data
    } else {
        data / factor
    };
    if is_json_integer(mult) {
        return None;
    }
    let msg = format!(
        "{} should be a multiple of {}",
        subj(path),
        go_float_v(factor)
    );
    Some(Fault::new(Kind::Invalid, path, go_float_v(data), msg))
}

fn multiple_of_int(path: &str, data: i64, factor: i64) -> Option<Fault> {
    if factor <= 0 {
        let msg = format!("factor MultipleOf declared for {path} must be positive: {factor}");
        return Some(Fault::new(Kind::Invalid, path, factor.to_string(), msg));
    }
    if data.checked_rem(factor) == Some(0) {
        return None;
    }
    let msg = format!("{} should be a multiple of {factor}", subj(path));
    Some(Fault::new(Kind::Invalid, path, data.to_string(), msg))
}

/// `exceeds`: compares as kube-openapi does, natively for integers (against the bound
/// converted to an integer) and as floats otherwise.
fn bound_error(
    path: &str,
    data: Num,
    bound: f64,
    exclusive: bool,
    is_max: bool,
    native: bool,
) -> Option<Fault> {
    let (violated, shown_bound, shown_data) = match (data, native) {
        (Num::I(i), true) => {
            let b = bound as i64;
            let v = if is_max {
                i > b || (exclusive && i == b)
            } else {
                i < b || (exclusive && i == b)
            };
            (v, b.to_string(), i.to_string())
        }
        _ => {
            let d = data.as_f64();
            let v = if is_max {
                d > bound || (exclusive && d == bound)
            } else {
                d < bound || (exclusive && d == bound)
            };
            (v, go_float_v(bound), go_float_v(d))
        }
    };
    if !violated {
        return None;
    }
    let relation = match (is_max, exclusive) {
        (true, false) => "less than or equal to",
        (true, true) => "less than",
        (false, false) => "greater than or equal to",
        (false, true) => "greater than",
    };
    let msg = format!("{} should be {relation} {shown_bound}", subj(path));
    Some(Fault::new(Kind::Invalid, path, shown_data, msg))
}

pub(super) fn check_number(n: &Node, data: Num, path: &str) -> Vec<Fault> {
    let (ty, format) = match n.types.as_slice() {
        ["integer"] => (
            "integer",
            if n.format == "int32" || n.format == "int64" {
                n.format.as_str()
            } else {
                ""
            },
        ),
        ["number"] => (
            "number",
            if n.format == "float" || n.format == "double" {
                n.format.as_str()
            } else {
                ""
            },
        ),
        _ => ("", ""),
    };
    let mut errs = Vec::new();
    if !in_range(&rep_of(data), ty, format) {
        errs.push(range_error("Checked", ty, format, path));
    }
    if let Some(m) = n.multiple_of {
        if in_range(&rep_of(Num::F(m)), ty, format) {
            errs.extend(match data {
                Num::I(i) => multiple_of_int(path, i, m as i64),
                Num::F(f) => multiple_of_float(path, f, m),
            });
        } else {
            errs.push(range_error("MultipleOf", ty, format, path));
            errs.extend(multiple_of_float(path, data.as_f64(), m));
        }
    }
    for (bound, exclusive, is_max, prefix) in [
        (n.minimum, n.exclusive_minimum, false, "Minimum boundary"),
        (n.maximum, n.exclusive_maximum, true, "Maximum boundary"),
    ] {
        let Some(b) = bound else { continue };
        let native = in_range(&rep_of(Num::F(b)), ty, format);
        if !native {
            errs.push(range_error(prefix, ty, format, path));
        }
        errs.extend(bound_error(path, data, b, exclusive, is_max, native));
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::{spec_errors, spec_schema};

    #[test]
    fn maximum_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer", "maximum": 10}}),
            json!({"replicas": 11}),
        );
        assert_eq!(e, ["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]);
    }

    #[test]
    fn minimum_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer", "minimum": 1}}),
            json!({"replicas": 0}),
        );
        assert_eq!(e, ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]);
    }

    #[test]
    fn exclusive_bounds() {
        let props = json!({"n": {"type": "number", "minimum": 1, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true}});
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 1})),
            ["spec.n: Invalid value: 1: spec.n in body should be greater than 1"]
        );
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 2.5})),
            ["spec.n: Invalid value: 2.5: spec.n in body should be less than 2.5"]
        );
        assert!(spec_errors(props.clone(), json!({"n": 1.5})).is_empty());
        // As upstream: an integer is compared with the bound converted to an integer.
        assert_eq!(
            spec_errors(props, json!({"n": 2})),
            ["spec.n: Invalid value: 2: spec.n in body should be less than 2"]
        );
    }

    #[test]
    fn float_bounds_print_as_go_does() {
        let e = spec_errors(
            json!({"n": {"type": "number", "maximum": 1000000}}),
            json!({"n": 2000000.5}),
        );
        assert_eq!(e, ["spec.n: Invalid value: 2.0000005e+06: spec.n in body should be less than or equal to 1e+06"]);
    }

    #[test]
    fn multiple_of_integers_and_floats() {
        assert_eq!(
            spec_errors(
                json!({"n": {"type": "integer", "multipleOf": 5}}),
                json!({"n": 12})
            ),
            ["spec.n: Invalid value: 12: spec.n in body should be a multiple of 5"]
        );
        assert!(spec_errors(
            json!({"n": {"type": "number", "multipleOf": 0.5}}),
            json!({"n": 2.5})
        )
        .is_empty());
        assert_eq!(
            spec_errors(
                json!({"n": {"type": "number", "multipleOf": 0.5}}),
                json!({"n": 2.25})
            ),
            ["spec.n: Invalid value: 2.25: spec.n in body should be a multiple of 0.5"]
        );
    }

    #[test]
    fn int32_range() {
        let e = spec_errors(
            json!({"n": {"type": "integer", "format": "int32"}}),
            json!({"n": 3_000_000_000i64}),
        );
        assert_eq!(
            e,
            [
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.n"#
            ]
        );
        assert!(spec_errors(
            json!({"n": {"type": "integer", "format": "int64"}}),
            json!({"n": 3_000_000_000i64})
        )
        .is_empty());
    }

    #[test]
    fn huge_numbers_do_not_panic() {
        let props = json!({"n": {"type": "integer", "minimum": -1e300, "maximum": 1e300, "multipleOf": 1e-300}});
        let e = spec_errors(props, json!({"n": 1e308}));
        assert!(!e.is_empty());
        let s = spec_schema(json!({"n": {"type": "integer", "multipleOf": 0}}));
        assert!(!s.validate(&json!({"spec": {"n": i64::MIN}})).is_empty());
    }
}
