//! `serviceaccounts/{name}/token`: a TokenRequest, decoded as its typed form, validated with
//! upstream's bounds on `expirationSeconds`, and answered with a signed token.

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec, TokenRequestStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::Value;

use crate::registry::{Outcome, Target};
use crate::status::{ApiError, ApiResult, Cause};
use crate::ApiServerState;

/// Upstream's default lifetime of a requested token.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Upstream's bounds: at least ten minutes, at most 2^32 seconds.
const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

fn invalid(name: &str, seconds: i64, detail: &str) -> ApiError {
    ApiError::invalid(
        "TokenRequest",
        "authentication.k8s.io",
        name,
        vec![Cause::invalid("spec.expirationSeconds", seconds, detail)],
    )
}

/// Issues a token for the service account `name` of `target`'s namespace.
pub async fn create(
    state: &ApiServerState,
    target: &Target<'_>,
    name: &str,
    mut body: Value,
) -> ApiResult<Outcome> {
    // The status is the server's to fill; clients send an empty one (kubectl: a null time).
    if let Some(map) = body.as_object_mut() {
        map.shift_remove("status");
    }
    let request: TokenRequest = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {e}"
        ))
    })?;
    let account = state.registry.get(target, name).await?;
    let seconds = request
        .spec
        .expiration_seconds
        .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
    if seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            seconds,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let audiences = if request.spec.audiences.is_empty() {
        vec![crate::tokens::ISSUER.to_string()]
    } else {
        request.spec.audiences.clone()
    };
    let reference = crate::tokens::ServiceAccountRef {
        namespace: target.namespace.unwrap_or("default").to_string(),
        name: name.to_string(),
        uid: account
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let now = jiff::Timestamp::now();
    let expires = now
        .as_second()
        .checked_add(seconds)
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .ok_or_else(|| invalid(name, seconds, "the token would expire past the year 9999"))?;
    let token = state
        .token_issuer
        .issue(&reference, audiences.clone(), now.as_second(), seconds)
        .map_err(|e| ApiError::internal(format!("cannot sign the token: {e}")))?;
    let answer = TokenRequest {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(reference.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: TokenRequestSpec {
            audiences,
            expiration_seconds: Some(seconds),
            bound_object_ref: request.spec.bound_object_ref,
        },
        status: Some(TokenRequestStatus {
            token,
            expiration_timestamp: Time(expires),
        }),
    };
    let object = serde_json::to_value(&answer)
        .map_err(|e| ApiError::internal(format!("cannot encode the TokenRequest: {e}")))?;
    Ok(Outcome {
        code: 201,
        object,
        warnings: vec![],
    })
}
