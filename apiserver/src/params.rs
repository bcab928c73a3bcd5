//! Query parameters, parsed once and as upstream parses them: a parameter named twice takes
//! its first value; a boolean is true unless it is `0` or `false` in any case (so `watch=True`,
//! `watch=yes` and a bare `watch=` are true, as the Python client relies on); numbers and
//! resource versions are range-checked, and a bad one is a 400 `Status`.

use std::collections::HashMap;
use std::time::Duration;

use crate::registry::{FieldValidation, ListOptions, WriteOptions};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};

/// The query parameters of a request.
#[derive(Debug, Default, Clone)]
pub struct Query {
    params: HashMap<String, String>,
    /// The request's User-Agent, which names the field manager of a write naming none.
    user_agent: Option<String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut params = HashMap::new();
        for (k, v) in raw
            .map(|q| form_urlencoded::parse(q.as_bytes()))
            .into_iter()
            .flatten()
        {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Query {
            params,
            user_agent: None,
        }
    }

    pub fn with_user_agent(mut self, user_agent: Option<&str>) -> Query {
        self.user_agent = user_agent.map(str::to_string);
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// A boolean parameter: absent is false, present is true unless `0` or `false`.
    pub fn flag(&self, key: &str) -> bool {
        self.optional_flag(key).unwrap_or(false)
    }

    /// A boolean parameter whose absence means "unset" (`sendInitialEvents`).
    pub fn optional_flag(&self, key: &str) -> Option<bool> {
        self.get(key)
            .map(|v| !(v == "0" || v.eq_ignore_ascii_case("false")))
    }

    /// A signed integer parameter (upstream's int64 fields).
    pub fn i64(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: {v:?} is not an integer between {} and {}",
                    i64::MIN,
                    i64::MAX
                ))
            }),
        }
    }

    /// A non-empty string parameter.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// `resourceVersion`: empty, or a revision number.
    pub fn resource_version(&self) -> ApiResult<Option<&str>> {
        match self.non_empty("resourceVersion") {
            None => Ok(None),
            Some(rv) => parse_revision(rv).map(|_| Some(rv)),
        }
    }
}

/// A resource version a client sent, as the store revision it names.
pub fn parse_revision(rv: &str) -> ApiResult<u64> {
    rv.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// `dryRun`, `fieldValidation`, `fieldManager` and `force` of a write.
pub fn write_options(query: &Query) -> ApiResult<WriteOptions> {
    let dry_run = match query.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other:?}; the only supported value is All"
            )))
        }
    };
    let field_manager = query.non_empty("fieldManager").map(str::to_string);
    if let Some(manager) = &field_manager {
        // Upstream's limit, checked before anything records the name.
        if manager.len() > 128 || manager.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "fieldManager must be at most 128 bytes of printable characters",
            ));
        }
    }
    Ok(WriteOptions {
        dry_run,
        field_validation: FieldValidation::parse(query.get("fieldValidation"))?,
        field_manager,
        force: query.flag("force"),
        duplicate_fields: Vec::new(),
        user_agent: query.user_agent.clone(),
        applied: false,
    })
}

/// Selectors, paging and `resourceVersion` of a list or watch.
pub fn list_options(query: &Query) -> ApiResult<ListOptions> {
    let bad = |e: crate::selectors::SelectorError| {
        ApiError::bad_request(format!("unable to parse requirement: {e}"))
    };
    let resource_version_match = match query.non_empty("resourceVersionMatch") {
        None => None,
        Some(m @ ("NotOlderThan" | "Exact")) => Some(m.to_string()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported resourceVersionMatch {other:?}: supported values are \"NotOlderThan\" and \"Exact\""
            )))
        }
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").unwrap_or("")).map_err(bad)?,
        fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or("")).map_err(bad)?,
        // Upstream treats a limit of zero or less as no limit.
        limit: query.i64("limit")?.and_then(|l| u64::try_from(l).ok()),
        continue_token: query.non_empty("continue").map(str::to_string),
        resource_version: query.resource_version()?.map(str::to_string),
        resource_version_match,
    })
}

/// `timeoutSeconds` of a watch: how long it stays open (a negative value ends it at once).
pub fn watch_timeout(query: &Query) -> ApiResult<Option<Duration>> {
    Ok(query
        .i64("timeoutSeconds")?
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0))))
}

/// `gracePeriodSeconds` and `propagationPolicy` given as query parameters (older clients),
/// which win over the body's.
pub fn delete_overrides(query: &Query) -> ApiResult<(Option<i64>, Option<&str>)> {
    Ok((
        query.i64("gracePeriodSeconds")?,
        query.non_empty("propagationPolicy"),
    ))
}

/// `includeObject` of a Table request.
pub fn include_object(query: &Query) -> ApiResult<&str> {
    match query.non_empty("includeObject") {
        None => Ok("Metadata"),
        Some(v @ ("None" | "Metadata" | "Object")) => Ok(v),
        Some(other) => Err(ApiError::bad_request(format!(
            "unsupported includeObject {other:?}: supported values are \"None\", \"Metadata\" and \"Object\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_true_unless_zero_or_false() {
        for value in ["true", "True", "TRUE", "t", "yes", "1", ""] {
            let q = Query::parse(Some(&format!("watch={value}")));
            assert!(q.flag("watch"), "{value:?}");
        }
        for value in ["false", "False", "FALSE", "0"] {
            let q = Query::parse(Some(&format!("watch={value}")));
            assert!(!q.flag("watch"), "{value:?}");
        }
        assert!(!Query::parse(None).flag("watch"));
        assert_eq!(Query::parse(None).optional_flag("sendInitialEvents"), None);
    }

    #[test]
    fn the_first_value_counts() {
        let q = Query::parse(Some("limit=5&limit=7"));
        assert_eq!(q.i64("limit").unwrap(), Some(5));
    }

    #[test]
    fn numbers_and_revisions_are_checked() {
        assert_eq!(
            Query::parse(Some("limit=abc"))
                .i64("limit")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            Query::parse(Some("limit=99999999999999999999"))
                .i64("limit")
                .unwrap_err()
                .code,
            400
        );
        let max = Query::parse(Some("resourceVersion=18446744073709551615"));
        assert_eq!(
            max.resource_version().unwrap(),
            Some("18446744073709551615")
        );
        for bad in ["-1", "18446744073709551616", "abc", "1.5"] {
            let q = Query::parse(Some(&format!("resourceVersion={bad}")));
            assert_eq!(q.resource_version().unwrap_err().code, 400, "{bad}");
        }
        let negative = Query::parse(Some("timeoutSeconds=-5"));
        assert_eq!(watch_timeout(&negative).unwrap(), Some(Duration::ZERO));
        assert_eq!(
            list_options(&Query::parse(Some("limit=-3"))).unwrap().limit,
            None
        );
    }

    #[test]
    fn enumerations_are_checked() {
        assert!(list_options(&Query::parse(Some("resourceVersionMatch=Sometimes"))).is_err());
        assert!(include_object(&Query::parse(Some("includeObject=All"))).is_err());
        assert!(write_options(&Query::parse(Some("dryRun=Some"))).is_err());
        assert!(write_options(&Query::parse(Some("fieldManager=%01"))).is_err());
        assert!(
            write_options(&Query::parse(Some("force=true")))
                .unwrap()
                .force
        );
    }
}
