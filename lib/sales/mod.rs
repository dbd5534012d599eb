//! Sales ("transactions" in the API): checkout, detail, search, refunds.

pub mod checkout;
pub mod edit;
pub mod http;
pub mod pending;
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

    /// QRIS and transfers are rung up `pending` until the money arrives
    /// (`sales::pending`); cash, card and e-wallet sales are paid at once.
    pub fn waits_for_payment(self) -> bool {
        matches!(self, PaymentMethod::Qris | PaymentMethod::Transfer)
    }

    pub(crate) fn parse(s: &str) -> PaymentMethod {
        match s {
            "qris" => PaymentMethod::Qris,
            "card" => PaymentMethod::Card,
            "transfer" => PaymentMethod::Transfer,
            "ewallet" => PaymentMethod::Ewallet,
            _ => PaymentMethod::Cash,
        }
    }
}

/// The kitchen's side of a sale: a paid sale with a line made to order
/// (`needs_preparation`) is `processing` until the kitchen marks it
/// `completed`. Apart from the sale's payment and refund `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preparation {
    Processing,
    Completed,
}

impl Preparation {
    pub fn as_str(self) -> &'static str {
        match self {
            Preparation::Processing => "processing",
            Preparation::Completed => "completed",
        }
    }

    fn parse(s: &str) -> Option<Preparation> {
        match s {
            "processing" => Some(Preparation::Processing),
            "completed" => Some(Preparation::Completed),
            _ => None,
        }
    }
}

/// Where a sale stands at the till, in one word (the app's `status`):
/// `pending` while its payment is awaited; `cancelled` once wholly
/// refunded (voided), expired or cancelled unpaid; else `processing` while
/// the kitchen prepares it, else `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for its QRIS or transfer payment.
    Pending,
    Processing,
    Completed,
    Cancelled,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Processing => "processing",
            Stage::Completed => "completed",
            Stage::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "pending" => Some(Stage::Pending),
            "processing" => Some(Stage::Processing),
            "completed" => Some(Stage::Completed),
            "cancelled" => Some(Stage::Cancelled),
            _ => None,
        }
    }

    /// The stage of a sale with this `status` and preparation; the SQL
    /// twin is `sale_stage()` in the search (migration 10's rule).
    pub fn of(status: &str, preparation: Option<Preparation>) -> Stage {
        if status == "pending" {
            Stage::Pending
        } else if matches!(status, "refunded" | "expired" | "cancelled") {
            Stage::Cancelled
        } else if preparation == Some(Preparation::Processing) {
            Stage::Processing
        } else {
            Stage::Completed
        }
    }
}

/// Whether a sale with this status is money the shop took (reports count
/// only these); the SQL twin is `sale_counts()` (migration 14).
pub fn counts(status: &str) -> bool {
    matches!(status, "completed" | "partially_refunded" | "refunded")
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cashier {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
}

impl Cashier {
    /// The name to show: the full name, or the username without one.
    pub fn display_name(&self) -> &str {
        if self.full_name.trim().is_empty() {
            &self.username
        } else {
            &self.full_name
        }
    }
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
    /// The sale's stable integer id (the app's `id`).
    pub int_id: i64,
    #[schema(example = "TRX-20261124-0001")]
    pub transaction_no: String,
    /// `completed`, `partially_refunded` or `refunded`; for a QRIS or
    /// transfer sale first `pending`, then `completed`, `expired` or
    /// `cancelled` (the last two never paid: in no report).
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
    /// Packaging on a take-away order, untaxed; part of the total.
    pub takeaway_charge: Money,
    pub total: Money,
    pub paid_amount: Money,
    pub change_amount: Money,
    pub refunded_amount: Money,
    /// `processing` while the kitchen prepares it, `completed` once it is
    /// done; null when nothing in the sale needs preparing.
    pub preparation: Option<Preparation>,
    pub prepared_at: Option<DateTime<Utc>>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// A QRIS or transfer sale: when its payment window closes.
    pub pending_until: Option<DateTime<Utc>>,
    /// When it stopped waiting for its payment (paid, expired, cancelled).
    pub settled_at: Option<DateTime<Utc>>,
    /// The customer record it is attached to.
    pub customer_id: Option<Uuid>,
    /// The shift it was rung up in (the cashier's open shift then).
    pub shift_id: Option<Uuid>,
    pub items: Vec<SaleLine>,
    /// On the detail view: the sale's refunds, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<refunds::Refund>>,
    /// A QRIS or transfer sale's payment (QR content, VA number, status).
    pub payment: Option<crate::payments::Payment>,
}

/// A sale's header row, as `detail` and `details` read it.
struct Header {
    id: Uuid,
    int_id: i64,
    transaction_no: String,
    status: String,
    cashier_id: Uuid,
    username: String,
    full_name: String,
    customer_name: String,
    notes: String,
    order_type: String,
    payment_method: String,
    subtotal: Money,
    discount: Money,
    tax: Money,
    takeaway_charge: Money,
    total: Money,
    preparation: Option<String>,
    prepared_at: Option<DateTime<Utc>>,
    paid_amount: Money,
    change_amount: Money,
    refunded_amount: Money,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    pending_until: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
    customer_id: Option<Uuid>,
    shift_id: Option<Uuid>,
}

impl Header {
    fn into_sale(self, items: Vec<SaleLine>, refunds: Option<Vec<refunds::Refund>>) -> Sale {
        Sale {
            id: self.id,
            int_id: self.int_id,
            transaction_no: self.transaction_no,
            status: self.status,
            cashier: Cashier {
                id: self.cashier_id,
                username: self.username,
                full_name: self.full_name,
            },
            customer_name: self.customer_name,
            notes: self.notes,
            order_type: OrderType::parse(&self.order_type),
            payment_method: PaymentMethod::parse(&self.payment_method),
            subtotal: self.subtotal,
            discount: self.discount,
            tax: self.tax,
            takeaway_charge: self.takeaway_charge,
            total: self.total,
            paid_amount: self.paid_amount,
            change_amount: self.change_amount,
            refunded_amount: self.refunded_amount,
            preparation: self.preparation.as_deref().and_then(Preparation::parse),
            prepared_at: self.prepared_at,
            occurred_at: self.occurred_at,
            created_at: self.created_at,
            pending_until: self.pending_until,
            settled_at: self.settled_at,
            customer_id: self.customer_id,
            shift_id: self.shift_id,
            items,
            refunds,
            payment: None,
        }
    }
}

/// One sale with its lines and refunds. `cashier_only`: a cashier may see
/// only their own sales (others are "not found", not "forbidden", so ids
/// do not leak).
pub async fn detail(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    cashier_only: Option<Uuid>,
) -> ApiResult<Sale> {
    let mut sale = details(&mut *conn, &[id], cashier_only)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("Transaction"))?;
    sale.refunds = Some(refunds::for_sale(&mut *conn, id).await?);
    Ok(sale)
}

