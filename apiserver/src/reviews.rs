//! Reviews: resources that are questions, not objects. A POST answers in the body's
//! `status` and stores nothing: TokenReview (is this token valid, and whose is it),
//! SelfSubjectReview (who am I), and the access reviews (may this user do this).

use serde_json::{json, Value};

use crate::auth::{self, User};
use crate::status::{ApiError, ApiResult};
use crate::ApiServerState;

/// The question a review asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    /// TokenReview: is this token valid, and whose is it.
    Token,
    /// SelfSubjectReview: who am I.
    SelfSubject,
    /// SubjectAccessReview and LocalSubjectAccessReview: may this other user do this.
    SubjectAccess,
    /// SelfSubjectAccessReview: may I do this.
    SelfSubjectAccess,
    /// SelfSubjectRulesReview: what may I do.
    SelfSubjectRules,
}

fn user_info(user: &User) -> Value {
    let mut info = json!({ "username": user.name, "uid": user.uid, "groups": user.groups });
    if !user.extra.is_empty() {
        if let Some(map) = info.as_object_mut() {
            map.insert("extra".into(), json!(user.extra));
        }
    }
    info
}

/// Answers a review posted by `caller`.
pub async fn review(
    state: &ApiServerState,
    caller: &User,
    review: Review,
    group: &str,
    mut body: Value,
) -> ApiResult<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request("a review must be a JSON object"));
    }
    let status = match review {
        Review::Token => {
            let token = body
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .unwrap_or("");
            let requested: Vec<String> = body
                .pointer("/spec/audiences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            // Without audiences the token must be valid for the API server itself.
            let audiences = if requested.is_empty() {
                vec![crate::tokens::ISSUER.to_string()]
            } else {
                requested
            };
            match auth::authenticate_bearer(state, token, &audiences).await {
                Some((user, granted)) => {
                    json!({ "authenticated": true, "user": user_info(&user), "audiences": granted })
                }
                None => json!({
                    "authenticated": false,
                    "user": {},
                    "error": format!("[invalid bearer token, token is not valid for the audiences {audiences:?}]"),
                }),
            }
        }
        Review::SelfSubject => json!({ "userInfo": user_info(caller) }),
        Review::SelfSubjectAccess => access(caller, state.authorization_mode),
        Review::SelfSubjectRules => {
            if auth::authorized(caller, state.authorization_mode) {
                json!({
                    "resourceRules": [{ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] }],
                    "nonResourceRules": [{ "verbs": ["*"], "nonResourceURLs": ["*"] }],
                    "incomplete": false,
                })
            } else {
                json!({ "resourceRules": [], "nonResourceRules": [], "incomplete": false })
            }
        }
        Review::SubjectAccess => {
            let spec = body.get("spec").cloned().unwrap_or(Value::Null);
            let subject = User {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                uid: spec
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                ..User::default()
            };
            if subject.name.is_empty() && subject.groups.is_empty() {
                return Err(ApiError::invalid(
                    "SubjectAccessReview",
                    group,
                    "",
                    vec![crate::status::Cause::required("spec.user")],
                ));
            }
            access(&subject, state.authorization_mode)
        }
    };
    if let Some(map) = body.as_object_mut() {
        map.insert("status".into(), status);
    }
    Ok(body)
}

fn access(user: &User, mode: auth::AuthorizationMode) -> Value {
    if auth::authorized(user, mode) {
        let reason = if user.groups.iter().any(|g| g == "system:masters") {
            "the user is in system:masters"
        } else {
            "--authorization-mode=AlwaysAllow"
        };
        json!({ "allowed": true, "reason": reason })
    } else {
        json!({ "allowed": false, "reason": "only system:masters may act until RBAC is enabled" })
    }
}
