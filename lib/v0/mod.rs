//! `/api/v0`: the KasirGo Flutter app's own surface, in the Django
//! backend's wire format (`../shared/APP-V0.md`). Only an adapter: every
//! handler translates the app's request into the same domain call a v1
//! handler makes (checkout, catalog, auth, search) and the answer back.
//!
//! What the adapter owns:
//! - the envelope: every 2xx body is `{"message", "data"}`; every error
//!   body also carries `message` (the app shows `message ?? detail`);
//! - integer ids: categories, products and sales by their `int_id`;
//! - money out as decimal strings, money in as JSON numbers (see [`money`]);
//! - Django's singular paths with trailing slashes.

pub mod auth;
pub mod catalog;
pub mod form;
pub mod money;
pub mod payments;
pub mod sales;
pub mod users;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The OpenAPI tag of every v0 operation.
pub const TAG: &str = "v0 (KasirGo app)";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(catalog::router())
        .merge(sales::router())
        .merge(payments::router())
        .layer(axum::middleware::map_response(with_message))
}

/// A 2xx answer in the app's envelope.
pub struct Envelope<T> {
    pub status: StatusCode,
    pub message: &'static str,
    pub data: T,
    /// A QRIS or VA checkout's `payment`, beside `data` (its presence opens
    /// the app's QR screen, so a cash sale has none).
    pub payment: Option<Value>,
}

impl<T: Serialize> Envelope<T> {
    pub fn ok(message: &'static str, data: T) -> Envelope<T> {
        Envelope {
            status: StatusCode::OK,
            message,
            data,
            payment: None,
        }
    }

    pub fn created(message: &'static str, data: T) -> Envelope<T> {
        Envelope {
            status: StatusCode::CREATED,
            message,
            data,
            payment: None,
        }
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.message,
            "data": self.data,
        });
        if let Some(payment) = self.payment {
            body["payment"] = payment;
        }
        let mut res = crate::http::json_response(&body);
        *res.status_mut() = self.status;
        res
    }
}

/// The envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct EnvelopeBody {
    pub message: String,
    /// Each operation says what it carries: an object, a list, or `null`.
    #[schema(value_type = Value)]
    pub data: Value,
}

/// The error body of every v0 call: v1's envelope plus `message`, the
/// sentence the app shows (with the field messages spelt out, since the
/// app reads no `fields`).
#[derive(Serialize, ToSchema)]
pub struct V0ErrorBody {
    pub message: String,
    pub detail: String,
    pub code: String,
}

/// Adds `message` to every error body: the domain's errors, and those of
/// the extractors (a bad token, a malformed body) alike.
async fn with_message(res: Response) -> Response {
    if res.status().is_success() || !is_json(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return crate::error::ApiError::internal("unreadable error body").into_response();
    };
    let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if !obj.contains_key("message") {
        let detail = obj
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("Something went wrong.")
            .to_string();
        let message = match obj.get("fields").and_then(Value::as_object) {
            Some(fields) if !fields.is_empty() => {
                let each: Vec<String> = fields
                    .iter()
                    .map(|(field, msgs)| {
                        let text: Vec<&str> = msgs
                            .as_array()
                            .map(|m| m.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        format!("{field}: {}", text.join(" "))
                    })
                    .collect();
                each.join("; ")
            }
            _ => detail,
        };
        obj.insert("message".into(), Value::String(message));
    }
    let body = serde_json::to_vec(&obj).expect("a JSON object serialises");
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}
