//! Payments for pending sales: the shop's own QRIS made dynamic, a transfer
//! confirmed by hand, or a provider (Duitku) with signed callbacks.
//!
//! This module owns the `payments` table; the sale's own status moves in
//! `sales::pending`, inside the same transaction and under the sale's row
//! lock, so a payment and its sale never disagree.
//!
//! Amounts: a QRIS or VA payment is in whole rupiah (providers take no
//! cents, nor do the customers' banking apps reliably), so a total with
//! cents is charged rounded *up* to the next rupiah; the sale records that
//! as `paid_amount` and the difference as `change_amount`.

pub mod duitku;
pub mod http;
pub mod provider;
pub mod qris;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::sales::PaymentMethod;
use crate::sales::checkout::{self, CheckoutRequest, Idempotency, Outcome, Replay};
use crate::sales::pending::{self, End, Request, Settled};
use provider::{Channel, OpenRequest, Opened, Provider, Settlement};

/// A provider's callback may arrive a little after the window it was told:
/// its sale waits this much longer before it expires.
pub const PROVIDER_GRACE: Duration = Duration::minutes(2);
/// How often a poll may ask the provider itself, per payment.
pub const PROVIDER_CHECK_EVERY: Duration = Duration::seconds(10);
/// Most overdue sales one catch-up expires (the cron takes the rest).
pub const CATCH_UP_LIMIT: usize = 50;

/// How a pending sale will be paid: decided by [`checkout`] before the sale
/// is written, recorded with it by [`record`].
#[derive(Debug, Clone)]
pub enum Collect {
    /// The shop's own static QRIS, made dynamic for the amount.
    StaticQris { payload: String },
    /// A transfer to the shop's account, confirmed by hand.
    Manual,
    /// An invoice a provider opened (before the sale was written).
    Provider {
        provider: &'static str,
        channel: Channel,
        order_id: String,
        opened: Opened,
    },
}

impl Collect {
    /// How much longer than the window the sale waits for the money.
    pub fn grace(&self) -> Duration {
        match self {
            Collect::Provider { .. } => PROVIDER_GRACE,
            _ => Duration::zero(),
        }
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Qris => "qris",
        Channel::VirtualAccount => "virtual_account",
    }
}

/// What a QRIS or VA payment charges for `total`: whole rupiah, up.
pub fn charge_for(total: Decimal) -> Decimal {
    total.ceil()
}

/// A sale's payment as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    /// The payment's integer id (the app's `payment_id`).
    pub id: i64,
    /// `qris_static` (the shop's own QRIS, confirmed by hand), `manual`
    /// (a transfer, confirmed by hand) or the provider (`duitku`).
    #[schema(example = "qris_static")]
    pub provider: String,
    /// `qris`, `virtual_account` or `transfer`.
    #[schema(example = "qris")]
    pub channel: String,
    /// The provider's payment method code (Duitku: `SP`, `BC`...).
    pub method_code: Option<String>,
    /// `pending`, `success`, `failed`, `expired` or `cancelled`.
    #[schema(example = "pending")]
    pub status: String,
    /// What the customer pays: the total, in whole rupiah.
    pub amount: Money,
    /// What the provider knows this payment by.
    pub order_id: String,
    /// The provider's reference; for the shop's own QRIS its NMID.
    pub reference: Option<String>,
    /// The QR's content (EMVCo), for QRIS.
    pub qr_string: Option<String>,
    /// The virtual account number, for a VA.
    pub va_number: Option<String>,
    pub payment_url: Option<String>,
    /// When the customer's payment window closes.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// Who confirmed it by hand.
    pub confirmed_by: Option<Uuid>,
    /// The provider said "paid" after the sale had expired or been
    /// cancelled: the customer's money must be returned.
    pub late_paid_at: Option<DateTime<Utc>>,
}

pub(crate) struct Row {
    pub id: i64,
    pub sale_id: Uuid,
    pub provider: String,
    pub channel: String,
    pub method_code: Option<String>,
    pub status: String,
    pub amount: Money,
    pub order_id: String,
    pub reference: Option<String>,
    pub qr_string: Option<String>,
    pub va_number: Option<String>,
    pub payment_url: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<Uuid>,
    pub late_paid_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
}

