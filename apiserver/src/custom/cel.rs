//! CEL validation rules (`x-kubernetes-validations`) of a custom resource's schema, as
//! upstream's apiextensions-apiserver evaluates them (`pkg/apiserver/schema/cel`), on the
//! `cel` crate's interpreter.
//!
//! [`Rules::compile`] parses every rule of a schema once, checks what upstream's type
//! checker would catch cheaply (undeclared names and functions, bad literal regexes,
//! `oldSelf` where old values can't be correlated, the rule's own fields) and keeps a tree
//! parallel to the schema; [`Rules::validate`] walks an object along it. Differences from
//! upstream: no static type checking (a type error surfaces at evaluation, as a runtime
//! error), no cost budget, `date-time`/`duration` formatted strings stay strings, and of
//! Kubernetes' own CEL libraries only regex `find`/`findAll`, the list functions
//! (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`) and `cel.bind` are there.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use cel::common::ast::{ComprehensionExpr, EntryExpr, Expr, IdedExpr, ListExpr, LiteralValue};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelOptional, CelString,
    DYN_TYPE, LIST_TYPE, STRING_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{Context, Env, ExecutionError};
use serde_json::Value;

use crate::status::{go_quote, Cause};

/// Where a CRD's schema is, for the field paths of compile errors.
const SCHEMA_PATH: &str = "spec.validation.openAPIV3Schema";
/// Deepest schema, and deepest value, followed: beyond it, an error rather than a stack
/// overflow (serde_json itself refuses documents deeper than 128).
const MAX_DEPTH: usize = 200;
/// Upstream's bound on an evaluated `messageExpression`.
const MAX_MESSAGE_BYTES: usize = 5120;
/// The internal names `matches`, `find` and `findAll` are rewritten to: they cache the
/// compiled regex (the crate's own `matches` compiles it on every call).
const MATCHES: &str = "@k8s.matches";
const FIND: &str = "@k8s.find";
const FIND_ALL: &str = "@k8s.findAll";

/// The CEL rules of one schema, compiled once per CRD version.
pub struct Rules {
    root: Option<Node>,
    env: Arc<Env>,
}

/// One schema node: its rules, and its children, whether or not they hold rules, since
/// they type the values rules see.
struct Node {
    /// The schema's `type` ("object", "string", ...), what runtime errors show.
    ty: String,
    /// The root, or an `x-kubernetes-embedded-resource`: rules see only the `name` and
    /// `generateName` of its metadata, as upstream.
    resource: bool,
    rules: Vec<Rule>,
    /// Rules of `allOf` branches, which apply to the same value (and their children's).
    all_of: Vec<Node>,
    properties: HashMap<String, Node>,
    items: Option<Box<Node>>,
    additional: Option<Box<Node>>,
    /// `x-kubernetes-list-map-keys` of a `map` list: how old items are found.
    map_keys: Option<Vec<String>>,
    /// Whether old values of properties are correlated (`x-kubernetes-map-type` unset,
    /// `granular` or `atomic`).
    correlatable: bool,
    /// Whether this node, its branches or its descendants hold a rule.
    has_rules: bool,
}

struct Rule {
    /// The trimmed rule, for messages.
    text: String,
    expr: IdedExpr,
    /// The trimmed message, empty when none.
    message: String,
    message_expr: Option<IdedExpr>,
    reason: Reason,
    /// The normalized `fieldPath`, empty when none.
    field_path: String,
    uses_old_self: bool,
    optional_old_self: bool,
}

#[derive(Clone, Copy)]
enum Reason {
    Invalid,
    Forbidden,
    Required,
    Duplicate,
}

impl Rules {
    /// Compiles every `x-kubernetes-validations` rule found anywhere in the schema (at the
    /// root, under properties, items, additionalProperties and allOf), with field paths
    /// under `spec.validation.openAPIV3Schema`.
    pub fn compile(schema: &Value) -> Result<Rules, Vec<Cause>> {
        Rules::compile_at(schema, SCHEMA_PATH)
    }

    /// [`Rules::compile`] with the schema's own field path, e.g.
    /// `spec.versions[1].schema.openAPIV3Schema`.
    pub fn compile_at(schema: &Value, path: &str) -> Result<Rules, Vec<Cause>> {
        let env = match environment() {
            Ok(env) => Arc::clone(env),
            Err(e) => {
                return Err(vec![Cause {
                    reason: "InternalError",
                    field: format!("{path}.x-kubernetes-validations"),
                    message: format!("Internal error: {e}"),
                }])
            }
        };
        let mut b = Builder {
            env: &env,
            errors: Vec::new(),
        };
        let root = b.node(schema, schema, path, None, true, 0);
        if !b.errors.is_empty() {
            return Err(b.errors);
        }
        let root = root.has_rules.then_some(root);
        Ok(Rules { root, env })
    }

    /// Whether there are no rules (callers skip evaluation).
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Evaluates the rules against a new object and, on update, the old one. Transition
    /// rules (those that mention `oldSelf`) run only where an old value exists at the same
    /// place, unless `optionalOldSelf` is set: then `oldSelf` is an optional.
    pub fn validate(&self, new: &Value, old: Option<&Value>) -> Vec<Cause> {
        let mut errs = Vec::new();
        if let Some(root) = &self.root {
            let mut w = Walker {
                env: &self.env,
                errs: &mut errs,
            };
            w.walk(root, root, "", new, old, 0);
        }
        errs
    }
}

// ---------------------------------------------------------------------------------------
// The environment

/// Built once: the standard library, cel-go's strings, lists, math and encoders
/// extensions, and the Kubernetes functions listed in the module doc.
fn environment() -> Result<&'static Arc<Env>, &'static str> {
    static ENV: OnceLock<Result<Arc<Env>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        catch_unwind(build_environment)
            .map_err(|_| "panic".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(Arc::new)
    })
    .as_ref()
    .map_err(|e| e.as_str())
}

fn build_environment() -> Result<Env, cel::DeclarationError> {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)?;
    env.add_extension(cel::extensions::lists)?;
    env.add_extension(cel::extensions::math)?;
    env.add_extension(cel::extensions::encoders)?;
    let s = || STRING_TYPE;
    env.add_member_overload(MATCHES, "k8s_matches_member", s(), vec![s()], regex_matches)?;
    env.add_overload(MATCHES, "k8s_matches", vec![s(), s()], regex_matches)?;
    env.add_member_overload(FIND, "k8s_find", s(), vec![s()], regex_find)?;
    env.add_member_overload(FIND_ALL, "k8s_find_all", s(), vec![s()], regex_find_all)?;
    let l = || LIST_TYPE;
    env.add_member_overload(
        "isSorted",
        "k8s_list_is_sorted",
        l(),
        vec![],
        list_is_sorted,
    )?;
    env.add_member_overload("sum", "k8s_list_sum", l(), vec![], list_sum)?;
    env.add_member_overload("min", "k8s_list_min", l(), vec![], list_min)?;
    env.add_member_overload("max", "k8s_list_max", l(), vec![], list_max)?;
    let dynamic = || DYN_TYPE;
    env.add_member_overload(
        "indexOf",
        "k8s_list_index_of",
        l(),
        vec![dynamic()],
        list_index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "k8s_list_last_index_of",
        l(),
        vec![dynamic()],
        list_last_index_of,
    )?;
    env.add_macro(Macro::receiver("bind", 3, bind_macro))?;
    Ok(env)
}

