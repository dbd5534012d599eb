//! `user/{user_id}/` and `user/{user_id}/change-password/`: the caller's
//! own profile, for every role. The id is the JWT's `user_id` (our UUID,
//! a string, which is what the app reads from the token).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Envelope, EnvelopeBody, TAG, V0ErrorBody};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult};
use crate::http::Json;
use crate::state::AppState;
use crate::users::me;
use crate::users::{ProfilePatch, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_profile, edit_profile))
        .routes(routes!(change_password))
}

/// The profile as the app reads it. `full_name` is split at its first
/// space into `first_name` and `last_name`, and joined again on PATCH.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppProfile {
    pub id: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    /// `owner`, `manager` or `cashier` (shown, never acted on).
    pub role: String,
    /// Always null: it only keys the Firebase kitchen channel, which is
    /// not offered here (a non-null id makes the app warn on every sale).
    pub cafe_id: Option<i64>,
}

fn app_profile(user: User) -> AppProfile {
    let (first, last) = match user.full_name.trim().split_once(' ') {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (user.full_name.trim().to_string(), String::new()),
    };
    AppProfile {
        id: user.id.to_string(),
        username: user.username,
        first_name: first,
        last_name: last,
        email: user.email,
        phone: user.phone,
        role: user.role.as_str().to_string(),
        cafe_id: None,
    }
}

/// Only the caller's own profile: another id is 403 (never 401, which
/// the app would take for an expired token).
fn own(auth: &Auth<AnyUser>, user_id: &str) -> ApiResult<Uuid> {
    match Uuid::try_parse(user_id) {
        Ok(id) if id == auth.user_id => Ok(id),
        _ => Err(ApiError::PermissionDenied(
            "You can see and change only your own profile.".into(),
        )),
    }
}

/// The caller's own profile.
#[utoipa::path(get, path = "/api/v0/user/{user_id}", tag = TAG, params(("user_id" = String, Path)),
    responses((status = 200, body = EnvelopeBody, description = "`data`: the profile"),
              (status = 401, body = V0ErrorBody), (status = 403, body = V0ErrorBody)))]
async fn get_profile(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> ApiResult<Envelope<AppProfile>> {
    let id = own(&auth, &user_id)?;
    Ok(Envelope::ok(
        "Profile",
        app_profile(me::profile(&state.db, id).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppProfilePatch {
    #[schema(pattern = r"^[\w@.+-]+$", min_length = 1, max_length = 150)]
    pub username: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 150
    )]
    pub first_name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 150
    )]
    pub last_name: Option<String>,
    #[schema(
        pattern = r"^$|^[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@.\u0000-\u001f\u007f-\u009f]+(\.[^\s@.\u0000-\u001f\u007f-\u009f]+)+$",
        max_length = 254
    )]
    pub email: Option<String>,
    #[schema(pattern = r"^([0-9 +().-]*[0-9][0-9 +().-]*)?$", max_length = 32)]
    pub phone: Option<String>,
}

/// Edit the caller's own profile (every role).
#[utoipa::path(patch, path = "/api/v0/user/{user_id}", tag = TAG, params(("user_id" = String, Path)),
    request_body = AppProfilePatch,
    responses((status = 200, body = EnvelopeBody, description = "`data`: the profile"),
              (status = 400, body = V0ErrorBody), (status = 403, body = V0ErrorBody),
              (status = 409, description = "Username taken", body = V0ErrorBody)))]
async fn edit_profile(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Json(body): Json<AppProfilePatch>,
) -> ApiResult<Envelope<AppProfile>> {
    let id = own(&auth, &user_id)?;
    let full_name = match (&body.first_name, &body.last_name) {
        (None, None) => None,
        (first, last) => Some(
            [first.as_deref(), last.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    let patch = ProfilePatch {
        username: body.username.map(|u| u.trim().to_string()),
        full_name,
        email: body.email.map(|e| e.trim().to_string()),
        phone: body.phone.map(|p| p.trim().to_string()),
        version: None,
    };
    let mut conn = state.db.acquire().await?;
    let user = me::update_profile(&mut conn, id, patch, None).await?;
    Ok(Envelope::ok("Profile updated", app_profile(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppPasswordChange {
    #[schema(min_length = 1, max_length = 1024)]
    pub old_password: String,
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// Change the caller's own password. A wrong old password is 400 (not
/// 401); the session carries on.
#[utoipa::path(post, path = "/api/v0/user/{user_id}/change-password", tag = TAG,
    params(("user_id" = String, Path)), request_body = AppPasswordChange,
    responses((status = 200, body = EnvelopeBody), (status = 400, body = V0ErrorBody),
              (status = 403, body = V0ErrorBody)))]
async fn change_password(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Json(body): Json<AppPasswordChange>,
) -> ApiResult<Envelope<()>> {
    let id = own(&auth, &user_id)?;
    me::change_password(&state.db, id, body.old_password, body.new_password).await?;
    Ok(Envelope::ok("Password changed", ()))
}