impl Row {
    fn into_payment(self) -> Payment {
        Payment {
            id: self.id,
            provider: self.provider,
            channel: self.channel,
            method_code: self.method_code,
            status: self.status,
            amount: self.amount,
            order_id: self.order_id,
            reference: self.reference,
            qr_string: self.qr_string,
            va_number: self.va_number,
            payment_url: self.payment_url,
            expires_at: self.expires_at,
            created_at: self.created_at,
            settled_at: self.settled_at,
            confirmed_by: self.confirmed_by,
            late_paid_at: self.late_paid_at,
        }
    }
}

/// The payments of these sales (a sale has at most one).
pub async fn for_sales(
    conn: &mut PgConnection,
    sale_ids: &[Uuid],
) -> sqlx::Result<std::collections::HashMap<Uuid, Payment>> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, sale_id, provider, channel, method_code, status,
                  amount AS "amount: Money", order_id, reference, qr_string, va_number,
                  payment_url, expires_at, created_at, settled_at, confirmed_by, late_paid_at,
                  checked_at
           FROM payments WHERE sale_id = ANY($1)"#,
        sale_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.sale_id, r.into_payment()))
        .collect())
}

async fn row_by_id(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, sale_id, provider, channel, method_code, status,
                  amount AS "amount: Money", order_id, reference, qr_string, va_number,
                  payment_url, expires_at, created_at, settled_at, confirmed_by, late_paid_at,
                  checked_at
           FROM payments WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await
}

async fn row_by_order(
    conn: &mut PgConnection,
    provider: &str,
    order_id: &str,
) -> sqlx::Result<Option<Row>> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, sale_id, provider, channel, method_code, status,
                  amount AS "amount: Money", order_id, reference, qr_string, va_number,
                  payment_url, expires_at, created_at, settled_at, confirmed_by, late_paid_at,
                  checked_at
           FROM payments WHERE order_id = $1 AND provider = $2"#,
        order_id,
        provider
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Writes a pending sale's payment, inside the sale's own transaction.
/// `amount` is what the sale charges ([`charge_for`] its total).
pub async fn record(
    tx: &mut PgConnection,
    sale_id: Uuid,
    collect: &Collect,
    amount: Decimal,
    expires_at: DateTime<Utc>,
) -> ApiResult<Payment> {
    let order_id = match collect {
        Collect::Provider { order_id, .. } => order_id.clone(),
        _ => new_order_id(),
    };
    let (provider, channel, method_code, reference, qr, va, url) = match collect {
        Collect::StaticQris { payload } => (
            "qris_static",
            "qris",
            None,
            qris::validate_static(payload)
                .ok()
                .and_then(|q| q.nmid().map(str::to_string)),
            Some(
                qris::dynamic(payload, amount)
                    .map_err(|e| ApiError::Conflict(format!("The shop's QRIS code: {e}")))?,
            ),
            None,
            None,
        ),
        Collect::Manual => ("manual", "transfer", None, None, None, None, None),
        Collect::Provider {
            provider,
            channel,
            opened,
            ..
        } => {
            if opened.amount != amount {
                return Err(ApiError::Conflict(format!(
                    "The payment was opened for {} but the sale comes to {amount}: the prices changed; ring the sale up again.",
                    opened.amount
                )));
            }
            (
                *provider,
                channel_name(*channel),
                Some(opened.method_code.clone()),
                Some(opened.reference.clone()),
                opened.qr_string.clone(),
                opened.va_number.clone(),
                opened.payment_url.clone(),
            )
        }
    };
    let row = sqlx::query_as!(
        Row,
        r#"INSERT INTO payments (sale_id, provider, channel, method_code, amount, order_id,
                                 reference, qr_string, va_number, payment_url, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           RETURNING id, sale_id, provider, channel, method_code, status,
                     amount AS "amount: Money", order_id, reference, qr_string, va_number,
                     payment_url, expires_at, created_at, settled_at, confirmed_by,
                     late_paid_at, checked_at"#,
        sale_id,
        provider,
        channel,
        method_code,
        amount,
        order_id,
        reference,
        qr,
        va,
        url,
        expires_at,
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.into_payment())
}

