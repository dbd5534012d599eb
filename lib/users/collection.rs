//! `GET,POST /api/users`: the staff list and new accounts (manager+).
//! Managers see and create cashiers only.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{Auth, ManagerUp, password};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{Json, Page, PageParams, PageRequest};
use crate::state::AppState;
use crate::users::{self, NewUser, User};
use crate::validate::Check;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users, create_user))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    #[schema(example = "kasir1")]
    #[schema(pattern = r"^[\w@.+-]+$", min_length = 1, max_length = 150)]
    pub username: String,
    /// Write-only; 8-128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    /// `owner`, `manager` or `cashier`. Managers may create cashiers only.
    #[schema(example = "cashier")]
    #[schema(value_type = crate::auth::Role)]
    pub role: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 150
    )]
    pub full_name: Option<String>,
    /// A plausible address; absent or `""` for none.
    #[serde(default)]
    #[schema(
        pattern = r"^$|^[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@.\u0000-\u001f\u007f-\u009f]+(\.[^\s@.\u0000-\u001f\u007f-\u009f]+)+$",
        max_length = 254
    )]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^([0-9 +().-]*[0-9][0-9 +().-]*)?$", max_length = 32)]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Staff accounts, oldest first (managers see cashiers only).
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    params(PageParams),
    responses(
        (status = 200, body = Page<User>),
        (status = 400, description = "Bad `limit` or `cursor`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
async fn list_users(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    page: PageRequest,
) -> ApiResult<Json<Page<User>>> {
    let after = page.after::<(DateTime<Utc>, Uuid)>()?;
    let roles = users::manageable_roles(auth.role);
    let rows = users::list(&state.db, &roles, after, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |u| (u.created_at, u.id))))
}

/// Create a staff account.
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = User),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The role is above what the caller may create", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
    )
)]
async fn create_user(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    Json(body): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let mut c = Check::new();
    let username = users::check_username(&mut c, "username", &body.username);
    users::check_password(&mut c, "password", &body.password);
    let role = users::check_role(&mut c, "role", &body.role);
    let full_name = users::check_full_name(&mut c, body.full_name.as_deref().unwrap_or(""));
    let email = users::check_email(&mut c, body.email.as_deref().unwrap_or(""));
    let phone = users::check_phone(&mut c, body.phone.as_deref().unwrap_or(""));
    c.finish()?;
    let role = role.ok_or_else(|| ApiError::field("role", "This field is required."))?;
    let password_hash = password::hash_blocking(body.password).await?;
    let new = NewUser {
        username,
        full_name,
        email,
        phone,
        role,
        is_active: body.is_active.unwrap_or(true),
        password_hash,
    };
    let user = users::create(&state.db, auth.role, &new).await?;
    Ok((StatusCode::CREATED, Json(user)))
}
