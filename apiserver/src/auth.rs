//! Who is asking, and may they: authentication (x509 client certificates, bearer tokens
//! from a token file, anonymous) and authorization (`system:masters` may do anything; other
//! users only under `--authorization-mode=AlwaysAllow` until RBAC arrives).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};

/// An authenticated (or anonymous) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn anonymous() -> User {
        User {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
    /// The identity of in-process clients (controllers, tests through the tower service).
    pub fn loopback() -> User {
        User {
            name: "system:apiserver".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
    pub fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }
    fn authenticated(name: String, uid: String, mut groups: Vec<String>) -> User {
        groups.push("system:authenticated".into());
        User { name, uid, groups }
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
