//! What a request asks for: the resource path (`/apis/{group}/{version}/namespaces/{ns}/
//! {resource}/{name}/{subresource}`), the verb it maps to, and its query parameters.

use http::Method;

use crate::params::Query;
use crate::status::{ApiError, ApiResult};

/// A request for a resource, parsed from its path and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

/// The Kubernetes verb a request maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Subresources of a namespace, which `/api/v1/namespaces/{name}/{x}` addresses instead of
/// the collection `x` inside the namespace.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses `/api/...` or `/apis/...`; `None` when the path is not a resource path (discovery
/// documents such as `/apis/apps/v1` return `None` too).
pub fn parse(method: &Method, path: &str, query: &Query) -> ApiResult<Option<ResourceRequest>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Ok(None),
    };
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.iter().any(|p| p.is_empty()) {
        return Err(ApiError::not_found_path());
    }
    let (namespace, rest): (Option<String>, &[&str]) = match rest {
        ["namespaces", ns, tail @ ..]
            if tail
                .first()
                .is_some_and(|t| !NAMESPACE_SUBRESOURCES.contains(t)) =>
        {
            (Some((*ns).to_string()), tail)
        }
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some((*name).to_string()), None),
        [resource, name, sub] => (
            *resource,
            Some((*name).to_string()),
            Some((*sub).to_string()),
        ),
        _ => return Err(ApiError::not_found_path()),
    };
    let watch = query.flag("watch");
    let verb = match (method.as_str(), name.is_some()) {
        ("GET", _) if watch => Verb::Watch,
        ("GET", true) => Verb::Get,
        ("GET", false) => Verb::List,
        ("POST", _) => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )))
        }
    };
    Ok(Some(ResourceRequest {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource: resource.to_string(),
        name,
        subresource,
        verb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str, query: &str) -> Option<ResourceRequest> {
        parse(&method, path, &Query::parse(Some(query))).unwrap()
    }

    #[test]
    fn namespaced_paths() {
        let r = req(
            Method::GET,
            "/apis/apps/v1/namespaces/ns1/deployments/web/scale",
            "",
        )
        .unwrap();
        assert_eq!(r.group, "apps");
        assert_eq!(r.namespace.as_deref(), Some("ns1"));
        assert_eq!(r.resource, "deployments");
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        assert_eq!(r.verb, Verb::Get);
        let r = req(Method::GET, "/api/v1/namespaces/ns1/pods", "watch=true").unwrap();
        assert_eq!(r.verb, Verb::Watch);
        assert_eq!(r.resource, "pods");
    }

    #[test]
    fn namespaces_themselves() {
        let r = req(Method::GET, "/api/v1/namespaces/ns1", "").unwrap();
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("ns1"), None)
        );
        let r = req(Method::PUT, "/api/v1/namespaces/ns1/finalize", "").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("finalize"));
        assert_eq!(r.verb, Verb::Update);
    }

    #[test]
    fn discovery_paths_are_not_resources() {
        assert_eq!(req(Method::GET, "/apis/apps/v1", ""), None);
        assert_eq!(req(Method::GET, "/api/v1", ""), None);
        assert_eq!(req(Method::GET, "/version", ""), None);
    }

    #[test]
    fn odd_paths_and_methods_are_refused() {
        let q = Query::default();
        assert!(parse(&Method::GET, "/api/v1/pods/a/b/c/d", &q).is_err());
        assert!(parse(&Method::GET, "/api/v1//pods", &q).is_err());
        assert!(parse(&Method::PUT, "/api/v1/pods", &q).is_err());
        assert!(parse(&Method::OPTIONS, "/api/v1/pods/x", &q).is_err());
    }
}
