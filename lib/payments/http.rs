//! v1 payment routes: a pending sale's confirm, cancel, payment status and
//! QR image (`/api/transactions/{id}/...`), the providers' callbacks
//! (`/api/callbacks/{provider}`) and the cron (`/api/cron/{job}`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{NoticeOutcome, Payment};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{IdPath, Json};
use crate::sales::pending::{End, Request, Settled};
use crate::sales::{Sale, detail};
use crate::state::AppState;

/// Routes on one sale, served by the transactions item function.
pub fn sale_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(confirm_sale))
        .routes(routes!(cancel_sale))
        .routes(routes!(sale_payment))
        .routes(routes!(sale_qr))
}

pub fn callbacks() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(provider_callback))
}

pub fn cron() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run_cron))
}

fn conflict(code: &'static str, detail: String) -> ApiError {
    ApiError::ConflictWith {
        code,
        detail,
        extra: Default::default(),
    }
}

/// What a confirmation's outcome answers: the paid sale, or why not.
pub fn confirmed(settled: &Settled) -> ApiResult<()> {
    match settled {
        Settled::Now(End::Completed) => Ok(()),
        Settled::Now(End::Expired) => Err(conflict(
            "sale_expired",
            "The payment window has closed: the sale expired and its stock is back. Ring it up again.".into(),
        )),
        Settled::Now(End::Cancelled) => Err(ApiError::internal("a confirmation cancelled")),
        // Paid already (a double tap, or the provider was first).
        Settled::Already(s) if crate::sales::counts(s) => Ok(()),
        Settled::Already(s) if s == "expired" => Err(conflict(
            "sale_expired",
            "This sale expired before it was paid; its stock is back. Ring it up again.".into(),
        )),
        Settled::Already(_) => Err(conflict(
            "sale_cancelled",
            "This sale was cancelled; it cannot be paid. Ring it up again.".into(),
        )),
    }
}

/// What a cancel's outcome answers: the sale no longer waiting, or why not.
pub fn cancelled(settled: &Settled) -> ApiResult<()> {
    match settled {
        Settled::Now(End::Cancelled | End::Expired) => Ok(()),
        Settled::Now(End::Completed) => Err(ApiError::internal("a cancel completed")),
        Settled::Already(s) if crate::sales::counts(s) => Err(conflict(
            "sale_paid",
            "This sale is paid: refund it instead.".into(),
        )),
        // Cancelled or expired already: nothing left to do.
        Settled::Already(_) => Ok(()),
    }
}

/// Confirm a pending sale's payment by hand.
///
/// For the shop's own QRIS (no provider) or a transfer: the cashier or a
/// manager has seen the money arrive. Records who confirmed. A sale whose
/// window has closed is 409 `sale_expired` (it expires now if it had not
/// yet), a cancelled one 409 `sale_cancelled`; confirming a paid sale
/// again answers it unchanged.
#[utoipa::path(post, path = "/api/transactions/{id}/confirm", tag = "transactions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Sale), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "sale_expired, sale_cancelled, or not a pending sale", body = ErrorBody)))]
async fn confirm_sale(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Sale>> {
    let by = Some(auth.user_id);
    by_hand(&state, &auth, id, Request::Paid { by }, confirmed).await
}

/// A confirmation or a cancel from the till: the sale visible to the
/// caller, settled with its payment, judged, and answered whole.
async fn by_hand<R>(
    state: &AppState,
    auth: &Auth<R>,
    id: Uuid,
    request: Request,
    judge: fn(&Settled) -> ApiResult<()>,
) -> ApiResult<Json<Sale>> {
    let mut conn = state.db.acquire().await?;
    crate::sales::ensure_visible(&mut conn, id, auth.own_only()).await?;
    let settled = super::settle(&mut conn, id, request, false, None).await?;
    judge(&settled)?;
    Ok(Json(detail(&mut conn, id, None).await?))
}

/// Cancel a pending sale: its stock comes back, in the ledger.
///
/// A paid sale is 409 `sale_paid` (refund it instead). Cancelling an
/// expired or cancelled sale again answers it unchanged.
#[utoipa::path(post, path = "/api/transactions/{id}/cancel", tag = "transactions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Sale), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "sale_paid, or not a pending sale", body = ErrorBody)))]
async fn cancel_sale(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Sale>> {
    let by = Some(auth.user_id);
    by_hand(&state, &auth, id, Request::Cancel { by }, cancelled).await
}

/// A sale's payment, brought up to date.
///
/// Expired if its window has closed; with a provider, the provider is
/// asked (at most every 10 seconds) while it is pending. Poll this while
/// the customer pays.
#[utoipa::path(get, path = "/api/transactions/{id}/payment", tag = "transactions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Payment), (status = 401, body = ErrorBody),
              (status = 404, description = "No such sale, or it has no payment", body = ErrorBody)))]
