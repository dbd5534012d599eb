//! Authentication: simplejwt-compatible token endpoints, password hashing,
//! login throttling and the role guard every other endpoint uses.

pub mod guard;
pub mod jwt;
pub mod password;
mod role;
pub mod session;
pub mod throttle;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use guard::{AnyUser, Auth, ManagerUp, MinRole, OwnerOnly};
pub use role::{Role, UnknownRole};
use session::TokenPair;

use crate::error::{ApiResult, ErrorBody};
use crate::http::Json;
use crate::state::AppState;
use crate::users::User;
use crate::validate::Check;

/// Longest username or password a login may carry; longer is a 400.
const LOGIN_FIELD_MAX: usize = 1024;
/// Longest token accepted in a body (ours are ~300 bytes).
const TOKEN_MAX: usize = 4096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(verify))
        .routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "owner")]
    #[schema(pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$", max_length = 1024)]
    pub username: String,
    #[schema(example = "kasirgo-demo")]
    #[schema(pattern = r"^[^\u0000]+$", max_length = 1024)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access: String,
    pub refresh: String,
    pub user: User,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 4096)]
    pub refresh: String,
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    #[schema(min_length = 1, max_length = 4096)]
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct Empty {}

fn check_token(field: &str, token: &str) -> ApiResult<()> {
    let mut c = Check::new();
    if token.is_empty() {
        c.add(field, "This field may not be blank.");
    } else if token.len() > TOKEN_MAX {
        c.add(
            field,
            format!("Ensure this field has no more than {TOKEN_MAX} characters."),
        );
    }
    c.finish()
}

/// Log in (simplejwt's `TokenObtainPairView`; also at `/api/token/`).
///
/// Answers an access/refresh pair and the account. After `LOGIN_THROTTLE`
/// failures for one username within 15 minutes, every attempt is 429 until
/// the window passes, even with the right password.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Missing or malformed fields", body = ErrorBody),
        (status = 401, description = "`no_active_account`: wrong credentials or inactive account", body = ErrorBody),
        (status = 429, description = "`throttled`, with Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    Ok(Json(log_in(&state, body).await?))
}

/// Login as every surface answers it (v1, and the app's v0).
pub async fn log_in(state: &AppState, body: LoginRequest) -> ApiResult<LoginResponse> {
    let mut c = Check::new();
    if body.username.trim().is_empty() {
        c.add("username", "This field may not be blank.");
    }
    if body.password.is_empty() {
        c.add("password", "This field may not be blank.");
    }
    for (field, value) in [("username", &body.username), ("password", &body.password)] {
        // Postgres text cannot hold NUL: refused here, not a 500 there.
        if value.contains('\0') {
            c.add(field, "Must not contain NUL characters.");
        }
        if value.chars().count() > LOGIN_FIELD_MAX {
            c.add(
                field,
                format!("Ensure this field has no more than {LOGIN_FIELD_MAX} characters."),
            );
        }
    }
    c.finish()?;
    let (user, pair) = session::login(state, body.username.trim(), body.password).await?;
    Ok(LoginResponse {
        access: pair.access,
        refresh: pair.refresh,
        user,
    })
}

/// Exchange a refresh token for a new pair (also at `/api/token/refresh/`).
///
/// The refresh token rotates: it is blacklisted and a new pair is issued.
/// For `REFRESH_GRACE_SECONDS` (default 60) after that, the same token
/// answers 200 again with **the same pair** (both strings identical), so
/// clients racing one refresh, or retrying one that timed out, all end up
/// holding valid tokens. Later reuse, or any use after a logout, is 401
/// `token_not_valid` (`Token is blacklisted`). Deactivated or deleted
/// accounts cannot refresh.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`token_not_valid` or `no_active_account`", body = ErrorBody),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(refresh_pair(&state, body).await?))
}

/// Refresh as every surface answers it (v1, and the app's v0).
pub async fn refresh_pair(state: &AppState, body: RefreshRequest) -> ApiResult<TokenPair> {
    check_token("refresh", &body.refresh)?;
    session::refresh(state, &body.refresh).await
}

/// Check a token (also at `/api/token/verify/`): 200 `{}` when valid.
#[utoipa::path(
    post,
    path = "/api/auth/verify",
    tag = "auth",
    security(()),
    request_body = VerifyRequest,
    responses(
        (status = 200, body = Empty),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`token_not_valid`", body = ErrorBody),
    )
)]
async fn verify(
    State(state): State<AppState>,
    Json(body): Json<VerifyRequest>,
) -> ApiResult<Json<Empty>> {
    check_token("token", &body.token)?;
    session::verify(&state, &body.token).await?;
    Ok(Json(Empty {}))
}

/// Log out: blacklist the caller's refresh token. 205 with no body.
///
/// It ends the whole login: the token gets no grace window, and the token a
/// rotation of it issued is blacklisted too. A token that `refresh` would
/// refuse is refused here the same way.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 205, description = "Logged out"),
        (status = 400, body = ErrorBody),
        (status = 401, description = "`not_authenticated` or `token_not_valid`", body = ErrorBody),
        (status = 403, description = "The refresh token is another user's", body = ErrorBody),
    )
)]
async fn logout(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<StatusCode> {
    check_token("refresh", &body.refresh)?;
    session::logout(&state, auth.user_id, &body.refresh).await?;
    Ok(StatusCode::RESET_CONTENT)
}
