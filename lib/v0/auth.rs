//! `auth/login/`, `auth/refresh/` and `auth/firebase-token/`. Login and
//! refresh answer exactly as v1 does (simplejwt's top-level `access` and
//! `refresh`, which is what the app reads, outside any envelope).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{TAG, V0ErrorBody};
use crate::auth::session::TokenPair;
use crate::auth::{self, AnyUser, Auth, LoginRequest, LoginResponse, RefreshRequest};
use crate::error::ApiResult;
use crate::http::{Json, json_response};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(firebase_token))
}

/// Log in: `access` and `refresh` (and `user`), as v1.
#[utoipa::path(post, path = "/api/v0/auth/login", tag = TAG, security(()),
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 400, body = V0ErrorBody),
              (status = 401, description = "`No active account found with the given credentials`", body = V0ErrorBody),
              (status = 429, body = V0ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    Ok(Json(auth::log_in(&state, body).await?))
}

/// Refresh: a new pair, as v1 (the app stores `refresh` when present).
#[utoipa::path(post, path = "/api/v0/auth/refresh", tag = TAG, security(()),
    request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 400, body = V0ErrorBody),
              (status = 401, body = V0ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(auth::refresh_pair(&state, body).await?))
}

/// A Firebase custom token for the realtime kitchen trigger: not offered
/// here (501, at once). The app logs it and carries on; the kitchen screen
/// refreshes by hand.
#[utoipa::path(post, path = "/api/v0/auth/firebase-token", tag = TAG,
    responses((status = 501, body = V0ErrorBody), (status = 401, body = V0ErrorBody)))]
async fn firebase_token(_: Auth<AnyUser>, State(_): State<AppState>) -> Response {
    let detail = "Firebase is not available on this server; refresh the kitchen screen by hand.";
    let mut res = json_response(&json!({
        "message": detail, "detail": detail, "code": "not_implemented"
    }));
    *res.status_mut() = StatusCode::NOT_IMPLEMENTED;
    res.into_response()
}
