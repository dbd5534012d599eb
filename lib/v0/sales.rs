//! `transaction/`: the history and the kitchen's list, checkout as the
//! checkout screen builds it, editing, voiding, and the legacy cancel.
//! Every call is the v1 domain call (lib/sales) in the app's words.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::money::AppAmount;
use super::{Envelope, EnvelopeBody, TAG, V0ErrorBody};
use crate::auth::{AnyUser, Auth, ManagerUp, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::{Json, Query};
use crate::money::Money;
use crate::sales::checkout::{CartLine, CheckoutRequest, Outcome};
use crate::sales::edit::{self, Editor, SalePatch};
use crate::sales::pending::{Request, Settled};
use crate::sales::refunds::{self, RefundRequest};
use crate::sales::search::{self, SaleFilter};
use crate::sales::{self, OrderType, PaymentMethod, Preparation, Sale, Stage};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_transactions))
        .routes(routes!(create_transaction))
        .routes(routes!(edit_transaction, void_transaction))
        .routes(routes!(cancel_transaction))
}

/// A sale as the app reads a history row (the whole sale: the detail panel
/// and the kitchen card show the row itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppSale {
    pub id: i64,
    pub transaction_number: String,
    /// In the store's time zone, with its offset (`+07:00`).
    pub created_at: String,
    pub customer_name: String,
    pub notes: String,
    pub cashier_name: String,
    pub order_type: OrderType,
    pub payment_method: PaymentMethod,
    /// `pending` (waiting for its QRIS or VA payment), `processing`,
    /// `completed` or `cancelled` (voided, expired or cancelled unpaid).
    pub status: Stage,
    pub subtotal: Money,
    pub tax: Money,
    pub discount: Money,
    pub takeaway_charge: Money,
    pub total: Money,
    pub paid_amount: Money,
    pub change_amount: Money,
    pub items: Vec<AppSaleLine>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppSaleLine {
    pub product_name: String,
    pub quantity: i32,
    pub price: Money,
    pub subtotal: Money,
    pub notes: String,
}

pub fn app_sale(sale: Sale, tz: chrono_tz::Tz) -> AppSale {
    let stage = Stage::of(&sale.status, sale.preparation);
    AppSale {
        id: sale.int_id,
        transaction_number: sale.transaction_no,
        created_at: local_time(sale.occurred_at, tz),
        customer_name: sale.customer_name,
        notes: sale.notes,
        cashier_name: sale.cashier.display_name().to_string(),
        order_type: sale.order_type,
        payment_method: sale.payment_method,
        status: stage,
        subtotal: sale.subtotal,
        tax: sale.tax,
        discount: sale.discount,
        takeaway_charge: sale.takeaway_charge,
        total: sale.total,
        paid_amount: sale.paid_amount,
        change_amount: sale.change_amount,
        items: sale
            .items
            .into_iter()
            .map(|l| AppSaleLine {
                product_name: l.product_name,
                quantity: l.quantity,
                price: l.unit_price,
                subtotal: l.line_total,
                notes: l.note,
            })
            .collect(),
    }
}

/// ISO 8601 with the store's offset, as Django answered (`TIME_ZONE`).
fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

async fn store_tz(conn: &mut sqlx::PgConnection) -> ApiResult<chrono_tz::Tz> {
    Ok(crate::settings::load(&mut *conn).await?.tz())
}

/// The sale's UUID for the app's integer id.
async fn sale_id(conn: &mut sqlx::PgConnection, int_id: &str) -> ApiResult<Uuid> {
    let int_id: i64 = int_id
        .parse()
        .map_err(|_| ApiError::not_found("Transaction"))?;
    sales::id_for_int(&mut *conn, int_id).await
}

/// Most rows one history request may reach (`page` × `page_size`): the
/// app pages with 10 or 50; past this, narrow the history with `search`.
const MAX_DEPTH: i64 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// 1, 2, ...; a page past the end is an empty list; `page` x
    /// `page_size` at most 10,000.
    #[param(minimum = 1, maximum = 10_000)]
    pub page: Option<i64>,
    /// 1..=100, default 10.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Case-insensitive substring of the number, customer name or notes
    /// (at most 100 characters).
    #[param(pattern = r"^[^\u0000]*$", max_length = 100)]
    pub search: Option<String>,
    /// `completed`, `processing`, `cancelled` or `pending`, or a comma
    /// list; `processing` alone is the kitchen's queue (everyone's sales).
    #[param(
        pattern = r"^((pending|processing|completed|cancelled)(,(pending|processing|completed|cancelled))*)?$"
    )]
    pub status: Option<String>,
}