/// A fresh order id for a provider: unique, 34 characters.
pub fn new_order_id() -> String {
    format!("KG{}", Uuid::now_v7().simple())
}

/// The provider this process is configured with, if any.
pub type ProviderRef = Option<Arc<dyn Provider>>;

/// Checkout, with the payment decided first: cash, card and e-wallet sales
/// go straight through; QRIS and transfer sales are written `pending` with
/// their payment (see the module's rules). v1 and v0 both come here.
pub async fn checkout(
    conn: &mut PgConnection,
    provider: Option<&dyn Provider>,
    user_id: Uuid,
    mut req: CheckoutRequest,
    idempotency: Option<Idempotency>,
) -> ApiResult<Outcome> {
    if !req.payment_method.waits_for_payment() {
        return checkout::checkout(conn, user_id, req, idempotency).await;
    }
    // A retry must not open a second invoice: look for the first answer.
    if let Some(key) = &idempotency {
        match checkout::find_replay(conn, user_id, key.key, &key.hash).await? {
            Some(Replay::Same(response)) => return Ok(Outcome::Replayed(response)),
            Some(Replay::Mismatch) => return Err(checkout::key_reused()),
            None => {}
        }
    }
    let settings = sqlx::query!("SELECT qris_payload, payment_window_minutes FROM store_settings")
        .fetch_one(&mut *conn)
        .await?;
    let channel = match req.payment_method {
        PaymentMethod::Qris => Channel::Qris,
        _ => Channel::VirtualAccount,
    };
    let collect = match (provider, req.payment_method) {
        (Some(p), _) => {
            let quote = checkout::quote(conn, &req).await?;
            let amount = charge_for(quote);
            let order_id = new_order_id();
            let opened = p
                .open(OpenRequest {
                    order_id: order_id.clone(),
                    amount,
                    channel,
                    description: "KasirGo sale".into(),
                    customer_name: req.customer_name.trim().to_string(),
                    customer_email: None,
                    expiry_minutes: settings.payment_window_minutes as u32,
                })
                .await
                .map_err(|e| ApiError::PaymentProvider(e.to_string()))?;
            Collect::Provider {
                provider: p.name(),
                channel,
                order_id,
                opened,
            }
        }
        (None, PaymentMethod::Qris) => match settings.qris_payload {
            Some(payload) => Collect::StaticQris { payload },
            None => {
                return Err(ApiError::ConflictWith {
                    code: "qris_not_set_up",
                    detail: "QRIS is not set up: the owner stores the shop's QRIS code in the settings (qris_payload), or a payment provider is configured.".into(),
                    extra: Default::default(),
                });
            }
        },
        (None, _) => Collect::Manual,
    };
    req.collect = Some(collect);
    checkout::checkout(conn, user_id, req, idempotency).await
}

/// Moves a pending sale (confirm, cancel, a provider's word) and its
/// payment together, in one transaction.
pub async fn settle(
    conn: &mut PgConnection,
    sale_id: Uuid,
    request: Request,
    failed: bool,
    notice: Option<serde_json::Value>,
) -> ApiResult<Settled> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let settled = pending::settle(&mut tx, sale_id, request).await?;
    let by = match request {
        Request::Paid { by } | Request::Cancel { by } => by,
    };
    let new_status = match &settled {
        Settled::Now(End::Completed) => Some("success"),
        Settled::Now(End::Expired) => Some("expired"),
        Settled::Now(End::Cancelled) if failed => Some("failed"),
        Settled::Now(End::Cancelled) => Some("cancelled"),
        Settled::Already(_) => None,
    };
    // The provider's "paid" for a sale that is no longer waiting: money
    // the customer is owed back (unless it is this payment's own success).
    // (Expired just now counts too: the window closed before the word came.)
    let late = matches!(request, Request::Paid { by: None })
        && match &settled {
            Settled::Now(End::Expired) => true,
            Settled::Already(s) => matches!(s.as_str(), "expired" | "cancelled"),
            _ => false,
        };
    sqlx::query!(
        "UPDATE payments SET
             status = COALESCE($2, status),
             settled_at = CASE WHEN $2::text IS NULL THEN settled_at ELSE now() END,
             confirmed_by = CASE WHEN $2 = 'success' THEN $3 ELSE confirmed_by END,
             late_paid_at = CASE WHEN $4 THEN COALESCE(late_paid_at, now()) ELSE late_paid_at END,
             notices = CASE WHEN $5::jsonb IS NULL THEN notices ELSE notices || $5 END
         WHERE sale_id = $1",
        sale_id,
        new_status,
        by,
        late,
        notice.map(|n| serde_json::Value::Array(vec![n])),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if late {
        tracing::warn!(%sale_id, "a provider reported a payment after its sale had ended: refund the customer");
    }
    Ok(settled)
}

