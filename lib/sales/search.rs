//! `GET /api/transactions`: newest first, by number, customer name or notes
//! (case-insensitive substring), store-local date range, status, payment
//! method, cashier and total range.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Cashier, OrderType, PaymentMethod};
use crate::catalog::products::like_pattern;
use crate::error::{ApiError, ApiResult};
use crate::money::Money;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaleFilter {
    /// Substring of the transaction number, customer name or notes.
    pub q: Option<String>,
    /// First store-local date, inclusive (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// Last store-local date, inclusive (YYYY-MM-DD).
    pub to: Option<NaiveDate>,
    /// `completed`, `partially_refunded` or `refunded`.
    pub status: Option<String>,
    pub payment_method: Option<PaymentMethod>,
    pub cashier_id: Option<Uuid>,
    #[param(value_type = Option<String>)]
    pub min_total: Option<Money>,
    #[param(value_type = Option<String>)]
    pub max_total: Option<Money>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaleSummary {
    pub id: Uuid,
    pub transaction_no: String,
    pub status: String,
    pub cashier: Cashier,
    pub customer_name: String,
    pub notes: String,
    pub order_type: OrderType,
    pub payment_method: PaymentMethod,
    pub total: Money,
    pub refunded_amount: Money,
    pub item_count: i64,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Keyset position: the last row's (occurred_at, id).
#[derive(Debug, Serialize, Deserialize)]
pub struct Before {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// The UTC instant a store-local date starts.
pub fn day_start(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone whose clocks skip midnight starts the day at the earliest
    // instant after it.
    tz.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| chrono::TimeZone::from_utc_datetime(&tz, &midnight))
        .with_timezone(&Utc)
}

use chrono::TimeZone;

/// The `LIKE` prefix of the transaction numbers a number-shaped `q` can
/// match: `TRX-…` (digits and dashes after it) or `YYYYMMDD[-NNNN…]`.
///
/// Numbers are `TRX-YYYYMMDD-NNNN`, made only by checkout, so such a `q`
/// can occur in a number only at its start (`TRX-` once, the 8-digit date
/// right after it): a prefix lookup in a B-tree instead of trigrams that
/// every number shares ("TRX", "202", ...), which make the trigram index
/// read most of its posting lists. Such a `q` has no spaces, so it cannot
/// straddle the number, the name and the notes either.
pub fn number_prefix(q: &str) -> Option<String> {
    let q = q.trim().to_ascii_uppercase();
    let digits_and_dashes = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if let Some(rest) = q.strip_prefix("TRX-") {
        return digits_and_dashes(rest).then(|| format!("{q}%"));
    }
    let (date, tail) = q.split_at_checked(8)?;
    let date_ok = date.bytes().all(|b| b.is_ascii_digit());
    let tail_ok = tail.is_empty()
        || tail
            .strip_prefix('-')
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    (date_ok && tail_ok).then(|| format!("TRX-{q}%"))
}

pub async fn search(
    conn: &mut PgConnection,
    filter: &SaleFilter,
    tz: chrono_tz::Tz,
    cashier_only: Option<Uuid>,
    before: Option<&Before>,
    limit: i64,
) -> ApiResult<Vec<SaleSummary>> {
    if let Some(status) = &filter.status
        && !["completed", "partially_refunded", "refunded"].contains(&status.as_str())
    {
        return Err(ApiError::field(
            "status",
            "Must be completed, partially_refunded or refunded.",
        ));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(ApiError::field("from", "Must not be after `to`."));
    }
    let pattern = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(like_pattern);
    let number = filter.q.as_deref().and_then(number_prefix);
    let since = filter.from.map(|d| day_start(tz, d));
    let until = filter
        .to
        .and_then(|d| d.succ_opt())
        .map(|d| day_start(tz, d));
    // A cashier's own sales, whatever cashier_id they ask for.
    let cashier = cashier_only.or(filter.cashier_id);

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // See catalog::products::list: plan each search for its parameters.
    sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query!(
        r#"SELECT s.id, s.transaction_no, s.status, s.cashier_id, u.username, s.customer_name,
                  s.notes, s.order_type, s.payment_method, s.total AS "total: Money",
                  s.refunded_amount AS "refunded_amount: Money", s.occurred_at, s.created_at,
                  (SELECT count(*) FROM sale_lines l WHERE l.sale_id = s.id) AS "item_count!"
           FROM sales s JOIN users u ON u.id = s.cashier_id
           WHERE ($1::text IS NULL OR $12::text IS NOT NULL
                  OR (s.transaction_no || ' ' || s.customer_name || ' ' || s.notes) ILIKE $1)
             AND ($12::text IS NULL OR s.transaction_no LIKE $12
                  OR (s.customer_name || ' ' || s.notes) ILIKE $1)
             AND ($2::timestamptz IS NULL OR s.occurred_at >= $2)
             AND ($3::timestamptz IS NULL OR s.occurred_at < $3)
             AND ($4::text IS NULL OR s.status = $4)
             AND ($5::text IS NULL OR s.payment_method = $5)
             AND ($6::uuid IS NULL OR s.cashier_id = $6)
             AND ($7::numeric IS NULL OR s.total >= $7)
             AND ($8::numeric IS NULL OR s.total <= $8)
             AND ($9::timestamptz IS NULL OR (s.occurred_at, s.id) < ($9, $10::uuid))
           ORDER BY s.occurred_at DESC, s.id DESC
           LIMIT $11"#,
        pattern,
        since,
        until,
        filter.status,
        filter.payment_method.map(PaymentMethod::as_str),
        cashier,
        filter.min_total.map(Money::amount),
        filter.max_total.map(Money::amount),
        before.map(|b| b.at),
        before.map(|b| b.id),
        limit,
        number,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| SaleSummary {
            id: r.id,
            transaction_no: r.transaction_no,
            status: r.status,
            cashier: Cashier {
                id: r.cashier_id,
                username: r.username,
            },
            customer_name: r.customer_name,
            notes: r.notes,
            order_type: OrderType::parse(&r.order_type),
            payment_method: PaymentMethod::parse(&r.payment_method),
            total: r.total,
            refunded_amount: r.refunded_amount,
            item_count: r.item_count,
            occurred_at: r.occurred_at,
            created_at: r.created_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::number_prefix;

    #[test]
    fn number_shaped_queries_become_prefixes() {
        let p = number_prefix;
        assert_eq!(
            p("TRX-20261124-0042").as_deref(),
            Some("TRX-20261124-0042%")
        );
        assert_eq!(p(" trx-2026 ").as_deref(), Some("TRX-2026%"));
        assert_eq!(p("TRX-").as_deref(), Some("TRX-%"));
        assert_eq!(p("20261124").as_deref(), Some("TRX-20261124%"));
        assert_eq!(p("20261124-004").as_deref(), Some("TRX-20261124-004%"));
        assert_eq!(p("20261124-").as_deref(), Some("TRX-20261124-%"));
        for other in [
            "0042",
            "1124-0042",
            "2026112",
            "20261124x",
            "20261124-00a",
            "TRX-2026 budi",
            "TRX",
            "budi",
            "trx-20261124_1",
            "",
        ] {
            assert_eq!(p(other), None, "{other}");
        }
    }
}
