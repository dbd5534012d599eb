//! `/api/transactions`, `/api/transactions/{id}` and `/api/refunds`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::checkout::{self, CheckoutRequest, Idempotency, Outcome};
use super::edit::{self, Editor, SalePatch};
use super::refunds::{self, Refund, RefundFilter, RefundRequest};
use super::search::{self, Before, SaleFilter, SaleSummary};
use super::{Sale, detail};
use crate::auth::{AnyUser, Auth, ManagerUp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{IdPath, Json, Page, PageParams, PageRequest, Query, from_value, json_response};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn collection() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_sales, create_sale))
}

pub fn item() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_sale, edit_sale))
        .merge(crate::payments::http::sale_routes())
        .merge(crate::receipts::http::sale_routes())
}

pub fn refunds() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_refunds, create_refund))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<Uuid>> {
    let Some(raw) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .map(Some)
        .ok_or_else(|| ApiError::field("Idempotency-Key", "Must be a UUID made by the client."))
}

fn replayed(body: &serde_json::Value) -> Response {
    let mut res = json_response(body);
    *res.status_mut() = StatusCode::CREATED;
    res.headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    res
}

/// Check out a sale.
///
/// Prices come from the database; every line's stock is taken atomically
/// (all lines or none). Send `Idempotency-Key: <uuid>` and retry freely on
/// timeouts: the same key with the same body replays the first answer
/// (header `Idempotent-Replayed: true`) and sells nothing again; the same
/// key with another body is 422 `idempotency_key_reused`. A short line is
/// 409 `insufficient_stock` with `items: [{product_id, requested, available}]`;
/// 409 `catalog_changed` if the cart's products changed under it eight
/// times running (nothing was sold: ring it up again).
#[utoipa::path(post, path = "/api/transactions", tag = "transactions",
    request_body = CheckoutRequest,
    params(("Idempotency-Key" = Option<Uuid>, Header, description = "A client-made UUID per sale")),
    responses(
        (status = 201, body = Sale, headers(("Idempotent-Replayed" = String, description = "`true` on a replay"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "insufficient_stock, no_open_shift or catalog_changed", body = ErrorBody),
        (status = 422, description = "idempotency_key_reused", body = ErrorBody)))]
async fn create_sale(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let hash = checkout::request_hash(&body);
    let request: CheckoutRequest = from_value(body)?;
    let mut conn = state.db.acquire().await?;
    let idempotency = key.map(|key| Idempotency { key, hash });
    let outcome = crate::payments::checkout(
        &mut conn,
        state.payment_provider(),
        auth.user_id,
        request,
        idempotency,
    )
    .await?;
    match outcome {
        Outcome::Created(sale) => Ok((StatusCode::CREATED, Json(sale)).into_response()),
        Outcome::Replayed(response) => Ok(replayed(&response)),
    }
}

/// Search transactions, newest first.
///
/// `q` matches the transaction number, customer name and notes
/// (case-insensitive substring); `from`/`to` are store-local dates,
/// inclusive. Cashiers see only their own sales.
#[utoipa::path(get, path = "/api/transactions", tag = "transactions",
    params(SaleFilter, PageParams),
    responses((status = 200, body = Page<SaleSummary>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn search_sales(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Query(filter): Query<SaleFilter>,
    page: PageRequest,
) -> ApiResult<Json<Page<SaleSummary>>> {
    let before: Option<Before> = page.after()?;
    // Pending sales whose window closed show as expired.
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    let tz = crate::settings::load(&mut *conn).await?.tz();
    let rows = search::search(
        &mut conn,
        &filter,
        tz,
        auth.own_only(),
        before.as_ref(),
        page.fetch_limit(),
    )
    .await?;
    Ok(Json(page.page(rows, |s| Before {
        at: s.occurred_at,
        id: s.id,
    })))
}

/// One transaction with its lines and refunds.
#[utoipa::path(get, path = "/api/transactions/{id}", tag = "transactions",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Sale), (status = 404, body = ErrorBody)))]
async fn get_sale(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Sale>> {
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    Ok(Json(detail(&mut conn, id, auth.own_only()).await?))
}

/// Change a transaction's customer name or notes, or mark it prepared.
///
/// A cashier renames and annotates only their own sales; anyone marks a
/// sale `preparation: completed` (the kitchen). Amounts and lines never
/// change: refunds are the way back.
#[utoipa::path(patch, path = "/api/transactions/{id}", tag = "transactions",
    params(("id" = Uuid, Path)), request_body = SalePatch,
    responses((status = 200, body = Sale), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn edit_sale(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(patch): Json<SalePatch>,
) -> ApiResult<Json<Sale>> {
    let mut conn = state.db.acquire().await?;
    let editor = Editor {
        user_id: auth.user_id,
        own_sales_only: auth.own_only().is_some(),
    };
    Ok(Json(edit::edit(&mut conn, id, patch, editor).await?))
}

/// Refunds, newest first (manager+).
#[utoipa::path(get, path = "/api/refunds", tag = "refunds", params(RefundFilter, PageParams),
    responses((status = 200, body = Page<Refund>), (status = 403, body = ErrorBody)))]
async fn list_refunds(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    Query(filter): Query<RefundFilter>,
    page: PageRequest,
) -> ApiResult<Json<Page<Refund>>> {
    let before: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let mut conn = state.db.acquire().await?;
    let rows = refunds::list(
        &mut conn,
        filter.transaction_id,
        before,
        page.fetch_limit(),
        false,
    )
    .await?;
    Ok(Json(page.page(rows, |r| (r.created_at, r.id))))
}

/// Refund a transaction, whole (omit `items`) or per line (manager+).
///
/// Restocks by default, writing the stock ledger. Refunding more than was
/// sold, counting earlier refunds, is 409 `conflict`.
#[utoipa::path(post, path = "/api/refunds", tag = "refunds", request_body = RefundRequest,
    responses((status = 201, body = Refund), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_refund(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    Json(input): Json<RefundRequest>,
) -> ApiResult<(StatusCode, Json<Refund>)> {
    let mut conn = state.db.acquire().await?;
    let refund = refunds::refund(&mut conn, input, auth.user_id).await?;
    Ok((StatusCode::CREATED, Json(refund)))
}