/// Expires what is overdue, a sale per transaction, at most `limit`: the
/// cron's job, and every read's lazy catch-up. Errors are the caller's.
pub async fn expire_overdue(db: &PgPool, limit: usize) -> ApiResult<usize> {
    let mut conn = db.acquire().await?;
    expire_overdue_on(&mut conn, limit).await
}

/// [`expire_overdue`] on a connection the caller holds.
pub async fn expire_overdue_on(conn: &mut PgConnection, limit: usize) -> ApiResult<usize> {
    if !pending::any_overdue(&mut *conn).await? {
        return Ok(0);
    }
    let mut done = 0;
    while done < limit {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let Some(sale_id) = pending::expire_next(&mut tx).await? else {
            break;
        };
        sqlx::query!(
            "UPDATE payments SET status = 'expired', settled_at = now()
             WHERE sale_id = $1 AND status = 'pending'",
            sale_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}

/// A read's catch-up: expire what is overdue first, so nobody sees stock
/// held by a sale whose window closed. Never fails the read.
pub async fn catch_up(db: &PgPool) {
    if let Err(error) = expire_overdue(db, CATCH_UP_LIMIT).await {
        tracing::warn!(%error, "could not expire overdue pending sales");
    }
}

/// A payment by its integer id, after bringing it up to date: expired if
/// its window closed; for a provider's, the provider asked at most every
/// [`PROVIDER_CHECK_EVERY`]. `cashier_only`: others' are "not found".
pub async fn status(
    conn: &mut PgConnection,
    provider: Option<&dyn Provider>,
    payment_id: i64,
    cashier_only: Option<Uuid>,
) -> ApiResult<Payment> {
    let row = visible(conn, payment_id, cashier_only).await?;
    if row.status == "pending" {
        let ask = provider.filter(|p| {
            p.name() == row.provider
                && row
                    .checked_at
                    .is_none_or(|at| Utc::now() - at >= PROVIDER_CHECK_EVERY)
        });
        let mut asked = None;
        if let Some(p) = ask {
            sqlx::query!(
                "UPDATE payments SET checked_at = now() WHERE id = $1",
                row.id
            )
            .execute(&mut *conn)
            .await?;
            match p.status(&row.order_id).await {
                Ok(notice) if notice.amount == row.amount.amount() => {
                    asked = match notice.settlement {
                        Settlement::Paid => Some((Request::Paid { by: None }, false)),
                        Settlement::Failed => Some((Request::Cancel { by: None }, true)),
                        Settlement::Pending => None,
                    };
                }
                Ok(notice) => tracing::warn!(
                    payment_id = row.id, asked = %row.amount, answered = %notice.amount,
                    "the provider's status names another amount; ignored"
                ),
                Err(error) => {
                    tracing::warn!(payment_id = row.id, %error, "could not ask the provider")
                }
            }
        }
        match asked {
            // Settling expires it instead if its window has closed.
            Some((request, failed)) => {
                settle(conn, row.sale_id, request, failed, None).await?;
            }
            None => expire_if_overdue(conn, row.sale_id).await?,
        }
    }
    Ok(visible(conn, payment_id, cashier_only)
        .await?
        .into_payment())
}

/// Expires this one sale if its window has closed (and nothing else).
async fn expire_if_overdue(conn: &mut PgConnection, sale_id: Uuid) -> ApiResult<()> {
    let overdue = sqlx::query_scalar!(
        r#"SELECT pending_until <= now() AS "overdue!" FROM sales
           WHERE id = $1 AND status = 'pending'"#,
        sale_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if overdue == Some(true) {
        // Cancel is never applied: an overdue sale expires whatever is asked.
        settle(conn, sale_id, Request::Cancel { by: None }, false, None).await?;
    }
    Ok(())
}

async fn visible(
    conn: &mut PgConnection,
    payment_id: i64,
    cashier_only: Option<Uuid>,
) -> ApiResult<Row> {
    let row = row_by_id(conn, payment_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Payment"))?;
    if let Some(cashier) = cashier_only {
        let own = sqlx::query_scalar!(
            r#"SELECT cashier_id = $2 AS "own!" FROM sales WHERE id = $1"#,
            row.sale_id,
            cashier
        )
        .fetch_one(&mut *conn)
        .await?;
        if !own {
            return Err(ApiError::not_found("Payment"));
        }
    }
    Ok(row)
}

/// What a provider's callback did, for the answer the provider expects.
#[derive(Debug, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// Applied, or already applied (a replay): acknowledge.
    Accepted,
    /// Signature, amount or fields wrong: nothing changed.
    Refused(u16, String),
}

/// A provider's callback: verified (signature, our merchant, the amount,
/// an order we opened), then applied once; a replay changes nothing.
pub async fn on_notice(
    conn: &mut PgConnection,
    provider: &dyn Provider,
    form: &[(String, String)],
) -> ApiResult<NoticeOutcome> {
    let notice = match provider.verify_notice(form) {
        Ok(n) => n,
        Err(provider::NoticeError::BadSignature) => {
            tracing::warn!(
                provider = provider.name(),
                "callback with a bad signature refused"
            );
            return Ok(NoticeOutcome::Refused(401, "Invalid signature.".into()));
        }
        Err(provider::NoticeError::Malformed(why)) => {
            tracing::warn!(provider = provider.name(), %why, "malformed callback refused");
            return Ok(NoticeOutcome::Refused(400, why));
        }
    };
    let Some(row) = row_by_order(conn, provider.name(), &notice.order_id).await? else {
        tracing::warn!(provider = provider.name(), order_id = %notice.order_id, "callback for an unknown order refused");
        return Ok(NoticeOutcome::Refused(404, "Unknown order.".into()));
    };
    if notice.amount != row.amount.amount() {
        tracing::warn!(payment_id = row.id, expected = %row.amount, got = %notice.amount, "callback with a wrong amount refused");
        return Ok(NoticeOutcome::Refused(
            400,
            format!("Amount {} does not match the payment.", notice.amount),
        ));
    }
    // What the notice says happened, unless its signature does not cover
    // that (Duitku signs merchant, amount and order, not the result code):
    // then the provider's own status answer decides.
    let settlement = if notice.settlement_verified || notice.settlement == Settlement::Pending {
        notice.settlement
    } else {
        match provider.status(&notice.order_id).await {
            Ok(asked) if asked.amount == row.amount.amount() => asked.settlement,
            Ok(asked) => {
                tracing::warn!(payment_id = row.id, answered = %asked.amount, "the provider's status names another amount");
                return Ok(NoticeOutcome::Refused(
                    400,
                    "The provider's status does not match the payment.".into(),
                ));
            }
            Err(error) => {
                // Not acknowledged: the provider delivers it again later.
                tracing::warn!(payment_id = row.id, %error, "could not confirm a callback with the provider");
                return Err(ApiError::PaymentProvider(format!(
                    "Could not confirm the notice with the provider: {error}"
                )));
            }
        }
    };
    let (request, failed) = match settlement {
        Settlement::Paid => (Request::Paid { by: None }, false),
        Settlement::Failed => (Request::Cancel { by: None }, true),
        Settlement::Pending => {
            sqlx::query!(
                "UPDATE payments SET notices = notices || $2 WHERE id = $1",
                row.id,
                serde_json::Value::Array(vec![notice.raw])
            )
            .execute(&mut *conn)
            .await?;
            return Ok(NoticeOutcome::Accepted);
        }
    };
    settle(conn, row.sale_id, request, failed, Some(notice.raw)).await?;
    Ok(NoticeOutcome::Accepted)
}