/// `cel.bind(v, init, expr)`: `expr` with `v` bound to `init`, as cel-go expands it (a
/// comprehension over nothing whose accumulator is `v`).
fn bind_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "cel") {
        return Ok(None);
    }
    let (Some(result), Some(init), Some(var)) = (args.pop(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let Expr::Ident(name) = &var.expr else {
        return Err(helper.new_error(
            var.id,
            "cel.bind() variable names must be simple identifiers",
        ));
    };
    let name = name.clone();
    let empty = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let stop = helper.next_expr(Expr::Literal(LiteralValue::Boolean(false.into())));
    let step = helper.next_expr(Expr::Ident(name.clone()));
    Ok(Some(helper.next_expr(Expr::Comprehension(Box::new(
        ComprehensionExpr {
            iter_range: empty,
            iter_var: "#unused".to_string(),
            iter_var2: None,
            accu_var: name,
            accu_init: init,
            loop_cond: stop,
            loop_step: step,
            result,
        },
    )))))
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Ret<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn str_arg<'a>(args: &'a [CowVal<'_, '_>], i: usize, f: &str) -> Result<&'a str, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::function_error(f, "expected a string argument"))
}

/// A compiled regex, from a per-thread cache (bounded: cleared when full).
fn with_regex<T>(pattern: &str, f: impl FnOnce(&regex::Regex) -> T) -> Result<T, ExecutionError> {
    thread_local! {
        static CACHE: RefCell<HashMap<String, regex::Regex>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            let re = regex::Regex::new(pattern)
                .map_err(|e| ExecutionError::function_error("matches", e.to_string()))?;
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(pattern.to_string(), re);
        }
        match cache.get(pattern) {
            Some(re) => Ok(f(re)),
            None => Err(ExecutionError::function_error("matches", "regex cache")),
        }
    })
}

fn regex_matches<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let text = str_arg(&args, 0, "matches")?;
    let pattern = str_arg(&args, 1, "matches")?;
    let hit = with_regex(pattern, |re| re.is_match(text))?;
    Ok(CowVal::owned(CelBool::from(hit)))
}

fn regex_find<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let text = str_arg(&args, 0, "find")?;
    let pattern = str_arg(&args, 1, "find")?;
    let found = with_regex(pattern, |re| {
        re.find(text)
            .map(|m| m.as_str().to_string())
            .unwrap_or_default()
    })?;
    Ok(CowVal::owned(CelString::from(found)))
}

fn regex_find_all<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let text = str_arg(&args, 0, "findAll")?;
    let pattern = str_arg(&args, 1, "findAll")?;
    let found: Vec<Box<dyn Val + 'v>> = with_regex(pattern, |re| {
        re.find_iter(text)
            .map(|m| Box::new(CelString::from(m.as_str().to_string())) as Box<dyn Val + 'v>)
            .collect()
    })?;
    Ok(CowVal::owned(CelList::from(found)))
}

/// The elements of a list argument, borrowed.
fn elements<'a, 'v>(
    list: &'a (dyn Val + 'v),
    f: &str,
) -> Result<Vec<&'a (dyn Val + 'v)>, ExecutionError> {
    let iterable = list
        .as_iterable()
        .ok_or_else(|| ExecutionError::function_error(f, "expected a list"))?;
    let mut it = iterable.iter();
    let mut out = Vec::new();
    while let Some(e) = it.next() {
        out.push(e);
    }
    Ok(out)
}

fn compare(a: &dyn Val, b: &dyn Val, f: &str) -> Result<Ordering, ExecutionError> {
    a.as_comparer()
        .ok_or_else(|| ExecutionError::function_error(f, "elements are not comparable"))?
        .compare(b)
}

fn list_is_sorted<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let list = args
        .first()
        .ok_or_else(ExecutionError::missing_argument_or_target)?;
    let items = elements(list.as_ref(), "isSorted")?;
    let mut sorted = true;
    for pair in items.windows(2) {
        if let [a, b] = pair {
            if compare(*a, *b, "isSorted")? == Ordering::Greater {
                sorted = false;
                break;
            }
        }
    }
    Ok(CowVal::owned(CelBool::from(sorted)))
}

fn list_extreme<'b, 'v>(args: Args<'b, 'v>, f: &str, keep: Ordering) -> Ret<'b, 'v> {
    let list = args
        .first()
        .ok_or_else(ExecutionError::missing_argument_or_target)?;
    let items = elements(list.as_ref(), f)?;
    let mut best: Option<&(dyn Val + 'v)> = None;
    for item in items {
        best = match best {
            Some(b) if compare(item, b, f)? != keep => Some(b),
            _ => Some(item),
        };
    }
    match best {
        Some(b) => Ok(CowVal::Owned(b.clone_as_boxed())),
        None => Err(ExecutionError::function_error(
            f,
            format!("{f} of an empty list"),
        )),
    }
}

fn list_min<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    list_extreme(args, "min", Ordering::Less)
}

fn list_max<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    list_extreme(args, "max", Ordering::Greater)
}

/// `sum()` of ints or doubles (Kubernetes' lists library), `0` for an empty list.
fn list_sum<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let list = args
        .first()
        .ok_or_else(ExecutionError::missing_argument_or_target)?;
    let mut int: i64 = 0;
    let mut double: Option<f64> = None;
    for item in elements(list.as_ref(), "sum")? {
        if let Some(i) = item.downcast_ref::<CelInt>() {
            int = int
                .checked_add(*i.inner())
                .ok_or_else(|| ExecutionError::function_error("sum", "integer overflow"))?;
        } else if let Some(d) = item.downcast_ref::<CelDouble>() {
            double = Some(double.unwrap_or(0.0) + *d.inner());
        } else {
            return Err(ExecutionError::function_error("sum", "no such overload"));
        }
    }
    Ok(match double {
        Some(d) => CowVal::owned(CelDouble::from(d + int as f64)),
        None => CowVal::owned(CelInt::from(int)),
    })
}

fn list_position<'b, 'v>(args: Args<'b, 'v>, f: &str, last: bool) -> Ret<'b, 'v> {
    let (Some(list), Some(needle)) = (args.first(), args.get(1)) else {
        return Err(ExecutionError::missing_argument_or_target());
    };
    let items = elements(list.as_ref(), f)?;
    let mut found: i64 = -1;
    for (i, item) in items.iter().enumerate() {
        if item.equals(needle.as_ref()) {
            found = i64::try_from(i).unwrap_or(i64::MAX);
            if !last {
                break;
            }
        }
    }
    Ok(CowVal::owned(CelInt::from(found)))
}

fn list_index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    list_position(args, "indexOf", false)
}

fn list_last_index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    list_position(args, "lastIndexOf", true)
}

/// Whether the environment declares a function of that name (the crate has no direct
/// query: adding a context function of a declared name is refused).
fn declared(env: &Arc<Env>, name: &str) -> bool {
    let mut ctx = Context::with_env(Arc::clone(env));
    ctx.add_function(name, |a: i64| a).is_err()
}

// ---------------------------------------------------------------------------------------
// Compilation

