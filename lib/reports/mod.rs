//! Financial reports: daily, monthly and a summary, exact to the cent, on
//! store-local calendar days (the `timezone` setting).
//!
//! What counts where (the OpenAPI document says the same):
//! - a sale counts on the local day of its `occurred_at`; a refund on the
//!   local day it was made (`created_at`), whatever day its sale was;
//! - `gross_sales` is the sales' subtotals (line value before discount),
//!   `discounts` and `tax` are what those sales charged, `takeaway_charges`
//!   their take-away (packaging) charges: part of the total, untaxed;
//! - `refunds` is the money paid back (tax included), `refunded_tax` the
//!   part of it that was tax, `items_refunded` the units given back;
//! - net sales are sales after discounts and refunds, with the take-away
//!   charges, before tax:
//!   `net_sales = gross_sales - discounts + takeaway_charges - (refunds - refunded_tax)`.
//!   A refund scales with the sale's total, charge included, and its tax
//!   share with the sale's tax, so a fully refunded sale nets to zero;
//! - `cost_of_goods`: the unit cost of the goods sold, less that of goods
//!   refunded and restocked; `gross_profit = net_sales - cost_of_goods`.
//!
//! The figures come from the rollups of migrations 5, 7 and 12 (see there):
//! hourly UTC buckets kept exact by triggers, summed per period in one
//! statement. A period that does not start on the hour (a store in a
//! :30/:45 zone) is summed from the raw rows instead: exact, slower.

pub mod csv;
pub mod http;
pub mod period;
pub mod summary;

use std::ops::Add;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;

use crate::error::ApiResult;

/// A signed amount of money, exact, serialised with two places
/// (`"-1500.00"`): net sales and profit may be negative on a day of refunds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = self.0.normalize();
        v.rescale(2);
        if v.is_zero() {
            v.set_sign_positive(true);
        }
        write!(f, "{v}")
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "Exact decimal with two places, may be negative, e.g. \"15000.00\".",
            ))
            .examples(["15000.00"])
            .into()
    }
}
impl ToSchema for Amount {}

impl Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

/// The figures of one period (a day, a month, a whole range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Figures {
    /// Sales made in the period.
    pub transactions: i64,
    /// Units sold in the period's sales.
    pub items_sold: i64,
    /// Subtotals of the period's sales: line value before discount and tax.
    pub gross_sales: Amount,
    pub discounts: Amount,
    /// Tax charged on the period's sales.
    pub tax: Amount,
    /// Money paid back by refunds made in the period, tax included.
    pub refunds: Amount,
    /// `gross_sales - discounts + takeaway_charges - (refunds - refunded_tax)`.
    pub net_sales: Amount,
    /// Cost of the goods sold, less that of goods refunded and restocked.
    pub cost_of_goods: Amount,
    /// `net_sales - cost_of_goods`.
    pub gross_profit: Amount,
    /// Units given back by refunds made in the period.
    pub items_refunded: i64,
    /// The part of `refunds` that was tax.
    pub refunded_tax: Amount,
    /// Take-away (packaging) charges of the period's sales: part of their
    /// totals, untaxed.
    pub takeaway_charges: Amount,
}

/// The sums a period's figures derive from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub transactions: i64,
    pub items_sold: i64,
    pub gross_sales: Decimal,
    pub discounts: Decimal,
    pub tax: Decimal,
    pub cost_of_goods: Decimal,
    pub refunds: Decimal,
    pub refunded_tax: Decimal,
    pub items_refunded: i64,
    pub restocked_cost: Decimal,
    pub takeaway_charges: Decimal,
}

impl From<Sums> for Figures {
    fn from(s: Sums) -> Figures {
        let net_sales =
            s.gross_sales - s.discounts + s.takeaway_charges - (s.refunds - s.refunded_tax);
        let cost_of_goods = s.cost_of_goods - s.restocked_cost;
        Figures {
            transactions: s.transactions,
            items_sold: s.items_sold,
            gross_sales: Amount(s.gross_sales),
            discounts: Amount(s.discounts),
            tax: Amount(s.tax),
            refunds: Amount(s.refunds),
            net_sales: Amount(net_sales),
            cost_of_goods: Amount(cost_of_goods),
            gross_profit: Amount(net_sales - cost_of_goods),
            items_refunded: s.items_refunded,
            refunded_tax: Amount(s.refunded_tax),
            takeaway_charges: Amount(s.takeaway_charges),
        }
    }
}

