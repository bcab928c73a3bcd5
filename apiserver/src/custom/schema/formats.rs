//! String formats (`format`): which ones upstream validates and kube-openapi strfmt's
//! checkers for them.

use std::sync::OnceLock;

use regex::Regex;

/// Formats upstream validates for strings (names without dashes, as go-openapi
/// normalises them); any other string format is stripped and passes.
pub(super) const STRING_FORMATS: [&str; 26] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "k8sshortname",
    "k8slongname",
];

pub(super) fn normalized_format(f: &str) -> String {
    f.replace('-', "")
}

pub(super) fn matches(cell: &'static OnceLock<Option<Regex>>, pattern: &str, s: &str) -> bool {
    cell.get_or_init(|| Regex::new(pattern).ok())
        .as_ref()
        .is_some_and(|re| re.is_match(s))
}

macro_rules! rx_match {
    ($pattern:expr, $s:expr) => {{
        static RX: OnceLock<Option<Regex>> = OnceLock::new();
        matches(&RX, $pattern, $s)
    }};
}

/// `None` for a format upstream does not validate (it passes).
pub(super) fn format_valid(name: &str, s: &str) -> Option<bool> {
    Some(match name {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => {
            (parse_ipv4_sloppy(s).is_some() || s.parse::<std::net::Ipv6Addr>().is_ok())
                && s.contains('.')
        }
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "uuid" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
            s
        ),
        "uuid3" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
            s
        ),
        "uuid4" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
            s
        ),
        "uuid5" => rx_match!(
            r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
            s
        ),
        "isbn" => is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10(s),
        "isbn13" => is_isbn13(s),
        "creditcard" => is_credit_card(s),
        "ssn" => s.len() == 11 && rx_match!(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$", s),
        "hexcolor" => rx_match!(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", s),
        "rgbcolor" => rx_match!(
            r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$",
            s
        ),
        "byte" => rx_match!(
            r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$",
            s
        ),
        "password" => true,
        "date" => is_date(s),
        "datetime" => is_date_time(s),
        "duration" => is_duration(s),
        "k8sshortname" => s.len() <= 63 && rx_match!("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", s),
        "k8slongname" => {
            s.len() <= 253
                && rx_match!(
                    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                    s
                )
        }
        _ => return None,
    })
}

/// Go's url.ParseRequestURI, roughly: an absolute URI or an absolute path, no controls.
fn is_request_uri(s: &str) -> bool {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    s.starts_with('/') || rx_match!(r"^[A-Za-z][A-Za-z0-9+.\-]*:", s)
}

/// Go's net/mail.ParseAddress, roughly: `local@domain` (dot-atoms, or a quoted local
/// part), optionally as `Name <local@domain>`.
fn is_email(s: &str) -> bool {
    let addr = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(open), Some(inner)) => inner.get(open + 1..).unwrap_or(""),
        _ => s,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    let dot_atom =
        |p: &str| !p.is_empty() && p.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    (quoted || dot_atom(local)) && dot_atom(domain)
}

fn is_hostname(s: &str) -> bool {
    s.len() <= 255
        && s.split('.').all(|p| p.len() <= 63)
        && rx_match!(
            r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$",
            s
        )
}

/// IPv4 as Go's sloppy parser reads it (leading zeros allowed).
fn parse_ipv4_sloppy(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    if parse_ipv4_sloppy(ip).is_some() {
        bits <= 32
    } else {
        ip.parse::<std::net::Ipv6Addr>().is_ok() && bits <= 128
    }
}

/// Go's net.ParseMAC: 6, 8 or 20 octets as `aa:bb`, `aa-bb` or `aabb.ccdd`.
fn is_mac(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    for sep in [':', '-'] {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() > 1 {
            return [6, 8, 20].contains(&parts.len()) && parts.iter().all(|p| hex(p, 2));
        }
    }
    let parts: Vec<&str> = s.split('.').collect();
    [3, 4, 10].contains(&parts.len()) && parts.iter().all(|p| hex(p, 4))
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in d.iter().enumerate() {
        let v = match (i, c) {
            (9, 'X') => 10,
            (_, c) => match c.to_digit(10) {
                Some(v) => v,
                None => return false,
            },
        };
        sum += (i as u32 + 1) * v;
    }
    sum % 11 == 0
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in d.iter().enumerate() {
        let Some(v) = c.to_digit(10) else {
            return false;
        };
        sum += if i % 2 == 0 { v } else { 3 * v };
    }
    sum % 10 == 0
}

fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !rx_match!(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11}|6[27][0-9]{14})$",
        &digits
    ) {
        return false;
    }
    // Luhn.
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut v = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Go's time.Parse("2006-01-02"): exact widths and a day that exists.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// kube-openapi's IsDateTime: a date, `t`, then a time with a zone (`z` or ±hh:mm).
fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RX
        .get_or_init(|| {
            Regex::new(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
                .ok()
        })
        .as_ref();
    let Some(caps) = re.and_then(|re| re.captures(time)) else {
        return false;
    };
    let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    part(1) <= "23" && part(2) <= "59" && part(3) <= "59"
}

/// kube-openapi's ParseDuration: Go's time.ParseDuration, or any `<n> <unit>` with a
/// unit it knows (`3 days`, `1 week`).
fn is_duration(s: &str) -> bool {
    if s == "0"
        || s == "+0"
        || s == "-0"
        || rx_match!(
            r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$",
            s
        )
    {
        return true;
    }
    const UNITS: [&[&str]; 8] = [
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    static RX: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = RX
        .get_or_init(|| Regex::new(r"((\d+)\s*([A-Za-zµ]+))").ok())
        .as_ref()
    else {
        return false;
    };
    let mut ok = false;
    for caps in re.captures_iter(s) {
        if caps
            .get(2)
            .is_none_or(|n| n.as_str().parse::<i64>().is_err())
        {
            return false;
        }
        let unit = caps
            .get(3)
            .map_or(String::new(), |u| u.as_str().trim().to_lowercase());
        for variants in UNITS {
            let last = variants.len().saturating_sub(1);
            if variants
                .iter()
                .enumerate()
                .any(|(i, v)| (i == last && unit.starts_with(v)) || unit.eq_ignore_ascii_case(v))
            {
                ok = true;
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::custom::schema::test_support::spec_errors;

    #[test]
    fn formats_byte_date_datetime_uuid_email() {
        let props = json!({
            "b": {"type": "string", "format": "byte"}, "d": {"type": "string", "format": "date"},
            "t": {"type": "string", "format": "date-time"}, "u": {"type": "string", "format": "uuid"},
            "e": {"type": "string", "format": "email"},
        });
        let good = json!({"b": "aGVsbG8=", "d": "2024-02-29", "t": "2024-01-02T03:04:05Z",
            "u": "123e4567-e89b-12d3-a456-426614174000", "e": "a.b@example.com"});
        assert!(spec_errors(props.clone(), good).is_empty());
        let bad = json!({"b": "not base64!", "d": "2023-02-29", "t": "2024-01-02 03:04", "u": "xyz", "e": "nope"});
        assert_eq!(
            spec_errors(props, bad),
            [
                r#"spec.b: Invalid value: "not base64!": spec.b in body must be of type byte: "not base64!""#,
                r#"spec.d: Invalid value: "2023-02-29": spec.d in body must be of type date: "2023-02-29""#,
                r#"spec.e: Invalid value: "nope": spec.e in body must be of type email: "nope""#,
                r#"spec.t: Invalid value: "2024-01-02 03:04": spec.t in body must be of type date-time: "2024-01-02 03:04""#,
                r#"spec.u: Invalid value: "xyz": spec.u in body must be of type uuid: "xyz""#,
            ]
        );
    }

    #[test]
    fn other_formats() {
        let cases = [
            ("ipv4", "10.0.0.1", "10.0.0"),
            ("ipv6", "::1", "1.2.3.4"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("mac", "00:00:5e:00:53:01", "00:00:5e"),
            ("hostname", "example.com", "-bad-.com"),
            ("hexcolor", "#fff", "#ffff"),
            ("k8s-short-name", "my-name", "My-Name"),
            ("k8s-long-name", "a.b-c", "a..b"),
            ("duration", "3 days", "soon"),
            ("uri", "https://x/y", "x y"),
            ("isbn10", "0321751043", "0321751044"),
            ("ssn", "123-45-6789", "123456789"),
        ];
        for (format, good, bad) in cases {
            let props = json!({"f": {"type": "string", "format": format}});
            assert!(
                spec_errors(props.clone(), json!({"f": good})).is_empty(),
                "{format} {good}"
            );
            assert_eq!(
                spec_errors(props, json!({"f": bad})).len(),
                1,
                "{format} {bad}"
            );
        }
    }

    #[test]
    fn unknown_formats_pass() {
        assert!(spec_errors(
            json!({"f": {"type": "string", "format": "colour"}}),
            json!({"f": "x"})
        )
        .is_empty());
    }
}
