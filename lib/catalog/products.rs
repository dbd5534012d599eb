//! Products: what the shop sells. Prices and costs are exact money; stock is
//! changed only through the stock ledger: by sales, refunds, `/api/stock`,
//! and a product edit's `stock`, which is written there as a count.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::patch::{nullable, version_mismatch};
use crate::validate::Check;

/// Upper bound on stock and quantities: far above any shop, far below i32.
pub const MAX_UNITS: i32 = 1_000_000;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    /// A stable integer id as well (read-only), for clients that need one.
    #[schema(read_only, example = 42)]
    pub int_id: i64,
    /// Unique among live products (case-insensitive) when set.
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub name: String,
    pub description: String,
    pub category_id: Option<Uuid>,
    pub price: Money,
    pub cost: Money,
    /// Changed by sales, refunds, `/api/stock`, and a PATCH's `stock` (a
    /// count); every change is in the stock ledger.
    pub stock: i32,
    pub low_stock_threshold: i32,
    pub is_active: bool,
    /// Made to order: a paid sale with such a line goes to the kitchen.
    pub needs_preparation: bool,
    pub image_public_id: Option<String>,
    /// With `image_public_id`, its Cloudinary delivery URL with automatic
    /// format and quality; without, the absolute URL an imported product
    /// kept (until an image is uploaded or removed); else null.
    pub image_url: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Fills `image_url`: from the image's public id when there is one
    /// (null if Cloudinary is not configured), else the kept URL the row
    /// was read with.
    pub fn with_image_url(mut self, cloud_name: Option<&str>) -> Product {
        if let Some(id) = &self.image_public_id {
            self.image_url = cloud_name.map(|cloud| crate::cloudinary::delivery_url(cloud, id));
        }
        self
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProduct {
    pub sku: Option<String>,
    pub barcode: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 2000
    )]
    pub description: String,
    pub category_id: Option<Uuid>,
    pub price: Money,
    pub cost: Option<Money>,
    /// Opening stock, written to the ledger as the opening count.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: i32,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub low_stock_threshold: i32,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Default false.
    #[serde(default)]
    pub needs_preparation: bool,
    pub image_public_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// Send only what changes; `null` clears `sku`, `barcode`, `category_id`
/// and `image_public_id`. Setting or clearing `image_public_id` also drops
/// an imported product's kept image URL.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProductPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub barcode: Option<Option<String>>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 2000
    )]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Option<Option<Uuid>>,
    pub price: Option<Money>,
    pub cost: Option<Money>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub low_stock_threshold: Option<i32>,
    pub is_active: Option<bool>,
    pub needs_preparation: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub image_public_id: Option<Option<String>>,
    /// Alternative to `If-Match`.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
    /// The stock counted on the shelf (0..=1000000). When it differs from
    /// the stock at the moment of the change, it is written to the stock
    /// ledger as a `count` (as `POST /api/stock {counted}` would), in the
    /// same transaction as the rest of the edit; the same value writes
    /// nothing.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: Option<i32>,
}

/// The ledger reason of a count made through a product edit.
pub const EDIT_COUNT_REASON: &str = "Counted on the product edit form";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// Case-insensitive substring of the name, SKU or barcode (at most 100
    /// characters).
    #[param(pattern = r"^[^\u0000]*$", max_length = 100)]
    pub q: Option<String>,
    pub category_id: Option<Uuid>,
    #[param(value_type = Option<String>, pattern = r"^\d{1,12}(\.\d{1,2})?$")]
    pub min_price: Option<Money>,
    #[param(value_type = Option<String>, pattern = r"^\d{1,12}(\.\d{1,2})?$")]
    pub max_price: Option<Money>,
    /// `true`: only products with stock above zero.
    pub in_stock: Option<bool>,
    /// `true`: only products at or below their low-stock threshold.
    pub low_stock: Option<bool>,
    pub is_active: Option<bool>,
}

/// Trimmed, checked product fields shared by create and update.
fn check_code(c: &mut Check, field: &str, value: Option<&str>) -> Option<String> {
    c.optional_text(field, value, 64)
}

