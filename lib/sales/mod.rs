//! Sales ("transactions" in the API): checkout, detail, search, refunds.

pub mod checkout;
pub mod http;
pub mod refunds;
pub mod search;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    #[default]
    DineIn,
    TakeAway,
    Delivery,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::DineIn => "dine_in",
            OrderType::TakeAway => "take_away",
            OrderType::Delivery => "delivery",
        }
    }

    fn parse(s: &str) -> OrderType {
        match s {
            "take_away" => OrderType::TakeAway,
            "delivery" => OrderType::Delivery,
            _ => OrderType::DineIn,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Qris,
    Card,
    Transfer,
    Ewallet,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Qris => "qris",
            PaymentMethod::Card => "card",
            PaymentMethod::Transfer => "transfer",
            PaymentMethod::Ewallet => "ewallet",
        }
    }

    fn parse(s: &str) -> PaymentMethod {
        match s {
            "qris" => PaymentMethod::Qris,
            "card" => PaymentMethod::Card,
            "transfer" => PaymentMethod::Transfer,
            "ewallet" => PaymentMethod::Ewallet,
            _ => PaymentMethod::Cash,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cashier {
    pub id: Uuid,
    pub username: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SaleLine {
    pub id: Uuid,
    pub product_id: Uuid,
    /// The product's name at the time of sale.
    pub product_name: String,
    pub sku: Option<String>,
    pub quantity: i32,
    pub unit_price: Money,
    pub line_total: Money,
    pub note: String,
    pub refunded_quantity: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sale {
    pub id: Uuid,
    #[schema(example = "TRX-20261124-0001")]
    pub transaction_no: String,
    /// `completed`, `partially_refunded` or `refunded`.
    #[schema(example = "completed")]
    pub status: String,
    pub cashier: Cashier,
    pub customer_name: String,
    pub notes: String,
    pub order_type: OrderType,
    pub payment_method: PaymentMethod,
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    pub paid_amount: Money,
    pub change_amount: Money,
    pub refunded_amount: Money,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub items: Vec<SaleLine>,
    /// On the detail view: the sale's refunds, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<refunds::Refund>>,
}

/// One sale with its lines and refunds. `cashier_only`: a cashier may see
/// only their own sales (others are "not found", not "forbidden", so ids
/// do not leak).
pub async fn detail(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    cashier_only: Option<Uuid>,
) -> ApiResult<Sale> {
    let h = sqlx::query!(
        r#"SELECT s.id, s.transaction_no, s.status, s.cashier_id, u.username, s.customer_name,
                  s.notes, s.order_type, s.payment_method,
                  s.subtotal AS "subtotal: Money", s.discount AS "discount: Money",
                  s.tax AS "tax: Money", s.total AS "total: Money",
                  s.paid_amount AS "paid_amount: Money", s.change_amount AS "change_amount: Money",
                  s.refunded_amount AS "refunded_amount: Money", s.occurred_at, s.created_at
           FROM sales s JOIN users u ON u.id = s.cashier_id
           WHERE s.id = $1 AND ($2::uuid IS NULL OR s.cashier_id = $2)"#,
        id,
        cashier_only
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("Transaction"))?;
    let items = lines(&mut *conn, id).await?;
    let refunds = refunds::for_sale(&mut *conn, id).await?;
    Ok(Sale {
        id: h.id,
        transaction_no: h.transaction_no,
        status: h.status,
        cashier: Cashier {
            id: h.cashier_id,
            username: h.username,
        },
        customer_name: h.customer_name,
        notes: h.notes,
        order_type: OrderType::parse(&h.order_type),
        payment_method: PaymentMethod::parse(&h.payment_method),
        subtotal: h.subtotal,
        discount: h.discount,
        tax: h.tax,
        total: h.total,
        paid_amount: h.paid_amount,
        change_amount: h.change_amount,
        refunded_amount: h.refunded_amount,
        occurred_at: h.occurred_at,
        created_at: h.created_at,
        items,
        refunds: Some(refunds),
    })
}

pub async fn lines(db: impl PgExecutor<'_>, sale_id: Uuid) -> sqlx::Result<Vec<SaleLine>> {
    sqlx::query_as!(
        SaleLine,
        r#"SELECT id, product_id, product_name, sku, quantity,
                  unit_price AS "unit_price: Money", line_total AS "line_total: Money",
                  note, refunded_quantity
           FROM sale_lines WHERE sale_id = $1 ORDER BY line_no"#,
        sale_id
    )
    .fetch_all(db)
    .await
}
