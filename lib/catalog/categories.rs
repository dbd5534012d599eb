//! Categories: how the till groups products. Names are unique among live
//! categories, case-insensitively.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::patch::version_mismatch;
use crate::validate::Check;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    pub id: Uuid,
    /// A stable integer id as well (read-only), for clients that need one.
    #[schema(read_only, example = 42)]
    pub int_id: i64,
    #[schema(example = "Minuman")]
    pub name: String,
    pub description: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCategory {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 100
    )]
    pub name: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub description: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CategoryPatch {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 100
    )]
    pub name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub description: Option<String>,
    /// Alternative to `If-Match`.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

fn map_unique(err: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &err
        && db.constraint() == Some("categories_live_name")
    {
        return ApiError::Conflict("A category with this name already exists.".into());
    }
    err.into()
}

pub async fn create(db: impl PgExecutor<'_>, input: NewCategory) -> ApiResult<Category> {
    let mut c = Check::new();
    let name = c.text("name", &input.name, 1, 100);
    let description = c.text("description", &input.description, 0, 1000);
    c.finish()?;
    sqlx::query_as!(
        Category,
        "INSERT INTO categories (name, description) VALUES ($1, $2)
         RETURNING id, int_id, name, description, version, created_at, updated_at",
        name,
        description
    )
    .fetch_one(db)
    .await
    .map_err(map_unique)
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ApiResult<Category> {
    sqlx::query_as!(
        Category,
        "SELECT id, int_id, name, description, version, created_at, updated_at
         FROM categories WHERE id = $1 AND deleted_at IS NULL",
        id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::not_found("Category"))
}

/// The UUID of the live category with this integer id (404 when there is
/// none or it was deleted).
pub async fn id_for_int(db: impl PgExecutor<'_>, int_id: i64) -> ApiResult<Uuid> {
    sqlx::query_scalar!(
        "SELECT id FROM categories WHERE int_id = $1 AND deleted_at IS NULL",
        int_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::not_found("Category"))
}

/// Every live category, in name order, unpaged.
pub async fn list_all(db: impl PgExecutor<'_>) -> ApiResult<Vec<Category>> {
    Ok(sqlx::query_as!(
        Category,
        "SELECT id, int_id, name, description, version, created_at, updated_at
         FROM categories WHERE deleted_at IS NULL
         ORDER BY name, id"
    )
    .fetch_all(db)
    .await?)
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    patch: CategoryPatch,
    expected_version: Option<i32>,
) -> ApiResult<Category> {
    let mut c = Check::new();
    let name = patch.name.as_deref().map(|n| c.text("name", n, 1, 100));
    let description = patch
        .description
        .as_deref()
        .map(|d| c.text("description", d, 0, 1000));
    c.finish()?;
    let updated = sqlx::query_as!(
        Category,
        "UPDATE categories SET
            name = COALESCE($2, name),
            description = COALESCE($3, description),
            version = version + 1
         WHERE id = $1 AND deleted_at IS NULL AND ($4::int IS NULL OR version = $4)
         RETURNING id, int_id, name, description, version, created_at, updated_at",
        id,
        name,
        description,
        expected_version
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_unique)?;
    match updated {
        Some(category) => Ok(category),
        None => {
            // Tell a missing category from a stale version.
            get(&mut *conn, id).await?;
            Err(version_mismatch("category"))
        }
    }
}

/// Soft delete; its products become uncategorised (and so reach the next
/// catalog sync) in the same transaction.
pub async fn delete(
    conn: &mut PgConnection,
    id: Uuid,
    expected_version: Option<i32>,
) -> ApiResult<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let deleted = sqlx::query_scalar!(
        "UPDATE categories SET deleted_at = now(), version = version + 1
         WHERE id = $1 AND deleted_at IS NULL AND ($2::int IS NULL OR version = $2)
         RETURNING id",
        id,
        expected_version
    )
    .fetch_optional(&mut *tx)
    .await?;
    if deleted.is_none() {
        get(&mut *tx, id).await?;
        return Err(version_mismatch("category"));
    }
    sqlx::query!(
        "UPDATE products SET category_id = NULL WHERE category_id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Name order; `after` is the keyset position (name, id).
pub async fn list(
    db: impl PgExecutor<'_>,
    after: Option<(&str, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Category>> {
    sqlx::query_as!(
        Category,
        "SELECT id, int_id, name, description, version, created_at, updated_at
         FROM categories
         WHERE deleted_at IS NULL AND ($1::text IS NULL OR (name, id) > ($1, $2::uuid))
         ORDER BY name, id
         LIMIT $3",
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit
    )
    .fetch_all(db)
    .await
}

pub mod http {
    //! `/api/categories` and `/api/categories/{id}`: read by any user,
    //! written by managers and owners.

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use utoipa_axum::{router::OpenApiRouter, routes};

    use super::*;
    use crate::auth::{AnyUser, Auth, ManagerUp};
    use crate::error::ErrorBody;
    use crate::http::{IdPath, Json, Page, PageParams, PageRequest};
    use crate::patch::expected_version;
    use crate::state::AppState;

    pub fn collection() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(list_categories, create_category))
    }

    pub fn item() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(get_category, patch_category, delete_category))
    }

    /// Live categories in name order.
    #[utoipa::path(get, path = "/api/categories", tag = "catalog", params(PageParams),
        responses((status = 200, body = Page<Category>), (status = 400, body = ErrorBody),
                  (status = 401, body = ErrorBody)))]
    async fn list_categories(
        _: Auth<AnyUser>,
        State(state): State<AppState>,
        page: PageRequest,
    ) -> ApiResult<Json<Page<Category>>> {
        let after: Option<(String, Uuid)> = page.after()?;
        let rows = list(
            &state.db,
            after.as_ref().map(|(n, id)| (n.as_str(), *id)),
            page.fetch_limit(),
        )
        .await?;
        Ok(Json(page.page(rows, |c| (c.name.clone(), c.id))))
    }

    /// Create a category (manager+).
    #[utoipa::path(post, path = "/api/categories", tag = "catalog", request_body = NewCategory,
        responses((status = 201, body = Category), (status = 400, body = ErrorBody),
                  (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
    async fn create_category(
        _: Auth<ManagerUp>,
        State(state): State<AppState>,
        Json(input): Json<NewCategory>,
    ) -> ApiResult<(StatusCode, Json<Category>)> {
        Ok((StatusCode::CREATED, Json(create(&state.db, input).await?)))
    }

    /// One category.
    #[utoipa::path(get, path = "/api/categories/{id}", tag = "catalog",
        params(("id" = Uuid, Path)),
        responses((status = 200, body = Category), (status = 404, body = ErrorBody)))]
    async fn get_category(
        _: Auth<AnyUser>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
    ) -> ApiResult<Json<Category>> {
        Ok(Json(get(&state.db, id).await?))
    }

    /// Change a category (manager+). `If-Match: <version>` guards against
    /// overwriting someone else's change (409 `version_mismatch`).
    #[utoipa::path(patch, path = "/api/categories/{id}", tag = "catalog",
        params(("id" = Uuid, Path), ("If-Match" = Option<i32>, Header, minimum = 1)),
        request_body = CategoryPatch,
        responses((status = 403, body = ErrorBody), (status = 200, body = Category), (status = 400, body = ErrorBody),
                  (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
    async fn patch_category(
        _: Auth<ManagerUp>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
        headers: HeaderMap,
        Json(patch): Json<CategoryPatch>,
    ) -> ApiResult<Json<Category>> {
        let expected = expected_version(&headers, patch.version)?;
        let mut conn = state.db.acquire().await?;
        Ok(Json(update(&mut conn, id, patch, expected).await?))
    }

    /// Delete a category (manager+); its products become uncategorised.
    #[utoipa::path(delete, path = "/api/categories/{id}", tag = "catalog",
        params(("id" = Uuid, Path), ("If-Match" = Option<i32>, Header, minimum = 1)),
        responses((status = 403, body = ErrorBody), (status = 204), (status = 404, body = ErrorBody),
                  (status = 409, body = ErrorBody)))]
    async fn delete_category(
        _: Auth<ManagerUp>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
        headers: HeaderMap,
    ) -> ApiResult<StatusCode> {
        let expected = expected_version(&headers, None)?;
        let mut conn = state.db.acquire().await?;
        delete(&mut conn, id, expected).await?;
        Ok(StatusCode::NO_CONTENT)
    }
}
