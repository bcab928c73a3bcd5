//! Service-account tokens: JWTs (ES256) signed by a key made at bootstrap, issued through
//! the `serviceaccounts/token` subresource (TokenRequest) and accepted as bearer tokens,
//! naming the user `system:serviceaccount:NS:NAME`.

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::User;

/// The issuer and default audience of Keelson's tokens, as upstream's default.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Signs and verifies service-account tokens.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    key_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    nbf: i64,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaims,
}

#[derive(Debug, Serialize, Deserialize)]
struct KubernetesClaims {
    namespace: String,
    serviceaccount: ObjectClaim,
}

#[derive(Debug, Serialize, Deserialize)]
struct ObjectClaim {
    name: String,
    uid: String,
}

/// A verified token's service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl ServiceAccountRef {
    pub fn user(&self) -> User {
        User {
            name: format!("system:serviceaccount:{}:{}", self.namespace, self.name),
            uid: self.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", self.namespace),
                "system:authenticated".into(),
            ],
            ..User::default()
        }
    }
}

impl TokenIssuer {
    /// Loads the signing key from `path`, making it on first use.
    pub fn load_or_create(path: &Path) -> anyhow::Result<TokenIssuer> {
        if !path.exists() {
            let key = rcgen::KeyPair::generate()?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            // Servers sharing a CA dir may race to make the key: the first one wins.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let mut file = options
                .open(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            std::io::Write::write_all(&mut file, key.serialize_pem().as_bytes())?;
            file.sync_all()?;
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let key = rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("{} is not a private key", path.display()))?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes())?;
        let decoding = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes())?;
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key_der().as_slice());
        let key_id = digest
            .as_ref()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(TokenIssuer {
            encoding,
            decoding,
            key_id,
        })
    }

    /// A token for a service account, valid for `seconds` from `now` (unix seconds).
    pub fn issue(
        &self,
        account: &ServiceAccountRef,
        audiences: Vec<String>,
        now: i64,
        seconds: i64,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            iss: ISSUER.into(),
            sub: format!(
                "system:serviceaccount:{}:{}",
                account.namespace, account.name
            ),
            aud: if audiences.is_empty() {
                vec![ISSUER.into()]
            } else {
                audiences
            },
            exp: now
                .checked_add(seconds)
                .context("the token's expiry is out of range")?,
            iat: now,
            nbf: now,
            kubernetes: KubernetesClaims {
                namespace: account.namespace.clone(),
                serviceaccount: ObjectClaim {
                    name: account.name.clone(),
                    uid: account.uid.clone(),
                },
            },
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// The service account of a token this issuer signed, if it is valid for the API server
    /// (signature, expiry, not-before, issuer, and the API server's audience).
    pub fn verify(&self, token: &str) -> Option<ServiceAccountRef> {
        self.verify_for(token, &[ISSUER.to_string()])
            .map(|(account, _)| account)
    }

    /// The service account of a token valid for at least one of `audiences`, with the
    /// audiences it is valid for (what a TokenReview answers).
    pub fn verify_for(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Option<(ServiceAccountRef, Vec<String>)> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(audiences);
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        let granted: Vec<String> = audiences
            .iter()
            .filter(|a| data.claims.aud.contains(a))
            .cloned()
            .collect();
        let k = data.claims.kubernetes;
        Some((
            ServiceAccountRef {
                namespace: k.namespace,
                name: k.serviceaccount.name,
                uid: k.serviceaccount.uid,
            },
            granted,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = TokenIssuer::load_or_create(&dir.path().join("sa.key")).unwrap();
        let account = ServiceAccountRef {
            namespace: "default".into(),
            name: "default".into(),
            uid: "u1".into(),
        };
        let now = jiff::Timestamp::now().as_second();
        let token = issuer.issue(&account, vec![], now, 3600).unwrap();
        assert_eq!(issuer.verify(&token), Some(account.clone()));
        assert_eq!(issuer.verify(&format!("{token}x")), None);
        let expired = issuer.issue(&account, vec![], now - 7200, 3600).unwrap();
        assert_eq!(issuer.verify(&expired), None);
        let other_audience = issuer
            .issue(&account, vec!["vault".into()], now, 3600)
            .unwrap();
        assert_eq!(issuer.verify(&other_audience), None);
        assert_eq!(
            issuer.verify_for(&other_audience, &["api".into(), "vault".into()]),
            Some((account.clone(), vec!["vault".to_string()]))
        );
        assert_eq!(issuer.verify_for(&token, &["api".into()]), None);
        // A token not valid yet (issued an hour from now) is refused.
        let early = issuer.issue(&account, vec![], now + 3600, 7200).unwrap();
        assert_eq!(issuer.verify(&early), None);
        assert!(issuer.issue(&account, vec![], now, i64::MAX).is_err());
        // Reloading the key keeps earlier tokens valid.
        let again = TokenIssuer::load_or_create(&dir.path().join("sa.key")).unwrap();
        assert_eq!(again.verify(&token), Some(account));
        let other = TokenIssuer::load_or_create(&dir.path().join("other.key")).unwrap();
        assert_eq!(other.verify(&token), None);
    }
}
