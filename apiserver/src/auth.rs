//! Who is asking, and may they: authentication (x509 client certificates, bearer tokens
//! from a token file or service-account tokens, anonymous), impersonation (`Impersonate-*`
//! headers, allowed to whoever may `impersonate`), and authorization (`system:masters` may
//! do anything; other users only under `--authorization-mode=AlwaysAllow` until RBAC
//! arrives).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{bail, Context};
use http::{header, HeaderMap};
use serde_json::Value;

use crate::registry::Target;
use crate::status::{ApiError, ApiResult};
use crate::ApiServerState;

/// An authenticated (or anonymous) user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Extra attributes (`user.extra`), as impersonation may set them.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    pub fn anonymous() -> User {
        User {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
            ..User::default()
        }
    }
    /// The identity of in-process clients (controllers, tests through the tower service).
    pub fn loopback() -> User {
        User {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            ..User::default()
        }
    }
    pub fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }
    fn authenticated(name: String, uid: String, mut groups: Vec<String>) -> User {
        groups.push("system:authenticated".into());
        User {
            name,
            uid,
            groups,
            extra: BTreeMap::new(),
        }
    }
    /// The user a verified client certificate names: CN is the user, O the groups.
    pub fn from_certificate(der: &[u8]) -> Option<User> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject();
        let name = subject
            .iter_common_name()
            .next()?
            .as_str()
            .ok()?
            .to_string();
        let groups = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(str::to_string))
            .collect();
        Some(User::authenticated(name, String::new(), groups))
    }
}

/// The user of a request: its bearer token's, else its client certificate's, else anonymous.
pub async fn authenticate(
    state: &ApiServerState,
    tls_user: Option<User>,
    headers: &HeaderMap,
) -> ApiResult<User> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(tls_user.unwrap_or_else(User::anonymous));
    };
    let token = auth.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    authenticate_bearer(state, token, &[crate::tokens::ISSUER.to_string()])
        .await
        .map(|(user, _)| user)
        .ok_or_else(ApiError::unauthorized)
}

/// The user of a bearer token valid for one of `audiences`, with the audiences it is valid
/// for: a token from `--token-auth-file` (valid for any audience), or a service-account
/// token, which holds only while its account exists with the same uid.
pub async fn authenticate_bearer(
    state: &ApiServerState,
    token: &str,
    audiences: &[String],
) -> Option<(User, Vec<String>)> {
    if let Some(user) = state.tokens.user(token) {
        return Some((user.clone(), audiences.to_vec()));
    }
    let (account, granted) = state.token_issuer.verify_for(token, audiences)?;
    let target = Target::builtin("", "v1", "serviceaccounts", Some(&account.namespace))?;
    let current = state.registry.get(&target, &account.name).await.ok()?;
    (current.pointer("/metadata/uid").and_then(Value::as_str) == Some(account.uid.as_str()))
        .then(|| (account.user(), granted))
}

const IMPERSONATE_USER: &str = "impersonate-user";
const IMPERSONATE_UID: &str = "impersonate-uid";
const IMPERSONATE_GROUP: &str = "impersonate-group";
const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

/// The user a request acts as: `user` itself, or the user its `Impersonate-*` headers name
/// when `user` may impersonate each part of it (403 otherwise, as upstream words it).
pub fn impersonate(state: &ApiServerState, user: User, headers: &HeaderMap) -> ApiResult<User> {
    let values = |name: &str| -> ApiResult<Vec<String>> {
        headers
            .get_all(name)
            .iter()
            .map(|v| {
                v.to_str().map(str::to_string).map_err(|_| {
                    ApiError::bad_request(format!("the {name} header is not valid text"))
                })
            })
            .collect()
    };
    let names = values(IMPERSONATE_USER)?;
    let uids = values(IMPERSONATE_UID)?;
    let groups = values(IMPERSONATE_GROUP)?;
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in headers.keys() {
        if let Some(key) = name.as_str().strip_prefix(IMPERSONATE_EXTRA_PREFIX) {
            let key = form_urlencoded::parse(format!("k={key}").as_bytes())
                .next()
                .map(|(_, k)| k.into_owned())
                .unwrap_or_default();
            extra.insert(key, values(name.as_str())?);
        }
    }
    let Some(name) = names.first() else {
        if uids.is_empty() && groups.is_empty() && extra.is_empty() {
            return Ok(user);
        }
        return Err(ApiError::bad_request(
            "requested impersonation of groups, a uid or extra attributes without impersonating a user",
        ));
    };
    if names.len() > 1 || uids.len() > 1 {
        return Err(ApiError::bad_request(
            "only one user and one uid may be impersonated",
        ));
    }
    let allowed = authorized(&user, state.authorization_mode);
    let refuse = |resource: &str, group: &str, object: &str| {
        ApiError::forbidden(format!(
            "{resource}{} \"{object}\" is forbidden: User \"{}\" cannot impersonate resource \"{resource}\" in API group \"{group}\" at the cluster scope",
            if group.is_empty() { String::new() } else { format!(".{group}") },
            user.name
        ))
    };
    if !allowed {
        return Err(match name.strip_prefix("system:serviceaccount:") {
            Some(account) => ApiError::forbidden(format!(
                "serviceaccounts \"{}\" is forbidden: User \"{}\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"{}\"",
                account.split_once(':').map_or(account, |(_, n)| n),
                user.name,
                account.split_once(':').map_or("", |(ns, _)| ns),
            )),
            None => refuse("users", "", name),
        });
    }
    let mut impersonated = User {
        name: name.clone(),
        uid: uids.first().cloned().unwrap_or_default(),
        groups,
        extra,
    };
    if let Some((namespace, _)) = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        for group in [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
        ] {
            if !impersonated.groups.contains(&group) {
                impersonated.groups.push(group);
            }
        }
    }
    let unauthenticated = impersonated
        .groups
        .iter()
        .any(|g| g == "system:authenticated" || g == "system:unauthenticated");
    if !impersonated.is_anonymous() && !unauthenticated {
        impersonated.groups.push("system:authenticated".into());
    }
    Ok(impersonated)
}

