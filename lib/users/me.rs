//! `GET /api/me` and `POST /api/me/password`: any logged-in user's own
//! account.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::password::{self, Verified};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::Json;
use crate::state::AppState;
use crate::users::{self, User};
use crate::validate::Check;

/// Passwords set before the 128-character rule (imported Django accounts)
/// may be longer; anything past this is no password at all.
const OLD_PASSWORD_MAX: usize = 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    pub old_password: String,
    /// 8-128 characters.
    pub new_password: String,
}

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
    let user = users::find(&state.db, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))?;
    Ok(Json(user))
}

/// Change the caller's own password. 204.
#[utoipa::path(
    post,
    path = "/api/me/password",
    tag = "users",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Wrong old password or a weak new one", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
async fn change_password(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(body): Json<ChangePassword>,
) -> ApiResult<StatusCode> {
    let mut c = Check::new();
    if body.old_password.is_empty() {
        c.add("old_password", "This field may not be blank.");
    } else if body.old_password.chars().count() > OLD_PASSWORD_MAX {
        c.add(
            "old_password",
            format!("Ensure this field has no more than {OLD_PASSWORD_MAX} characters."),
        );
    }
    users::check_password(&mut c, "new_password", &body.new_password);
    c.finish()?;

    let Some(stored) = users::password_hash(&state.db, auth.user_id).await? else {
        return Err(ApiError::not_found("User"));
    };
    if password::verify_blocking(body.old_password, Some(stored)).await? == Verified::No {
        return Err(ApiError::field("old_password", "Wrong password."));
    }
    let hash = password::hash_blocking(body.new_password).await?;
    users::set_password_hash(&state.db, auth.user_id, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
