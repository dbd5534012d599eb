//! Pending sales: rung up, holding their stock, waiting for the money.
//!
//! A sale paid by QRIS or transfer starts `pending` with a window
//! (`pending_until`). It leaves `pending` exactly once, and always under
//! its row lock, so a confirmation, a cancel, a provider's notice and the
//! window's end that arrive together have one outcome:
//!
//! - `completed` when paid (by hand or by the provider's word), if the
//!   window had not closed when that transaction began;
//! - `expired` once the window has closed: whoever takes the lock first
//!   after that (a sweep, a read, a late confirmation) expires it;
//! - `cancelled` by the till, or when the provider says the payment failed.
//!
//! Expired and cancelled sales give their stock back in the ledger
//! (`release`), once: only the transaction that moved the sale out of
//! `pending` writes it. Lock order is the sale, then its products in id
//! order, as refunds do; checkout locks only products, in id order, so no
//! cycle can form.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// What someone wants of a pending sale.
#[derive(Debug, Clone, Copy)]
pub enum Request {
    /// The money arrived: `by` confirmed it by hand (None: the provider).
    Paid { by: Option<Uuid> },
    /// Stop waiting: the till cancelled (`by`), or the payment failed.
    Cancel { by: Option<Uuid> },
}

/// Where a sale ended up once it left `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum End {
    Completed,
    Expired,
    Cancelled,
}

impl End {
    pub fn as_str(self) -> &'static str {
        match self {
            End::Completed => "completed",
            End::Expired => "expired",
            End::Cancelled => "cancelled",
        }
    }
}

/// The answer of [`settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// This call moved the sale out of `pending`.
    Now(End),
    /// It was no longer pending: its status then (`completed`,
    /// `partially_refunded`, `expired`...), unchanged.
    Already(String),
}

/// Moves a pending sale as `request` asks, or expires it if its window has
/// closed, or reports that it had already left `pending`. Call it inside
/// the caller's transaction (the payment's row changes with it).
pub async fn settle(tx: &mut PgConnection, sale_id: Uuid, request: Request) -> ApiResult<Settled> {
    let sale = sqlx::query!(
        r#"SELECT status, transaction_no, pending_until <= now() AS "overdue",
                  pending_until IS NULL AS "never!"
           FROM sales WHERE id = $1 FOR UPDATE"#,
        sale_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Transaction"))?;
    if sale.never {
        return Err(ApiError::ConflictWith {
            code: "not_pending",
            detail: "This sale was paid at the till; it never waited for a payment.".into(),
            extra: Default::default(),
        });
    }
    if sale.status != "pending" {
        return Ok(Settled::Already(sale.status));
    }
    if sale.overdue == Some(true) {
        release(tx, sale_id, &sale.transaction_no, End::Expired, None).await?;
        return Ok(Settled::Now(End::Expired));
    }
    match request {
        Request::Paid { by } => {
            // Paid now, so the kitchen gets it now (a sale waiting for its
            // money is not prepared).
            sqlx::query!(
                "UPDATE sales SET status = 'completed', settled_at = now(), settled_by = $2,
                     preparation = CASE WHEN EXISTS (
                         SELECT 1 FROM sale_lines l JOIN products p ON p.id = l.product_id
                         WHERE l.sale_id = $1 AND p.needs_preparation) THEN 'processing' END
                 WHERE id = $1",
                sale_id,
                by
            )
            .execute(&mut *tx)
            .await?;
            Ok(Settled::Now(End::Completed))
        }
        Request::Cancel { by } => {
            release(tx, sale_id, &sale.transaction_no, End::Cancelled, by).await?;
            Ok(Settled::Now(End::Cancelled))
        }
    }
}

/// Expires the oldest overdue pending sale nobody else holds, inside the
/// caller's transaction; its id, or None when none is left.
pub async fn expire_next(tx: &mut PgConnection) -> ApiResult<Option<Uuid>> {
    let next = sqlx::query!(
        "SELECT id, transaction_no FROM sales
         WHERE status = 'pending' AND pending_until <= now()
         ORDER BY pending_until LIMIT 1
         FOR UPDATE SKIP LOCKED"
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(sale) = next else { return Ok(None) };
    release(tx, sale.id, &sale.transaction_no, End::Expired, None).await?;
    Ok(Some(sale.id))
}

/// Whether any pending sale is past its window (an index probe).
pub async fn any_overdue(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sales
                          WHERE status = 'pending' AND pending_until <= now()) AS "any!""#
    )
    .fetch_one(db)
    .await
}

/// Ends a locked pending sale as `end` (expired or cancelled) and gives its
/// stock back, one ledger row per product.
async fn release(
    tx: &mut PgConnection,
    sale_id: Uuid,
    transaction_no: &str,
    end: End,
    by: Option<Uuid>,
) -> ApiResult<()> {
    sqlx::query!(
        "UPDATE sales SET status = $2, settled_at = now(), settled_by = $3 WHERE id = $1",
        sale_id,
        end.as_str(),
        by
    )
    .execute(&mut *tx)
    .await?;
    // Products in id order, as checkout locks them.
    sqlx::query!(
        "SELECT p.id FROM products p
         WHERE p.id IN (SELECT product_id FROM sale_lines WHERE sale_id = $1)
         ORDER BY p.id FOR NO KEY UPDATE",
        sale_id
    )
    .fetch_all(&mut *tx)
    .await?;
    let reason = format!("{transaction_no} {}", end.as_str());
    sqlx::query!(
        "WITH wanted AS (
             SELECT product_id, sum(quantity)::int AS qty FROM sale_lines
             WHERE sale_id = $1 GROUP BY product_id
         ), back AS (
             UPDATE products p SET stock = p.stock + w.qty
             FROM wanted w WHERE p.id = w.product_id
             RETURNING p.id, p.stock, w.qty
         )
         INSERT INTO stock_movements (product_id, kind, delta, stock_after, reason, user_id,
                                      sale_id)
         SELECT id, 'release', qty, stock, $2, $3, $1 FROM back",
        sale_id,
        reason,
        by
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
