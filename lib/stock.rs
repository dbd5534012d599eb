//! The stock ledger: every change to a product's stock is a row here, with
//! who, when, why, the change and the stock after it, written in the same
//! database transaction as the change itself. Adjustments and counts come
//! through `POST /api/stock`; sales and refunds append their own rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::catalog::products::MAX_UNITS;
use crate::error::{ApiError, ApiResult};
use crate::validate::Check;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Opening,
    Adjustment,
    Count,
    Sale,
    Refund,
    /// Stock a pending sale held, back when it expired or was cancelled.
    Release,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Opening => "opening",
            Kind::Adjustment => "adjustment",
            Kind::Count => "count",
            Kind::Sale => "sale",
            Kind::Refund => "refund",
            Kind::Release => "release",
        }
    }
}

/// One ledger row to append.
pub struct Entry<'a> {
    pub product_id: Uuid,
    pub kind: Kind,
    pub delta: i32,
    pub stock_after: i32,
    pub reason: &'a str,
    pub user_id: Option<Uuid>,
    pub sale_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
}

pub async fn append(db: impl PgExecutor<'_>, e: Entry<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO stock_movements
             (product_id, kind, delta, stock_after, reason, user_id, sale_id, refund_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        e.product_id,
        e.kind.as_str(),
        e.delta,
        e.stock_after,
        e.reason,
        e.user_id,
        e.sale_id,
        e.refund_id,
    )
    .fetch_one(db)
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Movement {
    pub id: i64,
    pub product_id: Uuid,
    pub product_name: String,
    #[schema(value_type = String, example = "adjustment")]
    pub kind: String,
    /// Units added (positive) or removed (negative).
    pub delta: i32,
    /// The product's stock right after this movement.
    pub stock_after: i32,
    pub reason: String,
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/stock`: exactly one of `delta` (an adjustment) or `counted`
/// (a physical count, turned into the delta by the server).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockChange {
    pub product_id: Uuid,
    /// Units to add (positive) or remove (negative).
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub delta: Option<i32>,
    /// Units physically counted on the shelf.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub counted: Option<i32>,
    #[schema(example = "Damaged in delivery")]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementFilter {
    pub product_id: Option<Uuid>,
}

/// A change to one product's stock, as a manager states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Units added (positive) or removed (negative): an `adjustment`.
    Delta(i32),
    /// Units physically counted: a `count`, whose delta is the counted
    /// value less the stock at the moment it is written.
    Counted(i32),
}

/// Applies an adjustment or count atomically with its ledger row, inside
/// the caller's transaction: `POST /api/stock` and a product edit's `stock`
/// both come here. The product row is locked first (`FOR NO KEY UPDATE`,
/// as checkout locks it), so a concurrent sale either committed before and
/// the delta is taken from the stock it left, or waits for this one and
/// sells from the new stock; `delta` and `stock_after` are always what
/// happened. Stock never goes below zero (409 `insufficient_stock`) nor
/// above [`MAX_UNITS`]. Returns the ledger row's id.
pub async fn apply(
    conn: &mut PgConnection,
    product_id: Uuid,
    change: Change,
    reason: &str,
    user_id: Uuid,
) -> ApiResult<i64> {
    let current = sqlx::query_scalar!(
        "SELECT stock FROM products WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE",
        product_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::field("product_id", "Unknown product."))?;
    let (kind, delta, field) = match change {
        Change::Delta(d) => (Kind::Adjustment, d, "delta"),
        Change::Counted(n) => (Kind::Count, n - current, "counted"),
    };
    let after = current + delta;
    if after < 0 {
        return Err(ApiError::ConflictWith {
            code: "insufficient_stock",
            detail: format!("Only {current} in stock; cannot remove {}.", -delta),
            extra: serde_json::json!({
                "items": [{"product_id": product_id, "requested": -delta, "available": current}]
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        });
    }
    if after > MAX_UNITS {
        return Err(ApiError::field(
            field,
            format!("Stock would exceed {MAX_UNITS}."),
        ));
    }
    sqlx::query!(
        "UPDATE products SET stock = $2 WHERE id = $1",
        product_id,
        after
    )
    .execute(&mut *conn)
    .await?;
    Ok(append(
        &mut *conn,
        Entry {
            product_id,
            kind,
            delta,
            stock_after: after,
            reason,
            user_id: Some(user_id),
            sale_id: None,
            refund_id: None,
        },
    )
    .await?)
}

/// `POST /api/stock`: checks the request, then [`apply`] in its own
/// transaction.
pub async fn change(
    conn: &mut PgConnection,
    input: StockChange,
    user_id: Uuid,
) -> ApiResult<Movement> {
    let mut c = Check::new();
    let reason = c.text("reason", &input.reason, 1, 500);
    let change = match (input.delta, input.counted) {
        (Some(_), Some(_)) | (None, None) => {
            c.add("non_field_errors", "Send exactly one of delta or counted.");
            None
        }
        (Some(d), None) => {
            if d == 0 {
                c.add("delta", "Must not be zero.");
            } else {
                c.range("delta", d, -MAX_UNITS, MAX_UNITS);
            }
            Some(Change::Delta(d))
        }
        (None, Some(n)) => {
            c.range("counted", n, 0, MAX_UNITS);
            Some(Change::Counted(n))
        }
    };
    c.finish()?;
    let change = change.expect("one of delta or counted when the check passed");

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let id = apply(&mut tx, input.product_id, change, &reason, user_id).await?;
    let movement = get(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(movement)
}

async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Movement> {
    sqlx::query_as!(
        Movement,
        r#"SELECT m.id, m.product_id, p.name AS product_name, m.kind, m.delta, m.stock_after,
                  m.reason, m.user_id, u.username AS "username?", m.created_at
           FROM stock_movements m
           JOIN products p ON p.id = m.product_id
           LEFT JOIN users u ON u.id = m.user_id
           WHERE m.id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}

/// Newest first; `before` is the keyset position (a movement id).
pub async fn list(
    db: impl PgExecutor<'_>,
    product_id: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Movement>> {
    sqlx::query_as!(
        Movement,
        r#"SELECT m.id, m.product_id, p.name AS product_name, m.kind, m.delta, m.stock_after,
                  m.reason, m.user_id, u.username AS "username?", m.created_at
           FROM stock_movements m
           JOIN products p ON p.id = m.product_id
           LEFT JOIN users u ON u.id = m.user_id
           WHERE ($1::uuid IS NULL OR m.product_id = $1)
             AND ($2::bigint IS NULL OR m.id < $2)
           ORDER BY m.id DESC
           LIMIT $3"#,
        product_id,
        before,
        limit
    )
    .fetch_all(db)
    .await
}

pub mod http {
    //! `GET,POST /api/stock` (managers and owners).

    use axum::extract::State;
    use axum::http::StatusCode;
    use utoipa_axum::{router::OpenApiRouter, routes};

    use super::*;
    use crate::auth::{Auth, ManagerUp};
    use crate::error::ErrorBody;
    use crate::http::{Json, Page, PageParams, PageRequest, Query};
    use crate::state::AppState;

    pub fn router() -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(list_movements, change_stock))
    }

    /// The stock ledger, newest first (`?product_id=` for one product).
    #[utoipa::path(get, path = "/api/stock", tag = "stock", params(MovementFilter, PageParams),
        responses((status = 200, body = Page<Movement>), (status = 400, body = ErrorBody),
                  (status = 403, body = ErrorBody)))]
    async fn list_movements(
        _: Auth<ManagerUp>,
        State(state): State<AppState>,
        Query(filter): Query<MovementFilter>,
        page: PageRequest,
    ) -> ApiResult<Json<Page<Movement>>> {
        let before: Option<i64> = page.after()?;
        let rows = list(&state.db, filter.product_id, before, page.fetch_limit()).await?;
        Ok(Json(page.page(rows, |m| m.id)))
    }

    /// Record a stock adjustment (`delta`) or a physical count (`counted`).
    ///
    /// The product's stock and the ledger row change together. Stock never
    /// goes below zero: removing more than there is answers 409
    /// `insufficient_stock`.
    #[utoipa::path(post, path = "/api/stock", tag = "stock", request_body = StockChange,
        responses((status = 201, body = Movement), (status = 400, body = ErrorBody),
                  (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
    async fn change_stock(
        auth: Auth<ManagerUp>,
        State(state): State<AppState>,
        Json(input): Json<StockChange>,
    ) -> ApiResult<(StatusCode, Json<Movement>)> {
        let mut conn = state.db.acquire().await?;
        let movement = change(&mut conn, input, auth.user_id).await?;
        Ok((StatusCode::CREATED, Json(movement)))
    }
}
