//! The cell helpers every printer shares: lenient JSON accessors (absent, null and
//! wrongly-typed values all read as "not set"), ages as kubectl shows them, labels,
//! selectors and container lists.

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

/// Human duration as kubectl shows ages: 5s, 3m, 2m30s, 5h, 3h10m, 2d, 3d4h, 1y, etc (upstream's duration.HumanDuration).
pub fn human_duration(d: std::time::Duration) -> String {
    human_secs(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Precision drops as durations grow, so a column of ages stays narrow.
pub(super) fn human_secs(secs: i64) -> String {
    // A second of clock skew between components still reads as "now".
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

pub(crate) fn human_signed(d: SignedDuration) -> String {
    // as_secs truncates toward zero, like Go's int(d.Seconds()).
    human_secs(d.as_secs())
}

pub(super) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    (!cur.is_null()).then_some(cur)
}

pub(super) fn st<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| {
            // Float-to-int `as` saturates, so an absurd value cannot panic.
            v.as_f64().map(|f| f as i64)
        })
}

pub(super) fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(as_int).unwrap_or(0)
}

pub(super) fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn obj<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

pub(super) fn map_len(v: &Value, path: &[&str]) -> usize {
    obj(v, path).map_or(0, Map::len)
}

pub(super) fn flag(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// Whether a pointer/struct field is set (Go's `!= nil`).
pub(super) fn has_obj(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some_and(Value::is_object)
}

/// Scalars as Go would print them; anything else is empty.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A resource.Quantity; the zero quantity prints as "0".
pub(super) fn quantity(v: Option<&Value>) -> String {
    match v.map(text) {
        Some(s) if !s.is_empty() => s,
        _ => "0".into(),
    }
}

pub(super) fn int_or_string(v: Option<&Value>) -> Option<String> {
    v.map(text).filter(|s| !s.is_empty())
}

pub(super) fn timestamp(v: &Value, path: &[&str]) -> Option<Timestamp> {
    at(v, path)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// Time since `ts`, or "<unknown>" for the zero time, as translateTimestampSince.
pub(super) fn since(ts: Option<Timestamp>, now: Timestamp) -> String {
    ts.map_or_else(
        || "<unknown>".into(),
        |t| human_signed(now.duration_since(t)),
    )
}

pub(super) fn name(o: &Value) -> Value {
    json!(st(o, &["metadata", "name"]))
}

pub(super) fn age(o: &Value, now: Timestamp) -> Value {
    json!(since(timestamp(o, &["metadata", "creationTimestamp"]), now))
}

pub(super) fn deleting(o: &Value) -> bool {
    at(o, &["metadata", "deletionTimestamp"]).is_some()
}

pub(super) fn bool_ptr(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

/// `labels.FormatLabels`: sorted `k=v` pairs, or "<none>".
pub(super) fn format_labels(m: Option<&Map<String, Value>>) -> String {
    let pairs: Vec<String> = m
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect(); // serde_json maps iterate in key order
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// A metav1.LabelSelector rendered as labels.Selector.String(); `None` and the empty selector
/// both render as "". Errors mirror LabelSelectorAsSelector's rejections.
pub(super) fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in obj(sel, &["matchLabels"]).into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", text(v))));
    }
    for expr in arr(sel, &["matchExpressions"]) {
        let key = st(expr, &["key"]);
        let mut values: Vec<String> = arr(expr, &["values"]).iter().map(text).collect();
        values.sort();
        let rendered = match st(expr, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), rendered));
    }
    // Requirements print sorted by key.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`.
pub(super) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".into(),
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
    }
}

/// Container names and images of a pod spec, comma-joined.
pub(super) fn container_cells(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec.map_or(&[][..], |s| arr(s, &["containers"]));
    let names: Vec<&str> = containers.iter().map(|c| st(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| st(c, &["image"])).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn human_duration_examples() {
        let cases = [
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (9 * 60 + 59, "9m59s"),
            (3 * 60 * 60 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 600, "3h10m"),
            (5 * 3600, "5h"),
            (47 * 3600, "47h"),
            (2 * 86400, "2d"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (30 * 86400, "30d"),
            (2 * 365 * 86400, "2y"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
        assert_eq!(human_duration(Duration::from_secs(365 * 86400)), "365d");
        assert_eq!(human_secs(-1), "0s");
        assert_eq!(human_secs(-5), "<invalid>");
        assert_eq!(
            human_duration(Duration::MAX),
            format!("{}y", i64::MAX / 86400 / 365)
        );
    }
}
