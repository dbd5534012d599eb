//! `/api/shifts`, `/api/shifts/current`, `/api/shifts/{id}` and its
//! `cash`, `close` and `reopen`. A cashier works their own shifts; a
//! manager or owner sees, closes and reopens any.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Actor, CloseShift, NewMovement, OpenShift, ReopenShift, Shift};
use crate::auth::{AnyUser, Auth, ManagerUp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{IdPath, Json, Page, PageParams, PageRequest, Query};
use crate::receipts;
use crate::reports::csv::{Cell, Csv};
use crate::state::AppState;

pub fn collection() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_shifts, open_shift))
}

pub fn item() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current_shift))
        .routes(routes!(get_shift))
        .routes(routes!(move_cash))
        .routes(routes!(close_shift))
        .routes(routes!(reopen_shift))
}

fn actor<R>(auth: &Auth<R>) -> Actor {
    Actor {
        user_id: auth.user_id,
        all_shifts: auth.own_only().is_none(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftFilter {
    /// `open` or `closed`.
    #[param(schema_with = shift_status)]
    pub status: Option<String>,
}

/// Shifts, newest first: a cashier's own, or everyone's for a manager.
#[utoipa::path(get, path = "/api/shifts", tag = "shifts", params(ShiftFilter, PageParams),
    responses((status = 200, body = Page<Shift>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn list_shifts(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Query(filter): Query<ShiftFilter>,
    page: PageRequest,
) -> ApiResult<Json<Page<Shift>>> {
    let open = match filter.status.as_deref() {
        None | Some("") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(_) => return Err(ApiError::field("status", "Must be open or closed.")),
    };
    let before: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let mut conn = state.db.acquire().await?;
    let rows = super::list(&mut conn, actor(&auth), open, before, page.fetch_limit()).await?;
    Ok(Json(page.page(rows, |s| (s.opened_at, s.id))))
}

/// Open a shift with the cash in the drawer. One open shift per person:
/// a second is 409 `shift_already_open`.
#[utoipa::path(post, path = "/api/shifts", tag = "shifts", request_body = OpenShift,
    responses((status = 201, body = Shift), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn open_shift(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(input): Json<OpenShift>,
) -> ApiResult<(StatusCode, Json<Shift>)> {
    let mut conn = state.db.acquire().await?;
    let shift = super::open(&mut conn, actor(&auth), input).await?;
    Ok((StatusCode::CREATED, Json(shift)))
}

/// Your open shift, with its figures so far (404 when none is open).
#[utoipa::path(get, path = "/api/shifts/current", tag = "shifts",
    responses((status = 200, body = Shift), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn current_shift(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
) -> ApiResult<Json<Shift>> {
    let mut conn = state.db.acquire().await?;
    let me = Actor {
        user_id: auth.user_id,
        all_shifts: false,
    };
    Ok(Json(super::current(&mut conn, me).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftFormat {
    /// `json` (default), `csv`, or `text` (the shift report as a receipt).
    #[param(schema_with = shift_format)]
    pub format: Option<String>,
    /// For `text`: `58` (32 columns, default) or `80` (48 columns).
    #[param(schema_with = crate::receipts::paper_choice)]
    pub paper: Option<String>,
}

fn shift_status() -> utoipa::openapi::Object {
    crate::http::choice_or_blank(&["open", "closed"])
}

fn shift_format() -> utoipa::openapi::Object {
    crate::http::choice_or_blank(&["json", "csv", "text"])
}

/// One shift and its report: JSON, CSV, or receipt text for the printer.
#[utoipa::path(get, path = "/api/shifts/{id}", tag = "shifts",
    params(("id" = Uuid, Path), ShiftFormat),
    responses((status = 200,
               description = "JSON; `format=csv` text/csv; `format=text` text/plain",
               content((Shift = "application/json"), (String = "text/csv"),
                       (String = "text/plain"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_shift(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(f): Query<ShiftFormat>,
) -> ApiResult<Response> {
    let paper = receipts::paper(f.paper.as_deref())?;
    let mut conn = state.db.acquire().await?;
    let shift = super::load(&mut conn, id, actor(&auth)).await?;
    match f.format.as_deref().unwrap_or("json") {
        "json" | "" => Ok(Json(shift).into_response()),
        "csv" => Ok(text_response(shift_csv(&shift), "text/csv; charset=utf-8")),
        "text" => {
            let store = receipts::Store::load(&mut conn).await?;
            let text = receipts::shift_text(&shift, &store, paper);
            Ok(text_response(text, "text/plain; charset=utf-8"))
        }
        _ => Err(ApiError::field("format", "Must be json, csv or text.")),
    }
}

fn text_response(body: String, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// The shift report as rows of (section, item, count, amount).
pub fn shift_csv(s: &Shift) -> String {
    let r = &s.report;
    let mut csv = Csv::new(&["section", "item", "count", "amount"]);
    let mut row = |section: &str, item: &str, count: Option<i64>, amount: String| {
        csv.row([
            Cell::Text(section),
            Cell::Text(item),
            Cell::Number(count.map(|c| c.to_string()).unwrap_or_default()),
            Cell::Number(amount),
        ]);
    };
    row("drawer", "opening_cash", None, r.opening_cash.to_string());
    row("drawer", "cash_sales", None, r.cash_sales.to_string());
    row("drawer", "cash_refunds", None, r.cash_refunds.to_string());
    row("drawer", "pay_ins", None, r.pay_ins.to_string());
    row("drawer", "pay_outs", None, r.pay_outs.to_string());
    row("drawer", "expected_cash", None, r.expected_cash.to_string());
    if let (Some(counted), Some(diff)) = (s.counted_cash, s.difference) {
        row("drawer", "counted_cash", None, counted.to_string());
        row("drawer", "difference", None, diff.to_string());
    }
    for m in &r.by_payment_method {
        row(
            "sales",
            m.payment_method.as_str(),
            Some(m.transactions),
            m.total.to_string(),
        );
    }
    row(
        "refunds",
        "refunds",
        Some(r.refunds.count),
        r.refunds.total.to_string(),
    );
    row(
        "refunds",
        "voids",
        Some(r.voids.count),
        r.voids.total.to_string(),
    );
    row(
        "unpaid",
        "expired_or_cancelled",
        Some(r.unpaid_cancelled.count),
        r.unpaid_cancelled.total.to_string(),
    );
    row(
        "unpaid",
        "pending",
        Some(r.pending.count),
        r.pending.total.to_string(),
    );
    for m in &s.movements {
        let item = format!("{}: {}", m.kind, m.reason);
        row("cash_movements", &item, None, m.amount.to_string());
    }
    csv.finish()
}

/// Put cash into the drawer or take it out, with a reason. A pay-out
/// larger than the drawer holds is allowed and comes back `flagged`.
#[utoipa::path(post, path = "/api/shifts/{id}/cash", tag = "shifts", params(("id" = Uuid, Path)),
    request_body = NewMovement,
    responses((status = 200, body = Shift), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "shift_closed", body = ErrorBody)))]
async fn move_cash(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<NewMovement>,
) -> ApiResult<Json<Shift>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        super::move_cash(&mut conn, id, actor(&auth), input).await?,
    ))
}

/// Close the shift with the cash counted: answers the expected cash, the
/// count and the difference with the shift's report. Final: a closed
/// shift is 409 `shift_closed`.
#[utoipa::path(post, path = "/api/shifts/{id}/close", tag = "shifts", params(("id" = Uuid, Path)),
    request_body = CloseShift,
    responses((status = 200, body = Shift), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "shift_closed", body = ErrorBody)))]
async fn close_shift(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<CloseShift>,
) -> ApiResult<Json<Shift>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        super::close(&mut conn, id, actor(&auth), input).await?,
    ))
}

/// Reopen a closed shift (manager+), with the reason; the close it undoes
/// is kept in `reopenings`.
#[utoipa::path(post, path = "/api/shifts/{id}/reopen", tag = "shifts", params(("id" = Uuid, Path)),
    request_body = ReopenShift,
    responses((status = 200, body = Shift), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn reopen_shift(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(input): Json<ReopenShift>,
) -> ApiResult<Json<Shift>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        super::reopen(&mut conn, id, actor(&auth), input).await?,
    ))
}
