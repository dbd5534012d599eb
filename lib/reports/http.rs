//! `/api/reports/daily`, `/api/reports/monthly`, `/api/reports/summary`
//! (manager+), as JSON or, with `?format=csv` or `Accept: text/csv`, CSV.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::csv::{Cell, Csv};
use super::period::{DEFAULT_DAYS, Days, MonthRange};
use super::summary::{self, CashierRow, CustomerRow, HourRow, PaymentMethodRow, TopProducts};
use super::{Figures, Source, sums};
use crate::auth::{Auth, ManagerUp};
use crate::error::{ApiResult, ErrorBody};
use crate::http::{Query, json_response};
use crate::state::AppState;
use crate::validate::Check;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(daily))
        .routes(routes!(monthly))
        .routes(routes!(summary_report))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayRangeParams {
    /// First store-local date, inclusive (YYYY-MM-DD).
    #[param(schema_with = crate::http::date_or_blank)]
    pub from: Option<String>,
    /// Last store-local date, inclusive (YYYY-MM-DD).
    #[param(schema_with = crate::http::date_or_blank)]
    pub to: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    #[param(schema_with = report_format)]
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthRangeParams {
    /// First month, inclusive (YYYY-MM). Default: January of `to`'s year
    /// (or of this year).
    #[param(schema_with = crate::http::month_or_blank)]
    pub from: Option<String>,
    /// Last month, inclusive (YYYY-MM). Default: December of `from`'s year.
    #[param(schema_with = crate::http::month_or_blank)]
    pub to: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    #[param(schema_with = report_format)]
    pub format: Option<String>,
}

fn report_format() -> utoipa::openapi::Object {
    crate::http::choice_or_blank(&["json", "csv"])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

fn format(check: &mut Check, param: Option<&str>, headers: &HeaderMap) -> Format {
    match param.map(str::trim).filter(|s| !s.is_empty()) {
        Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
        Some(f) if f.eq_ignore_ascii_case("csv") => Format::Csv,
        Some(_) => {
            check.add("format", "Must be json or csv.");
            Format::Json
        }
        None => {
            let wants_csv = headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|range| {
                    range
                        .split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
                });
            if wants_csv { Format::Csv } else { Format::Json }
        }
    }
}

fn csv_response(body: String, filename: &str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The store's time zone and currency, and today there.
struct Store {
    tz: chrono_tz::Tz,
    timezone: String,
    currency: String,
    today: NaiveDate,
}

async fn store(conn: &mut sqlx::PgConnection) -> ApiResult<Store> {
    let settings = crate::settings::load(&mut *conn).await?;
    let tz = settings.tz();
    Ok(Store {
        tz,
        timezone: tz.name().to_string(),
        currency: settings.currency,
        today: Utc::now().with_timezone(&tz).date_naive(),
    })
}

const FIGURE_COLUMNS: [&str; 12] = [
    "transactions",
    "items_sold",
    "gross_sales",
    "discounts",
    "tax",
    "refunds",
    "net_sales",
    "cost_of_goods",
    "gross_profit",
    "items_refunded",
    "refunded_tax",
    "takeaway_charges",
];

fn figure_cells(f: &Figures) -> [String; 12] {
    [
        f.transactions.to_string(),
        f.items_sold.to_string(),
        f.gross_sales.to_string(),
        f.discounts.to_string(),
        f.tax.to_string(),
        f.refunds.to_string(),
        f.net_sales.to_string(),
        f.cost_of_goods.to_string(),
        f.gross_profit.to_string(),
        f.items_refunded.to_string(),
        f.refunded_tax.to_string(),
        f.takeaway_charges.to_string(),
    ]
}

fn figures_csv<'a>(key: &str, rows: impl Iterator<Item = (String, &'a Figures)>) -> String {
    let mut header = vec![key];
    header.extend(FIGURE_COLUMNS);
    let mut csv = Csv::new(&header);
    for (label, f) in rows {
        csv.row(
            std::iter::once(Cell::Number(label))
                .chain(figure_cells(f).into_iter().map(Cell::Number)),
        );
    }
    csv.finish()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyRow {
    /// Store-local date.
    #[schema(value_type = String, example = "2026-11-24")]
    pub date: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyReport {
    #[schema(value_type = String, example = "2026-11-18")]
    pub from: NaiveDate,
    #[schema(value_type = String, example = "2026-11-24")]
    pub to: NaiveDate,
    /// The store time zone the days are in.
    #[schema(example = "Asia/Jakarta")]
    pub timezone: String,
    #[schema(example = "IDR")]
    pub currency: String,
    /// One row per day, oldest first; days without sales are zeros.
    pub results: Vec<DailyRow>,
    /// The whole range.
    pub totals: Figures,
}

/// Daily figures (manager+).
///
/// One row per store-local day from `from` to `to` (inclusive, at most 366
/// days; default the last 7 days, today included), days without sales as
/// zeros. A sale counts on the local day of its `occurred_at`, a refund on
/// the day it was made. `gross_sales` are subtotals before discount;
/// `takeaway_charges` the sales' take-away charges (part of their totals,
/// untaxed); `refunds` is money paid back, tax included (and the refunded
/// share of a take-away charge), `refunded_tax` its tax part;
/// `net_sales = gross_sales - discounts + takeaway_charges - (refunds - refunded_tax)`,
/// so a fully refunded sale nets to zero;
/// `cost_of_goods` is the cost of goods sold less that of refunded goods put
/// back on the shelf; `gross_profit = net_sales - cost_of_goods`. Amounts
/// are exact decimal strings and may be negative on a day of refunds.
///
/// CSV (`?format=csv` or `Accept: text/csv`): a header row
/// `date,transactions,items_sold,gross_sales,discounts,tax,refunds,net_sales,cost_of_goods,gross_profit,items_refunded,refunded_tax,takeaway_charges`
/// then one row per day, as an attachment.
#[utoipa::path(get, path = "/api/reports/daily", tag = "reports",
    params(DayRangeParams),
    responses(
        (status = 200, content((DailyReport = "application/json"), ("text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn daily(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<DayRangeParams>,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let store = store(&mut conn).await?;
    let mut check = Check::new();
    let format = format(&mut check, params.format.as_deref(), &headers);
    let range = Days::parse(
        &mut check,
        params.from.as_deref(),
        params.to.as_deref(),
        store.today,
        DEFAULT_DAYS,
    );
    check.finish()?;
    let range = range.expect("a valid range when the check passed");
    let figures = sums(&mut conn, &range.periods(store.tz), Source::Rollups).await?;
    let results: Vec<DailyRow> = range
        .dates()
        .zip(figures)
        .map(|(date, s)| DailyRow {
            date,
            figures: s.into(),
        })
        .collect();
    if format == Format::Csv {
        let body = figures_csv(
            "date",
            results.iter().map(|r| (r.date.to_string(), &r.figures)),
        );
        return Ok(csv_response(
            body,
            &format!("kasirgo-daily-{}-to-{}.csv", range.from, range.to),
        ));
    }
    let totals = results
        .iter()
        .fold(Figures::default(), |acc, r| acc + r.figures);
    Ok(json_response(&DailyReport {
        from: range.from,
        to: range.to,
        timezone: store.timezone,
        currency: store.currency,
        results,
        totals,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyRow {
    /// Store-local month.
    #[schema(example = "2026-11")]
    pub month: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyReport {
    #[schema(example = "2026-01")]
    pub from: String,
    #[schema(example = "2026-12")]
    pub to: String,
    #[schema(example = "Asia/Jakarta")]
    pub timezone: String,
    #[schema(example = "IDR")]
    pub currency: String,
    /// One row per month, oldest first; months without sales are zeros.
    pub results: Vec<MonthlyRow>,
    pub totals: Figures,
}

fn month_label(m: NaiveDate) -> String {
    m.format("%Y-%m").to_string()
}

/// Monthly figures (manager+).
///
/// The daily figures summed per store-local month from `from` to `to`
/// (YYYY-MM, inclusive, at most 120 months; default this year, January to
/// December). Same columns and rules as the daily report, with `month`
/// instead of `date`.
#[utoipa::path(get, path = "/api/reports/monthly", tag = "reports",
    params(MonthRangeParams),
    responses(
        (status = 200, content((MonthlyReport = "application/json"), ("text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn monthly(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<MonthRangeParams>,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let store = store(&mut conn).await?;
    let mut check = Check::new();
    let format = format(&mut check, params.format.as_deref(), &headers);
    let range = MonthRange::parse(
        &mut check,
        params.from.as_deref(),
        params.to.as_deref(),
        store.today,
    );
    check.finish()?;
    let range = range.expect("a valid range when the check passed");
    let figures = sums(&mut conn, &range.periods(store.tz), Source::Rollups).await?;
    let results: Vec<MonthlyRow> = range
        .months()
        .into_iter()
        .zip(figures)
        .map(|(m, s)| MonthlyRow {
            month: month_label(m),
            figures: s.into(),
        })
        .collect();
    let (from, to) = (month_label(range.from), month_label(range.to));
    if format == Format::Csv {
        let body = figures_csv(
            "month",
            results.iter().map(|r| (r.month.clone(), &r.figures)),
        );
        return Ok(csv_response(
            body,
            &format!("kasirgo-monthly-{from}-to-{to}.csv"),
        ));
    }
    let totals = results
        .iter()
        .fold(Figures::default(), |acc, r| acc + r.figures);
    Ok(json_response(&MonthlyReport {
        from,
        to,
        timezone: store.timezone,
        currency: store.currency,
        results,
        totals,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryReport {
    #[schema(value_type = String, example = "2026-11-24")]
    pub from: NaiveDate,
    #[schema(value_type = String, example = "2026-11-24")]
    pub to: NaiveDate,
    #[schema(example = "Asia/Jakarta")]
    pub timezone: String,
    #[schema(example = "IDR")]
    pub currency: String,
    /// The range's figures, as in the daily report.
    pub totals: Figures,
    /// All five methods, in a fixed order.
    pub by_payment_method: Vec<PaymentMethodRow>,
    /// Cashiers with sales in the range, highest total first.
    pub by_cashier: Vec<CashierRow>,
    /// The ten best sellers by units and by revenue.
    pub top_products: TopProducts,
    /// Sales by store-local hour of day, all 24 hours.
    pub by_hour: Vec<HourRow>,
    /// The ten customers who spent most in the range (net of refunds).
    pub top_customers: Vec<CustomerRow>,
}

/// Summary of a range (manager+).
///
/// `from`/`to`: store-local dates, inclusive, at most 366 days; default
/// today. Totals as in the daily report, plus sales by payment method (with
/// the refunds made in the range on sales paid that way), by cashier, the
/// top ten products by units and by revenue (line totals before the sale's
/// discount and tax), and by store-local hour.
///
/// CSV (`?format=csv` or `Accept: text/csv`): one row per figure, columns
/// `section,key,name,metric,value` (e.g. `by_payment_method,cash,,total,15000.00`).
#[utoipa::path(get, path = "/api/reports/summary", tag = "reports",
    params(DayRangeParams),
    responses(
        (status = 200, content((SummaryReport = "application/json"), ("text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn summary_report(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<DayRangeParams>,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let store = store(&mut conn).await?;
    let mut check = Check::new();
    let format = format(&mut check, params.format.as_deref(), &headers);
    let range = Days::parse(
        &mut check,
        params.from.as_deref(),
        params.to.as_deref(),
        store.today,
        1,
    );
    check.finish()?;
    let range = range.expect("a valid range when the check passed");
    let whole = range.whole(store.tz);
    let totals: Figures = sums(&mut conn, &[whole], Source::Rollups)
        .await?
        .pop()
        .unwrap_or_default()
        .into();
    let report = SummaryReport {
        from: range.from,
        to: range.to,
        totals,
        by_payment_method: summary::by_payment_method(&mut conn, whole).await?,
        by_cashier: summary::by_cashier(&mut conn, whole).await?,
        top_products: summary::top_products(&mut conn, whole).await?,
        by_hour: summary::by_hour(&mut conn, whole, &store.timezone).await?,
        top_customers: summary::top_customers(&mut conn, whole).await?,
        timezone: store.timezone,
        currency: store.currency,
    };
    if format == Format::Csv {
        return Ok(csv_response(
            summary_csv(&report),
            &format!("kasirgo-summary-{}-to-{}.csv", range.from, range.to),
        ));
    }
    Ok(json_response(&report))
}

fn summary_csv(r: &SummaryReport) -> String {
    let mut csv = Csv::new(&["section", "key", "name", "metric", "value"]);
    let mut put = |section: &str, key: &str, name: &str, metric: &str, value: String| {
        csv.row([
            Cell::Text(section),
            Cell::Text(key),
            Cell::Text(name),
            Cell::Text(metric),
            Cell::Number(value),
        ]);
    };
    for (metric, value) in FIGURE_COLUMNS.iter().zip(figure_cells(&r.totals)) {
        put("totals", "", "", metric, value);
    }
    for m in &r.by_payment_method {
        let key = serde_json::to_value(m.payment_method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        put(
            "by_payment_method",
            &key,
            "",
            "transactions",
            m.transactions.to_string(),
        );
        put("by_payment_method", &key, "", "total", m.total.to_string());
        put(
            "by_payment_method",
            &key,
            "",
            "refunds",
            m.refunds.to_string(),
        );
        put("by_payment_method", &key, "", "net", m.net.to_string());
    }
    for c in &r.by_cashier {
        let key = c.cashier_id.to_string();
        put(
            "by_cashier",
            &key,
            &c.username,
            "transactions",
            c.transactions.to_string(),
        );
        put(
            "by_cashier",
            &key,
            &c.username,
            "items_sold",
            c.items_sold.to_string(),
        );
        put(
            "by_cashier",
            &key,
            &c.username,
            "total",
            c.total.to_string(),
        );
    }
    for (section, list) in [
        ("top_products_by_quantity", &r.top_products.by_quantity),
        ("top_products_by_revenue", &r.top_products.by_revenue),
    ] {
        for p in list {
            let key = p.product_id.to_string();
            put(
                section,
                &key,
                &p.product_name,
                "quantity",
                p.quantity.to_string(),
            );
            put(
                section,
                &key,
                &p.product_name,
                "revenue",
                p.revenue.to_string(),
            );
        }
    }
    for h in &r.by_hour {
        let key = h.hour.to_string();
        put(
            "by_hour",
            &key,
            "",
            "transactions",
            h.transactions.to_string(),
        );
        put("by_hour", &key, "", "total", h.total.to_string());
    }
    for c in &r.top_customers {
        let key = c.customer_id.to_string();
        put(
            "top_customers",
            &key,
            &c.name,
            "visits",
            c.visits.to_string(),
        );
        put("top_customers", &key, &c.name, "spent", c.spent.to_string());
    }
    csv.finish()
}
