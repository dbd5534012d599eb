//! `/api/customers` and `/api/customers/{id}`: every staff member looks up
//! and adds customers at the till; managers edit and delete them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Customer, CustomerPatch, NewCustomer};
use crate::auth::{AnyUser, Auth, ManagerUp};
use crate::error::{ApiResult, ErrorBody};
use crate::http::{IdPath, Json, Page, PageParams, PageRequest, Query};
use crate::state::AppState;

pub fn collection() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_customers, create_customer))
}

pub fn item() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_customer, patch_customer, delete_customer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    /// Part of the name (any case), or a phone in any local form.
    #[param(pattern = r"^[^\u0000]*$", max_length = 100)]
    pub q: Option<String>,
}

/// Customers by name, with their visits, total spent and last visit.
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(CustomerFilter, PageParams),
    responses((status = 200, body = Page<Customer>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn list_customers(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
    Query(filter): Query<CustomerFilter>,
    page: PageRequest,
) -> ApiResult<Json<Page<Customer>>> {
    crate::validate::search_text("q", filter.q.as_deref())?;
    let after: Option<(String, Uuid)> = page.after()?;
    let mut conn = state.db.acquire().await?;
    let rows = super::search(
        &mut conn,
        filter.q.as_deref(),
        after.as_ref(),
        page.fetch_limit(),
    )
    .await?;
    Ok(Json(page.page(rows, |c| (c.name.clone(), c.id))))
}

/// Add a customer: a name, and a phone in any local form (stored as
/// `+62...`, unique: 409 `phone_taken`).
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_customer(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
    Json(input): Json<NewCustomer>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    let mut conn = state.db.acquire().await?;
    let customer = super::create(&mut conn, input).await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

/// One customer with their sales, newest first.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Customer), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_customer(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Json<Customer>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(super::detail(&mut conn, id).await?))
}

/// Change a customer's name, phone or notes (manager+).
#[utoipa::path(patch, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    request_body = CustomerPatch,
    responses((status = 200, body = Customer), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn patch_customer(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(patch): Json<CustomerPatch>,
) -> ApiResult<Json<Customer>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(super::update(&mut conn, id, patch).await?))
}

/// Delete a customer (manager+): their sales stay, without the name link.
#[utoipa::path(delete, path = "/api/customers/{id}", tag = "customers", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn delete_customer(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut conn = state.db.acquire().await?;
    super::delete(&mut conn, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
