//! Offline sync: a terminal asks what changed in the catalog since its last
//! token and gets products, categories, settings, tombstones for deleted
//! rows, and the next token.
//!
//! A token is the snapshot this sync read from (see the catalog migration):
//! the next sync returns exactly the rows last written by a transaction
//! that snapshot could not see, i.e. changes committed after it was taken,
//! including those of transactions already running then. Timestamps or
//! sequence values, taken before commit, would skip a slow transaction's
//! change; a bare xmin would resend rows whenever any transaction anywhere
//! in the cluster stays open.

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AnyUser, Auth};
use crate::catalog::categories::Category;
use crate::catalog::products::Product;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{Json, Query};
use crate::money::Money;
use crate::settings::Settings;
use crate::state::AppState;

const TOKEN_PREFIX: &str = "s";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// The `next_token` of the previous sync; absent for everything.
    #[param(pattern = r"^(s[A-Za-z0-9_-]+)?$", max_length = 4096)]
    pub since: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tombstone {
    /// `product` or `category`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub products: Vec<Product>,
    pub categories: Vec<Category>,
    /// Present when the settings changed since the token (always on a full sync).
    pub settings: Option<Settings>,
    /// Rows deleted since the token (never on a full sync).
    pub deleted: Vec<Tombstone>,
    /// Pass as `since` next time.
    pub next_token: String,
}

/// A token is `s` + base64url of Postgres' snapshot text `xmin:xmax:xip,...`.
fn encode_token(snapshot: &str) -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(snapshot))
}

/// The snapshot text and its xmax, or `None` if this is not one of ours.
fn parse_token(token: &str) -> Option<(String, i64)> {
    let raw = URL_SAFE_NO_PAD
        .decode(token.strip_prefix(TOKEN_PREFIX)?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, ':');
    let xmin: i64 = parts.next()?.parse().ok()?;
    let xmax: i64 = parts.next()?.parse().ok()?;
    let xip = parts.next()?;
    let xip_ok = xip.is_empty()
        || xip
            .split(',')
            .all(|x| x.parse::<i64>().is_ok_and(|x| x >= xmin && x < xmax));
    (xmin >= 1 && xmin <= xmax && xip_ok && text.len() <= 64 * 1024).then_some((text, xmax))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sync))
}

/// Catalog changes since a token.
#[utoipa::path(
    get,
    path = "/api/sync",
    tag = "sync",
    params(SyncQuery),
    responses(
        (status = 200, body = SyncResponse),
        (status = 400, description = "Malformed or foreign token", body = ErrorBody),
        (status = 401, body = ErrorBody),
    )
)]
async fn sync(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
    Query(query): Query<SyncQuery>,
) -> ApiResult<Json<SyncResponse>> {
    // Stock held by sales whose payment window closed comes back first.
    crate::payments::catch_up(&state.db).await;
    // Exactly the document's pattern: blank is a full sync, anything else
    // must be a token as given (a stray space or CR is refused, not read
    // as "from scratch").
    let since = match query.since.as_deref() {
        None | Some("") => None,
        Some(t) => Some(parse_token(t).ok_or_else(|| {
            ApiError::field(
                "since",
                "Not a sync token: send the next_token you were given.",
            )
        })?),
    };
    let (since, since_xmax) = match since {
        Some((snapshot, xmax)) => (Some(snapshot), Some(xmax)),
        None => (None, None),
    };
    let cloud = state
        .config
        .cloudinary
        .as_ref()
        .map(|c| c.cloud_name.clone());

    let mut tx = state.db.begin().await?;
    // One snapshot for every query below and for the token.
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let snap = sqlx::query!(
        r#"SELECT pg_current_snapshot()::text AS "snapshot!",
                  pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS "xmax!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if since_xmax.is_some_and(|x| x > snap.xmax) {
        return Err(ApiError::field(
            "since",
            "This token is from another database; sync from scratch (no since).",
        ));
    }

    let product_rows = sqlx::query!(
        r#"SELECT id, int_id, sku, barcode, name, description, category_id,
                  price AS "price: Money", cost AS "cost: Money", stock,
                  low_stock_threshold, is_active, needs_preparation, image_public_id,
                  image_url, version,
                  created_at, updated_at, deleted_at IS NOT NULL AS "deleted!"
           FROM products
           WHERE CASE WHEN $1::text IS NULL THEN deleted_at IS NULL
                      ELSE change_xid >= pg_snapshot_xmin($1::pg_snapshot)
                           AND NOT pg_visible_in_snapshot(change_xid, $1::pg_snapshot) END
           ORDER BY name, id"#,
        since
    )
    .fetch_all(&mut *tx)
    .await?;
    let category_rows = sqlx::query!(
        r#"SELECT id, int_id, name, description, version, created_at, updated_at,
                  deleted_at IS NOT NULL AS "deleted!"
           FROM categories
           WHERE CASE WHEN $1::text IS NULL THEN deleted_at IS NULL
                      ELSE change_xid >= pg_snapshot_xmin($1::pg_snapshot)
                           AND NOT pg_visible_in_snapshot(change_xid, $1::pg_snapshot) END
           ORDER BY name, id"#,
        since
    )
    .fetch_all(&mut *tx)
    .await?;
    let settings_changed = sqlx::query_scalar!(
        r#"SELECT $1::text IS NULL
                  OR NOT pg_visible_in_snapshot(change_xid, $1::pg_snapshot) AS "changed!"
           FROM store_settings"#,
        since
    )
    .fetch_one(&mut *tx)
    .await?;
    let settings = if settings_changed {
        Some(crate::settings::load(&mut *tx).await?)
    } else {
        None
    };
    tx.commit().await?;

    let mut deleted = Vec::new();
    let mut products = Vec::with_capacity(product_rows.len());
    for r in product_rows {
        if r.deleted {
            deleted.push(Tombstone {
                kind: "product",
                id: r.id,
            });
            continue;
        }
        products.push(
            Product {
                id: r.id,
                int_id: r.int_id,
                sku: r.sku,
                barcode: r.barcode,
                name: r.name,
                description: r.description,
                category_id: r.category_id,
                price: r.price,
                cost: r.cost,
                stock: r.stock,
                low_stock_threshold: r.low_stock_threshold,
                is_active: r.is_active,
                needs_preparation: r.needs_preparation,
                image_public_id: r.image_public_id,
                image_url: r.image_url,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
            .with_image_url(cloud.as_deref()),
        );
    }
    let mut categories = Vec::with_capacity(category_rows.len());
    for r in category_rows {
        if r.deleted {
            deleted.push(Tombstone {
                kind: "category",
                id: r.id,
            });
            continue;
        }
        categories.push(Category {
            id: r.id,
            int_id: r.int_id,
            name: r.name,
            description: r.description,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        });
    }
    Ok(Json(SyncResponse {
        products,
        categories,
        settings,
        deleted,
        next_token: encode_token(&snap.snapshot),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_junk() {
        let t = encode_token("100:105:101,103");
        assert_eq!(parse_token(&t), Some(("100:105:101,103".to_string(), 105)));
        assert_eq!(
            parse_token(&encode_token("7:7:")),
            Some(("7:7:".to_string(), 7))
        );
        for bad in ["100:99:", "1:5:9", "a:b:", "1:2", ""] {
            assert_eq!(parse_token(&encode_token(bad)), None, "{bad}");
        }
        assert_eq!(parse_token("x1234"), None);
        assert_eq!(parse_token("s!!"), None);
    }
}
