//! Store settings: one row, read by every terminal, changed by the owner.
//! Checkout takes the tax rate from here and reports take the time zone.

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{AnyUser, Auth, OwnerOnly};
use crate::error::{ApiResult, ErrorBody};
use crate::http::Json;
use crate::patch::{expected_version, version_mismatch};
use crate::state::AppState;
use crate::validate::Check;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Settings {
    #[schema(example = "Warung Bu Sri")]
    pub store_name: String,
    /// IANA time zone; store-local dates in filters and reports use it.
    #[schema(example = "Asia/Jakarta")]
    pub timezone: String,
    #[schema(example = "IDR")]
    pub currency: String,
    /// Tax on (subtotal - discount), as a decimal fraction string.
    #[serde(serialize_with = "rate_string")]
    #[schema(value_type = String, example = "0.11")]
    pub tax_rate: Decimal,
    pub receipt_footer: String,
    /// On receipts, under the store's name.
    pub store_address: String,
    pub store_phone: String,
    /// Whether a cashier may sell without an open shift (default true).
    pub sell_without_shift: bool,
    /// The shop's own static QRIS (the text in its printed QR), from which
    /// each QRIS sale gets a QR for its exact total; null when not set.
    pub qris_payload: Option<String>,
    /// How long a QRIS or transfer sale waits for its money before it
    /// expires and its stock comes back (1-1440).
    #[schema(example = 15)]
    pub payment_window_minutes: i32,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// The settings as answered: with what the stored QRIS says and whether a
/// payment provider is configured (the server's environment decides).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: Settings,
    pub qris: Option<QrisInfo>,
    /// `duitku` when the server is configured with Duitku; null: QRIS
    /// sales use the shop's own QRIS, confirmed by hand.
    pub payment_provider: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QrisInfo {
    pub merchant_name: String,
    pub merchant_city: String,
    /// The National Merchant ID, when the code carries one.
    pub nmid: Option<String>,
}

impl SettingsView {
    pub fn new(settings: Settings, state: &AppState) -> SettingsView {
        let qris = settings
            .qris_payload
            .as_deref()
            .and_then(|p| crate::payments::qris::validate_static(p).ok())
            .map(|q| QrisInfo {
                merchant_name: q.merchant_name().to_string(),
                merchant_city: q.merchant_city().to_string(),
                nmid: q.nmid().map(str::to_string),
            });
        SettingsView {
            settings,
            qris,
            payment_provider: state.payment_provider().map(|p| p.name().to_string()),
        }
    }
}

fn rate_string<S: serde::Serializer>(rate: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let mut r = rate.normalize();
    if r.scale() < 2 {
        r.rescale(2);
    }
    s.collect_str(&r)
}

impl Settings {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Jakarta)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    pub store_name: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    /// A decimal string from "0" to "1" with at most 4 places, e.g. "0.11".
    #[schema(value_type = Option<String>, example = "0.11")]
    pub tax_rate: Option<serde_json::Value>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 500
    )]
    pub receipt_footer: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 300
    )]
    pub store_address: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 40
    )]
    pub store_phone: Option<String>,
    pub sell_without_shift: Option<bool>,
    /// The shop's printed static QRIS, as text (scan it with any QR
    /// reader); checked on save (structure, checksum, IDR, Indonesia).
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub qris_payload: Option<Option<String>>,
    #[schema(example = 15)]
    #[schema(minimum = 1, maximum = 1440)]
    pub payment_window_minutes: Option<i32>,
    /// Alternative to `If-Match`.
    #[schema(minimum = 1)]
    pub version: Option<i32>,
}

pub async fn load(db: impl PgExecutor<'_>) -> sqlx::Result<Settings> {
    sqlx::query_as!(
        Settings,
        "SELECT store_name, timezone, currency, tax_rate, receipt_footer, store_address,
                store_phone, sell_without_shift, qris_payload, payment_window_minutes, version,
                updated_at
         FROM store_settings"
    )
    .fetch_one(db)
    .await
}

struct Valid {
    store_name: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    tax_rate: Option<Decimal>,
    receipt_footer: Option<String>,
    store_address: Option<String>,
    store_phone: Option<String>,
    /// Some(None): remove it.
    qris_payload: Option<Option<String>>,
    payment_window_minutes: Option<i32>,
}