fn check_image_id(c: &mut Check, value: Option<&str>) -> Option<String> {
    let id = c.optional_text("image_public_id", value, 255)?;
    if !id
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "-_/.".contains(ch))
        || id.starts_with('/')
        || id.contains("..")
    {
        c.add(
            "image_public_id",
            "Must be a Cloudinary public id (letters, digits, - _ / .).",
        );
    }
    Some(id)
}

/// A live category, or a 400 naming the field.
async fn check_category(conn: &mut PgConnection, id: Option<Uuid>) -> ApiResult<()> {
    let Some(id) = id else { return Ok(()) };
    // KEY SHARE: a concurrent category delete waits for this sale of
    // "uncategorised" until we commit.
    let live = sqlx::query_scalar!(
        "SELECT id FROM categories WHERE id = $1 AND deleted_at IS NULL FOR KEY SHARE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match live {
        Some(_) => Ok(()),
        None => Err(ApiError::field("category_id", "Unknown category.")),
    }
}

fn map_unique(err: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &err
        && db.constraint() == Some("products_live_sku")
    {
        return ApiError::Conflict("A product with this SKU already exists.".into());
    }
    err.into()
}

pub async fn create(
    conn: &mut PgConnection,
    input: NewProduct,
    user_id: Uuid,
) -> ApiResult<Product> {
    let mut c = Check::new();
    let name = c.text("name", &input.name, 1, 200);
    let description = c.text("description", &input.description, 0, 2000);
    let sku = check_code(&mut c, "sku", input.sku.as_deref());
    let barcode = check_code(&mut c, "barcode", input.barcode.as_deref());
    let image = check_image_id(&mut c, input.image_public_id.as_deref());
    c.range("stock", input.stock, 0, MAX_UNITS);
    c.range(
        "low_stock_threshold",
        input.low_stock_threshold,
        0,
        MAX_UNITS,
    );
    c.finish()?;

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    check_category(&mut tx, input.category_id).await?;
    let product = sqlx::query_as!(
        Product,
        r#"INSERT INTO products (sku, barcode, name, description, category_id, price, cost,
                                stock, low_stock_threshold, is_active, needs_preparation,
                                image_public_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           RETURNING id, int_id, sku, barcode, name, description, category_id,
                     price AS "price: Money", cost AS "cost: Money", stock,
                     low_stock_threshold, is_active, needs_preparation, image_public_id,
                     image_url, version, created_at, updated_at"#,
        sku,
        barcode,
        name,
        description,
        input.category_id,
        input.price as Money,
        input.cost.unwrap_or(Money::ZERO) as Money,
        input.stock,
        input.low_stock_threshold,
        input.is_active,
        input.needs_preparation,
        image,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(map_unique)?;
    if input.stock > 0 {
        crate::stock::append(
            &mut *tx,
            crate::stock::Entry {
                product_id: product.id,
                kind: crate::stock::Kind::Opening,
                delta: input.stock,
                stock_after: input.stock,
                reason: "opening stock",
                user_id: Some(user_id),
                sale_id: None,
                refund_id: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(product)
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ApiResult<Product> {
    sqlx::query_as!(
        Product,
        r#"SELECT id, int_id, sku, barcode, name, description, category_id,
                  price AS "price: Money", cost AS "cost: Money", stock,
                  low_stock_threshold, is_active, needs_preparation, image_public_id,
                  image_url, version, created_at, updated_at
           FROM products WHERE id = $1 AND deleted_at IS NULL"#,
        id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::not_found("Product"))
}

/// The UUID of the live product with this integer id (404 when there is
/// none or it was deleted).
pub async fn id_for_int(db: impl PgExecutor<'_>, int_id: i64) -> ApiResult<Uuid> {
    sqlx::query_scalar!(
        "SELECT id FROM products WHERE int_id = $1 AND deleted_at IS NULL",
        int_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::not_found("Product"))
}

/// Every live product (active or not), in name order, unpaged. Call
/// [`Product::with_image_url`] on each before showing it.
pub async fn list_all(db: impl PgExecutor<'_>) -> ApiResult<Vec<Product>> {
    Ok(sqlx::query_as!(
        Product,
        r#"SELECT id, int_id, sku, barcode, name, description, category_id,
                  price AS "price: Money", cost AS "cost: Money", stock,
                  low_stock_threshold, is_active, needs_preparation, image_public_id,
                  image_url, version, created_at, updated_at
           FROM products WHERE deleted_at IS NULL
           ORDER BY name, id"#
    )
    .fetch_all(db)
    .await?)
}

/// What an update did to the product's image, so the caller can destroy
/// the old asset once the change is committed.
pub struct Updated {
    pub product: Product,
    pub replaced_image: Option<String>,
}

/// Applies a PATCH in one transaction. A `stock` that differs from the
/// stock under the row lock is written as a count by `user_id` through
/// [`crate::stock::apply`] (delta and stock after as they happened, a
/// concurrent sale before or after it); the same stock writes no ledger row.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    patch: ProductPatch,
    expected_version: Option<i32>,
    user_id: Uuid,
) -> ApiResult<Updated> {
    let mut c = Check::new();
    if let Some(n) = patch.stock {
        c.range("stock", n, 0, MAX_UNITS);
    }
    let name = patch.name.as_deref().map(|n| c.text("name", n, 1, 200));
    let description = patch
        .description
        .as_deref()
        .map(|d| c.text("description", d, 0, 2000));
    let sku = patch
        .sku
        .as_ref()
        .map(|s| check_code(&mut c, "sku", s.as_deref()));
    let barcode = patch
        .barcode
        .as_ref()
        .map(|b| check_code(&mut c, "barcode", b.as_deref()));
    let image = patch
        .image_public_id
        .as_ref()
        .map(|i| check_image_id(&mut c, i.as_deref()));
    if let Some(t) = patch.low_stock_threshold {
        c.range("low_stock_threshold", t, 0, MAX_UNITS);
    }
    c.finish()?;

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let current = sqlx::query!(
        "SELECT version, image_public_id, stock FROM products
         WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Product"))?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(version_mismatch("product"));
    }
    if let Some(category) = patch.category_id {
        check_category(&mut tx, category).await?;
    }
    // The row is locked since the read above: no sale can move the stock
    // between the comparison and the count.
    if let Some(counted) = patch.stock
        && counted != current.stock
    {
        crate::stock::apply(
            &mut tx,
            id,
            crate::stock::Change::Counted(counted),
            EDIT_COUNT_REASON,
            user_id,
        )
        .await?;
    }
    let product = sqlx::query_as!(
        Product,
        r#"UPDATE products SET
              sku = CASE WHEN $2 THEN $3 ELSE sku END,
              barcode = CASE WHEN $4 THEN $5 ELSE barcode END,
              name = COALESCE($6, name),
              description = COALESCE($7, description),
              category_id = CASE WHEN $8 THEN $9 ELSE category_id END,
              price = COALESCE($10, price),
              cost = COALESCE($11, cost),
              low_stock_threshold = COALESCE($12, low_stock_threshold),
              is_active = COALESCE($13, is_active),
              image_public_id = CASE WHEN $14 THEN $15 ELSE image_public_id END,
              -- An upload (a new public id) replaces a kept image URL;
              -- removing the image removes both.
              image_url = CASE WHEN $14 THEN NULL ELSE image_url END,
              needs_preparation = COALESCE($16, needs_preparation),
              version = version + 1
           WHERE id = $1
           RETURNING id, int_id, sku, barcode, name, description, category_id,
                     price AS "price: Money", cost AS "cost: Money", stock,
                     low_stock_threshold, is_active, needs_preparation, image_public_id,
                     image_url, version, created_at, updated_at"#,
        id,
        sku.is_some(),
        sku.flatten(),
        barcode.is_some(),
        barcode.flatten(),
        name,
        description,
        patch.category_id.is_some(),
        patch.category_id.flatten(),
        patch.price as Option<Money>,
        patch.cost as Option<Money>,
        patch.low_stock_threshold,
        patch.is_active,
        image.is_some(),
        image.flatten(),
        patch.needs_preparation,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(map_unique)?;
    tx.commit().await?;
    let replaced_image = current
        .image_public_id
        .filter(|old| product.image_public_id.as_ref() != Some(old));
    Ok(Updated {
        product,
        replaced_image,
    })
}

/// Soft delete: the product leaves lists and the catalog sync (as a
/// tombstone) but stays on past sales. Returns its image, to destroy.
pub async fn delete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    expected_version: Option<i32>,
) -> ApiResult<Option<String>> {
    let row = sqlx::query!(
        r#"WITH target AS (
               SELECT id, version FROM products WHERE id = $1 AND deleted_at IS NULL
           ), deleted AS (
               UPDATE products p SET deleted_at = now(), version = p.version + 1
               FROM target t
               WHERE p.id = t.id AND ($2::int IS NULL OR t.version = $2)
               RETURNING p.image_public_id
           )
           SELECT (SELECT count(*) FROM target) AS "found!",
                  (SELECT count(*) FROM deleted) AS "deleted!",
                  (SELECT image_public_id FROM deleted) AS image_public_id"#,
        id,
        expected_version,
    )
    .fetch_one(db)
    .await?;
    if row.found == 0 {
        return Err(ApiError::not_found("Product"));
    }
    if row.deleted == 0 {
        return Err(version_mismatch("product"));
    }
    Ok(row.image_public_id)
}

/// Keyset position in the name-ordered list.
#[derive(Debug, Serialize, Deserialize)]
pub struct After {
    pub name: String,
    pub id: Uuid,
}

/// `%` and `_` in a search are literal characters, not wildcards.
pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn list(
    conn: &mut PgConnection,
    filter: &ProductFilter,
    after: Option<&After>,
    limit: i64,
) -> ApiResult<Vec<Product>> {
    crate::validate::search_text("q", filter.q.as_deref())?;
    let pattern = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(like_pattern);
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // Optional filters written as `$n IS NULL OR ...` make one prepared
    // statement; a cached generic plan could not use the trigram index for
    // `q`, so plan each search for its actual parameters.
    sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query_as!(
        Product,
        r#"SELECT id, int_id, sku, barcode, name, description, category_id,
                  price AS "price: Money", cost AS "cost: Money", stock,
                  low_stock_threshold, is_active, needs_preparation, image_public_id,
                  image_url, version, created_at, updated_at
           FROM products
           WHERE deleted_at IS NULL
             AND ($1::text IS NULL
                  OR (name || ' ' || coalesce(sku, '') || ' ' || coalesce(barcode, '')) ILIKE $1)
             AND ($2::uuid IS NULL OR category_id = $2)
             AND ($3::numeric IS NULL OR price >= $3)
             AND ($4::numeric IS NULL OR price <= $4)
             AND (NOT $5 OR stock > 0)
             AND (NOT $6 OR stock <= low_stock_threshold)
             AND ($7::bool IS NULL OR is_active = $7)
             AND ($8::text IS NULL OR (name, id) > ($8, $9::uuid))
           ORDER BY name, id
           LIMIT $10"#,
        pattern,
        filter.category_id,
        filter.min_price.map(Money::amount),
        filter.max_price.map(Money::amount),
        filter.in_stock.unwrap_or(false),
        filter.low_stock.unwrap_or(false),
        filter.is_active,
        after.map(|a| a.name.clone()),
        after.map(|a| a.id),
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Live products' UUIDs by their integer ids (the app's ids); ids with no
/// live product are absent.
pub async fn ids_for_ints(
    db: impl PgExecutor<'_>,
    int_ids: &[i64],
) -> ApiResult<std::collections::HashMap<i64, Uuid>> {
    let rows = sqlx::query!(
        "SELECT int_id, id FROM products WHERE int_id = ANY($1) AND deleted_at IS NULL",
        int_ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.int_id, r.id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_wildcards_are_literal() {
        assert_eq!(like_pattern("kopi"), "%kopi%");
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
    }
}

pub mod http {
    //! `/api/products` and `/api/products/{id}`: read by any user, written
    //! by managers and owners.

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use utoipa_axum::{router::OpenApiRouter, routes};

    use super::*;
    use crate::auth::{AnyUser, Auth, ManagerUp};
    use crate::error::ErrorBody;
    use crate::http::{IdPath, Json, Page, PageParams, PageRequest, Query};
    use crate::patch::expected_version;
    use crate::state::AppState;

    pub fn collection() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(list_products, create_product))
    }

    pub fn item() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(get_product, patch_product, delete_product))
    }

    /// Live products in name order, filtered.
    #[utoipa::path(get, path = "/api/products", tag = "catalog", params(ProductFilter, PageParams),
        responses((status = 200, body = Page<Product>), (status = 400, body = ErrorBody),
                  (status = 401, body = ErrorBody)))]
    async fn list_products(
        _: Auth<AnyUser>,
        State(state): State<AppState>,
        Query(filter): Query<ProductFilter>,
        page: PageRequest,
    ) -> ApiResult<Json<Page<Product>>> {
        let after: Option<After> = page.after()?;
        // Stock held by sales whose payment window closed comes back first.
        crate::payments::catch_up(&state.db).await;
        let mut conn = state.db.acquire().await?;
        let rows = list(&mut conn, &filter, after.as_ref(), page.fetch_limit()).await?;
        let cloud = state.cloud_name();
        let rows = rows.into_iter().map(|p| p.with_image_url(cloud)).collect();
        Ok(Json(page.page(rows, |p: &Product| After {
            name: p.name.clone(),
            id: p.id,
        })))
    }

    /// Create a product (manager+). An opening `stock` is written to the
    /// stock ledger.
    #[utoipa::path(post, path = "/api/products", tag = "catalog", request_body = NewProduct,
        responses((status = 201, body = Product), (status = 400, body = ErrorBody),
                  (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
    async fn create_product(
        auth: Auth<ManagerUp>,
        State(state): State<AppState>,
        Json(input): Json<NewProduct>,
    ) -> ApiResult<(StatusCode, Json<Product>)> {
        let mut conn = state.db.acquire().await?;
        let product = create(&mut conn, input, auth.user_id).await?;
        Ok((
            StatusCode::CREATED,
            Json(product.with_image_url(state.cloud_name())),
        ))
    }

    /// One product.
    #[utoipa::path(get, path = "/api/products/{id}", tag = "catalog",
        params(("id" = Uuid, Path)),
        responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
    async fn get_product(
        _: Auth<AnyUser>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
    ) -> ApiResult<Json<Product>> {
        Ok(Json(
            get(&state.db, id).await?.with_image_url(state.cloud_name()),
        ))
    }

    /// Change a product (manager+). Replacing or removing `image_public_id`
    /// destroys the old image on Cloudinary. A `stock` different from the
    /// current stock is recorded in the stock ledger as a count by you, in
    /// the same transaction (a concurrent sale lands before or after it,
    /// and the ledger shows both); the same stock records nothing.
    #[utoipa::path(patch, path = "/api/products/{id}", tag = "catalog",
        params(("id" = Uuid, Path), ("If-Match" = Option<i32>, Header, minimum = 1)),
        request_body = ProductPatch,
        responses((status = 403, body = ErrorBody), (status = 200, body = Product), (status = 400, body = ErrorBody),
                  (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
    async fn patch_product(
        auth: Auth<ManagerUp>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
        headers: HeaderMap,
        Json(patch): Json<ProductPatch>,
    ) -> ApiResult<Json<Product>> {
        let expected = expected_version(&headers, patch.version)?;
        crate::payments::catch_up(&state.db).await;
        let mut conn = state.db.acquire().await?;
        let updated = update(&mut conn, id, patch, expected, auth.user_id).await?;
        drop(conn);
        if let Some(old) = updated.replaced_image {
            state.destroy_image(&old).await;
        }
        Ok(Json(updated.product.with_image_url(state.cloud_name())))
    }

    /// Delete a product (manager+): it leaves lists and becomes a sync
    /// tombstone, stays on past sales, and its image is destroyed.
    #[utoipa::path(delete, path = "/api/products/{id}", tag = "catalog",
        params(("id" = Uuid, Path), ("If-Match" = Option<i32>, Header, minimum = 1)),
        responses((status = 403, body = ErrorBody), (status = 204), (status = 404, body = ErrorBody),
                  (status = 409, body = ErrorBody)))]
    async fn delete_product(
        _: Auth<ManagerUp>,
        State(state): State<AppState>,
        IdPath(id): IdPath,
        headers: HeaderMap,
    ) -> ApiResult<StatusCode> {
        let expected = expected_version(&headers, None)?;
        if let Some(image) = delete(&state.db, id, expected).await? {
            state.destroy_image(&image).await;
        }
        Ok(StatusCode::NO_CONTENT)
    }
}
