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
    pub version: i32,
    pub updated_at: DateTime<Utc>,
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
    pub store_name: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    /// A decimal string from "0" to "1" with at most 4 places, e.g. "0.11".
    #[schema(value_type = Option<String>, example = "0.11")]
    pub tax_rate: Option<serde_json::Value>,
    pub receipt_footer: Option<String>,
    /// Alternative to `If-Match`.
    pub version: Option<i32>,
}

pub async fn load(db: impl PgExecutor<'_>) -> sqlx::Result<Settings> {
    sqlx::query_as!(
        Settings,
        "SELECT store_name, timezone, currency, tax_rate, receipt_footer, version, updated_at
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
    c.finish()?;
    Ok(Valid {
        store_name,
        timezone,
        currency,
        tax_rate,
        receipt_footer,
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
        (status = 200, body = Settings),
        (status = 401, body = ErrorBody),
    )
)]
async fn get_settings(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
) -> ApiResult<Json<Settings>> {
    Ok(Json(load(&state.db).await?))
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
    params(("If-Match" = Option<i32>, Header, description = "The version being changed")),
    responses(
        (status = 200, body = Settings),
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
) -> ApiResult<Json<Settings>> {
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
            version = version + 1
         WHERE $6::int IS NULL OR version = $6
         RETURNING store_name, timezone, currency, tax_rate, receipt_footer, version, updated_at",
        v.store_name,
        v.timezone,
        v.currency,
        v.tax_rate,
        v.receipt_footer,
        expected,
    )
    .fetch_optional(&state.db)
    .await?;
    updated
        .map(Json)
        .ok_or_else(|| version_mismatch("store settings"))
}
