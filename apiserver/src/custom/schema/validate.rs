//! kube-openapi's schema validator: the keywords in its order (type, allOf/anyOf/oneOf/
//! not, string, format, number, array, enum, object), its messages and match counts.

use serde_json::{Map, Value};

use super::fault::{into_causes, subj, Fault, Kind};
use super::formats::{format_valid, normalized_format};
use super::go_value::{go_json, go_shown, num_of, Num};
use super::numbers::{check_number, is_json_integer};
use super::{key_path, p_index, Additional, Node};
use crate::status::{go_quote, Cause};

/// kube-openapi's errors for an object, as causes.
pub(super) fn validate(root: &Node, obj: &Value) -> Vec<Cause> {
    into_causes(validate_node(root, obj, "").errs)
}

/// kube-openapi's `Result`: errors and the match count it uses to pick the
/// alternative of an anyOf/oneOf whose errors it reports.
#[derive(Default)]
struct Res {
    errs: Vec<Fault>,
    count: u64,
}

impl Res {
    fn merge(&mut self, other: Res) {
        self.errs.extend(other.errs);
        self.count += other.count;
    }
}

fn invalid_type(path: &str, ty: &str, got: &str) -> Fault {
    Fault::new(
        Kind::TypeInvalid,
        path,
        go_quote(got),
        format!("{} must be of type {ty}: {}", subj(path), go_quote(got)),
    )
}

fn infer_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) => match num_of(n) {
            Num::I(_) => ("integer", "int64"),
            Num::F(_) => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("", ""),
    }
}

fn check_type(n: &Node, v: &Value, path: &str) -> Option<Fault> {
    let has = |t: &str| n.types.contains(&t);
    if v.is_null() {
        if !n.types.is_empty() && !n.nullable {
            return Some(invalid_type(path, &n.types.join(","), "null"));
        }
        return None;
    }
    let (sch_type, format) = infer_type(v);
    let is_float_int = match v {
        Value::Number(num) => {
            matches!(num_of(num), Num::F(f) if is_json_integer(f)) && has("integer")
        }
        _ => false,
    };
    let is_int_float = sch_type == "integer" && has("number");
    let string_or_slice = v.is_string() || v.is_array();
    let format_fits = has(sch_type) || format == n.format || is_float_int || is_int_float;
    // A scalar that is not a string must fit the format, when there is one.
    if !(string_or_slice || n.format.is_empty() || format_fits) {
        return Some(invalid_type(path, &n.format, format));
    }
    // A formatted string or list passes the type check unless the type is numeric.
    if string_or_slice && !(has("number") || has("integer") || n.format.is_empty()) {
        return None;
    }
    if !(has(sch_type) || is_float_int || is_int_float) {
        return Some(invalid_type(path, &n.types.join(","), sch_type));
    }
    None
}

fn enum_matches(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (Value::Null, _) => false,
        (Value::Number(d), Value::Number(e)) => match (num_of(d), num_of(e)) {
            (Num::I(a), Num::I(b)) => a == b,
            (Num::F(a), Num::F(b)) => a == b,
            (Num::I(a), Num::F(b)) => a as f64 == b,
            // Go converts the datum to the enum value's type: a float truncates.
            (Num::F(a), Num::I(b)) => a as i64 == b,
        },
        // Go's int-to-string conversion makes a rune.
        (Value::Number(d), Value::String(s)) => match num_of(d) {
            Num::I(i) => {
                let c = u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                s.chars().eq(std::iter::once(c))
            }
            Num::F(_) => false,
        },
        (a, b) => a == b,
    }
}

fn check_enum(n: &Node, v: &Value, path: &str) -> Option<Fault> {
    let values = n.enumv.as_ref().filter(|e| !e.is_empty())?;
    if values.iter().any(|e| enum_matches(v, e)) {
        return None;
    }
    let supported = values
        .iter()
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => go_json(other),
        })
        .collect();
    let listed: Vec<String> = values.iter().map(go_shown).collect();
    let msg = format!("{} should be one of [{}]", subj(path), listed.join(" "));
    Some(Fault::new(
        Kind::NotSupported(supported),
        path,
        go_shown(v),
        msg,
    ))
}

