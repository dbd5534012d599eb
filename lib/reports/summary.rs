//! `GET /api/reports/summary`: a range's totals and where they came from:
//! payment methods, cashiers, top products, hours of the day.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Amount;
use crate::error::ApiResult;
use crate::sales::PaymentMethod;

/// How many products each top list holds.
pub const TOP_PRODUCTS: i64 = 10;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentMethodRow {
    pub payment_method: PaymentMethod,
    /// Sales paid this way in the range.
    pub transactions: i64,
    /// Their totals (after discount, with tax and take-away charge): the
    /// money taken.
    pub total: Amount,
    /// Money paid back in the range on sales paid this way.
    pub refunds: Amount,
    /// `total - refunds`.
    pub net: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CashierRow {
    pub cashier_id: Uuid,
    pub username: String,
    pub transactions: i64,
    pub items_sold: i64,
    /// Totals of their sales (after discount, with tax and take-away charge).
    pub total: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductRow {
    pub product_id: Uuid,
    /// The name on the most recent sale in the range.
    pub product_name: String,
    pub sku: Option<String>,
    /// Units sold in the range.
    pub quantity: i64,
    /// Line totals (unit price x quantity, before the sale's discount and tax).
    pub revenue: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopProducts {
    pub by_quantity: Vec<ProductRow>,
    pub by_revenue: Vec<ProductRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HourRow {
    /// Store-local hour of the day, 0-23.
    pub hour: i32,
    pub transactions: i64,
    pub total: Amount,
}

pub async fn by_payment_method(
    conn: &mut PgConnection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> ApiResult<Vec<PaymentMethodRow>> {
    let rows = sqlx::query!(
        r#"SELECT m.method AS "method!",
                  coalesce(s.transactions, 0)::bigint AS "transactions!",
                  coalesce(s.total, 0) AS "total!",
                  coalesce(r.refunds, 0) AS "refunds!"
           FROM unnest(ARRAY['cash', 'qris', 'card', 'transfer', 'ewallet']) WITH ORDINALITY
                AS m(method, n)
           LEFT JOIN (SELECT payment_method, count(*) AS transactions, sum(total) AS total
                      FROM sales WHERE occurred_at >= $1 AND occurred_at < $2 AND sale_counts(status)
                      GROUP BY payment_method) s ON s.payment_method = m.method
           LEFT JOIN (SELECT s.payment_method, sum(r.amount) AS refunds
                      FROM refunds r JOIN sales s ON s.id = r.sale_id
                      WHERE r.created_at >= $1 AND r.created_at < $2
                      GROUP BY s.payment_method) r ON r.payment_method = m.method
           ORDER BY m.n"#,
        start,
        end
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PaymentMethodRow {
            payment_method: payment_method(&r.method),
            transactions: r.transactions,
            total: Amount(r.total),
            refunds: Amount(r.refunds),
            net: Amount(r.total - r.refunds),
        })
        .collect())
}

pub async fn by_cashier(
    conn: &mut PgConnection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> ApiResult<Vec<CashierRow>> {
    let rows = sqlx::query!(
        r#"SELECT s.cashier_id, u.username, count(*) AS "transactions!",
                  sum(s.total) AS "total!",
                  coalesce(sum((SELECT sum(l.quantity) FROM sale_lines l WHERE l.sale_id = s.id)),
                           0)::bigint AS "items_sold!"
           FROM sales s JOIN users u ON u.id = s.cashier_id
           WHERE s.occurred_at >= $1 AND s.occurred_at < $2 AND sale_counts(s.status)
           GROUP BY s.cashier_id, u.username
           ORDER BY sum(s.total) DESC, u.username"#,
        start,
        end
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| CashierRow {
            cashier_id: r.cashier_id,
            username: r.username,
            transactions: r.transactions,
            items_sold: r.items_sold,
            total: Amount(r.total),
        })
        .collect())
}

pub async fn top_products(
    conn: &mut PgConnection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> ApiResult<TopProducts> {
    let rows = sqlx::query!(
        r#"WITH sold AS (
               SELECT l.product_id,
                      (array_agg(l.product_name ORDER BY s.occurred_at DESC, l.id DESC))[1]
                          AS product_name,
                      (array_agg(l.sku ORDER BY s.occurred_at DESC, l.id DESC))[1] AS sku,
                      sum(l.quantity)::bigint AS quantity,
                      sum(l.line_total) AS revenue
               FROM sales s JOIN sale_lines l ON l.sale_id = s.id
               WHERE s.occurred_at >= $1 AND s.occurred_at < $2 AND sale_counts(s.status)
               GROUP BY l.product_id
           ), by_quantity AS (
               SELECT 'quantity' AS list, * FROM sold
               ORDER BY quantity DESC, revenue DESC, product_id LIMIT $3
           ), by_revenue AS (
               SELECT 'revenue' AS list, * FROM sold
               ORDER BY revenue DESC, quantity DESC, product_id LIMIT $3
           )
           SELECT list AS "list!", product_id AS "product_id!", product_name AS "product_name!",
                  sku, quantity AS "quantity!", revenue AS "revenue!"
           FROM (SELECT * FROM by_quantity UNION ALL SELECT * FROM by_revenue) t"#,
        start,
        end,
        TOP_PRODUCTS
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut top = TopProducts {
        by_quantity: Vec::new(),
        by_revenue: Vec::new(),
    };
    for r in rows {
        let row = ProductRow {
            product_id: r.product_id,
            product_name: r.product_name,
            sku: r.sku,
            quantity: r.quantity,
            revenue: Amount(r.revenue),
        };
        if r.list == "quantity" {
            top.by_quantity.push(row);
        } else {
            top.by_revenue.push(row);
        }
    }
    Ok(top)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerRow {
    pub customer_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    /// Paid sales in the range.
    pub visits: i64,
    /// What they came to, less their refunds.
    #[schema(value_type = String)]
    pub spent: Amount,
}

pub async fn top_customers(
    conn: &mut PgConnection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> ApiResult<Vec<CustomerRow>> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.name, c.phone, count(*) AS "visits!",
                  sum(s.total - s.refunded_amount) AS "spent!"
           FROM sales s JOIN customers c ON c.id = s.customer_id
           WHERE s.occurred_at >= $1 AND s.occurred_at < $2 AND sale_counts(s.status)
           GROUP BY c.id
           ORDER BY sum(s.total - s.refunded_amount) DESC, c.name, c.id
           LIMIT 10"#,
        start,
        end
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| CustomerRow {
            customer_id: r.id,
            name: r.name,
            phone: r.phone,
            visits: r.visits,
            spent: Amount(r.spent),
        })
        .collect())
}

/// All 24 hours, empty ones as zeros.
pub async fn by_hour(
    conn: &mut PgConnection,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    timezone: &str,
) -> ApiResult<Vec<HourRow>> {
    let rows = sqlx::query!(
        r#"SELECT h.hour AS "hour!", coalesce(s.transactions, 0)::bigint AS "transactions!",
                  coalesce(s.total, 0) AS "total!"
           FROM generate_series(0, 23) AS h(hour)
           LEFT JOIN (SELECT extract(hour FROM occurred_at AT TIME ZONE $3)::int AS hour,
                             count(*) AS transactions, sum(total) AS total
                      FROM sales WHERE occurred_at >= $1 AND occurred_at < $2 AND sale_counts(status)
                      GROUP BY 1) s ON s.hour = h.hour
           ORDER BY h.hour"#,
        start,
        end,
        timezone
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| HourRow {
            hour: r.hour,
            transactions: r.transactions,
            total: Amount(r.total),
        })
        .collect())
}

fn payment_method(s: &str) -> PaymentMethod {
    match s {
        "qris" => PaymentMethod::Qris,
        "card" => PaymentMethod::Card,
        "transfer" => PaymentMethod::Transfer,
        "ewallet" => PaymentMethod::Ewallet,
        _ => PaymentMethod::Cash,
    }
}
