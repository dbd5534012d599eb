//! Refunds: whole or per line, restocking by default, never more than was
//! sold counting earlier refunds, exact to the cent.
//!
//! A refund's money is the sale's total scaled by the share of the sale's
//! value refunded so far, minus what earlier refunds paid:
//! `round(total * refunded_value / subtotal) - refunded_amount`. Discount
//! and tax are thus refunded in proportion, and once every unit is back the
//! refunds add up to the total exactly, whatever the rounding on the way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::checkout::round_money;
use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::stock::{self, Kind};
use crate::validate::Check;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub transaction_id: Uuid,
    /// The lines and units to refund; omit for everything not yet refunded.
    #[schema(min_items = 1)]
    pub items: Option<Vec<RefundItem>>,
    #[schema(example = "Customer returned it unopened")]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
    /// Put the units back on the shelf (and in the ledger). Default true.
    #[serde(default = "yes")]
    pub restock: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundItem {
    /// A line `id` of the transaction.
    pub item_id: Uuid,
    #[schema(minimum = 1)]
    pub quantity: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundedLine {
    pub item_id: Uuid,
    pub product_id: Uuid,
    pub quantity: i32,
    pub amount: Money,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    pub id: Uuid,
    pub transaction_id: Uuid,
    pub amount: Money,
    pub items: Vec<RefundedLine>,
    pub reason: String,
    pub restocked: bool,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    pub transaction_id: Option<Uuid>,
}

/// The money owed back once `value` of the sale's `subtotal` is refunded.
pub fn amount_for(total: Decimal, subtotal: Decimal, value: Decimal) -> Decimal {
    if subtotal.is_zero() {
        Decimal::ZERO
    } else if value >= subtotal {
        total
    } else {
        round_money(total * value / subtotal)
    }
}

pub async fn refund(
    conn: &mut PgConnection,
    input: RefundRequest,
    user_id: Uuid,
) -> ApiResult<Refund> {
    let mut c = Check::new();
    let reason = c.text("reason", &input.reason, 1, 500);
    if let Some(items) = &input.items {
        if items.is_empty() {
            c.add(
                "items",
                "Omit items to refund everything, or list at least one.",
            );
        }
        for (i, item) in items.iter().enumerate() {
            if item.quantity < 1 {
                c.add(&format!("items[{i}].quantity"), "Must be at least 1.");
            }
        }
    }
    c.finish()?;

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // The sale row lock queues concurrent refunds of one sale.
    let sale = sqlx::query!(
        "SELECT subtotal, total, refunded_amount, status FROM sales WHERE id = $1 FOR UPDATE",
        input.transaction_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::field("transaction_id", "Unknown transaction."))?;
    // Only money taken can be given back.
    match sale.status.as_str() {
        "pending" => {
            return Err(ApiError::Conflict(
                "This sale is not paid yet: cancel it instead.".into(),
            ));
        }
        "expired" | "cancelled" => {
            return Err(ApiError::Conflict(format!(
                "This sale was never paid ({}): there is nothing to refund.",
                sale.status
            )));
        }
        _ => {}
    }
    let lines = sqlx::query!(
        "SELECT id, product_id, unit_price, quantity, refunded_quantity
         FROM sale_lines WHERE sale_id = $1 ORDER BY line_no",
        input.transaction_id
    )
    .fetch_all(&mut *tx)
    .await?;

    // Units to refund per line.
    let mut take: BTreeMap<Uuid, i32> = BTreeMap::new();
    match &input.items {
        None => {
            for l in &lines {
                if l.quantity > l.refunded_quantity {
                    take.insert(l.id, l.quantity - l.refunded_quantity);
                }
            }
            if take.is_empty() {
                return Err(ApiError::Conflict(
                    "This transaction is already fully refunded.".into(),
                ));
            }
        }
        Some(items) => {
            let mut c = Check::new();
            for (i, item) in items.iter().enumerate() {
                if lines.iter().any(|l| l.id == item.item_id) {
                    *take.entry(item.item_id).or_default() += item.quantity;
                } else {
                    c.add(
                        &format!("items[{i}].item_id"),
                        "Not a line of this transaction.",
                    );
                }
            }
            c.finish()?;
        }
    }
    let mut value_before = Decimal::ZERO;
    let mut value_now = Decimal::ZERO;
    for l in &lines {
        value_before += l.unit_price * Decimal::from(l.refunded_quantity);
        if let Some(q) = take.get(&l.id) {
            let left = l.quantity - l.refunded_quantity;
            if *q > left {
                return Err(ApiError::Conflict(format!(
                    "Cannot refund {q} of a line with {left} left to refund (sold {}, refunded {}).",
                    l.quantity, l.refunded_quantity
                )));
            }
            value_now += l.unit_price * Decimal::from(*q);
        }
    }
    let amount =
        amount_for(sale.total, sale.subtotal, value_before + value_now) - sale.refunded_amount;

    // Per-line shares of the amount, by value; the last line takes the
    // rounding remainder so the lines add up to the refund.
    let refunded: Vec<_> = lines.iter().filter(|l| take.contains_key(&l.id)).collect();
    let mut shares = Vec::with_capacity(refunded.len());
    let mut assigned = Decimal::ZERO;
    for (i, l) in refunded.iter().enumerate() {
        let q = take[&l.id];
        let share = if i + 1 == refunded.len() {
            amount - assigned
        } else if value_now.is_zero() {
            Decimal::ZERO
        } else {
            round_money(amount * l.unit_price * Decimal::from(q) / value_now)
        };
        assigned += share;
        shares.push((l.id, l.product_id, q, share));
    }

    let refund_id = Uuid::now_v7();
    let created_at = sqlx::query_scalar!(
        "INSERT INTO refunds (id, sale_id, amount, reason, restocked, user_id, shift_id)
         VALUES ($1, $2, $3, $4, $5, $6,
                 -- The refunder's open shift: the cash comes out of its drawer.
                 (SELECT id FROM shifts WHERE cashier_id = $6 AND closed_at IS NULL FOR SHARE))
         RETURNING created_at",
        refund_id,
        input.transaction_id,
        amount,
        reason,
        input.restock,
        user_id
    )
    .fetch_one(&mut *tx)
    .await?;
    for (line_id, _, q, share) in &shares {
        sqlx::query!(
            "WITH line AS (
                 UPDATE sale_lines SET refunded_quantity = refunded_quantity + $2 WHERE id = $1
             )
             INSERT INTO refund_lines (refund_id, sale_line_id, quantity, amount)
             VALUES ($3, $1, $2, $4)",
            line_id,
            q,
            refund_id,
            share
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "UPDATE sales SET refunded_amount = refunded_amount + $2,
             status = CASE WHEN (SELECT bool_and(refunded_quantity = quantity)
                                 FROM sale_lines WHERE sale_id = $1)
                           THEN 'refunded' ELSE 'partially_refunded' END
         WHERE id = $1",
        input.transaction_id,
        amount
    )
    .execute(&mut *tx)
    .await?;

    if input.restock {
        // Products in id order, as checkout locks them: no deadlock.
        let mut units: BTreeMap<Uuid, i32> = BTreeMap::new();
        for (_, product_id, q, _) in &shares {
            *units.entry(*product_id).or_default() += q;
        }
        for (product_id, q) in units {
            let after = sqlx::query_scalar!(
                "UPDATE products SET stock = stock + $2 WHERE id = $1 RETURNING stock",
                product_id,
                q
            )
            .fetch_one(&mut *tx)
            .await?;
            stock::append(
                &mut *tx,
                stock::Entry {
                    product_id,
                    kind: Kind::Refund,
                    delta: q,
                    stock_after: after,
                    reason: &reason,
                    user_id: Some(user_id),
                    sale_id: Some(input.transaction_id),
                    refund_id: Some(refund_id),
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Refund {
        id: refund_id,
        transaction_id: input.transaction_id,
        amount: Money::new(amount).map_err(ApiError::internal)?,
        items: shares
            .into_iter()
            .map(|(item_id, product_id, quantity, share)| {
                Ok(RefundedLine {
                    item_id,
                    product_id,
                    quantity,
                    amount: Money::new(share).map_err(ApiError::internal)?,
                })
            })
            .collect::<ApiResult<_>>()?,
        reason,
        restocked: input.restock,
        user_id,
        created_at,
    })
}

/// A sale's refunds, oldest first.
pub async fn for_sale(conn: &mut PgConnection, sale_id: Uuid) -> sqlx::Result<Vec<Refund>> {
    list(conn, Some(sale_id), None, 1000, true).await
}

/// Newest first (or oldest first for one sale's detail); `before` is a
/// keyset position (created_at, id).
pub async fn list(
    conn: &mut PgConnection,
    sale_id: Option<Uuid>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    oldest_first: bool,
) -> sqlx::Result<Vec<Refund>> {
    let heads = sqlx::query!(
        r#"SELECT id, sale_id, amount AS "amount: Money", reason, restocked, user_id, created_at
           FROM refunds
           WHERE ($1::uuid IS NULL OR sale_id = $1)
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY CASE WHEN $4 THEN created_at END ASC,
                    CASE WHEN NOT $4 THEN created_at END DESC, id DESC
           LIMIT $5"#,
        sale_id,
        before.map(|b| b.0),
        before.map(|b| b.1),
        oldest_first,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = heads.iter().map(|h| h.id).collect();
    let items = lines_of(&mut *conn, &ids).await?;
    Ok(heads
        .into_iter()
        .map(|h| Refund {
            id: h.id,
            transaction_id: h.sale_id,
            amount: h.amount,
            items: items
                .iter()
                .filter(|(refund_id, _)| *refund_id == h.id)
                .map(|(_, line)| line.clone())
                .collect(),
            reason: h.reason,
            restocked: h.restocked,
            user_id: h.user_id,
            created_at: h.created_at,
        })
        .collect())
}

async fn lines_of(
    db: impl PgExecutor<'_>,
    refund_ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, RefundedLine)>> {
    let rows = sqlx::query!(
        r#"SELECT r.refund_id, r.sale_line_id, l.product_id, r.quantity,
                  r.amount AS "amount: Money"
           FROM refund_lines r JOIN sale_lines l ON l.id = r.sale_line_id
           WHERE r.refund_id = ANY($1)
           ORDER BY l.line_no"#,
        refund_ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.refund_id,
                RefundedLine {
                    item_id: r.sale_line_id,
                    product_id: r.product_id,
                    quantity: r.quantity,
                    amount: r.amount,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn partial_refunds_add_up_to_the_total() {
        // 3 units of 10.00, a 1.00 discount, 11% tax: total 32.19.
        let (subtotal, total) = (d("30.00"), d("32.19"));
        let mut refunded = Decimal::ZERO;
        let mut value = Decimal::ZERO;
        for _ in 0..3 {
            value += d("10.00");
            let amount = amount_for(total, subtotal, value) - refunded;
            assert!(amount > Decimal::ZERO);
            refunded += amount;
        }
        assert_eq!(refunded, total);
        assert_eq!(amount_for(total, subtotal, d("10.00")), d("10.73"));
        assert_eq!(amount_for(d("0"), d("0"), d("0")), d("0"));
    }
}
