//! `GET,PATCH,DELETE /api/users/{id}` (manager+; managers reach cashiers
//! only). The last active owner cannot be demoted, deactivated or deleted.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Auth, ManagerUp, password};
use crate::error::{ApiResult, ErrorBody};
use crate::http::{IdPath, Json};
use crate::patch::expected_version;
use crate::state::AppState;
use crate::users::{self, Changes, ProfilePatch, User};
use crate::validate::Check;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_user, update_user, delete_user))
}

/// Fields to change; absent ones stay. Other members are ignored.
#[derive(Deserialize, ToSchema, Default)]
pub struct UpdateUser {
    #[schema(pattern = r"^[\w@.+-]+$", min_length = 1, max_length = 150)]
    pub username: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 150
    )]
    pub full_name: Option<String>,
    /// A plausible address, or `""` for none.
    #[schema(
        pattern = r"^$|^[^\s@\u0000-\u001f\u007f-\u009f]+@[^\s@.\u0000-\u001f\u007f-\u009f]+(\.[^\s@.\u0000-\u001f\u007f-\u009f]+)+$",
        max_length = 254
    )]
    pub email: Option<String>,
    #[schema(pattern = r"^([0-9 +().-]*[0-9][0-9 +().-]*)?$", max_length = 32)]
    pub phone: Option<String>,
    #[schema(value_type = Option<crate::auth::Role>)]
    pub role: Option<String>,
    pub is_active: Option<bool>,
    /// Sets a new password (write-only; 8-128 characters).
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// The version being edited, as an alternative to `If-Match`.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

/// One staff account.
#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = User),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
async fn get_user(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<User>> {
    Ok(Json(users::get(&state.db, auth.role, id).await?))
}

/// Edit a staff account. `If-Match: <version>` (or `version` in the body)
/// makes the edit conditional: 409 `version_mismatch` when stale.
#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "users",
    params(
        ("id" = uuid::Uuid, Path, description = "User id"),
        ("If-Match" = Option<i32>, Header, minimum = 1, description = "The version being edited"),
    ),
    request_body = UpdateUser,
    responses(
        (status = 200, body = User),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`conflict` (username taken, last owner) or `version_mismatch`", body = ErrorBody),
    )
)]
async fn update_user(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    headers: HeaderMap,
    Json(body): Json<UpdateUser>,
) -> ApiResult<Json<User>> {
    let expected = expected_version(&headers, body.version)?;
    let mut c = Check::new();
    let profile = ProfilePatch {
        username: body.username,
        full_name: body.full_name,
        email: body.email,
        phone: body.phone,
        version: None,
    };
    let mut changes = Changes {
        role: body
            .role
            .as_deref()
            .and_then(|v| users::check_role(&mut c, "role", v)),
        is_active: body.is_active,
        ..profile.check(&mut c)
    };
    if let Some(p) = &body.password {
        users::check_password(&mut c, "password", p);
    }
    c.finish()?;
    if let Some(p) = body.password {
        changes.password_hash = Some(password::hash_blocking(p).await?);
    }
    let mut tx = state.db.begin().await?;
    let user = users::update(&mut tx, auth.role, id, changes, expected).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Delete a staff account (soft: it stays on old sales). 204.
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    tag = "users",
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The last active owner", body = ErrorBody),
    )
)]
async fn delete_user(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    users::delete(&mut tx, auth.role, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