struct Builder<'e> {
    env: &'e Arc<Env>,
    errors: Vec<Cause>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Builder<'_> {
    /// The node of `validation` (where rules and children are read) over `structural`
    /// (what types them: the same schema, except for `allOf` branches).
    fn node(
        &mut self,
        validation: &Value,
        structural: &Value,
        path: &str,
        uncorrelatable: Option<&str>,
        resource: bool,
        depth: usize,
    ) -> Node {
        let ty = str_field(structural, "type")
            .unwrap_or_default()
            .to_string();
        let map_type = str_field(structural, "x-kubernetes-map-type");
        let correlatable = matches!(map_type, None | Some("granular") | Some("atomic"));
        let map_keys =
            (str_field(structural, "x-kubernetes-list-type") == Some("map")).then(|| {
                structural
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            });
        let mut node = Node {
            ty,
            resource: resource
                || structural.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)),
            rules: Vec::new(),
            all_of: Vec::new(),
            properties: HashMap::new(),
            items: None,
            additional: None,
            map_keys,
            correlatable,
            has_rules: false,
        };
        if depth > MAX_DEPTH {
            self.errors
                .push(Cause::forbidden(path, "schema nesting is too deep"));
            return node;
        }
        if let Some(rules) = validation
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        {
            for (i, rule) in rules.iter().enumerate() {
                let rp = format!("{path}.x-kubernetes-validations[{i}]");
                if let Some(r) = self.rule(rule, structural, &rp, uncorrelatable) {
                    node.rules.push(r);
                }
            }
        }
        if let Some(props) = validation.get("properties").and_then(Value::as_object) {
            let sub_unc = if correlatable {
                uncorrelatable
            } else {
                Some(path)
            };
            for (k, v) in props {
                let Some(s) = structural.get("properties").and_then(|p| p.get(k)) else {
                    continue;
                };
                let child_path = format!("{path}.properties[{k}]");
                let child = self.node(v, s, &child_path, sub_unc, false, depth + 1);
                node.properties.insert(k.clone(), child);
            }
        }
        if let (Some(v), Some(s)) = (validation.get("items"), structural.get("items")) {
            if v.is_object() && s.is_object() {
                let child_path = format!("{path}.items");
                let sub_unc = match (&node.map_keys, uncorrelatable) {
                    (_, Some(u)) => Some(u),
                    (Some(_), None) => None,
                    (None, None) => Some(path),
                };
                node.items = Some(Box::new(self.node(
                    v,
                    s,
                    &child_path,
                    sub_unc,
                    false,
                    depth + 1,
                )));
            }
        }
        if let (Some(v), Some(s)) = (
            validation.get("additionalProperties"),
            structural.get("additionalProperties"),
        ) {
            if v.is_object() && s.is_object() {
                let child_path = format!("{path}.additionalProperties");
                let sub_unc = if correlatable {
                    uncorrelatable
                } else {
                    Some(path)
                };
                node.additional = Some(Box::new(self.node(
                    v,
                    s,
                    &child_path,
                    sub_unc,
                    false,
                    depth + 1,
                )));
            }
        }
        if let Some(branches) = validation.get("allOf").and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                let branch_path = format!("{path}.allOf[{i}]");
                let b = self.node(
                    branch,
                    structural,
                    &branch_path,
                    uncorrelatable,
                    resource,
                    depth + 1,
                );
                if b.has_rules {
                    node.all_of.push(b);
                }
            }
        }
        node.has_rules = !node.rules.is_empty()
            || !node.all_of.is_empty()
            || node.properties.values().any(|n| n.has_rules)
            || node.items.as_ref().is_some_and(|n| n.has_rules)
            || node.additional.as_ref().is_some_and(|n| n.has_rules);
        node
    }

    /// One rule, or its errors (then `None`). Checks the rule's fields as upstream's CRD
    /// validation does before compiling.
    fn rule(
        &mut self,
        raw: &Value,
        schema: &Value,
        rp: &str,
        uncorrelatable: Option<&str>,
    ) -> Option<Rule> {
        let before = self.errors.len();
        let text = str_field(raw, "rule").unwrap_or_default();
        let message = str_field(raw, "message").unwrap_or_default();
        let message_expression = str_field(raw, "messageExpression").unwrap_or_default();
        let field_path = str_field(raw, "fieldPath").unwrap_or_default();
        let optional_old_self = raw.get("optionalOldSelf").and_then(Value::as_bool);
        let reason_raw = str_field(raw, "reason");
        let (trimmed, trimmed_msg) = (text.trim(), message.trim());
        if trimmed.is_empty() {
            self.errors.push(Cause::required_with(
                format!("{rp}.rule"),
                "rule is not specified",
            ));
        } else if !message.is_empty() && trimmed_msg.is_empty() {
            let msg = "must be non-empty if specified";
            self.errors
                .push(Cause::invalid(format!("{rp}.message"), message, msg));
        } else if trimmed_msg.contains('\n') {
            let msg = "must not contain line breaks";
            self.errors
                .push(Cause::invalid(format!("{rp}.message"), message, msg));
        } else if trimmed.contains('\n') && trimmed_msg.is_empty() {
            let msg = "message must be specified if rule contains line breaks";
            self.errors
                .push(Cause::required_with(format!("{rp}.message"), msg));
        }
        if !message_expression.is_empty() && message_expression.trim().is_empty() {
            let msg = "messageExpression must be non-empty if specified";
            self.errors
                .push(Cause::required_with(format!("{rp}.messageExpression"), msg));
        }
        let reason = match reason_raw {
            None | Some("FieldValueInvalid") => Reason::Invalid,
            Some("FieldValueForbidden") => Reason::Forbidden,
            Some("FieldValueRequired") => Reason::Required,
            Some("FieldValueDuplicate") => Reason::Duplicate,
            Some(other) => {
                let supported = [
                    "FieldValueDuplicate",
                    "FieldValueForbidden",
                    "FieldValueInvalid",
                    "FieldValueRequired",
                ];
                self.errors.push(Cause::not_supported(
                    format!("{rp}.reason"),
                    other,
                    &supported,
                ));
                Reason::Invalid
            }
        };
        if !field_path.is_empty() && field_path.trim().is_empty() {
            let msg = "must be non-empty if specified";
            self.errors
                .push(Cause::invalid(format!("{rp}.fieldPath"), field_path, msg));
        }
        if field_path.contains('\n') {
            let msg = "must not contain line breaks";
            self.errors
                .push(Cause::invalid(format!("{rp}.fieldPath"), field_path, msg));
        }
        let mut normalized = String::new();
        if !field_path.is_empty() {
            match normalize_field_path(field_path, schema) {
                Some(p) => normalized = p,
                None => {
                    let msg = "must be a valid path";
                    self.errors
                        .push(Cause::invalid(format!("{rp}.fieldPath"), field_path, msg));
                }
            }
        }
        if self.errors.len() > before {
            return None;
        }

        let shown = rule_repr(raw);
        let (expr, uses_old_self) = match self.compile_expr(text) {
            Ok(c) => c,
            Err(e) => {
                self.errors.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("{rp}.rule"),
                    message: format!("Invalid value: {shown}: compilation failed: {e}"),
                });
                return None;
            }
        };
        let message_expr = if message_expression.is_empty() {
            None
        } else {
            match self.compile_expr(message_expression) {
                Ok((e, _)) => Some(e),
                Err(e) => {
                    self.errors.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("{rp}.messageExpression"),
                        message: format!(
                            "Invalid value: {shown}: messageExpression compilation failed: {e}"
                        ),
                    });
                    return None;
                }
            }
        };
        if uses_old_self {
            if let Some(u) = uncorrelatable {
                let msg = format!(
                    "oldSelf cannot be used on the uncorrelatable portion of the schema within {u}"
                );
                self.errors
                    .push(Cause::invalid(format!("{rp}.rule"), text, &msg));
                return None;
            }
        } else if let Some(o) = optional_old_self {
            let msg = "may not be set if oldSelf is not used in rule";
            self.errors
                .push(Cause::invalid(format!("{rp}.optionalOldSelf"), o, msg));
            return None;
        }
        Some(Rule {
            text: trimmed.to_string(),
            expr,
            message: trimmed_msg.to_string(),
            message_expr,
            reason,
            field_path: normalized,
            uses_old_self,
            optional_old_self: optional_old_self.unwrap_or(false),
        })
    }

    /// Parses and checks one expression; returns it rewritten (regex functions to their
    /// caching versions) and whether it reads `oldSelf`, or upstream-like error text.
    fn compile_expr(&self, source: &str) -> Result<(IdedExpr, bool), String> {
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            self.env.parser().parse_with_source_info(source)
        }));
        let (mut expr, info) = match parsed {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("ERROR: <input>:1:1: the expression could not be parsed".into()),
        };
        let mut checker = Checker {
            env: self.env,
            scope: Vec::new(),
            problems: Vec::new(),
            uses_old_self: false,
        };
        checker.check(&mut expr, 0);
        if let Some((id, msg)) = checker.problems.first() {
            let (line, col) = position(source, info.offset_for(*id).map(|(start, _)| start));
            let text_line = source
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or_default();
            let pointer = ".".repeat(col.saturating_sub(1));
            return Err(format!(
                "ERROR: <input>:{line}:{col}: {msg}\n | {text_line}\n | {pointer}^"
            ));
        }
        Ok((expr, checker.uses_old_self))
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(source: &str, offset: Option<u32>) -> (usize, usize) {
    let offset = offset.map_or(0, |o| o as usize);
    let (mut line, mut col) = (1, 1);
    for (i, c) in source.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// A rule as upstream shows it in a compile error: Go's `%#v` of the internal type.
fn rule_repr(raw: &Value) -> String {
    let s = |k| go_quote(str_field(raw, k).unwrap_or_default());
    // Go prints a set pointer as its address; there is no address to print here.
    let ptr = |k: &str, ty: &str| match raw.get(k) {
        Some(v) if !v.is_null() => format!("(*{ty})(0xc000000000)"),
        _ => format!("(*{ty})(nil)"),
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{}, FieldPath:{}, OptionalOldSelf:{}}}",
        s("rule"),
        s("message"),
        s("messageExpression"),
        ptr("reason", "apiextensions.FieldValueErrorReason"),
        s("fieldPath"),
        ptr("optionalOldSelf", "bool"),
    )
}