/// Bearer tokens from a `--token-auth-file`: CSV lines `token,user,uid[,"group1,group2"]`.
#[derive(Default, Clone)]
pub struct TokenFile {
    tokens: HashMap<String, User>,
}

impl TokenFile {
    pub fn load(path: &Path) -> anyhow::Result<TokenFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the token file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<TokenFile> {
        let mut tokens = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            let [token, name, uid, rest @ ..] = fields.as_slice() else {
                bail!("line {}: expected token,user,uid[,groups]", n + 1);
            };
            let groups = rest
                .first()
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = User::authenticated(name.clone(), uid.clone(), groups);
            tokens.insert(token.clone(), user);
        }
        Ok(TokenFile { tokens })
    }

    pub fn user(&self, token: &str) -> Option<&User> {
        self.tokens.get(token)
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `--authorization-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthorizationMode {
    /// Only `system:masters` may act (until RBAC is built).
    #[default]
    MastersOnly,
    /// Every authenticated user may do anything.
    AlwaysAllow,
}

/// Paths anyone may read without credentials.
pub fn is_public_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// What every authenticated user may do, as upstream's default `system:discovery` and
/// `system:basic-user` roles allow: read discovery and OpenAPI, and ask about itself.
pub fn allowed_to_every_user(method: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let document = path == "/api"
        || path == "/apis"
        || path.starts_with("/openapi/")
        || path
            .strip_prefix("/api/")
            .is_some_and(|rest| !rest.contains('/'))
        || path
            .strip_prefix("/apis/")
            .is_some_and(|rest| rest.split('/').count() <= 2);
    let self_review = [
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    ]
    .contains(&path);
    (method == "GET" && document) || (method == "POST" && self_review)
}

pub fn authorized(user: &User, mode: AuthorizationMode) -> bool {
    user.groups.iter().any(|g| g == "system:masters")
        || (mode == AuthorizationMode::AlwaysAllow && !user.is_anonymous())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_lines() {
        let file = TokenFile::parse("# comment\nabc,alice,1,\"dev,ops\"\nxyz,bob,2\n").unwrap();
        let alice = file.user("abc").unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["dev", "ops", "system:authenticated"]);
        assert_eq!(
            file.user("xyz").unwrap().groups,
            vec!["system:authenticated"]
        );
        assert!(file.user("nope").is_none());
        assert!(TokenFile::parse("onlytoken\n").is_err());
    }

    #[test]
    fn every_user_may_discover_and_ask_about_itself() {
        assert!(allowed_to_every_user("GET", "/apis/apps/v1"));
        assert!(allowed_to_every_user("GET", "/api/v1"));
        assert!(allowed_to_every_user("GET", "/openapi/v3/apis/apps/v1"));
        assert!(allowed_to_every_user(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ));
        assert!(!allowed_to_every_user("GET", "/api/v1/pods"));
        assert!(!allowed_to_every_user("GET", "/apis/apps/v1/deployments"));
        assert!(!allowed_to_every_user(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews"
        ));
    }

    #[test]
    fn authorization() {
        let dev = User::authenticated("dev".into(), String::new(), vec![]);
        assert!(!authorized(&dev, AuthorizationMode::MastersOnly));
        assert!(authorized(&dev, AuthorizationMode::AlwaysAllow));
        assert!(!authorized(
            &User::anonymous(),
            AuthorizationMode::AlwaysAllow
        ));
        assert!(authorized(
            &User::loopback(),
            AuthorizationMode::MastersOnly
        ));
    }
}