/// The history, newest first, `page_size` whole sales per page.
#[utoipa::path(get, path = "/api/v0/transaction", tag = TAG, params(HistoryParams),
    responses((status = 200, body = EnvelopeBody, description = "`data`: a list of sales"),
              (status = 400, body = V0ErrorBody), (status = 401, body = V0ErrorBody)))]
async fn list_transactions(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Query(params): Query<HistoryParams>,
) -> ApiResult<Envelope<Vec<AppSale>>> {
    let page = params.page.unwrap_or(1);
    let size = params.page_size.unwrap_or(10);
    if page < 1 {
        return Err(ApiError::field("page", "Must be 1 or more."));
    }
    if !(1..=100).contains(&size) {
        return Err(ApiError::field("page_size", "Must be between 1 and 100."));
    }
    let depth = page.saturating_mul(size);
    if depth > MAX_DEPTH {
        return Err(ApiError::field(
            "page",
            format!("At most {MAX_DEPTH} sales back; search to narrow the history."),
        ));
    }
    let stages = params
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let filter = SaleFilter {
        q: params.search,
        stage: stages,
        ..SaleFilter::default()
    };
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    let tz = store_tz(&mut conn).await?;
    let own = auth.own_only();
    let rows = search::search(&mut conn, &filter, tz, own, None, depth)
        .await
        .map_err(|e| rename_field(rename_field(e, "stage", "status"), "q", "search"))?;
    let ids: Vec<Uuid> = rows
        .iter()
        .skip(((page - 1) * size) as usize)
        .map(|s| s.id)
        .collect();
    let sales = sales::details(&mut conn, &ids, None).await?;
    Ok(Envelope::ok(
        "Transactions",
        sales.into_iter().map(|s| app_sale(s, tz)).collect(),
    ))
}

/// A validation error on `from` reported under the app's name for it.
fn rename_field(err: ApiError, from: &str, to: &str) -> ApiError {
    match err {
        ApiError::Validation(mut fields) => {
            if let Some(msgs) = fields.remove(from) {
                fields.insert(to.to_string(), msgs);
            }
            ApiError::Validation(fields)
        }
        other => other,
    }
}

/// The checkout screen's body. Amounts are the app's doubles; the sale is
/// priced from the catalog and must come to the same total.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AppCheckout {
    #[serde(default)]
    pub customer_name: String,
    #[schema(schema_with = app_order_type)]
    pub order_type: Option<String>,
    #[schema(schema_with = app_payment_method)]
    pub payment_method: String,
    #[serde(default)]
    pub payment_method_code: Option<String>,
    /// What the app thinks the sale is; the stage comes from the catalog
    /// (a line that needs preparing makes it `processing`).
    #[serde(default)]
    pub status: Option<String>,
    #[schema(value_type = f64)]
    pub paid_amount: Option<AppAmount>,
    #[schema(value_type = f64)]
    pub subtotal: Option<AppAmount>,
    #[schema(value_type = f64)]
    pub total: AppAmount,
    #[schema(value_type = Option<f64>)]
    pub change_amount: Option<AppAmount>,
    /// Whole percent, 0..=100 (default 11, as the app's setting).
    #[schema(minimum = 0, maximum = 100)]
    pub tax_percentage: Option<i64>,
    #[schema(value_type = Option<f64>)]
    pub discount: Option<AppAmount>,
    #[schema(value_type = Option<f64>)]
    pub takeaway_charge: Option<AppAmount>,
    #[serde(default)]
    pub notes: String,
    #[schema(min_items = 1, max_items = 200)]
    pub items: Vec<AppCartLine>,
}

fn app_payment_method() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["cash", "qris", "bca va"]))
        .build()
}

fn app_order_type() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::json!("dine_in"),
            serde_json::json!("take_away"),
            serde_json::Value::Null,
        ]))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppCartLine {
    /// The product's integer id.
    pub product: i64,
    #[schema(minimum = 1, maximum = 10_000)]
    pub quantity: i32,
    #[serde(default)]
    pub notes: Option<String>,
    /// Ignored: prices come from the catalog.
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub price: Option<AppAmount>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub subtotal: Option<AppAmount>,
}

/// Check out as the checkout screen does.
///
/// Cash is paid at once. `qris` and `bca va` sales are written `pending`
/// (stock held) and answered with `payment` beside `data`: QRIS from the
/// payment provider, or else from the shop's own QRIS (settings), with
/// the QR for the exact total; a VA needs the provider. Without either,
/// or when the provider refuses, the answer is 400 with the reason and
/// nothing is written.
#[utoipa::path(post, path = "/api/v0/transaction/create", tag = TAG, request_body = AppCheckout,
    responses((status = 201, body = EnvelopeBody, description = "`data`: the sale"),
              (status = 400, body = V0ErrorBody), (status = 401, body = V0ErrorBody),
              (status = 409, description = "Not enough stock", body = V0ErrorBody)))]
