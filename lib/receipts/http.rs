//! A sale's receipt (`/api/transactions/{id}/receipt`), its share link
//! (`.../receipt/link`) and the page the link opens (`/api/receipts/{token}`,
//! no login).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Store, links, paper};
use crate::auth::{AnyUser, Auth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{IdPath, Json, Query};
use crate::sales::detail;
use crate::state::AppState;

/// Routes on one sale, served by the transactions item function.
pub fn sale_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_receipt))
        .routes(routes!(create_link, revoke_links))
}

/// The public receipt page.
pub fn page() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receipt_page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptFormat {
    /// `text` (default), `escpos` (bytes for the printer) or `html`.
    #[param(schema_with = receipt_format)]
    pub format: Option<String>,
    /// `58` (32 columns, default) or `80` (48 columns).
    #[param(schema_with = super::paper_choice)]
    pub paper: Option<String>,
}

fn receipt_format() -> utoipa::openapi::Object {
    crate::http::choice_or_blank(&["text", "escpos", "html"])
}

/// A sale's receipt for the thermal printer: text laid out for 58 or
/// 80 mm paper, ESC/POS bytes (with the QRIS as a QR while the sale is
/// pending), or an HTML page.
#[utoipa::path(get, path = "/api/transactions/{id}/receipt", tag = "receipts",
    params(("id" = Uuid, Path), ReceiptFormat),
    responses((status = 200, description = "text/plain; application/octet-stream for escpos; text/html for html",
               content((String = "text/plain"), (String = "application/octet-stream"),
                       (String = "text/html"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_receipt(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(f): Query<ReceiptFormat>,
) -> ApiResult<Response> {
    let paper = paper(f.paper.as_deref())?;
    let format = f.format.as_deref().unwrap_or("text");
    if !matches!(format, "text" | "escpos" | "html" | "") {
        return Err(ApiError::field("format", "Must be text, escpos or html."));
    }
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    let sale = detail(&mut conn, id, auth.own_only()).await?;
    let store = Store::load(&mut conn).await?;
    let lines = super::sale_lines(&sale, &store);
    Ok(match format {
        "escpos" => bytes(
            super::render_escpos(&lines, paper),
            "application/octet-stream",
        ),
        "html" => html(
            StatusCode::OK,
            super::render_html(&lines, &sale.transaction_no),
        ),
        _ => bytes(
            super::render_text(&lines, paper).into_bytes(),
            "text/plain; charset=utf-8",
        ),
    })
}

fn bytes(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src data:; style-src 'unsafe-inline'"),
    );
    res
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// How long the link works, 1-365 days (default 30).
    #[schema(minimum = 1, maximum = 365)]
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptLink {
    /// The token (unguessable, signed).
    pub token: String,
    /// The page's path on this server.
    #[schema(example = "/api/receipts/AbC...")]
    pub path: String,
    /// The page's address, from the request's host, to send by WhatsApp.
    pub url: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Make a share link for a sale's receipt page (no login needed to open
/// it), for sending to the customer by WhatsApp.
#[utoipa::path(post, path = "/api/transactions/{id}/receipt/link", tag = "receipts",
    params(("id" = Uuid, Path)), request_body = Option<NewLink>,
    responses((status = 201, body = ReceiptLink), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_link(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<ReceiptLink>)> {
    // No body, or `null` (the body is optional), is every default.
    let input: NewLink = if body.iter().all(u8::is_ascii_whitespace) {
        NewLink::default()
    } else {
        crate::http::parse::<Option<NewLink>>(&body)?.unwrap_or_default()
    };
    let days = input.days.unwrap_or(links::DEFAULT_DAYS);
    if !(1..=links::MAX_DAYS).contains(&days) {
        return Err(ApiError::field(
            "days",
            format!("Must be from 1 to {}.", links::MAX_DAYS),
        ));
    }
    let mut conn = state.db.acquire().await?;
    crate::sales::ensure_visible(&mut conn, id, auth.own_only()).await?;
    let (token, expires_at) =
        links::create(&mut conn, &state.config.jwt_secret, id, auth.user_id, days).await?;
    let path = format!("/api/receipts/{token}");
    let url = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|host| {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(
                    if host.starts_with("localhost") || host.starts_with("127.") {
                        "http"
                    } else {
                        "https"
                    },
                );
            format!("{scheme}://{host}{path}")
        });
    Ok((
        StatusCode::CREATED,
        Json(ReceiptLink {
            token,
            path,
            url,
            expires_at,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// Revoke every share link of a sale: their pages answer 404 from now on.
#[utoipa::path(delete, path = "/api/transactions/{id}/receipt/link", tag = "receipts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn revoke_links(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Revoked>> {
    let mut conn = state.db.acquire().await?;
    crate::sales::ensure_visible(&mut conn, id, auth.own_only()).await?;
    let revoked = links::revoke_all(&mut conn, id).await?;
    Ok(Json(Revoked { revoked }))
}

const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Struk tidak ditemukan</title></head>\
<body style=\"font:16px system-ui,sans-serif;text-align:center;padding:3rem 1rem;color:#444\">\
<p>Struk tidak ditemukan.</p><p>Receipt not found.</p></body></html>";

/// The receipt page a share link opens (no login). A forged, expired or
/// revoked token is the same 404 page.
#[utoipa::path(get, path = "/api/receipts/{token}", tag = "receipts", security(()),
    params(("token" = String, Path)),
    responses((status = 200, description = "The receipt page", content_type = "text/html", body = String),
              (status = 404, description = "No such receipt", content_type = "text/html", body = String)))]
async fn receipt_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let Some(sale_id) = links::sale_for(&mut conn, &state.config.jwt_secret, &token).await? else {
        return Ok(html(StatusCode::NOT_FOUND, NOT_FOUND_PAGE.into()));
    };
    drop(conn);
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    let sale = detail(&mut conn, sale_id, None).await?;
    let store = Store::load(&mut conn).await?;
    let lines = super::sale_lines(&sale, &store);
    let title = format!("{} {}", store.name, sale.transaction_no);
    Ok(html(StatusCode::OK, super::render_html(&lines, &title)))
}
