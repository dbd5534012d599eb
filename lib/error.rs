//! The one error type. Every failure an endpoint can answer with is a variant
//! here, with its status and machine code next to it, rendered as the DRF /
//! simplejwt envelope that KasirGo clients already parse:
//! `{"detail": "...", "code": "...", "fields": {...}}`.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Field name -> messages, as DRF renders serializer errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    /// simplejwt's shape: `messages` lists what was wrong with which token.
    #[error("{detail}")]
    TokenNotValid {
        detail: String,
        messages: Vec<Value>,
    },
    /// simplejwt's 401s with their own code, e.g. `no_active_account` for
    /// a wrong username or password.
    #[error("{detail}")]
    AuthenticationFailed { code: &'static str, detail: String },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Method not allowed.")]
    MethodNotAllowed,
    #[error("Invalid input.")]
    Validation(FieldErrors),
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    VersionMismatch(String),
    /// Extra members are merged into the envelope (e.g. `items` for stock).
    #[error("{detail}")]
    ConflictWith {
        code: &'static str,
        detail: String,
        extra: Map<String, Value>,
    },
    #[error("{0}")]
    UnprocessableIdempotencyKey(String),
    #[error("Request body is too large (limit {limit} bytes).")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Too many attempts. Try again in {retry_after} seconds.")]
    Throttled { retry_after: u64 },
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A payment provider refused or could not be reached; the message is
    /// the provider's own (shown to the cashier).
    #[error("{0}")]
    PaymentProvider(String),
    /// Shown to the client as a bare "server error"; the cause is logged.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            NotAuthenticated | TokenNotValid { .. } | AuthenticationFailed { .. } => {
                StatusCode::UNAUTHORIZED
            }
            PermissionDenied(_) => StatusCode::FORBIDDEN,
            NotFound(_) => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Validation(_) | InvalidJson(_) => StatusCode::BAD_REQUEST,
            Conflict(_) | VersionMismatch(_) | ConflictWith { .. } => StatusCode::CONFLICT,
            UnprocessableIdempotencyKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PaymentProvider(_) => StatusCode::BAD_GATEWAY,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            NotAuthenticated => "not_authenticated",
            TokenNotValid { .. } => "token_not_valid",
            AuthenticationFailed { code, .. } => code,
            PermissionDenied(_) => "permission_denied",
            NotFound(_) => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Validation(_) => "validation_failed",
            InvalidJson(_) => "invalid_json",
            Conflict(_) => "conflict",
            VersionMismatch(_) => "version_mismatch",
            ConflictWith { code, .. } => code,
            UnprocessableIdempotencyKey(_) => "idempotency_key_reused",
            PayloadTooLarge { .. } => "payload_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            Throttled { .. } => "throttled",
            ServiceUnavailable(_) => "service_unavailable",
            PaymentProvider(_) => "payment_provider_error",
            Internal(_) => "server_error",
        }
    }

    /// A validation error on one field.
    pub fn field(name: impl Into<String>, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(name.into(), vec![message.into()]);
        ApiError::Validation(fields)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found."))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn body(&self) -> Value {
        let detail = match self {
            ApiError::Internal(_) => "A server error occurred.".to_string(),
            other => other.to_string(),
        };
        let mut body = json!({ "detail": detail, "code": self.code() });
        let obj = body.as_object_mut().expect("object literal");
        match self {
            ApiError::Validation(fields) => {
                obj.insert("fields".into(), json!(fields));
            }
            ApiError::TokenNotValid { messages, .. } if !messages.is_empty() => {
                obj.insert("messages".into(), Value::Array(messages.clone()));
            }
            ApiError::ConflictWith { extra, .. } => {
                for (k, v) in extra {
                    obj.insert(k.clone(), v.clone());
                }
            }
            _ => {}
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = crate::http::json_response(&self.body());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        match &self {
            ApiError::NotAuthenticated
            | ApiError::TokenNotValid { .. }
            | ApiError::AuthenticationFailed { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            ApiError::Throttled { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // A server restarting or shutting down (57P01-57P03), a broken
        // connection (class 08) or a pool that cannot hand one out: the
        // database is away for now, which a client may retry.
        let away = match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => true,
            sqlx::Error::Database(e) => e
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        };
        if away {
            tracing::error!(error = %err, "database unavailable");
            ApiError::ServiceUnavailable("The database is unavailable. Try again.".into())
        } else {
            ApiError::Internal(format!("database: {err}"))
        }
    }
}

/// The error envelope, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A human sentence.
    pub detail: String,
    /// A machine code, e.g. `validation_failed`, `not_found`, `token_not_valid`.
    pub code: String,
    /// Per-field messages, only on `validation_failed`.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<FieldErrors>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal("password=hunter2 at db.rs:12");
        let body = err.body();
        assert_eq!(body["detail"], "A server error occurred.");
        assert_eq!(body["code"], "server_error");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn validation_errors_carry_fields() {
        let body = ApiError::field("price", "must not be negative").body();
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["fields"]["price"][0], "must not be negative");
    }

    #[test]
    fn throttled_sets_retry_after() {
        let res = ApiError::Throttled { retry_after: 42 }.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "42");
    }
}