async fn create_transaction(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(body): Json<AppCheckout>,
) -> ApiResult<(StatusCode, Envelope<AppSale>)> {
    let payment_method = match body.payment_method.as_str() {
        "cash" => PaymentMethod::Cash,
        "qris" => PaymentMethod::Qris,
        "bca va" if state.payment_provider().is_some() => PaymentMethod::Transfer,
        "bca va" => {
            return Err(ApiError::field(
                "payment_method",
                "BCA virtual accounts are not available: no payment provider is configured on this server.",
            ));
        }
        _ => {
            return Err(ApiError::field(
                "payment_method",
                "Must be cash, qris or bca va.",
            ));
        }
    };
    let order_type = match body.order_type.as_deref() {
        None | Some("dine_in") => OrderType::DineIn,
        Some("take_away") => OrderType::TakeAway,
        Some(_) => {
            return Err(ApiError::field(
                "order_type",
                "Must be dine_in or take_away.",
            ));
        }
    };
    let percent = body.tax_percentage.unwrap_or(11);
    if !(0..=100).contains(&percent) {
        return Err(ApiError::field(
            "tax_percentage",
            "Must be a whole percent from 0 to 100.",
        ));
    }
    if body.items.is_empty() {
        return Err(ApiError::field("items", "A sale needs at least one line."));
    }
    let mut conn = state.db.acquire().await?;
    let int_ids: Vec<i64> = body.items.iter().map(|l| l.product).collect();
    let ids = crate::catalog::products::ids_for_ints(&mut *conn, &int_ids).await?;
    let mut items = Vec::with_capacity(body.items.len());
    for (i, line) in body.items.iter().enumerate() {
        let product_id = *ids
            .get(&line.product)
            .ok_or_else(|| ApiError::field(format!("items[{i}].product"), "Unknown product."))?;
        items.push(CartLine {
            product_id,
            quantity: line.quantity,
            note: line.notes.clone().unwrap_or_default(),
        });
    }
    let takeaway = body
        .takeaway_charge
        .map(|a| a.money("takeaway_charge"))
        .transpose()?
        .filter(|m| *m != Money::ZERO);
    let customer = body.customer_name.trim();
    let request = CheckoutRequest {
        items,
        customer_name: if customer.is_empty() {
            "Guest".into()
        } else {
            customer.into()
        },
        notes: body.notes,
        order_type,
        discount: body.discount.map(|d| d.money("discount")).transpose()?,
        payment_method,
        paid_amount: body
            .paid_amount
            .map(|p| p.money("paid_amount"))
            .transpose()?,
        occurred_at: None,
        takeaway_charge: takeaway,
        customer_id: None,
        customer_phone: None,
        tax_rate: Some(Decimal::new(percent, 2)),
        expected_total: Some(body.total.0),
        // The provider's method comes from its configuration
        // (DUITKU_QRIS_METHOD, DUITKU_VA_METHOD), not the app's code.
        collect: None,
    };
    let outcome = crate::payments::checkout(
        &mut conn,
        state.payment_provider(),
        auth.user_id,
        request,
        None,
    )
    .await
    .map_err(refused_payment)?;
    let mut sale = match outcome {
        Outcome::Created(sale) => *sale,
        Outcome::Replayed(_) => return Err(ApiError::internal("a v0 checkout has no key")),
    };
    let payment = sale.payment.take();
    let tz = store_tz(&mut conn).await?;
    let mut envelope = Envelope::created("Transaction created", app_sale(sale, tz));
    envelope.payment = payment.as_ref().map(super::payments::checkout_payment);
    Ok((StatusCode::CREATED, envelope))
}

/// The app shows a 4xx's `message` under "Transaction Failed" (Django
/// answered 400 with the gateway's error): a provider's refusal or a
/// missing QRIS set-up says why, as a 400.
fn refused_payment(e: ApiError) -> ApiError {
    match e {
        ApiError::PaymentProvider(why) => ApiError::field("payment_method", why),
        ApiError::ConflictWith {
            code: "qris_not_set_up",
            ..
        } => ApiError::field(
            "payment_method",
            "QRIS is not available yet: the owner stores the shop's QRIS code in the settings, or a payment provider is configured.",
        ),
        other => other,
    }
}