/// Whole sales with their lines (no refunds), in the order of `ids`: a
/// page of search results in full, in two queries. `cashier_only` as for
/// [`detail`].
pub async fn details(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
    cashier_only: Option<Uuid>,
) -> ApiResult<Vec<Sale>> {
    let headers = sqlx::query_as!(
        Header,
        r#"SELECT s.id, s.int_id, s.transaction_no, s.status, s.cashier_id, u.username,
                  u.full_name, s.customer_name, s.notes, s.order_type, s.payment_method,
                  s.subtotal AS "subtotal: Money", s.discount AS "discount: Money",
                  s.tax AS "tax: Money", s.takeaway_charge AS "takeaway_charge: Money",
                  s.total AS "total: Money", s.preparation, s.prepared_at,
                  s.paid_amount AS "paid_amount: Money", s.change_amount AS "change_amount: Money",
                  s.refunded_amount AS "refunded_amount: Money", s.occurred_at, s.created_at,
                  s.pending_until, s.settled_at, s.customer_id, s.shift_id
           FROM sales s JOIN users u ON u.id = s.cashier_id
           WHERE s.id = ANY($1) AND ($2::uuid IS NULL OR s.cashier_id = $2)"#,
        ids,
        cashier_only
    )
    .fetch_all(&mut *conn)
    .await?;
    let all_lines = sqlx::query!(
        r#"SELECT sale_id, id, product_id, product_name, sku, quantity,
                  unit_price AS "unit_price: Money", line_total AS "line_total: Money",
                  note, refunded_quantity
           FROM sale_lines WHERE sale_id = ANY($1) ORDER BY sale_id, line_no"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_sale: std::collections::HashMap<Uuid, Vec<SaleLine>> =
        std::collections::HashMap::new();
    for l in all_lines {
        by_sale.entry(l.sale_id).or_default().push(SaleLine {
            id: l.id,
            product_id: l.product_id,
            product_name: l.product_name,
            sku: l.sku,
            quantity: l.quantity,
            unit_price: l.unit_price,
            line_total: l.line_total,
            note: l.note,
            refunded_quantity: l.refunded_quantity,
        });
    }
    // Only a sale that was ever pending has a payment.
    let waited: Vec<Uuid> = headers
        .iter()
        .filter(|h| h.pending_until.is_some())
        .map(|h| h.id)
        .collect();
    let mut payments = if waited.is_empty() {
        Default::default()
    } else {
        crate::payments::for_sales(&mut *conn, &waited).await?
    };
    let mut headers: std::collections::HashMap<Uuid, Header> =
        headers.into_iter().map(|h| (h.id, h)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| headers.remove(id))
        .map(|h| {
            let items = by_sale.remove(&h.id).unwrap_or_default();
            let payment = payments.remove(&h.id);
            let mut sale = h.into_sale(items, None);
            sale.payment = payment;
            sale
        })
        .collect())
}

/// That the sale exists and the caller may reach it (a cashier only their
/// own: another's is "not found", as on the detail view), without loading it.
pub async fn ensure_visible(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    cashier_only: Option<Uuid>,
) -> ApiResult<()> {
    sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM sales WHERE id = $1 AND ($2::uuid IS NULL OR cashier_id = $2)"#,
        id,
        cashier_only
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|_| ())
    .ok_or_else(|| ApiError::not_found("Transaction"))
}

/// The sale with the integer id `int_id` (the app's ids).
pub async fn id_for_int(db: impl PgExecutor<'_>, int_id: i64) -> ApiResult<Uuid> {
    sqlx::query_scalar!("SELECT id FROM sales WHERE int_id = $1", int_id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| ApiError::not_found("Transaction"))
}