fn check_string(n: &Node, s: &str, path: &str) -> Option<Fault> {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    if let Some(max) = n.max_length.filter(|max| len > *max) {
        let msg = format!("{} should be at most {max} chars long", subj(path));
        return Some(Fault::new(Kind::TooLong(max), path, go_quote(s), msg));
    }
    if let Some(min) = n.min_length.filter(|min| len < *min) {
        let msg = format!("{} should be at least {min} chars long", subj(path));
        return Some(Fault::new(Kind::Invalid, path, go_quote(s), msg));
    }
    if let Some((p, re)) = &n.pattern {
        if !re.is_match(s) {
            let msg = format!("{} should match '{p}'", subj(path));
            return Some(Fault::new(Kind::Invalid, path, go_quote(s), msg));
        }
    }
    None
}

fn check_format(n: &Node, s: &str, path: &str) -> Option<Result<(), Fault>> {
    let name = normalized_format(&n.format);
    let ok = format_valid(&name, s)?;
    if ok {
        Some(Ok(()))
    } else {
        let msg = format!(
            "{} must be of type {}: {}",
            subj(path),
            n.format,
            go_quote(s)
        );
        Some(Err(Fault::new(Kind::TypeInvalid, path, go_quote(s), msg)))
    }
}

fn validate_array(n: &Node, list: &[Value], path: &str, r: &mut Res) {
    if let Some(items) = n.items.as_deref() {
        for (i, x) in list.iter().enumerate() {
            r.merge(validate_node(items, x, &p_index(path, i)));
        }
    }
    let size = i64::try_from(list.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_items.filter(|m| size < *m) {
        let msg = format!("{} should have at least {min} items", subj(path));
        r.errs
            .push(Fault::new(Kind::Invalid, path, size.to_string(), msg));
    }
    if let Some(max) = n.max_items.filter(|m| size > *m) {
        let msg = format!("{} should have at most {max} items", subj(path));
        r.errs.push(Fault::new(
            Kind::TooMany(size, max),
            path,
            size.to_string(),
            msg,
        ));
    }
    if n.unique_items {
        let dup = list
            .iter()
            .enumerate()
            .any(|(i, a)| list.iter().take(i).any(|b| a == b));
        if dup {
            let msg = format!("{} shouldn't contain duplicates", subj(path));
            r.errs
                .push(Fault::new(Kind::Invalid, path, go_quote(""), msg));
        }
    }
    r.count += 1;
}

fn validate_object(n: &Node, map: &Map<String, Value>, path: &str, r: &mut Res) {
    let size = i64::try_from(map.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_properties.filter(|m| size < *m) {
        let msg = format!("{} should have at least {min} properties", subj(path));
        r.errs
            .push(Fault::new(Kind::Invalid, path, size.to_string(), msg));
    }
    if let Some(max) = n.max_properties.filter(|m| size > *m) {
        let msg = format!("{} should have at most {max} properties", subj(path));
        r.errs.push(Fault::new(
            Kind::TooMany(size, max),
            path,
            size.to_string(),
            msg,
        ));
    }
    match n.additional.as_deref() {
        Some(Additional::Allows(false)) => {
            for k in map.keys().filter(|k| n.prop(k).is_none()) {
                let msg = format!("{path}.{k} in body is a forbidden property");
                r.errs
                    .push(Fault::new(Kind::Invalid, path, go_quote(k), msg));
            }
        }
        Some(Additional::Schema(s)) => {
            for (k, v) in map.iter().filter(|(k, _)| n.prop(k).is_none()) {
                r.merge(validate_node(s, v, &format!("{path}.{k}")));
            }
        }
        _ => {}
    }
    for (name, p) in &n.properties {
        if let Some(v) = map.get(name) {
            r.merge(validate_node(p, v, &key_path(path, name)));
        }
    }
    for k in &n.required {
        if !map.contains_key(k) {
            let name = format!("{path}.{k}");
            let msg = format!("{} is required", subj(&name));
            r.errs
                .push(Fault::new(Kind::Required, &name, String::new(), msg));
        }
    }
}

fn api_error(msg: String) -> Fault {
    Fault::new(Kind::Plain, "", String::new(), msg)
}

/// kube-openapi's schemaPropsValidator: allOf, anyOf, oneOf, not.
fn validate_props(n: &Node, v: &Value, path: &str) -> Res {
    let mut main = Res::default();
    if !n.any_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut succeeded = false;
        for s in &n.any_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                succeeded = true;
                best = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.count > b.count) {
                best = Some(r);
            }
        }
        if !succeeded {
            main.errs.push(api_error(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
        }
        if let Some(b) = best {
            main.merge(b);
        }
    }
    if !n.one_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut first_success: Option<Res> = None;
        let mut validated = 0usize;
        for s in &n.one_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.count > b.count) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let more = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.errs.push(api_error(format!(
                "{} must validate one and only one schema (oneOf). {more}",
                go_quote(path)
            )));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(s) = first_success {
            main.merge(s);
        }
    }
    if !n.all_of.is_empty() {
        let mut validated = 0usize;
        for s in &n.all_of {
            let r = validate_node(s, v, path);
            if r.errs.is_empty() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != n.all_of.len() {
            let more = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            main.errs.push(api_error(format!(
                "{} must validate all the schemas (allOf){more}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = n.not.as_deref() {
        if validate_node(not, v, path).errs.is_empty() {
            main.errs.push(api_error(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
    main.count += 1;
    main
}

/// kube-openapi's SchemaValidator: its validators in its order (type, allOf/anyOf/
/// oneOf/not, string, format, number, array, enum, object), counting matches as it does.
fn validate_node(n: &Node, v: &Value, path: &str) -> Res {
    let mut r = Res::default();
    if v.is_null() {
        match check_type(n, v, path) {
            None => r.count += 1,
            Some(e) => r.errs.push(e),
        }
        r.errs.extend(check_enum(n, v, path));
        return r;
    }
    if !n.types.is_empty() || !n.format.is_empty() {
        match check_type(n, v, path) {
            None => r.count += 1,
            Some(e) => r.errs.push(e),
        }
        r.count += 1;
    }
    r.merge(validate_props(n, v, path));
    r.count += 1;
    match v {
        Value::String(s) => {
            r.errs.extend(check_string(n, s, path));
            r.count += 1;
            if let Some(outcome) = check_format(n, s, path) {
                if let Err(e) = outcome {
                    r.errs.push(e);
                }
                r.count += 1;
            }
        }
        Value::Number(num) => {
            r.errs.extend(check_number(n, num_of(num), path));
            r.count += 2;
        }
        Value::Array(list) => {
            validate_array(n, list, path, &mut r);
            r.count += 1;
        }
        _ => {}
    }
    r.errs.extend(check_enum(n, v, path));
    r.count += 1;
    if let Value::Object(map) = v {
        validate_object(n, map, path, &mut r);
        r.count += 1;
    }
    r.count += 1;
    r
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::{errors, schema, spec_errors, spec_schema};

    #[test]
    fn type_mismatch_message() {
        let e = spec_errors(
            json!({"replicas": {"type": "integer"}}),
            json!({"replicas": "string"}),
        );
        assert_eq!(
            e,
            [
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
            ]
        );
        let s = spec_schema(json!({"replicas": {"type": "integer"}}));
        assert_eq!(
            s.validate(&json!({"spec": {"replicas": "x"}}))[0].reason,
            "FieldValueTypeInvalid"
        );
    }

    #[test]
    fn each_type_is_checked() {
        let props = json!({
            "o": {"type": "object"}, "a": {"type": "array", "items": {"type": "string"}},
            "s": {"type": "string"}, "b": {"type": "boolean"}, "n": {"type": "number"},
        });
        let e = spec_errors(
            props,
            json!({"o": [], "a": {}, "s": 1, "b": "true", "n": true}),
        );
        assert_eq!(
            e,
            [
                r#"spec.a: Invalid value: "object": spec.a in body must be of type array: "object""#,
                r#"spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string""#,
                r#"spec.n: Invalid value: "boolean": spec.n in body must be of type number: "boolean""#,
                r#"spec.o: Invalid value: "array": spec.o in body must be of type object: "array""#,
                r#"spec.s: Invalid value: "integer": spec.s in body must be of type string: "integer""#,
            ]
        );
    }

    #[test]
    fn integral_floats_are_integers_and_integers_are_numbers() {
        let props = json!({"i": {"type": "integer"}, "n": {"type": "number"}});
        assert!(spec_errors(props.clone(), json!({"i": 3.0, "n": 3})).is_empty());
        let e = spec_errors(props, json!({"i": 3.5}));
        assert_eq!(
            e,
            [
                r#"spec.i: Invalid value: "number": spec.i in body must be of type integer: "number""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer (default format) in spec.i"#,
            ]
        );
    }

    #[test]
    fn required_message() {
        let s = schema(json!({"type": "object", "properties": {"spec": {
            "type": "object", "required": ["deploymentName"],
            "properties": {"deploymentName": {"type": "string"}}}}}));
        assert_eq!(
            errors(&s, json!({"spec": {}})),
            ["spec.deploymentName: Required value"]
        );
        assert_eq!(
            s.validate(&json!({"spec": {}}))[0].reason,
            "FieldValueRequired"
        );
    }

    #[test]
    fn required_at_the_root() {
        let s = schema(
            json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}),
        );
        assert_eq!(errors(&s, json!({})), ["spec: Required value"]);
    }

    #[test]
    fn enum_message() {
        let e = spec_errors(
            json!({"color": {"type": "string", "enum": ["red", "blue"]}}),
            json!({"color": "pink"}),
        );
        assert_eq!(
            e,
            [r#"spec.color: Unsupported value: "pink": supported values: "red", "blue""#]
        );
    }

    #[test]
    fn enum_of_numbers_lists_them_as_json() {
        let props = json!({"n": {"type": "number", "enum": [1, 2.5]}});
        assert_eq!(
            spec_errors(props.clone(), json!({"n": 3})),
            [r#"spec.n: Unsupported value: 3: supported values: "1", "2.5""#]
        );
        assert!(spec_errors(props.clone(), json!({"n": 1.0})).is_empty());
        assert!(spec_errors(props, json!({"n": 2.5})).is_empty());
    }

    #[test]
    fn enum_rejects_null_even_when_nullable() {
        let e = spec_errors(
            json!({"c": {"type": "string", "nullable": true, "enum": ["a"]}}),
            json!({"c": null}),
        );
        assert_eq!(
            e,
            [r#"spec.c: Unsupported value: null: supported values: "a""#]
        );
    }

    #[test]
    fn min_length_message() {
        let e = spec_errors(
            json!({"name": {"type": "string", "minLength": 2}}),
            json!({"name": "x"}),
        );
        assert_eq!(
            e,
            [r#"spec.name: Invalid value: "x": spec.name in body should be at least 2 chars long"#]
        );
    }

    #[test]
    fn max_length_counts_characters() {
        let props = json!({"name": {"type": "string", "maxLength": 3}});
        assert!(spec_errors(props.clone(), json!({"name": "äöü"})).is_empty());
        let s = spec_schema(props);
        let c = s.validate(&json!({"spec": {"name": "abcd"}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].reason, "FieldValueTooLong");
        assert_eq!(c[0].message, "Too long: may not be more than 3 bytes");
    }

    #[test]
    fn pattern_message() {
        let e = spec_errors(
            json!({"name": {"type": "string", "pattern": "^[a-z]+$"}}),
            json!({"name": "Abc"}),
        );
        assert_eq!(
            e,
            [r#"spec.name: Invalid value: "Abc": spec.name in body should match '^[a-z]+$'"#]
        );
    }

    #[test]
    fn pattern_is_unanchored_like_go() {
        assert!(spec_errors(
            json!({"name": {"type": "string", "pattern": "[0-9]"}}),
            json!({"name": "ab1c"})
        )
        .is_empty());
    }

    #[test]
    fn only_the_first_string_error_is_reported() {
        let e = spec_errors(
            json!({"name": {"type": "string", "maxLength": 2, "pattern": "^[0-9]+$"}}),
            json!({"name": "abcd"}),
        );
        assert_eq!(e, ["spec.name: Too long: may not be more than 2 bytes"]);
    }

    #[test]
    fn items_min_max_and_unique() {
        let props = json!({"l": {"type": "array", "minItems": 2, "maxItems": 3, "uniqueItems": true, "items": {"type": "integer"}}});
        assert_eq!(
            spec_errors(props.clone(), json!({"l": [1]})),
            ["spec.l: Invalid value: 1: spec.l in body should have at least 2 items"]
        );
        assert_eq!(
            spec_errors(props.clone(), json!({"l": [1, 2, 3, 4]})),
            ["spec.l: Too many: 4: must have at most 3 items"]
        );
        assert_eq!(
            spec_errors(props, json!({"l": [1, 1]})),
            [r#"spec.l: Invalid value: "": spec.l in body shouldn't contain duplicates"#]
        );
    }

    #[test]
    fn item_paths_use_brackets() {
        let props = json!({"items": {"type": "array", "items": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 2}}}}});
        assert_eq!(
            spec_errors(props, json!({"items": [{"name": "ok"}, {"name": "x"}, {}]})),
            [
                r#"spec.items[1].name: Invalid value: "x": spec.items[1].name in body should be at least 2 chars long"#,
                "spec.items[2].name: Required value",
            ]
        );
    }

    #[test]
    fn min_and_max_properties() {
        let props = json!({"m": {"type": "object", "minProperties": 1, "maxProperties": 2, "additionalProperties": {"type": "string"}}});
        assert_eq!(
            spec_errors(props.clone(), json!({"m": {}})),
            ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"]
        );
        assert_eq!(
            spec_errors(props, json!({"m": {"a": "1", "b": "2", "c": "3"}})),
            ["spec.m: Too many: 3: must have at most 2 items"]
        );
    }

    #[test]
    fn additional_properties_schema_validates_values() {
        let props = json!({"labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}}});
        assert_eq!(
            spec_errors(props, json!({"labels": {"ok": "abc", "bad": 5}})),
            [
                r#"spec.labels.bad: Invalid value: "integer": spec.labels.bad in body must be of type string: "integer""#
            ]
        );
    }

    #[test]
    fn additional_properties_false_forbids_unknown_keys() {
        let props = json!({"m": {"type": "object", "additionalProperties": false}});
        assert_eq!(
            spec_errors(props, json!({"m": {"x": 1}})),
            [r#"spec.m: Invalid value: "x": spec.m.x in body is a forbidden property"#]
        );
    }

    #[test]
    fn nullable_accepts_null() {
        let props = json!({"a": {"type": "string", "nullable": true}, "b": {"type": "string"}});
        assert_eq!(
            spec_errors(props, json!({"a": null, "b": null})),
            [r#"spec.b: Invalid value: "null": spec.b in body must be of type string: "null""#]
        );
    }

    #[test]
    fn int_or_string() {
        let props = json!({"port": {"x-kubernetes-int-or-string": true}});
        assert!(spec_errors(props.clone(), json!({"port": 80})).is_empty());
        assert!(spec_errors(props.clone(), json!({"port": "http"})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"port": true})),
            [
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
            ]
        );
    }

    #[test]
    fn any_of_reports_the_best_alternative() {
        let props = json!({"n": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}});
        assert!(spec_errors(props.clone(), json!({"n": 11})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"n": 5})),
            [
                r#"<nil>: Invalid value: "": "spec.n" must validate at least one schema (anyOf)"#,
                "spec.n: Invalid value: 5: spec.n in body should be greater than or equal to 10",
            ]
        );
    }

    #[test]
    fn one_of_requires_exactly_one() {
        let props = json!({"n": {"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}});
        assert!(spec_errors(props.clone(), json!({"n": 20})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"n": 5})),
            [
                r#"<nil>: Invalid value: "": "spec.n" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
    }

    #[test]
    fn all_of_reports_every_failure() {
        let props =
            json!({"s": {"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]}});
        assert_eq!(
            spec_errors(props, json!({"s": "b"})),
            [
                r#"spec.s: Invalid value: "b": spec.s in body should be at least 2 chars long"#,
                r#"spec.s: Invalid value: "b": spec.s in body should match '^a'"#,
                r#"<nil>: Invalid value: "": "spec.s" must validate all the schemas (allOf). None validated"#,
            ]
        );
    }

    #[test]
    fn not_forbids_a_match() {
        let props = json!({"s": {"type": "string", "not": {"enum": ["x"]}}});
        assert!(spec_errors(props.clone(), json!({"s": "y"})).is_empty());
        assert_eq!(
            spec_errors(props, json!({"s": "x"})),
            [r#"<nil>: Invalid value: "": "spec.s" must not validate the schema (not)"#]
        );
    }

    #[test]
    fn map_type_needs_nothing_at_runtime() {
        let props = json!({"m": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}}});
        assert!(spec_errors(props, json!({"m": {"a": "b"}})).is_empty());
    }
}