async fn sale_payment(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Payment>> {
    let mut conn = state.db.acquire().await?;
    crate::sales::ensure_visible(&mut conn, id, auth.own_only()).await?;
    let payment_id = payment_of(&mut conn, id).await?;
    Ok(Json(
        super::status(&mut conn, state.payment_provider(), payment_id, None).await?,
    ))
}

async fn payment_of(conn: &mut sqlx::PgConnection, sale_id: Uuid) -> ApiResult<i64> {
    sqlx::query_scalar!("SELECT id FROM payments WHERE sale_id = $1", sale_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::NotFound("This sale has no payment.".into()))
}

/// The QRIS of a pending sale as a PNG image, for a screen or a receipt.
#[utoipa::path(get, path = "/api/transactions/{id}/payment/qr.png", tag = "transactions",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The QR code", content_type = "image/png", body = Vec<u8>),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such sale, or it has no QR", body = ErrorBody)))]
async fn sale_qr(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    crate::sales::ensure_visible(&mut conn, id, auth.own_only()).await?;
    let qr = sqlx::query_scalar!("SELECT qr_string FROM payments WHERE sale_id = $1", id)
        .fetch_optional(&mut *conn)
        .await?
        .flatten()
        .ok_or_else(|| ApiError::NotFound("This sale has no QR code.".into()))?;
    let png = super::qris::png(&qr, 8).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        png,
    )
        .into_response())
}

/// The largest callback body read: a provider's notice is a few hundred
/// bytes (axum's own 2 MB limit would answer a plain-text 413).
const CALLBACK_BODY_LIMIT: usize = 64 * 1024;

/// The form a provider posts to its callback: Duitku's fields (the ones
/// checked are required; whatever else it sends is kept with the payment).
struct CallbackForm;

impl utoipa::PartialSchema for CallbackForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let mut form = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::RefOr(text().into())));
        for field in [
            "merchantCode",
            "amount",
            "merchantOrderId",
            "resultCode",
            "signature",
        ] {
            form = form.property(field, text()).required(field);
        }
        form.property("reference", text()).into()
    }
}

impl ToSchema for CallbackForm {}

/// A payment provider's callback (no login: the provider signs it).
///
/// Verifies the signature, our merchant code, the order and the amount,
/// then applies it once; a replay changes nothing and is acknowledged as
/// the provider expects. A bad signature is 401, a wrong amount or
/// malformed fields 400, an unknown order 404: nothing changes.
#[utoipa::path(post, path = "/api/callbacks/{provider}", tag = "payments",
    security(()),
    params(("provider" = String, Path, description = "`duitku`")),
    request_body(content_type = "application/x-www-form-urlencoded", content = CallbackForm,
                 description = "The provider's fields, as it sends them"),
    responses((status = 200, description = "Accepted (the provider's expected answer)", body = String),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, description = "Unknown order, or no such provider configured", body = ErrorBody)))]
async fn provider_callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    let provider = state
        .payment_provider()
        .filter(|p| p.name() == name)
        .ok_or_else(|| ApiError::NotFound("No such payment provider is configured.".into()))?;
    let headers = req.headers().clone();
    let body = crate::http::read_body(req, CALLBACK_BODY_LIMIT).await?;
    let form = form_fields(&headers, &body)?;
    let mut conn = state.db.acquire().await?;
    match super::on_notice(&mut conn, provider, &form).await? {
        NoticeOutcome::Accepted => {
            let (status, text) = provider.ack();
            Ok((
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response())
        }
        NoticeOutcome::Refused(401, why) => Err(ApiError::AuthenticationFailed {
            code: "bad_signature",
            detail: why,
        }),
        NoticeOutcome::Refused(404, why) => Err(ApiError::NotFound(why)),
        NoticeOutcome::Refused(_, why) => Err(ApiError::field("callback", why)),
    }
}

/// The callback's fields: a form (as Duitku sends it) or a flat JSON object.
fn form_fields(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<(String, String)>> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Ok(url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect());
    }
    let value: serde_json::Value = crate::http::parse(body)?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::InvalidJson("Expected a JSON object.".into()))?;
    Ok(object
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}

#[derive(Serialize, ToSchema)]
pub struct CronRun {
    #[schema(example = "expire-payments")]
    pub job: String,
    /// Pending sales expired by this run.
    pub expired: usize,
}

/// Most sales one cron run expires (the function's time limit is 10 s).
const CRON_LIMIT: usize = 2000;

/// A scheduled job, called by Vercel Cron (`crons` in vercel.json).
///
/// `Authorization: Bearer <CRON_SECRET>`; without `CRON_SECRET` set on the
/// server every call is 503. Jobs: `expire-payments` (expire pending
/// sales whose window has closed; reads do it too, so nothing waits on
/// the cron).
#[utoipa::path(get, path = "/api/cron/{job}", tag = "payments",
    security(()),
    params(("job" = String, Path, description = "`expire-payments`")),
    responses((status = 200, body = CronRun), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn run_cron(
    State(state): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<CronRun>> {
    let Some(secret) = state.config.cron_secret.as_deref() else {
        return Err(ApiError::ServiceUnavailable(
            "CRON_SECRET is not set on the server; the cron is off.".into(),
        ));
    };
    let expected = format!("Bearer {secret}");
    let given = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(expected.as_bytes())) {
        return Err(ApiError::NotAuthenticated);
    }
    if job != "expire-payments" {
        return Err(ApiError::NotFound(format!("No cron job {job:?}.")));
    }
    let expired = super::expire_overdue(&state.db, CRON_LIMIT).await?;
    tracing::info!(expired, "cron: expire-payments");
    Ok(Json(CronRun { job, expired }))
}
