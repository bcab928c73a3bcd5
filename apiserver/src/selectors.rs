//! Label and field selectors: the `labelSelector` and `fieldSelector` list/watch
//! query parameters, plus the meta/v1 `LabelSelector` object used in specs.
//!
//! The grammar, validation and matching rules follow Kubernetes'
//! `k8s.io/apimachinery/pkg/labels` and `pkg/fields` so that clients (kubectl,
//! client-go, controllers) see the same results and the same 400 errors.
//!
//! Label selector grammar:
//!
//! ```text
//! selector    ::= "" | requirement ("," requirement)*
//! requirement ::= ["!"] KEY [ ("in" | "notin") "(" values ")"
//!                            | ("=" | "==" | "!=" | ">" | "<") [VALUE] ]
//! values      ::= VALUE ("," VALUE)*     -- empty entries are the empty value
//! ```
//!
//! Field selector grammar: comma-separated `path=value`, `path==value` or
//! `path!=value` terms, where `\` escapes `\`, `,` and `=` in values.

use serde_json::{Map, Value};

/// Errors from parsing selectors. The caller maps all of them to HTTP 400.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectorError {
    /// The label selector string does not follow the grammar.
    #[error("{0}")]
    Syntax(String),
    /// A requirement is well formed but its key, values or arity are invalid.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` entry uses an operator other than In/NotIn/Exists/DoesNotExist.
    #[error("{0:?} is not a valid label selector operator")]
    InvalidOperator(String),
    /// The meta/v1 LabelSelector JSON has the wrong shape.
    #[error("invalid label selector: {0}")]
    MalformedJson(String),
    /// A field selector term has no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    InvalidFieldTerm { selector: String, term: String },
    /// A field selector value contains a `\` not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value contains a bare `,` or `=`.
    #[error("invalid field selector: unescaped character in value: {0}")]
    UnescapedChar(char),
}

impl SelectorError {
    /// Upstream prefixes every error raised while parsing one requirement.
    fn in_requirement(self) -> Self {
        const PREFIX: &str = "unable to parse requirement: ";
        match self {
            Self::Syntax(m) => Self::Syntax(format!("{PREFIX}{m}")),
            Self::InvalidRequirement(m) => Self::InvalidRequirement(format!("{PREFIX}{m}")),
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One ANDed clause of a label selector.
#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Operator,
    /// Sorted and de-duplicated, as upstream stores them in a string set.
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let found = labels.get(&self.key).map(label_text);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                found.is_some_and(|v| has(&v))
            }
            // Absent keys satisfy negative requirements, as upstream.
            Operator::NotIn | Operator::NotEquals => found.is_none_or(|v| !has(&v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), [bound]) = (found, self.values.as_slice()) else {
                    return false;
                };
                match (actual.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(a), Ok(b)) if self.op == Operator::GreaterThan => a > b,
                    (Ok(a), Ok(b)) => a < b,
                    _ => false,
                }
            }
        }
    }
}

