//! `GET,PATCH /api/me` and `POST /api/me/password`: any logged-in user's
//! own account. The domain functions here ([`profile`], [`update_profile`],
//! [`change_password`]) are what every API surface calls.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sqlx::{PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::password::{self, Verified};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::Json;
use crate::patch::expected_version;
use crate::state::AppState;
use crate::users::{self, ProfilePatch, User};
use crate::validate::Check;

/// Passwords set before the 128-character rule (imported Django accounts)
/// may be longer; anything past this is no password at all.
const OLD_PASSWORD_MAX: usize = 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(change_password_handler))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    #[schema(min_length = 1, max_length = 1024)]
    pub old_password: String,
    /// 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

// ---- the domain: one's own account ----

/// The account `user_id` (live, active or not): 404 once deleted.
pub async fn profile(db: impl PgExecutor<'_>, user_id: Uuid) -> ApiResult<User> {
    users::find(db, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))
}

/// Edits one's own username, full name, e-mail and phone, checked as the
/// staff edit checks them (400 `validation_failed` naming the field), 409
/// `conflict` for a taken username, 409 `version_mismatch` when
/// `expected_version` is stale, 403 for a deactivated account, 404 once
/// deleted. Runs in a transaction of its own (a savepoint inside one).
pub async fn update_profile(
    conn: &mut PgConnection,
    user_id: Uuid,
    patch: ProfilePatch,
    expected_version: Option<i32>,
) -> ApiResult<User> {
    let mut c = Check::new();
    let changes = patch.check(&mut c);
    c.finish()?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let user = users::update_own(&mut tx, user_id, changes, expected_version).await?;
    tx.commit().await?;
    Ok(user)
}

/// Changes one's own password. A wrong old password is 400
/// `validation_failed` on `old_password` (never 401: clients take 401 for
/// an expired token). No token is revoked: the session that asked keeps
/// working, and so do the account's other sessions; deactivating the
/// account is what ends those. 404 for a deleted or deactivated account.
pub async fn change_password(
    db: &PgPool,
    user_id: Uuid,
    old_password: String,
    new_password: String,
) -> ApiResult<()> {
    let mut c = Check::new();
    if old_password.is_empty() {
        c.add("old_password", "This field may not be blank.");
    } else if old_password.chars().count() > OLD_PASSWORD_MAX {
        c.add(
            "old_password",
            format!("Ensure this field has no more than {OLD_PASSWORD_MAX} characters."),
        );
    }
    users::check_password(&mut c, "new_password", &new_password);
    c.finish()?;

    let Some(stored) = users::password_hash(db, user_id).await? else {
        return Err(ApiError::not_found("User"));
    };
    if password::verify_blocking(old_password, Some(stored)).await? == Verified::No {
        return Err(ApiError::field("old_password", "Wrong password."));
    }
    let hash = password::hash_blocking(new_password).await?;
    users::set_password_hash(db, user_id, &hash).await?;
    Ok(())
}

// ---- HTTP ----

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "users",
    responses(
        (status = 200, body = User),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The account was deleted since the token was issued", body = ErrorBody),
    )
)]
async fn me(auth: Auth<AnyUser>, State(state): State<AppState>) -> ApiResult<Json<User>> {
    Ok(Json(profile(&state.db, auth.user_id).await?))
}

/// Edit the caller's own profile (every role): `username`, `full_name`,
/// `email`, `phone`, each optional, with the staff edit's rules; `""`
/// clears `full_name`, `email` and `phone`. Role, activity and password are
/// not editable here: any other member is 400 `Unknown field`.
/// `If-Match: <version>` (or `version`) makes the edit conditional.
#[utoipa::path(
    patch,
    path = "/api/me",
    tag = "users",
    params(("If-Match" = Option<i32>, Header, minimum = 1, description = "The version being edited")),
    request_body = ProfilePatch,
    responses(
        (status = 200, body = User),
        (status = 400, description = "A bad or unknown field", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The account is deactivated", body = ErrorBody),
        (status = 404, description = "The account was deleted since the token was issued", body = ErrorBody),
        (status = 409, description = "`conflict` (username taken) or `version_mismatch`", body = ErrorBody),
    )
)]
async fn update_me(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(patch): Json<ProfilePatch>,
) -> ApiResult<Json<User>> {
    let expected = expected_version(&headers, patch.version)?;
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        update_profile(&mut conn, auth.user_id, patch, expected).await?,
    ))
}

/// Change the caller's own password. 204.
///
/// A wrong old password is 400 on `old_password`, never 401. No refresh
/// token is revoked, so the caller's session (and any other of the
/// account's) goes on working.
#[utoipa::path(
    post,
    path = "/api/me/password",
    operation_id = "change_password",
    tag = "users",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong old password or a weak new one", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The account was deleted or deactivated", body = ErrorBody),
    )
)]
async fn change_password_handler(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(body): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    change_password(
        &state.db,
        auth.user_id,
        body.old_password,
        body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