impl Add for Figures {
    type Output = Figures;
    fn add(self, o: Figures) -> Figures {
        Figures {
            transactions: self.transactions + o.transactions,
            items_sold: self.items_sold + o.items_sold,
            gross_sales: self.gross_sales + o.gross_sales,
            discounts: self.discounts + o.discounts,
            tax: self.tax + o.tax,
            refunds: self.refunds + o.refunds,
            net_sales: self.net_sales + o.net_sales,
            cost_of_goods: self.cost_of_goods + o.cost_of_goods,
            gross_profit: self.gross_profit + o.gross_profit,
            items_refunded: self.items_refunded + o.items_refunded,
            refunded_tax: self.refunded_tax + o.refunded_tax,
            takeaway_charges: self.takeaway_charges + o.takeaway_charges,
        }
    }
}

/// Where the sums come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The rollups (buckets plus pending deltas): what the endpoints use.
    Rollups,
    /// The sales, lines and refunds themselves (`report_facts`): the
    /// definition the rollups must always equal, and the fallback for a
    /// period that does not start on a bucket boundary.
    Raw,
}

/// Rollup buckets are this many seconds long (see migration 7).
pub const BUCKET_SECONDS: i64 = 3600;

fn on_bucket_boundary(at: DateTime<Utc>) -> bool {
    at.timestamp().rem_euclid(BUCKET_SECONDS) == 0 && at.timestamp_subsec_nanos() == 0
}

/// The sums of each half-open period `[start, end)`, in order.
pub async fn sums(
    conn: &mut PgConnection,
    periods: &[(DateTime<Utc>, DateTime<Utc>)],
    source: Source,
) -> ApiResult<Vec<Sums>> {
    let source = if source == Source::Rollups
        && !periods
            .iter()
            .all(|(s, e)| on_bucket_boundary(*s) && on_bucket_boundary(*e))
    {
        Source::Raw
    } else {
        source
    };
    let starts: Vec<DateTime<Utc>> = periods.iter().map(|p| p.0).collect();
    let ends: Vec<DateTime<Utc>> = periods.iter().map(|p| p.1).collect();
    macro_rules! rows_to_sums {
        ($rows:expr) => {
            $rows
                .into_iter()
                .map(|r| Sums {
                    transactions: r.transactions,
                    items_sold: r.items_sold,
                    gross_sales: r.gross_sales,
                    discounts: r.discounts,
                    tax: r.tax,
                    cost_of_goods: r.cost_of_goods,
                    refunds: r.refunds,
                    refunded_tax: r.refunded_tax,
                    items_refunded: r.items_refunded,
                    restocked_cost: r.restocked_cost,
                    takeaway_charges: r.takeaway_charges,
                })
                .collect()
        };
    }
    let sums: Vec<Sums> = match source {
        Source::Rollups => {
            if pending_rows(&mut *conn).await? >= COMPACT_AT {
                compact(&mut *conn).await?;
            }
            let rows = sqlx::query!(
                r#"SELECT p.n,
                          coalesce(sum(f.transactions), 0)::bigint AS "transactions!",
                          coalesce(sum(f.items_sold), 0)::bigint AS "items_sold!",
                          coalesce(sum(f.gross_sales), 0) AS "gross_sales!",
                          coalesce(sum(f.discounts), 0) AS "discounts!",
                          coalesce(sum(f.tax), 0) AS "tax!",
                          coalesce(sum(f.cost_of_goods), 0) AS "cost_of_goods!",
                          coalesce(sum(f.refunds), 0) AS "refunds!",
                          coalesce(sum(f.refunded_tax), 0) AS "refunded_tax!",
                          coalesce(sum(f.items_refunded), 0)::bigint AS "items_refunded!",
                          coalesce(sum(f.restocked_cost), 0) AS "restocked_cost!",
                          coalesce(sum(f.takeaway_charges), 0) AS "takeaway_charges!"
                   FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY
                        AS p(starts, ends, n)
                   LEFT JOIN (
                       SELECT * FROM report_buckets
                       UNION ALL
                       SELECT * FROM report_pending
                   ) f ON f.bucket >= p.starts AND f.bucket < p.ends
                   GROUP BY p.n
                   ORDER BY p.n"#,
                &starts,
                &ends
            )
            .fetch_all(&mut *conn)
            .await?;
            rows_to_sums!(rows)
        }
        Source::Raw => {
            let rows = sqlx::query!(
                r#"SELECT p.n,
                          coalesce(sum(f.transactions), 0)::bigint AS "transactions!",
                          coalesce(sum(f.items_sold), 0)::bigint AS "items_sold!",
                          coalesce(sum(f.gross_sales), 0) AS "gross_sales!",
                          coalesce(sum(f.discounts), 0) AS "discounts!",
                          coalesce(sum(f.tax), 0) AS "tax!",
                          coalesce(sum(f.cost_of_goods), 0) AS "cost_of_goods!",
                          coalesce(sum(f.refunds), 0) AS "refunds!",
                          coalesce(sum(f.refunded_tax), 0) AS "refunded_tax!",
                          coalesce(sum(f.items_refunded), 0)::bigint AS "items_refunded!",
                          coalesce(sum(f.restocked_cost), 0) AS "restocked_cost!",
                          coalesce(sum(f.takeaway_charges), 0) AS "takeaway_charges!"
                   FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY
                        AS p(starts, ends, n)
                   LEFT JOIN (SELECT * FROM report_facts WHERE at >= $3 AND at < $4) f
                          ON f.at >= p.starts AND f.at < p.ends
                   GROUP BY p.n
                   ORDER BY p.n"#,
                &starts,
                &ends,
                // The whole range, so the view's branches read only it.
                starts.iter().min().copied().unwrap_or_default(),
                ends.iter().max().copied().unwrap_or_default()
            )
            .fetch_all(&mut *conn)
            .await?;
            rows_to_sums!(rows)
        }
    };
    Ok(sums)
}

