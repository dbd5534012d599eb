//! `payment/status/<id>/`: what the app's QR screen polls every 3 s, and
//! the `payment` object its checkout answers. Over lib/payments.

use axum::extract::{Path, State};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Envelope, EnvelopeBody, TAG, V0ErrorBody};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult};
use crate::payments::Payment;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(payment_status))
}

/// The checkout's `payment`: the app opens its QR (or VA) screen with it and
/// polls `payment_id`. `reference` is shown as "NMID" (the shop's NMID for
/// its own QRIS; the provider's reference otherwise).
pub fn checkout_payment(p: &Payment) -> Value {
    json!({
        "payment_id": p.id,
        "qr_string": p.qr_string,
        "va_number": p.va_number,
        "amount": p.amount,
        "reference": p.reference,
        "payment_url": p.payment_url,
        "expired_at": time(p.expires_at),
    })
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A payment's status, brought up to date (expired once its window closed;
/// the provider asked while pending). `data.status`: `pending`, `success`,
/// `failed`, `expired` or `cancelled`, as the app reads it.
#[utoipa::path(get, path = "/api/v0/payment/status/{id}", tag = TAG,
    params(("id" = i64, Path, description = "The checkout's `payment_id`")),
    responses((status = 200, body = EnvelopeBody, description = "`data`: the payment record"),
              (status = 401, body = V0ErrorBody), (status = 404, body = V0ErrorBody)))]
async fn payment_status(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Value>> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("Payment"))?;
    let own = auth.own_only();
    let mut conn = state.db.acquire().await?;
    let p = crate::payments::status(&mut conn, state.payment_provider(), id, own).await?;
    let sale = sqlx::query!(
        "SELECT s.int_id, s.transaction_no FROM sales s JOIN payments p ON p.sale_id = s.id
         WHERE p.id = $1",
        p.id
    )
    .fetch_one(&mut *conn)
    .await?;
    // Django's payment record, field for field where we have it.
    Ok(Envelope::ok(
        "Success",
        json!({
            "id": p.id,
            "transaction": sale.int_id,
            "transaction_number": sale.transaction_no,
            "merchant_order_id": p.order_id,
            "reference": p.reference,
            "payment_url": p.payment_url,
            "va_number": p.va_number,
            "qr_string": p.qr_string,
            "payment_method": p.method_code.clone().unwrap_or_else(|| p.channel.clone()),
            "amount": p.amount,
            "status": p.status,
            "expired_at": time(p.expires_at),
            "paid_at": (p.status == "success").then(|| p.settled_at.map(time)).flatten(),
            "created_at": time(p.created_at),
        }),
    ))
}