fn validate(patch: &SettingsPatch) -> ApiResult<Valid> {
    let mut c = Check::new();
    let store_name = patch
        .store_name
        .as_deref()
        .map(|n| c.text("store_name", n, 1, 200));
    let timezone = patch.timezone.as_deref().map(|tz| {
        let tz = tz.trim();
        if tz.parse::<chrono_tz::Tz>().is_err() {
            c.add(
                "timezone",
                "Must be an IANA time zone such as Asia/Jakarta.",
            );
        }
        tz.to_string()
    });
    let currency = patch.currency.as_deref().map(|cur| {
        let cur = cur.trim().to_ascii_uppercase();
        if cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_uppercase()) {
            c.add("currency", "Must be a 3-letter ISO 4217 code such as IDR.");
        }
        cur
    });
    let tax_rate = patch.tax_rate.as_ref().and_then(|raw| {
        let parsed = match raw {
            serde_json::Value::String(s) => Decimal::from_str_exact(s.trim()).ok(),
            serde_json::Value::Number(n) if n.is_u64() => n.as_u64().map(Decimal::from),
            _ => None,
        };
        match parsed {
            Some(r) if r >= Decimal::ZERO && r <= Decimal::ONE && r.normalize().scale() <= 4 => {
                Some(r)
            }
            _ => {
                c.add(
                    "tax_rate",
                    "Must be a decimal string from \"0\" to \"1\" with at most 4 places, e.g. \"0.11\".",
                );
                None
            }
        }
    });
    let receipt_footer = patch
        .receipt_footer
        .as_deref()
        .map(|f| c.text("receipt_footer", f, 0, 500));
    let store_address = patch
        .store_address
        .as_deref()
        .map(|a| c.text("store_address", a, 0, 300));
    let store_phone = patch
        .store_phone
        .as_deref()
        .map(|p| c.text("store_phone", p, 0, 40));
    let qris_payload = match &patch.qris_payload {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => match crate::payments::qris::validate_static(raw) {
            Ok(q) => Some(Some(q.payload().to_string())),
            Err(faults) => {
                for fault in faults {
                    c.add("qris_payload", fault.to_string());
                }
                None
            }
        },
    };
    if let Some(m) = patch.payment_window_minutes {
        c.range("payment_window_minutes", m, 1, 1440);
    }
    c.finish()?;
    Ok(Valid {
        store_name,
        timezone,
        currency,
        tax_rate,
        receipt_footer,
        store_address,
        store_phone,
        qris_payload,
        payment_window_minutes: patch.payment_window_minutes,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, patch_settings))
}

/// The store's settings.
#[utoipa::path(
    get,
    path = "/api/settings",
    tag = "settings",
    responses(
        (status = 200, body = SettingsView),
        (status = 401, body = ErrorBody),
    )
)]
async fn get_settings(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
) -> ApiResult<Json<SettingsView>> {
    let settings = load(&state.db).await?;
    Ok(Json(SettingsView::new(settings, &state)))
}

/// Change the store's settings (owner).
///
/// Send only the fields to change. `If-Match: <version>` (or `version` in
/// the body) answers 409 `version_mismatch` when someone changed them first.
#[utoipa::path(
    patch,
    path = "/api/settings",
    tag = "settings",
    request_body = SettingsPatch,
    params(("If-Match" = Option<i32>, Header, minimum = 1, description = "The version being changed")),
    responses(
        (status = 200, body = SettingsView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody),
    )
)]
async fn patch_settings(
    _: Auth<OwnerOnly>,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(patch): Json<SettingsPatch>,
) -> ApiResult<Json<SettingsView>> {
    let expected = expected_version(&headers, patch.version)?;
    let v = validate(&patch)?;
    let updated = sqlx::query_as!(
        Settings,
        "UPDATE store_settings SET
            store_name = COALESCE($1, store_name),
            timezone = COALESCE($2, timezone),
            currency = COALESCE($3, currency),
            tax_rate = COALESCE($4, tax_rate),
            receipt_footer = COALESCE($5, receipt_footer),
            qris_payload = CASE WHEN $7 THEN $8 ELSE qris_payload END,
            payment_window_minutes = COALESCE($9, payment_window_minutes),
            store_address = COALESCE($10, store_address),
            store_phone = COALESCE($11, store_phone),
            sell_without_shift = COALESCE($12, sell_without_shift),
            version = version + 1
         WHERE $6::int IS NULL OR version = $6
         RETURNING store_name, timezone, currency, tax_rate, receipt_footer, store_address,
                   store_phone, sell_without_shift, qris_payload, payment_window_minutes,
                   version, updated_at",
        v.store_name,
        v.timezone,
        v.currency,
        v.tax_rate,
        v.receipt_footer,
        expected,
        v.qris_payload.is_some(),
        v.qris_payload.flatten(),
        v.payment_window_minutes,
        v.store_address,
        v.store_phone,
        patch.sell_without_shift,
    )
    .fetch_optional(&state.db)
    .await?;
    updated
        .map(|s| Json(SettingsView::new(s, &state)))
        .ok_or_else(|| version_mismatch("store settings"))
}