/// Pending deltas are folded into buckets once there are this many: reads
/// stay a bounded number of rows, and a quiet store writes nothing.
pub const COMPACT_AT: i64 = 200;

async fn pending_rows(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM (SELECT 1 FROM report_pending LIMIT $1) p"#,
        COMPACT_AT
    )
    .fetch_one(db)
    .await
}

/// Folds the pending deltas into the buckets, in one transaction; returns
/// how many deltas it moved (0 when another compaction is running: the
/// deltas stay pending, which readers count anyway).
pub async fn compact(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mine = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext('kasirgo.report_compact')) AS "locked!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !mine {
        return Ok(0);
    }
    let moved = sqlx::query!(
        "WITH moved AS (DELETE FROM report_pending RETURNING *)
         INSERT INTO report_buckets AS b
         SELECT bucket, sum(transactions), sum(items_sold), sum(gross_sales), sum(discounts),
                sum(tax), sum(cost_of_goods), sum(refunds), sum(refunded_tax),
                sum(items_refunded), sum(restocked_cost), sum(takeaway_charges)
         FROM moved GROUP BY bucket
         ON CONFLICT (bucket) DO UPDATE SET
             transactions = b.transactions + excluded.transactions,
             items_sold = b.items_sold + excluded.items_sold,
             gross_sales = b.gross_sales + excluded.gross_sales,
             discounts = b.discounts + excluded.discounts,
             tax = b.tax + excluded.tax,
             cost_of_goods = b.cost_of_goods + excluded.cost_of_goods,
             refunds = b.refunds + excluded.refunds,
             refunded_tax = b.refunded_tax + excluded.refunded_tax,
             items_refunded = b.items_refunded + excluded.items_refunded,
             restocked_cost = b.restocked_cost + excluded.restocked_cost,
             takeaway_charges = b.takeaway_charges + excluded.takeaway_charges"
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(moved)
}

/// Recomputes every bucket from the raw rows (a repair tool; exact under
/// concurrent writers, which wait for it).
pub async fn rebuild(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT report_rebuild()").execute(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_have_two_places_and_a_sign() {
        assert_eq!(Amount(d("15000")).to_string(), "15000.00");
        assert_eq!(Amount(d("-12.5")).to_string(), "-12.50");
        assert_eq!(Amount(d("-0.00")).to_string(), "0.00");
        assert_eq!(Amount(d("1.230000")).to_string(), "1.23");
    }

    #[test]
    fn figures_derive_net_and_profit() {
        let f = Figures::from(Sums {
            transactions: 2,
            items_sold: 5,
            gross_sales: d("100.00"),
            discounts: d("10.00"),
            tax: d("9.90"),
            cost_of_goods: d("40.00"),
            refunds: d("22.00"),
            refunded_tax: d("2.00"),
            items_refunded: 1,
            restocked_cost: d("8.00"),
            takeaway_charges: d("4.00"),
        });
        // 100 - 10 + 4 - (22 - 2)
        assert_eq!(f.net_sales, Amount(d("74.00")));
        assert_eq!(f.cost_of_goods, Amount(d("32.00")));
        assert_eq!(f.gross_profit, Amount(d("42.00")));
        assert_eq!(f.takeaway_charges, Amount(d("4.00")));
    }

    #[test]
    fn bucket_boundaries() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(on_bucket_boundary(at("2026-11-23T17:00:00Z")));
        assert!(!on_bucket_boundary(at("2026-11-23T18:15:00Z"))); // +05:45 midnight
        assert!(!on_bucket_boundary(at("2026-11-23T17:00:01Z")));
    }
}