/// Label values are strings; anything else (invalid, but possible in stored
/// JSON) is compared by its JSON text rather than being treated as absent.
fn label_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parsed label selector: ANDed requirements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// A null meta/v1 LabelSelector selects nothing (upstream `labels.Nothing()`).
    nothing: bool,
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j,k>3,l<5`. Empty string = everything.
    ///
    /// As upstream, `e in ()` is accepted and means `e in ("")`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let tokens = lex(s)?;
        let mut requirements = Parser { tokens, pos: 0 }.parse()?;
        // Sorting by key makes equal selectors compare equal regardless of order.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector selects everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// From a meta/v1 LabelSelector JSON ({matchLabels, matchExpressions:[{key,operator:In|NotIn|Exists|DoesNotExist,values}]}) as used in Deployment.spec.selector etc.
    ///
    /// `null` selects nothing and `{}` selects everything, as upstream's
    /// `LabelSelectorAsSelector`.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let obj = match v {
            Value::Null => {
                return Ok(Self {
                    requirements: Vec::new(),
                    nothing: true,
                })
            }
            Value::Object(o) => o,
            _ => return Err(malformed("selector must be an object")),
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let Value::String(v) = v else {
                        return Err(malformed(format!("matchLabels[{k}] must be a string")));
                    };
                    requirements.push(new_requirement(k, Operator::Equals, vec![v.clone()])?);
                }
            }
            Some(_) => return Err(malformed("matchLabels must be an object")),
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for expr in exprs {
                    requirements.push(expression_requirement(expr)?);
                }
            }
            Some(_) => return Err(malformed("matchExpressions must be an array")),
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }
}

fn malformed(msg: impl Into<String>) -> SelectorError {
    SelectorError::MalformedJson(msg.into())
}

/// One `matchExpressions` entry.
fn expression_requirement(expr: &Value) -> Result<Requirement, SelectorError> {
    let Value::Object(expr) = expr else {
        return Err(malformed("matchExpressions entries must be objects"));
    };
    let string_field = |name: &str| match expr.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(malformed(format!(
            "matchExpressions.{name} must be a string"
        ))),
    };
    let key = string_field("key")?;
    let op = match string_field("operator")?.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::InvalidOperator(other.to_string())),
    };
    let values = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(vs)) => vs
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(malformed("matchExpressions.values must be strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("matchExpressions.values must be an array")),
    };
    new_requirement(&key, op, values)
}

/// Validates a requirement the way upstream's `NewRequirement` does, collecting
/// every problem so the client sees them all at once.
fn new_requirement(
    key: &str,
    op: Operator,
    values: Vec<String>,
) -> Result<Requirement, SelectorError> {
    let mut errs = Vec::new();
    if let Some(e) = key_error(key, "key") {
        errs.push(e);
    }
    let list = || serde_json::to_string(&values).unwrap_or_default();
    match op {
        Operator::In | Operator::NotIn if values.is_empty() => errs.push(invalid(
            "values",
            &list(),
            "for 'in', 'notin' operators, values set can't be empty",
        )),
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            errs.push(invalid(
                "values",
                &list(),
                "exact-match compatibility requires one single value",
            ))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(invalid(
            "values",
            &list(),
            "values set must be empty for exists and does not exist",
        )),
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(invalid(
                    "values",
                    &list(),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(invalid(
                        &format!("values[{i}]"),
                        &quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        let problems = label_value_errors(v);
        if !problems.is_empty() {
            errs.push(invalid(
                &format!("values[{i}][{key}]"),
                &quote(v),
                &problems.join("; "),
            ));
        }
    }
    if let Some(msg) = aggregate(errs) {
        return Err(SelectorError::InvalidRequirement(msg));
    }
    let mut values = values;
    values.sort();
    values.dedup();
    Ok(Requirement {
        key: key.to_string(),
        op,
        values,
    })
}

/// Formats like upstream's `field.Invalid(...).Error()`.
fn invalid(path: &str, shown_value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {shown_value}: {detail}")
}

/// Close to Go's `%q` for the ASCII strings that matter here.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Joins field errors like upstream's aggregate: one error alone, several in brackets.
fn aggregate(mut errs: Vec<String>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    errs.retain(|e| seen.insert(e.clone()));
    match errs.len() {
        0 => None,
        1 => errs.pop(),
        _ => Some(format!("[{}]", errs.join(", "))),
    }
}

fn key_error(key: &str, path: &str) -> Option<String> {
    let problems = label_key_errors(key);
    (!problems.is_empty()).then(|| invalid(path, &quote(key), &problems.join("; ")))
}

const LABEL_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_MAX_LEN: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;
const LABEL_CHARS_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{msg} (e.g. {}regex used for validation is '{re}')",
        examples.join("or ")
    )
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` without a regex engine.
fn is_label_name(s: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    ends_ok(s.chars().next())
        && ends_ok(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn is_dns1123_subdomain(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    s.split('.').all(|label| {
        alnum(label.chars().next())
            && alnum(label.chars().last())
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

/// Upstream's `IsQualifiedName` messages (lengths are in bytes, as in Go).
fn label_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mut parts = key.split('/');
    let first = parts.next().unwrap_or_default();
    let name = match (parts.next(), parts.next()) {
        (None, _) => first,
        (Some(name), None) => {
            if first.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if first.len() > DNS1123_SUBDOMAIN_MAX_LEN {
                    errs.push(format!(
                        "prefix part must be no more than {DNS1123_SUBDOMAIN_MAX_LEN} bytes"
                    ));
                }
                if !is_dns1123_subdomain(first) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(
                            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                            DNS1123_SUBDOMAIN_FMT,
                            &["example.com"],
                        )
                    ));
                }
            }
            name
        }
        (Some(_), Some(_)) => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_CHARS_MSG, LABEL_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_MAX_LEN {
        errs.push(format!(
            "name part must be no more than {LABEL_MAX_LEN} bytes"
        ));
    }
    if !is_label_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_CHARS_MSG,
                LABEL_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Upstream's `IsValidLabelValue` messages.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX_LEN {
        errs.push(format!("must be no more than {LABEL_MAX_LEN} bytes"));
    }
    if !value.is_empty() && !is_label_name(value) {
        errs.push(regex_error(
            &format!("a valid label must be an empty string or {LABEL_CHARS_MSG}"),
            &format!("({LABEL_FMT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

// --- label selector lexer and parser ---------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    End,
    Ident(&'a str),
    In,
    NotIn,
    OpenPar,
    ClosePar,
    Comma,
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
}

impl Tok<'_> {
    /// The text shown in "found '...'" messages (empty at end of input, as upstream).
    fn literal(&self) -> &str {
        match self {
            Tok::End => "",
            Tok::Ident(s) => s,
            Tok::In => "in",
            Tok::NotIn => "notin",
            Tok::OpenPar => "(",
            Tok::ClosePar => ")",
            Tok::Comma => ",",
            Tok::Bang => "!",
            Tok::Equals => "=",
            Tok::DoubleEquals => "==",
            Tok::NotEquals => "!=",
            Tok::Greater => ">",
            Tok::Less => "<",
        }
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// Splits the selector into tokens. Identifiers run until whitespace or an
/// operator character, so values with odd characters reach validation and get
/// a precise error instead of a confusing syntax one.
fn lex(s: &str) -> Result<Vec<Tok<'_>>, SelectorError> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_whitespace(c) {
            chars.next();
            continue;
        }
        // Go's lexer treats NUL as end of input and silently drops the rest;
        // refusing it is safer than guessing.
        if c == '\0' {
            return Err(SelectorError::Syntax(
                "unexpected character '\\x00'".to_string(),
            ));
        }
        if is_special(c) {
            chars.next();
            let then_eq = matches!(chars.peek(), Some(&(_, '=')));
            let tok = match c {
                '!' if then_eq => Tok::NotEquals,
                '=' if then_eq => Tok::DoubleEquals,
                '!' => Tok::Bang,
                '=' => Tok::Equals,
                '(' => Tok::OpenPar,
                ')' => Tok::ClosePar,
                ',' => Tok::Comma,
                '>' => Tok::Greater,
                _ => Tok::Less,
            };
            if matches!(tok, Tok::NotEquals | Tok::DoubleEquals) {
                chars.next();
            }
            tokens.push(tok);
            continue;
        }
        let mut end = s.len();
        while let Some(&(i, c)) = chars.peek() {
            if is_whitespace(c) || is_special(c) || c == '\0' {
                end = i;
                break;
            }
            chars.next();
        }
        tokens.push(match s.get(start..end).unwrap_or_default() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            word => Tok::Ident(word),
        });
    }
    tokens.push(Tok::End);
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Outside operator position `in`/`notin` are ordinary words (`x in (in)`).
    fn peek(&self) -> Tok<'a> {
        as_word(self.peek_op())
    }

    fn peek_op(&self) -> Tok<'a> {
        self.tokens.get(self.pos).copied().unwrap_or(Tok::End)
    }

    fn next(&mut self) -> Tok<'a> {
        as_word(self.next_op())
    }

    fn next_op(&mut self) -> Tok<'a> {
        let t = self.peek_op();
        self.pos = self.pos.saturating_add(1);
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            match self.peek() {
                Tok::End => return Ok(requirements),
                Tok::Ident(_) | Tok::Bang => {}
                t => {
                    return Err(syntax(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.literal()
                    )))
                }
            }
            requirements.push(self.requirement().map_err(SelectorError::in_requirement)?);
            match self.next() {
                Tok::End => return Ok(requirements),
                Tok::Comma => match self.peek() {
                    Tok::Ident(_) | Tok::Bang => {}
                    t => {
                        return Err(syntax(format!(
                            "found '{}', expected: identifier after ','",
                            t.literal()
                        )))
                    }
                },
                t => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        t.literal()
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let mut tok = self.next();
        let negated = tok == Tok::Bang;
        if negated {
            tok = self.next();
        }
        let Tok::Ident(key) = tok else {
            return Err(syntax(format!(
                "found '{}', expected: identifier",
                tok.literal()
            )));
        };
        // Upstream reports a bad key with an empty field path.
        if let Some(e) = key_error(key, "") {
            return Err(SelectorError::InvalidRequirement(e));
        }
        if negated {
            return new_requirement(key, Operator::DoesNotExist, Vec::new());
        }
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            return new_requirement(key, Operator::Exists, Vec::new());
        }
        let op = match self.next_op() {
            Tok::In => Operator::In,
            Tok::NotIn => Operator::NotIn,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::NotEquals => Operator::NotEquals,
            Tok::Greater => Operator::GreaterThan,
            Tok::Less => Operator::LessThan,
            t => {
                return Err(syntax(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    t.literal()
                )))
            }
        };
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        new_requirement(key, op, values)
    }

    /// `(a,b,c)`. Empty entries (`(a,)`, `(,)`, `()`) stand for the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let t = self.next();
        if t != Tok::OpenPar {
            return Err(syntax(format!("found '{}' expected: '('", t.literal())));
        }
        let mut values = Vec::new();
        // Whether the previous token was a value, to spot empty entries.
        let mut after_value = false;
        loop {
            match self.next() {
                Tok::Ident(v) if !after_value => {
                    values.push(v.to_string());
                    after_value = true;
                }
                Tok::Comma => {
                    if !after_value {
                        values.push(String::new());
                    }
                    after_value = false;
                }
                Tok::ClosePar => {
                    if !after_value {
                        values.push(String::new());
                    }
                    return Ok(values);
                }
                t if after_value => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',' or ')'",
                        t.literal()
                    )))
                }
                t => {
                    return Err(syntax(format!(
                        "found '{}', expected: ',', ')' or identifier",
                        t.literal()
                    )))
                }
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<`; may be empty (`a=`).
    fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        if matches!(self.peek(), Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.next() {
            Tok::Ident(v) => Ok(vec![v.to_string()]),
            t => Err(syntax(format!(
                "found '{}', expected: identifier",
                t.literal()
            ))),
        }
    }
}

fn as_word(t: Tok<'_>) -> Tok<'_> {
    match t {
        Tok::In => Tok::Ident("in"),
        Tok::NotIn => Tok::Ident("notin"),
        other => other,
    }
}

fn syntax(msg: String) -> SelectorError {
    SelectorError::Syntax(msg)
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct FieldTerm {
    field: String,
    value: String,
    /// `!=` rather than `=`/`==`.
    negated: bool,
}

/// A parsed field selector: `metadata.name=x,spec.nodeName!=,status.phase==Running`. Supports =, ==, != only, with upstream's escaping (\, \= \,).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses a field selector. As upstream, nothing is trimmed: `a = b`
    /// names the field `a ` (which the caller will then reject as unsupported).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_unescaped_commas(s);
        // Upstream sorts the raw terms; this fixes which term wins in exact_name.
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, negated, raw)) = split_term(part) else {
                return Err(SelectorError::InvalidFieldTerm {
                    selector: s.to_string(),
                    term: part.to_string(),
                });
            };
            terms.push(FieldTerm {
                field: field.to_string(),
                value: unescape_value(raw)?,
                negated,
            });
        }
        Ok(Self { terms })
    }

    /// The field paths it mentions, so the caller can refuse ones a resource does not support
    /// (upstream answers 400 BadRequest `field label not supported: X`).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.field.as_str())
    }

    /// Matches given a lookup of field path -> value (None = field absent, compares as "").
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let actual = lookup(&t.field).unwrap_or_default();
            (actual == t.value) != t.negated
        })
    }

    /// When the selector pins metadata.name (name=X), X — lets the caller do a point read.
    ///
    /// The caller must still apply [`FieldSelector::matches`]: other terms (or a
    /// second, conflicting `metadata.name=`) may exclude the object.
    pub fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !t.negated && t.field == "metadata.name")
            .map(|t| t.value.as_str())
    }

    /// True when the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// Splits on commas not preceded by a backslash; escapes are kept for
/// [`unescape_value`] to interpret.
fn split_unescaped_commas(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            parts.push(s.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    parts.push(s.get(start..).unwrap_or_default());
    parts
}

/// Splits at the first operator, preferring `!=` then `==` then `=` at each
/// position. Returns (field, negated, raw value).
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = term.get(i..)?;
        let field = term.get(..i)?;
        if let Some(v) = rest.strip_prefix("!=") {
            return Some((field, true, v));
        }
        if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
            return Some((field, false, v));
        }
    }
    None
}

/// Resolves `\\`, `\,` and `\=`; any other escape, a trailing `\`, or a bare
/// `,`/`=` is an error because it would make the selector ambiguous.
fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(SelectorError::InvalidEscape(format!("\\{e}"))),
                None => return Err(SelectorError::InvalidEscape("\\".to_string())),
            },
            ',' | '=' => return Err(SelectorError::UnescapedChar(c)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Reads a dotted field path like `spec.nodeName` or `involvedObject.uid` or `metadata.namespace` out of a JSON object as a string (strings as-is; bools/numbers as their JSON text; missing -> None).
///
/// `null`, objects and arrays are not field values and also give `None`.
pub fn field_value(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for segment in path.split('.') {
        cur = cur.as_object()?.get(segment)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(cur.to_string()),
        Value::Null | Value::Object(_) | Value::Array(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn sel(s: &str) -> LabelSelector {
        match LabelSelector::parse(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn fsel(s: &str) -> FieldSelector {
        match FieldSelector::parse(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn empty_selects_everything() {
        for s in ["", "   ", "\t\n"] {
            let s = sel(s);
            assert!(s.is_empty());
            assert!(s.matches(&labels(json!({}))));
            assert!(s.matches(&labels(json!({"a": "b"}))));
        }
    }

    #[test]
    fn equality_operators() {
        let l = labels(json!({"a": "b"}));
        for s in ["a=b", "a==b", "a = b", " a == b "] {
            assert!(sel(s).matches(&l), "{s}");
        }
        assert!(!sel("a=c").matches(&l));
        assert!(!sel("x=b").matches(&l));
        assert!(sel("a!=c").matches(&l));
        assert!(!sel("a!=b").matches(&l));
        // != matches objects lacking the key.
        assert!(sel("x!=b").matches(&l));
        // `a=` means the empty value.
        assert!(sel("a=").matches(&labels(json!({"a": ""}))));
        assert!(!sel("a=").matches(&l));
    }

    #[test]
    fn set_operators() {
        let l = labels(json!({"env": "prod"}));
        assert!(sel("env in (prod,dev)").matches(&l));
        assert!(sel("env in ( dev , prod )").matches(&l));
        assert!(!sel("env in (dev)").matches(&l));
        assert!(!sel("x in (prod)").matches(&l));
        assert!(sel("env notin (dev)").matches(&l));
        assert!(!sel("env notin (dev,prod)").matches(&l));
        // notin matches objects lacking the key.
        assert!(sel("x notin (prod)").matches(&l));
        // Keywords are ordinary words inside a value set and as keys.
        assert!(sel("in in (in,notin)").matches(&labels(json!({"in": "notin"}))));
        // Empty entries stand for the empty value, and `()` is `("")`, as upstream.
        assert!(sel("a in (x,)").matches(&labels(json!({"a": ""}))));
        assert_eq!(sel("a in ()"), sel("a in (,)"));
        assert!(sel("a in ()").matches(&labels(json!({"a": ""}))));
        assert!(sel("a notin ()").matches(&labels(json!({"a": "x"}))));
        assert!(!sel("a notin ()").matches(&labels(json!({"a": ""}))));
        // Values are a set.
        assert_eq!(sel("a in (y,x,x)"), sel("a in (x,y)"));
    }

    #[test]
    fn existence_operators() {
        let l = labels(json!({"a": "b"}));
        assert!(sel("a").matches(&l));
        assert!(!sel("x").matches(&l));
        assert!(sel("!x").matches(&l));
        assert!(sel("! x").matches(&l));
        assert!(!sel("!a").matches(&l));
    }

    #[test]
    fn numeric_operators() {
        let l = labels(json!({"n": "5", "s": "abc"}));
        assert!(sel("n>3").matches(&l));
        assert!(!sel("n>5").matches(&l));
        assert!(sel("n<6").matches(&l));
        assert!(!sel("n<5").matches(&l));
        // Non-integer or missing labels never satisfy > or <.
        assert!(!sel("s>0").matches(&l));
        assert!(!sel("s<0").matches(&l));
        assert!(!sel("x<100").matches(&l));
        assert!(matches!(
            LabelSelector::parse("n>abc"),
            Err(SelectorError::InvalidRequirement(m)) if m.contains("must be an integer")
        ));
        assert!(LabelSelector::parse("n>").is_err());
    }

    #[test]
    fn combined_requirements() {
        let s = sel("a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j,k>3,l<5");
        let good = labels(json!({
            "a": "b", "c": "x", "e": "y", "g": "", "i": "j", "k": "4", "l": "4"
        }));
        assert!(s.matches(&good));
        let mut bad = good.clone();
        bad.insert("h".into(), json!("1"));
        assert!(!s.matches(&bad));
        let mut bad = good;
        bad.insert("k".into(), json!("3"));
        assert!(!s.matches(&bad));
        // Order does not matter.
        assert_eq!(sel("a=b,c=d"), sel("c=d, a=b"));
        assert!(!s.is_empty());
    }

    #[test]
    fn whitespace_is_allowed_around_tokens() {
        let l = labels(json!({"a": "b", "c": "d"}));
        assert!(sel("  a  =  b  ,\tc\nin\r( d )  ").matches(&l));
        assert!(sel("a=b ,c").matches(&l));
    }

    #[test]
    fn prefixed_keys() {
        let l = labels(json!({"app.kubernetes.io/name": "web"}));
        assert!(sel("app.kubernetes.io/name=web").matches(&l));
        assert!(LabelSelector::parse("Example.com/x=y").is_err());
        assert!(LabelSelector::parse("/x=y").is_err());
        assert!(LabelSelector::parse("a/b/c=y").is_err());
        assert!(LabelSelector::parse("example.com/=y").is_err());
    }

    #[test]
    fn invalid_inputs() {
        let long = "a".repeat(64);
        let cases = [
            // bad keys, values and lengths
            "-a=b".to_string(),
            "a.=b".to_string(),
            "a=-b".to_string(),
            format!("{long}=b"),
            format!("a={long}"),
            // broken value sets
            "a in (b".to_string(),
            "a in b".to_string(),
            "a in (b c)".to_string(),
            "a in ((b))".to_string(),
            "a notin".to_string(),
            // unknown or misplaced operators
            "a b=c".to_string(),
            "a=b c".to_string(),
            "a=b=c".to_string(),
            "a==b==c".to_string(),
            "a>>1".to_string(),
            "a=>1".to_string(),
            "a!b".to_string(),
            "!a=b".to_string(),
            "a=(b)".to_string(),
            "(a)".to_string(),
            // stray commas and NUL
            "a=b,".to_string(),
            ",a=b".to_string(),
            "a=b,,c".to_string(),
            "a\0=b".to_string(),
        ];
        for c in &cases {
            assert!(LabelSelector::parse(c).is_err(), "{c:?} should fail");
        }
    }

    #[test]
    fn error_messages_follow_upstream() {
        let err = |s: &str| match LabelSelector::parse(s) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{s:?} should fail"),
        };
        assert_eq!(err("a=b=c"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            err("a>>1"),
            "unable to parse requirement: found '>', expected: identifier"
        );
        assert_eq!(
            err("a!b"),
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(err("a=b c"), "found 'c', expected: ',' or 'end of string'");
        assert!(err("a=-b").starts_with(
            "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be"
        ));
        assert!(err("-a").starts_with(
            "unable to parse requirement: : Invalid value: \"-a\": name part must consist of"
        ));
    }

    #[test]
    fn from_json_match_labels_and_expressions() {
        let s = match LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "team", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist", "values": []}
            ]
        })) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert!(s.matches(&labels(json!({"app": "web", "tier": "fe", "team": "x"}))));
        assert!(!s.matches(&labels(json!({"app": "web", "tier": "fe"}))));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "fe", "team": "x", "env": "dev"})
        )));
        assert!(!s.matches(&labels(
            json!({"app": "web", "tier": "fe", "team": "x", "legacy": ""})
        )));
        assert_eq!(
            s,
            sel("app=web,tier in (fe,be),env notin (dev),team,!legacy")
        );

        // {} selects everything, null selects nothing.
        let all = LabelSelector::from_json(&json!({}));
        assert!(matches!(&all, Ok(s) if s.is_empty() && s.matches(&Map::new())));
        let none = LabelSelector::from_json(&Value::Null);
        assert!(matches!(&none, Ok(s) if !s.is_empty() && !s.matches(&Map::new())));
    }

    #[test]
    fn from_json_rejects_bad_input() {
        assert_eq!(
            LabelSelector::from_json(&json!({"matchExpressions": [
                {"key": "a", "operator": "Equals", "values": ["b"]}
            ]})),
            Err(SelectorError::InvalidOperator("Equals".into()))
        );
        // An empty In set is an error here (unlike the string form's `in ()`).
        assert!(matches!(
            LabelSelector::from_json(&json!({"matchExpressions": [
                {"key": "a", "operator": "In", "values": []}
            ]})),
            Err(SelectorError::InvalidRequirement(m)) if m.contains("values set can't be empty")
        ));
        assert!(matches!(
            LabelSelector::from_json(&json!({"matchExpressions": [
                {"key": "a", "operator": "Exists", "values": ["x"]}
            ]})),
            Err(SelectorError::InvalidRequirement(m)) if m.contains("must be empty")
        ));
        assert!(matches!(
            LabelSelector::from_json(&json!({"matchLabels": {"bad key": "x"}})),
            Err(SelectorError::InvalidRequirement(m)) if m.starts_with("key: Invalid value: \"bad key\"")
        ));
        assert!(LabelSelector::from_json(&json!({"matchLabels": {"a": 1}})).is_err());
        assert!(LabelSelector::from_json(&json!({"matchLabels": []})).is_err());
        assert!(LabelSelector::from_json(&json!("a=b")).is_err());
        assert!(LabelSelector::from_json(&json!({"matchExpressions": [1]})).is_err());
    }

    #[test]
    fn field_selector_operators() {
        let lookup = |f: &str| match f {
            "metadata.name" => Some("web".to_string()),
            "status.phase" => Some("Running".to_string()),
            _ => None,
        };
        assert!(fsel("metadata.name=web").matches(lookup));
        assert!(fsel("metadata.name==web,status.phase=Running").matches(lookup));
        assert!(!fsel("status.phase!=Running").matches(lookup));
        assert!(fsel("status.phase!=Pending").matches(lookup));
        // Absent fields compare as "".
        assert!(!fsel("spec.nodeName!=").matches(lookup));
        assert!(fsel("spec.nodeName!=node1").matches(lookup));
        assert!(fsel("spec.nodeName=").matches(lookup));
        assert!(fsel("").matches(lookup) && fsel("").is_empty());
        assert!(fsel(",").is_empty());
        let fields: Vec<_> = fsel("b=1,a!=2").fields().map(str::to_string).collect();
        assert_eq!(fields, ["a", "b"]);
    }

    #[test]
    fn field_selector_escapes() {
        let s = fsel(r"spec.x=a\,b\=c\\d,spec.y!=e");
        let lookup = |f: &str| match f {
            "spec.x" => Some(r"a,b=c\d".to_string()),
            _ => None,
        };
        assert!(s.matches(lookup));
        assert_eq!(s.fields().count(), 2);
        assert_eq!(
            FieldSelector::parse("a=b=c"),
            Err(SelectorError::UnescapedChar('='))
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\x"),
            Err(SelectorError::InvalidEscape(r"\x".into()))
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\"),
            Err(SelectorError::InvalidEscape(r"\".into()))
        );
        assert_eq!(
            FieldSelector::parse("a=b,nonsense"),
            Err(SelectorError::InvalidFieldTerm {
                selector: "a=b,nonsense".into(),
                term: "nonsense".into()
            })
        );
        // `!=` is preferred over `=` at the same position.
        assert!(fsel("a!=b").matches(|_| None));
    }

    #[test]
    fn exact_name() {
        assert_eq!(fsel("metadata.name=web").exact_name(), Some("web"));
        assert_eq!(
            fsel("status.phase=Running,metadata.name==db").exact_name(),
            Some("db")
        );
        assert_eq!(fsel("metadata.name!=web").exact_name(), None);
        assert_eq!(fsel("metadata.namespace=web").exact_name(), None);
        assert_eq!(fsel("").exact_name(), None);
    }

    #[test]
    fn field_value_paths() {
        let obj = json!({
            "metadata": {"name": "p", "namespace": "ns", "generation": 3},
            "spec": {"nodeName": "n1", "hostNetwork": true, "containers": []},
            "involvedObject": {"uid": "u-1"},
            "status": {"phase": null}
        });
        assert_eq!(field_value(&obj, "metadata.name").as_deref(), Some("p"));
        assert_eq!(
            field_value(&obj, "metadata.namespace").as_deref(),
            Some("ns")
        );
        assert_eq!(
            field_value(&obj, "involvedObject.uid").as_deref(),
            Some("u-1")
        );
        assert_eq!(
            field_value(&obj, "spec.hostNetwork").as_deref(),
            Some("true")
        );
        assert_eq!(
            field_value(&obj, "metadata.generation").as_deref(),
            Some("3")
        );
        assert_eq!(field_value(&obj, "spec.missing"), None);
        assert_eq!(field_value(&obj, "spec.nodeName.deeper"), None);
        assert_eq!(field_value(&obj, "status.phase"), None);
        assert_eq!(field_value(&obj, "spec.containers"), None);
        assert_eq!(field_value(&obj, "spec"), None);
        assert_eq!(field_value(&obj, ""), None);
        let s = fsel("spec.nodeName=n1,metadata.namespace!=kube-system");
        assert!(s.matches(|p| field_value(&obj, p)));
    }

    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[u8] = b"ab=!(),<>\\ \t/.-_0in notin9Z\0\xff\xc3\xa9";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            // Knuth's MMIX LCG; the high bits are the well-mixed ones.
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        for _ in 0..500 {
            let len = next() % 80;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        (r >> 3) as u8
                    } else {
                        ALPHABET
                            .get((r >> 3) % ALPHABET.len())
                            .copied()
                            .unwrap_or(b'a')
                    }
                })
                .collect();
            let s = String::from_utf8_lossy(&bytes);
            if let Ok(sel) = LabelSelector::parse(&s) {
                sel.matches(&labels(json!({"a": "b", "in": "9"})));
            }
            if let Ok(sel) = FieldSelector::parse(&s) {
                sel.matches(|_| None);
                let _ = sel.exact_name();
            }
            let _ = field_value(&json!({"a": {"b": 1}}), &s);
        }
    }
}
