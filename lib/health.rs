//! `GET /api/health`: liveness plus a real database round trip, so a
//! monitor sees when Postgres (or the pooler in front of it) is down.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::Json;
use crate::state::AppState;

const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "ok")]
    pub database: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Service health.
///
/// Answers 200 when the service and its database answer, 503 otherwise.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    security(()),
    responses(
        (status = 200, description = "Service and database are up", body = Health),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
async fn health(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<Health>)> {
    let up = tokio::time::timeout(DB_CHECK_TIMEOUT, crate::db::ping(&state.db))
        .await
        .unwrap_or(false);
    if !up {
        return Err(ApiError::ServiceUnavailable(
            "The database does not answer.".into(),
        ));
    }
    Ok((
        StatusCode::OK,
        Json(Health {
            status: "ok",
            database: "ok",
            version: env!("CARGO_PKG_VERSION"),
        }),
    ))
}