/// What history's "Edit Info" and the kitchen's "ready" send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSalePatch {
    // The same rules as v1's SalePatch, which checks them.
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 200
    )]
    pub customer_name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub notes: Option<String>,
    /// Only `completed` (the kitchen is done).
    #[schema(schema_with = crate::sales::edit::completed_only)]
    pub status: Option<String>,
}

/// Edit a sale's customer name or notes, or mark it prepared; answers the
/// whole updated sale.
#[utoipa::path(patch, path = "/api/v0/transaction/{id}", tag = TAG,
    params(("id" = i64, Path)), request_body = AppSalePatch,
    responses((status = 200, body = EnvelopeBody, description = "`data`: the whole sale"),
              (status = 400, body = V0ErrorBody), (status = 404, body = V0ErrorBody),
              (status = 409, body = V0ErrorBody)))]
async fn edit_transaction(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AppSalePatch>,
) -> ApiResult<Envelope<AppSale>> {
    let preparation = match body.status.as_deref() {
        None => None,
        Some("completed") => Some(Preparation::Completed),
        Some("cancelled") => {
            return Err(ApiError::field(
                "status",
                "To void a sale, delete it (DELETE transaction/<id>/).",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "status",
                "Only `completed` can be set here (the kitchen is done).",
            ));
        }
    };
    let mut conn = state.db.acquire().await?;
    let id = sale_id(&mut conn, &id).await?;
    let patch = SalePatch {
        // Trimmed by the domain's check, after it judges the text as sent.
        customer_name: body.customer_name,
        notes: body.notes,
        preparation,
    };
    let editor = Editor {
        user_id: auth.user_id,
        own_sales_only: auth.role == Role::Cashier,
    };
    let sale = edit::edit(&mut conn, id, patch, editor).await?;
    let tz = store_tz(&mut conn).await?;
    Ok(Envelope::ok("Transaction updated", app_sale(sale, tz)))
}

/// "Delete and restore stock": a void. The whole sale is refunded with
/// restock (manager+), kept in the ledger and the reports, and listed as
/// `cancelled`.
#[utoipa::path(delete, path = "/api/v0/transaction/{id}", tag = TAG, params(("id" = i64, Path)),
    responses((status = 200, body = EnvelopeBody, description = "`data`: the voided sale"),
              (status = 403, body = V0ErrorBody), (status = 404, body = V0ErrorBody),
              (status = 409, description = "Already voided", body = V0ErrorBody)))]
async fn void_transaction(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<AppSale>> {
    let mut conn = state.db.acquire().await?;
    let id = sale_id(&mut conn, &id).await?;
    let request = RefundRequest {
        transaction_id: id,
        items: None,
        reason: "Voided in the app".into(),
        restock: true,
    };
    refunds::refund(&mut conn, request, auth.user_id).await?;
    let sale = sales::detail(&mut conn, id, None).await?;
    let tz = store_tz(&mut conn).await?;
    Ok(Envelope::ok("Transaction voided", app_sale(sale, tz)))
}

/// Cancel an unpaid (`pending`) sale: its stock comes back. The app calls
/// it only for a payment that names its `transaction_id`, which ours never
/// do. A paid, cancelled or expired sale is 400, as Django answered.
#[utoipa::path(post, path = "/api/v0/transaction/{id}/cancel", tag = TAG,
    params(("id" = i64, Path)),
    responses((status = 200, body = EnvelopeBody, description = "`data`: the cancelled sale"),
              (status = 400, body = V0ErrorBody), (status = 404, body = V0ErrorBody)))]
async fn cancel_transaction(
    auth: Auth<AnyUser>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<AppSale>> {
    let mut conn = state.db.acquire().await?;
    let id = sale_id(&mut conn, &id).await?;
    let own = auth.own_only();
    let sale = sales::detail(&mut conn, id, own).await?;
    if sale.status != "pending" {
        let what = match Stage::of(&sale.status, sale.preparation) {
            Stage::Cancelled => "it is already cancelled",
            _ => "it is paid; a manager can void it instead",
        };
        return Err(ApiError::field(
            "status",
            format!("Only an unpaid transaction can be cancelled, and {what}."),
        ));
    }
    let settled = crate::payments::settle(
        &mut conn,
        id,
        Request::Cancel {
            by: Some(auth.user_id),
        },
        false,
        None,
    )
    .await?;
    if !matches!(settled, Settled::Now(_)) {
        return Err(ApiError::field(
            "status",
            "Only an unpaid transaction can be cancelled, and this one was settled meanwhile.",
        ));
    }
    let sale = sales::detail(&mut conn, id, None).await?;
    let tz = store_tz(&mut conn).await?;
    Ok(Envelope::ok("Transaction cancelled", app_sale(sale, tz)))
}