/// What upstream's type checker would refuse and can be told without types: names and
/// functions nobody declared, invalid literal regexes. Also rewrites the regex functions.
struct Checker<'e> {
    env: &'e Arc<Env>,
    /// Comprehension variables in scope.
    scope: Vec<String>,
    problems: Vec<(u64, String)>,
    uses_old_self: bool,
}

impl Checker<'_> {
    fn variable(&mut self, name: &str) -> bool {
        if name == "oldSelf" && !self.scope.iter().any(|s| s == name) {
            self.uses_old_self = true;
            return true;
        }
        name == "self" || self.scope.iter().any(|s| s == name)
    }

    /// Whether a name that is no variable still resolves: a type such as `int`, or a
    /// qualified type name.
    fn resolves(&self, expr: &IdedExpr) -> bool {
        let ctx = Context::with_env(Arc::clone(self.env));
        !matches!(
            catch_unwind(AssertUnwindSafe(|| ctx.resolve(expr).map(|_| ()))),
            Ok(Err(ExecutionError::UndeclaredReference(_))) | Err(_)
        )
    }

    fn undeclared(&mut self, id: u64, name: &str) {
        self.problems.push((
            id,
            format!("undeclared reference to '{name}' (in container '')"),
        ));
    }

    fn check(&mut self, expr: &mut IdedExpr, depth: usize) {
        if depth > MAX_DEPTH {
            self.problems
                .push((expr.id, "expression nesting is too deep".into()));
            return;
        }
        let id = expr.id;
        match &mut expr.expr {
            Expr::Ident(name) => {
                let name = name.clone();
                if !self.variable(&name) && !self.resolves(expr) {
                    self.undeclared(id, &name);
                }
            }
            Expr::Select(sel) => {
                let root = qualified_root(&sel.operand);
                match root {
                    Some(r) if !self.variable(&r) => {
                        if !self.resolves(expr) {
                            self.undeclared(id, &r);
                        }
                    }
                    _ => self.check(&mut sel.operand, depth + 1),
                }
            }
            Expr::Call(call) => {
                let name = call.func_name.clone();
                // Operators (`_+_`, `!_`, `-_`, `@in`) and the regex functions, which are
                // rewritten below, need no declaration.
                let internal = name.starts_with(['_', '!', '-'])
                    || name.contains('@')
                    || matches!(name.as_str(), "matches" | "find" | "findAll");
                let mut namespaced = false;
                if let Some(target) = &call.target {
                    if let Expr::Ident(ns) = &target.expr {
                        let ns = ns.clone();
                        if !self.variable(&ns) {
                            let full = format!("{ns}.{name}");
                            if !declared(self.env, &full) {
                                self.undeclared(id, &full);
                            }
                            namespaced = true;
                        }
                    }
                }
                if !internal && !namespaced && !declared(self.env, &name) {
                    self.undeclared(id, &name);
                }
                if matches!(name.as_str(), "matches" | "find" | "findAll") {
                    // The pattern is the last argument, for both call styles.
                    if let Some(IdedExpr {
                        expr: Expr::Literal(LiteralValue::String(p)),
                        id: pid,
                    }) = call.args.last()
                    {
                        if regex::Regex::new(p.inner()).is_err() {
                            self.problems
                                .push((*pid, format!("invalid {name} argument")));
                        }
                    }
                    call.func_name = match name.as_str() {
                        "matches" => MATCHES,
                        "find" => FIND,
                        _ => FIND_ALL,
                    }
                    .to_string();
                }
                if !namespaced {
                    if let Some(t) = call.target.as_mut() {
                        self.check(t, depth + 1);
                    }
                }
                for a in call.args.iter_mut() {
                    self.check(a, depth + 1);
                }
            }
            Expr::Comprehension(c) => {
                self.check(&mut c.iter_range, depth + 1);
                self.check(&mut c.accu_init, depth + 1);
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                self.scope.push(c.iter_var.clone());
                self.scope.extend(c.iter_var2.clone());
                self.scope.push(c.accu_var.clone());
                self.check(&mut c.loop_cond, depth + 1);
                self.check(&mut c.loop_step, depth + 1);
                self.check(&mut c.result, depth + 1);
                let keep = self.scope.len().saturating_sub(pushed);
                self.scope.truncate(keep);
            }
            Expr::List(l) => {
                for e in l.elements.iter_mut() {
                    self.check(e, depth + 1);
                }
            }
            Expr::Map(m) => {
                for e in m.entries.iter_mut() {
                    if let EntryExpr::MapEntry(me) = &mut e.expr {
                        self.check(&mut me.key, depth + 1);
                        self.check(&mut me.value, depth + 1);
                    }
                }
            }
            Expr::Struct(s) => {
                for e in s.entries.iter_mut() {
                    if let EntryExpr::StructField(f) = &mut e.expr {
                        self.check(&mut f.value, depth + 1);
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

/// The identifier a chain of field selections starts with (`a` of `a.b.c`).
fn qualified_root(expr: &IdedExpr) -> Option<String> {
    let mut e = expr;
    loop {
        match &e.expr {
            Expr::Ident(n) => return Some(n.clone()),
            Expr::Select(s) if !s.test => e = &s.operand,
            _ => return None,
        }
    }
}

/// A rule's `fieldPath` (`.a.b`, `.a['b']`, `['x.y']`) checked against the schema, in
/// upstream's normalized form (`a.b`, `a[b]` for a map key), or `None` when invalid.
fn normalize_field_path(path: &str, schema: &Value) -> Option<String> {
    let mut out = String::new();
    let mut schema = schema;
    let mut rest = path;
    let step = |name: &str, out: &mut String, schema: &mut &Value| -> Option<()> {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            *schema = props.get(name)?;
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(name);
        } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            *schema = ap;
            out.push('[');
            out.push_str(name);
            out.push(']');
        } else {
            return None;
        }
        Some(())
    };
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[', ']']).unwrap_or(r.len());
            let name = r.get(..end)?;
            if name.is_empty() {
                return None;
            }
            step(name, &mut out, &mut schema)?;
            rest = r.get(end..)?;
        } else if let Some(r) = rest.strip_prefix("['") {
            let mut name = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        let (_, d) = chars.next()?;
                        name.push(match d {
                            'a' => '\u{7}',
                            'b' => '\u{8}',
                            'f' => '\u{c}',
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            'v' => '\u{b}',
                            '\'' => '\'',
                            '\\' => '\\',
                            _ => return None,
                        });
                    }
                    '\'' => {
                        end = Some(i);
                        break;
                    }
                    c => name.push(c),
                }
            }
            let end = end?;
            let after = r.get(end + 1..)?;
            rest = after.strip_prefix(']')?;
            step(&name, &mut out, &mut schema)?;
        } else {
            return None;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Evaluation

struct Walker<'a> {
    env: &'a Arc<Env>,
    errs: &'a mut Vec<Cause>,
}

fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The JSON form of a map-list item's keys, to correlate old items with new ones.
fn list_key(item: &Value, keys: &[String]) -> String {
    let parts: Vec<&Value> = keys
        .iter()
        .map(|k| item.get(k).unwrap_or(&Value::Null))
        .collect();
    serde_json::to_string(&parts).unwrap_or_default()
}

impl Walker<'_> {
    /// Validates `new` (and `old`) at `v`'s rules; `s` types the values (it is `v`
    /// except in `allOf` branches).
    fn walk(
        &mut self,
        v: &Node,
        s: &Node,
        path: &str,
        new: &Value,
        old: Option<&Value>,
        depth: usize,
    ) {
        if new.is_null() || !v.has_rules {
            return;
        }
        if depth > MAX_DEPTH {
            let msg = "object nesting is too deep to evaluate its validation rules";
            self.errs.push(Cause::invalid(path, s.ty.as_str(), msg));
            return;
        }
        let old = old.filter(|o| !o.is_null());
        if !v.rules.is_empty() {
            self.rules(v, s, path, new, old);
        }
        for branch in &v.all_of {
            self.walk(branch, s, path, new, old, depth + 1);
        }
        match new {
            Value::Object(map) => {
                for (k, value) in map {
                    let old_value = || old.filter(|_| s.correlatable).and_then(|o| o.get(k));
                    if let (Some(vc), Some(sc)) = (v.properties.get(k), s.properties.get(k)) {
                        self.walk(vc, sc, &child_path(path, k), value, old_value(), depth + 1);
                    } else if let (Some(vc), Some(sc)) = (&v.additional, &s.additional) {
                        let p = format!("{path}[{k}]");
                        self.walk(vc, sc, &p, value, old_value(), depth + 1);
                    }
                }
            }
            Value::Array(list) => {
                let (Some(vi), Some(si)) = (&v.items, &s.items) else {
                    return;
                };
                let old_items: HashMap<String, &Value> = match (&s.map_keys, old) {
                    (Some(keys), Some(Value::Array(o))) if vi.has_rules => {
                        o.iter().map(|item| (list_key(item, keys), item)).collect()
                    }
                    _ => HashMap::new(),
                };
                for (i, item) in list.iter().enumerate() {
                    let old_item = match &s.map_keys {
                        Some(keys) if !old_items.is_empty() => {
                            old_items.get(&list_key(item, keys)).copied()
                        }
                        _ => None,
                    };
                    self.walk(vi, si, &format!("{path}[{i}]"), item, old_item, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Evaluates the rules of one node against one value.
    fn rules(&mut self, v: &Node, s: &Node, path: &str, new: &Value, old: Option<&Value>) {
        let Some(self_val) = to_val(new, Some(s), 0) else {
            let msg = "object nesting is too deep to evaluate its validation rules";
            self.errs.push(Cause::invalid(path, s.ty.as_str(), msg));
            return;
        };
        let old_val = match old {
            Some(o) if v.rules.iter().any(|r| r.uses_old_self) => to_val(o, Some(s), 0),
            _ => None,
        };
        let mut ctx = Context::with_env(Arc::clone(self.env));
        ctx.add_variable_as_val("self", self_val.clone_as_boxed());
        if let Some(o) = &old_val {
            ctx.add_variable_as_val("oldSelf", o.clone_as_boxed());
        }
        // Rules with `optionalOldSelf` see `oldSelf` as an optional.
        let optional_ctx = v.rules.iter().any(|r| r.optional_old_self).then(|| {
            let mut c = Context::with_env(Arc::clone(self.env));
            c.add_variable_as_val("self", self_val.clone_as_boxed());
            let opt = match &old_val {
                Some(o) => CelOptional::of(o.clone_as_boxed()),
                None => CelOptional::none(),
            };
            c.add_variable_as_val("oldSelf", Box::new(opt));
            c
        });
        for rule in &v.rules {
            let ctx = match &optional_ctx {
                Some(c) if rule.optional_old_self => c,
                _ if rule.uses_old_self && old_val.is_none() => continue,
                _ => &ctx,
            };
            match eval_bool(&rule.expr, ctx) {
                Ok(true) => {}
                Ok(false) => self.failure(rule, path, new, ctx),
                Err(e) => self.errs.push(Cause::invalid(
                    path,
                    s.ty.as_str(),
                    &runtime_error(&e, rule),
                )),
            }
        }
    }

    fn failure(&mut self, rule: &Rule, path: &str, new: &Value, ctx: &Context) {
        let detail = rule
            .message_expr
            .as_ref()
            .and_then(|e| eval_message(e, ctx))
            .unwrap_or_else(|| {
                if rule.message.is_empty() {
                    format!("failed rule: {}", rule.text)
                } else {
                    rule.message.clone()
                }
            });
        let field = if rule.field_path.is_empty() {
            path.to_string()
        } else {
            child_path(path, &rule.field_path)
        };
        // Upstream shows scalars, not objects nor arrays.
        let omit = matches!(new, Value::Object(_) | Value::Array(_));
        let cause = match rule.reason {
            Reason::Forbidden => Cause::forbidden(field, &detail),
            Reason::Required => Cause::required_with(field, &detail),
            Reason::Duplicate if omit => Cause {
                reason: "FieldValueDuplicate",
                field,
                message: "Duplicate value".into(),
            },
            Reason::Duplicate => Cause::duplicate(field, new),
            Reason::Invalid if omit => Cause {
                reason: "FieldValueInvalid",
                field,
                message: format!("Invalid value: {detail}"),
            },
            Reason::Invalid => Cause::invalid(field, new, &detail),
        };
        self.errs.push(cause);
    }
}

/// Evaluates a rule: its boolean result, or the error (a panic of the interpreter
/// included).
fn eval_bool(expr: &IdedExpr, ctx: &Context) -> Result<bool, ExecutionError> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        cel::Value::resolve_val(expr, ctx).map(|v| v.downcast_ref::<CelBool>().map(|b| *b.inner()))
    }));
    match result {
        Ok(Ok(Some(b))) => Ok(b),
        Ok(Ok(None)) => Err(ExecutionError::function_error(
            "rule",
            "cel expression must evaluate to a bool",
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ExecutionError::InternalError("evaluation failed".into())),
    }
}

/// A `messageExpression`'s message, or `None` for upstream's fallbacks to the static
/// message (an error, not a string, empty, multi-line or too long).
fn eval_message(expr: &IdedExpr, ctx: &Context) -> Option<String> {
    let msg = catch_unwind(AssertUnwindSafe(|| {
        cel::Value::resolve_val(expr, ctx).ok().and_then(|v| {
            v.downcast_ref::<CelString>()
                .map(|s| s.inner().trim().to_string())
        })
    }))
    .ok()
    .flatten()?;
    (!msg.is_empty() && !msg.contains('\n') && msg.len() <= MAX_MESSAGE_BYTES).then_some(msg)
}

/// A runtime error in upstream's words (cel-go's messages, then upstream's framing).
fn runtime_error(e: &ExecutionError, rule: &Rule) -> String {
    let rule_str = if rule.message.is_empty() {
        &rule.text
    } else {
        &rule.message
    };
    let err = match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::DivisionByZero(_) => "division by zero".to_string(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_string(),
        ExecutionError::Overflow(..) => "integer overflow".to_string(),
        ExecutionError::IndexOutOfBounds(i) => match i {
            cel::Value::Int(i) => format!("index out of bounds: {i}"),
            other => format!("index out of bounds: {other:?}"),
        },
        ExecutionError::UndeclaredReference(n) => format!("no such attribute: {n}"),
        ExecutionError::FunctionError { message, .. } => message.clone(),
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::UnsupportedTargetType { .. }
        | ExecutionError::NotSupportedAsMethod { .. }
        | ExecutionError::UnsupportedKeyType(_)
        | ExecutionError::UnsupportedIndex(..) => {
            return format!(
                "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {rule_str}"
            )
        }
        other => other.to_string(),
    };
    format!("{err} evaluating rule: {rule_str}")
}

/// A JSON value as CEL sees it at a schema node: objects as maps without their null
/// fields, numbers of `type: number` as doubles, resources' metadata as only `name` and
/// `generateName`. Strings and keys are borrowed. `None` beyond [`MAX_DEPTH`].
fn to_val<'v>(value: &'v Value, node: Option<&Node>, depth: usize) -> Option<Box<dyn Val + 'v>> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => {
            let double = node.is_some_and(|n| n.ty == "number");
            match n.as_i64() {
                Some(i) if !double => Box::new(CelInt::from(i)),
                _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
            }
        }
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(items) => {
            let item_node = node.and_then(|n| n.items.as_deref());
            let mut out: Vec<Box<dyn Val + 'v>> = Vec::with_capacity(items.len());
            for item in items {
                out.push(to_val(item, item_node, depth + 1)?);
            }
            Box::new(CelList::from(out))
        }
        Value::Object(map) => {
            let resource = node.is_some_and(|n| n.resource);
            let mut out: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> =
                HashMap::with_capacity(map.len());
            for (k, v) in map {
                if v.is_null() {
                    continue;
                }
                let child = node.and_then(|n| n.properties.get(k).or(n.additional.as_deref()));
                let val = match (resource && k == "metadata", v) {
                    (true, Value::Object(meta)) => {
                        let mut m: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::new();
                        for key in ["name", "generateName"] {
                            if let Some(Value::String(s)) = meta.get(key) {
                                m.insert(
                                    CelMapKey::from(key),
                                    Box::new(CelString::from(s.as_str())),
                                );
                            }
                        }
                        Box::new(CelMap::from(m))
                    }
                    _ => to_val(v, child, depth + 1)?,
                };
                out.insert(CelMapKey::from(k.as_str()), val);
            }
            Box::new(CelMap::from(out))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An object schema whose `spec` has the given properties and rules.
    fn spec_schema(spec_props: Value, spec_rules: Value) -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "properties": spec_props,
                    "x-kubernetes-validations": spec_rules,
                }
            }
        })
    }

    fn compile(schema: &Value) -> Rules {
        match Rules::compile(schema) {
            Ok(r) => r,
            Err(e) => panic!("compile failed: {e:?}"),
        }
    }

    fn compile_err(schema: &Value) -> Vec<Cause> {
        match Rules::compile(schema) {
            Ok(_) => panic!("compile should fail"),
            Err(e) => e,
        }
    }

    fn obj(spec: Value) -> Value {
        json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"}, "spec": spec})
    }

    fn replicas_props() -> Value {
        json!({"replicas": {"type": "integer"}, "minReplicas": {"type": "integer"}})
    }

    #[test]
    fn rules_are_shareable_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Rules>();
    }

    #[test]
    fn no_rules_is_empty() {
        let rules = compile(&json!({"type": "object", "properties": {"a": {"type": "string"}}}));
        assert!(rules.is_empty());
        assert!(rules.validate(&json!({"a": "x"}), None).is_empty());
    }

    #[test]
    fn root_rule_omits_the_object_value() {
        let schema = json!({
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.spec.minReplicas <= self.spec.replicas", "message": "min exceeds replicas"}],
            "properties": {"spec": {"type": "object", "properties": replicas_props()}}
        });
        let rules = compile(&schema);
        assert!(!rules.is_empty());
        assert!(rules
            .validate(&obj(json!({"replicas": 3, "minReplicas": 1})), None)
            .is_empty());
        let errs = rules.validate(&obj(json!({"replicas": 1, "minReplicas": 3})), None);
        assert_eq!(
            errs,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: String::new(),
                message: "Invalid value: min exceeds replicas".into(),
            }]
        );
    }

    #[test]
    fn nested_property_rule_with_default_message() {
        let schema = spec_schema(
            replicas_props(),
            json!([{"rule": "self.minReplicas <= self.replicas"}]),
        );
        let errs = compile(&schema).validate(&obj(json!({"replicas": 1, "minReplicas": 2})), None);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        assert_eq!(
            errs[0].message,
            "Invalid value: failed rule: self.minReplicas <= self.replicas"
        );
    }

    #[test]
    fn scalar_rule_shows_the_value() {
        let props = json!({"replicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= 0"}]},
                           "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 4", "message": "too long"}]}});
        let rules = compile(&spec_schema(props, json!([])));
        let errs = rules.validate(&obj(json!({"replicas": -1, "name": "abcdef"})), None);
        assert_eq!(errs.len(), 2);
        let replicas = errs
            .iter()
            .find(|c| c.field == "spec.replicas")
            .expect("replicas");
        assert_eq!(
            replicas.message,
            "Invalid value: -1: failed rule: self >= 0"
        );
        let name = errs.iter().find(|c| c.field == "spec.name").expect("name");
        assert_eq!(name.message, "Invalid value: \"abcdef\": too long");
    }

    #[test]
    fn rules_in_array_items() {
        let props = json!({"names": {"type": "array", "items": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self.startsWith('a')", "message": "must start with a"}]}}});
        let rules = compile(&spec_schema(props, json!([])));
        let errs = rules.validate(&obj(json!({"names": ["ann", "bob", "al", "carl"]})), None);
        let fields: Vec<&str> = errs.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["spec.names[1]", "spec.names[3]"]);
        assert_eq!(errs[0].message, "Invalid value: \"bob\": must start with a");
    }

    #[test]
    fn macros_and_string_functions() {
        let props = json!({"names": {"type": "array", "items": {"type": "string"}}, "name": {"type": "string"}});
        let rule = "self.names.all(n, n.size() > 1) && self.names.exists(n, n == 'bo') \
                    && self.names.map(n, n + '!').filter(n, n.endsWith('o!')).size() == 1 \
                    && self.name.contains('x') && self.name.matches('^[a-z]+$') && size(self.name) == 3";
        let rules = compile(&spec_schema(props, json!([{"rule": rule}])));
        assert!(rules
            .validate(&obj(json!({"names": ["ab", "bo"], "name": "axe"})), None)
            .is_empty());
        assert_eq!(
            rules
                .validate(&obj(json!({"names": ["ab", "bo"], "name": "aXe"})), None)
                .len(),
            1
        );
    }

    #[test]
    fn immutability_only_on_update() {
        let props = json!({"name": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "Value is immutable"}]}});
        let rules = compile(&spec_schema(props, json!([])));
        let new = obj(json!({"name": "b"}));
        assert!(
            rules.validate(&new, None).is_empty(),
            "not evaluated on create"
        );
        assert!(rules
            .validate(&new, Some(&obj(json!({"name": "b"}))))
            .is_empty());
        assert!(
            rules.validate(&new, Some(&obj(json!({})))).is_empty(),
            "no old value there"
        );
        let errs = rules.validate(&new, Some(&obj(json!({"name": "a"}))));
        assert_eq!(
            errs,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "spec.name".into(),
                message: "Invalid value: \"b\": Value is immutable".into(),
            }]
        );
    }

    #[test]
    fn root_immutability_ignores_server_metadata() {
        let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.spec == oldSelf.spec && self.metadata.name == 'w' && !has(self.metadata.labels)"}],
                            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
        let rules = compile(&schema);
        let mut new = obj(json!({"a": 1}));
        new["metadata"]["resourceVersion"] = json!("2");
        new["metadata"]["labels"] = json!({"x": "y"});
        assert!(rules.validate(&new, Some(&obj(json!({"a": 1})))).is_empty());
        assert_eq!(rules.validate(&new, Some(&obj(json!({"a": 2})))).len(), 1);
    }

    #[test]
    fn transition_rule_on_map_list_items_correlated_by_key() {
        let props = json!({"items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
                      "x-kubernetes-validations": [{"rule": "self.value >= oldSelf.value", "message": "may not decrease"}]}}});
        let rules = compile(&spec_schema(props, json!([])));
        let old = obj(json!({"items": [{"name": "a", "value": 5}, {"name": "b", "value": 1}]}));
        let new = obj(
            json!({"items": [{"name": "b", "value": 0}, {"name": "a", "value": 6}, {"name": "c", "value": 0}]}),
        );
        let errs = rules.validate(&new, Some(&old));
        assert_eq!(
            errs,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "spec.items[0]".into(),
                message: "Invalid value: may not decrease".into(),
            }]
        );
        assert!(rules.validate(&new, None).is_empty());
    }

    #[test]
    fn old_self_refused_on_uncorrelatable_list_items() {
        let props = json!({"items": {"type": "array", "items": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}});
        let errs = compile_err(&spec_schema(props, json!([])));
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].field,
            "spec.validation.openAPIV3Schema.properties[spec].properties[items].items.x-kubernetes-validations[0].rule"
        );
        assert_eq!(
            errs[0].message,
            "Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[items]"
        );
    }

    #[test]
    fn optional_old_self_runs_on_create() {
        let props = json!({"n": {"type": "integer", "x-kubernetes-validations": [{
            "rule": "!oldSelf.hasValue() ? self < 10 : self >= oldSelf.value()", "optionalOldSelf": true}]}});
        let rules = compile(&spec_schema(props, json!([])));
        assert_eq!(rules.validate(&obj(json!({"n": 11})), None).len(), 1);
        assert!(rules
            .validate(&obj(json!({"n": 11})), Some(&obj(json!({"n": 10}))))
            .is_empty());
        assert_eq!(
            rules
                .validate(&obj(json!({"n": 9})), Some(&obj(json!({"n": 10}))))
                .len(),
            1
        );
    }

    #[test]
    fn message_expression_takes_precedence() {
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.replicas < 5", "message": "static", "messageExpression": "'replicas ' + string(self.replicas) + ' too high'"}]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 7})), None);
        assert_eq!(errs[0].message, "Invalid value: replicas 7 too high");
    }

    #[test]
    fn message_expression_falls_back_to_message() {
        for expr in ["self.nope", "''", "'two\\nlines'", "1 == 1"] {
            let rules = compile(&spec_schema(
                replicas_props(),
                json!([{"rule": "self.replicas < 5", "message": "static", "messageExpression": expr}]),
            ));
            let errs = rules.validate(&obj(json!({"replicas": 7})), None);
            assert_eq!(errs[0].message, "Invalid value: static", "{expr}");
        }
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.replicas < 5", "messageExpression": "self.nope"}]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 7})), None);
        assert_eq!(
            errs[0].message,
            "Invalid value: failed rule: self.replicas < 5"
        );
    }

    #[test]
    fn reason_and_field_path() {
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([
                {"rule": "self.replicas < 5", "message": "too many", "reason": "FieldValueForbidden", "fieldPath": ".replicas"},
                {"rule": "has(self.minReplicas)", "message": "set it", "reason": "FieldValueRequired", "fieldPath": "['minReplicas']"},
                {"rule": "false", "reason": "FieldValueDuplicate"},
                {"rule": "false", "reason": "FieldValueInvalid", "message": "no"}
            ]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 7})), None);
        let got: Vec<(&str, &str, &str)> = errs
            .iter()
            .map(|c| (c.reason, c.field.as_str(), c.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "FieldValueForbidden",
                    "spec.replicas",
                    "Forbidden: too many"
                ),
                (
                    "FieldValueRequired",
                    "spec.minReplicas",
                    "Required value: set it"
                ),
                ("FieldValueDuplicate", "spec", "Duplicate value"),
                ("FieldValueInvalid", "spec", "Invalid value: no"),
            ]
        );
    }

    #[test]
    fn additional_properties_by_key() {
        let props = json!({"labels": {"type": "object", "additionalProperties": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]}}});
        let rules = compile(&spec_schema(props, json!([])));
        let old = obj(json!({"labels": {"a": "1", "b": "2"}}));
        let new = obj(json!({"labels": {"a": "1", "b": "3", "c": "4"}}));
        let errs = rules.validate(&new, Some(&old));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.labels[b]");
        assert_eq!(errs[0].message, "Invalid value: \"3\": immutable");
    }

    #[test]
    fn all_of_branch_rules_apply() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "integer"}},
            "allOf": [{"x-kubernetes-validations": [{"rule": "self.a > 1", "message": "a too small"}]}]}}});
        let errs = compile(&schema).validate(&obj(json!({"a": 1})), None);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].message.as_str()),
            ("spec", "Invalid value: a too small")
        );
    }

    #[test]
    fn runtime_error_is_reported_with_the_type() {
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.minReplicas <= self.replicas"}]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 3})), None);
        assert_eq!(
            errs,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "spec".into(),
                message: "Invalid value: \"object\": no such key: minReplicas evaluating rule: self.minReplicas <= self.replicas".into(),
            }]
        );
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.replicas + 'x' == 'y'", "message": "m"}]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 3})), None);
        assert_eq!(
            errs[0].message,
            "Invalid value: \"object\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: m"
        );
        let rules = compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.replicas / 0 == 1"}]),
        ));
        let errs = rules.validate(&obj(json!({"replicas": 3})), None);
        assert_eq!(
            errs[0].message,
            "Invalid value: \"object\": division by zero evaluating rule: self.replicas / 0 == 1"
        );
    }

    #[test]
    fn has_and_null_fields() {
        let props = json!({"a": {"type": "integer", "nullable": true}, "b": {"type": "integer"}});
        let rules = compile(&spec_schema(
            props,
            json!([{"rule": "has(self.a) == has(self.b)", "message": "both or none"}]),
        ));
        assert!(rules.validate(&obj(json!({})), None).is_empty());
        assert!(rules
            .validate(&obj(json!({"a": 1, "b": 2})), None)
            .is_empty());
        assert_eq!(rules.validate(&obj(json!({"a": 1})), None).len(), 1);
        // A null field is an absent one.
        assert_eq!(
            rules.validate(&obj(json!({"a": null, "b": 2})), None).len(),
            1
        );
    }

    #[test]
    fn compile_error_refuses_the_schema() {
        let errs = compile_err(&spec_schema(
            replicas_props(),
            json!([{"rule": "self.replicas >"}]),
        ));
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].field,
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
        );
        assert!(
            errs[0].message.starts_with(
                "Invalid value: apiextensions.ValidationRule{Rule:\"self.replicas >\", Message:\"\", MessageExpression:\"\", \
                 Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: \
                 compilation failed: ERROR: <input>:1:"
            ),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn undeclared_names_are_compile_errors() {
        let errs = compile_err(&spec_schema(
            replicas_props(),
            json!([{"rule": "foo == 1"}, {"rule": "self.replicas.frobnicate()"}, {"rule": "self.all(x, x == y)"}, {"rule": "true", "messageExpression": "bar"}]),
        ));
        let got: Vec<String> = errs.iter().map(|c| c.message.clone()).collect();
        assert_eq!(errs.len(), 4, "{got:?}");
        assert!(got[0].contains("compilation failed: ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')"), "{}", got[0]);
        assert!(
            got[1].contains("undeclared reference to 'frobnicate'"),
            "{}",
            got[1]
        );
        assert!(got[2].contains("undeclared reference to 'y'"), "{}", got[2]);
        assert!(errs[3]
            .field
            .ends_with("x-kubernetes-validations[3].messageExpression"));
        assert!(
            got[3].contains("messageExpression compilation failed: ERROR"),
            "{}",
            got[3]
        );
        // What is declared compiles: types, namespaced functions, comprehension variables.
        compile(&spec_schema(
            replicas_props(),
            json!([{"rule": "type(self) == map && math.greatest(1, 2) == 2 && [1].all(x, x == 1) && optional.none() == optional.none()"}]),
        ));
    }

    #[test]
    fn invalid_rule_fields_are_refused() {
        let errs = compile_err(&spec_schema(
            replicas_props(),
            json!([
                {"rule": "  "},
                {"rule": "true", "reason": "Nope"},
                {"rule": "true", "fieldPath": ".nope"},
                {"rule": "true", "optionalOldSelf": true},
                {"rule": "self.x.matches('(')"}
            ]),
        ));
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|c| (c.field.as_str(), c.message.as_str()))
            .collect();
        let p = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations";
        assert_eq!(
            got[0],
            (
                format!("{p}[0].rule").as_str(),
                "Required value: rule is not specified"
            )
        );
        assert_eq!(
            got[1],
            (
                format!("{p}[1].reason").as_str(),
                "Unsupported value: \"Nope\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""
            )
        );
        assert_eq!(
            got[2],
            (
                format!("{p}[2].fieldPath").as_str(),
                "Invalid value: \".nope\": must be a valid path"
            )
        );
        assert_eq!(
            got[3],
            (
                format!("{p}[3].optionalOldSelf").as_str(),
                "Invalid value: true: may not be set if oldSelf is not used in rule"
            )
        );
        assert!(
            got[4].1.contains("invalid matches argument"),
            "{}",
            got[4].1
        );
    }

    #[test]
    fn kubernetes_library_functions() {
        let props = json!({"xs": {"type": "array", "items": {"type": "integer"}}, "s": {"type": "string"}, "ratio": {"type": "number"}});
        let rule =
            "self.xs.isSorted() && self.xs.sum() == 6 && self.xs.min() == 1 && self.xs.max() == 3 \
                    && self.xs.indexOf(2) == 1 && self.xs.lastIndexOf(9) == -1 \
                    && self.s.find('[0-9]+') == '42' && self.s.findAll('[a-z]') == ['a', 'b'] \
                    && cel.bind(n, self.xs.size(), n * n == 9) && type(self.ratio) == double \
                    && self.s.lowerAscii() == 'a42b'";
        let rules = compile(&spec_schema(props, json!([{"rule": rule}])));
        let errs = rules.validate(
            &obj(json!({"xs": [1, 2, 3], "s": "a42b", "ratio": 1})),
            None,
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn deep_values_do_not_panic() {
        let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": "has(self.spec)"}],
                            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
        let rules = compile(&schema);
        let mut deep = json!(1);
        for _ in 0..(MAX_DEPTH + 10) {
            deep = json!({"a": deep});
        }
        let errs = rules.validate(&obj(deep), None);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("too deep"));
    }

    #[test]
    fn many_objects_validate_quickly() {
        let props = json!({"replicas": {"type": "integer"}, "minReplicas": {"type": "integer"},
                           "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.matches('^[a-z]+$')"}]}});
        let rules = compile(&spec_schema(
            props,
            json!([{"rule": "self.minReplicas <= self.replicas"}]),
        ));
        let start = std::time::Instant::now();
        for i in 0..10_000 {
            let o = obj(json!({"replicas": i, "minReplicas": 0, "name": "abc"}));
            assert!(rules.validate(&o, Some(&o)).is_empty());
        }
        eprintln!("10000 validations: {:?}", start.elapsed());
    }
}
