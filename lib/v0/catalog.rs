//! `categories/`, `category/...`, `products/` and `product/...`: the whole
//! catalog in one list each (the app filters and searches on the device),
//! and Django's singular write paths, with the product form as multipart.

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::form::{self, Form};
use super::money::parse_amount;
use super::{Envelope, EnvelopeBody, TAG, V0ErrorBody};
use crate::auth::{AnyUser, Auth, ManagerUp};
use crate::catalog::categories::{self, CategoryPatch, NewCategory};
use crate::catalog::products::{self, NewProduct, Product, ProductPatch};
use crate::error::{ApiError, ApiResult};
use crate::http::Json;
use crate::money::Money;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories))
        .routes(routes!(create_category))
        .routes(routes!(edit_category, delete_category))
        .routes(routes!(list_products))
        .routes(routes!(create_product))
        .routes(routes!(edit_product, delete_product))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppCategory {
    pub id: i64,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AppCategoryBody {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 100
    )]
    pub name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub description: Option<String>,
}

/// A new category from the app, for the OpenAPI document: the body of
/// [`AppCategoryBody`], with the name required.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppNewCategory {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 100
    )]
    name: String,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    description: Option<String>,
}

fn int_path(raw: &str, what: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Every category.
#[utoipa::path(get, path = "/api/v0/categories", tag = TAG,
    responses((status = 200, body = EnvelopeBody, description = "`data`: every category"),
              (status = 401, body = V0ErrorBody)))]
async fn list_categories(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
) -> ApiResult<Envelope<Vec<AppCategory>>> {
    let mut conn = state.db.acquire().await?;
    let all = categories::list_all(&mut *conn).await?;
    Ok(Envelope::ok(
        "Categories",
        all.into_iter()
            .map(|c| AppCategory {
                id: c.int_id,
                name: c.name,
                description: c.description,
            })
            .collect(),
    ))
}

/// Create a category (manager+).
#[utoipa::path(post, path = "/api/v0/category/create", tag = TAG, request_body = AppNewCategory,
    responses((status = 201, body = EnvelopeBody), (status = 400, body = V0ErrorBody),
              (status = 403, body = V0ErrorBody), (status = 409, body = V0ErrorBody)))]
async fn create_category(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    Json(body): Json<AppCategoryBody>,
) -> ApiResult<Envelope<AppCategory>> {
    let c = categories::create(
        &state.db,
        NewCategory {
            name: body.name.unwrap_or_default(),
            description: body.description.unwrap_or_default(),
        },
    )
    .await?;
    Ok(Envelope::created(
        "Category created",
        AppCategory {
            id: c.int_id,
            name: c.name,
            description: c.description,
        },
    ))
}

/// Rename a category or change its description (manager+).
#[utoipa::path(patch, path = "/api/v0/category/{id}", tag = TAG, params(("id" = i64, Path)),
    request_body = AppCategoryBody,
    responses((status = 403, body = V0ErrorBody), (status = 200, body = EnvelopeBody), (status = 400, body = V0ErrorBody),
              (status = 404, body = V0ErrorBody), (status = 409, body = V0ErrorBody)))]
async fn edit_category(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AppCategoryBody>,
) -> ApiResult<Envelope<AppCategory>> {
    let mut conn = state.db.acquire().await?;
    let id = categories::id_for_int(&mut *conn, int_path(&id, "Category")?).await?;
    let patch = CategoryPatch {
        name: body.name,
        description: body.description,
        version: None,
    };
    let c = categories::update(&mut conn, id, patch, None).await?;
    Ok(Envelope::ok(
        "Category updated",
        AppCategory {
            id: c.int_id,
            name: c.name,
            description: c.description,
        },
    ))
}

/// Delete a category (manager+); its products become uncategorised.
#[utoipa::path(delete, path = "/api/v0/category/{id}", tag = TAG, params(("id" = i64, Path)),
    responses((status = 403, body = V0ErrorBody), (status = 200, body = EnvelopeBody), (status = 404, body = V0ErrorBody)))]
async fn delete_category(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<()>> {
    let mut conn = state.db.acquire().await?;
    let id = categories::id_for_int(&mut *conn, int_path(&id, "Category")?).await?;
    categories::delete(&mut conn, id, None).await?;
    Ok(Envelope::ok("Category deleted", ()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppProduct {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub cost: Money,
    pub stock: i32,
    pub sku: Option<String>,
    /// The category's integer id.
    pub category: Option<i64>,
    /// For sale and in stock (the POS grid lists only these).
    pub is_available: bool,
    pub needs_preparation: bool,
    /// An absolute URL, or null.
    pub image: Option<String>,
}

fn app_product(p: Product, categories: &HashMap<Uuid, i64>) -> AppProduct {
    AppProduct {
        id: p.int_id,
        is_available: p.is_active && p.stock > 0,
        name: p.name,
        description: p.description,
        price: p.price,
        cost: p.cost,
        stock: p.stock,
        sku: p.sku,
        category: p.category_id.and_then(|c| categories.get(&c).copied()),
        needs_preparation: p.needs_preparation,
        image: p.image_url,
    }
}

async fn category_ints(conn: &mut sqlx::PgConnection) -> ApiResult<HashMap<Uuid, i64>> {
    Ok(categories::list_all(&mut *conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.int_id))
        .collect())
}

/// Every live product, in name order.
#[utoipa::path(get, path = "/api/v0/products", tag = TAG,
    responses((status = 200, body = EnvelopeBody, description = "`data`: every product"),
              (status = 401, body = V0ErrorBody)))]
async fn list_products(
    _: Auth<AnyUser>,
    State(state): State<AppState>,
) -> ApiResult<Envelope<Vec<AppProduct>>> {
    crate::payments::catch_up(&state.db).await;
    let mut conn = state.db.acquire().await?;
    let cats = category_ints(&mut conn).await?;
    let all = products::list_all(&mut *conn).await?;
    let cloud = state.cloud_name();
    Ok(Envelope::ok(
        "Products",
        all.into_iter()
            .map(|p| app_product(p.with_image_url(cloud), &cats))
            .collect(),
    ))
}

/// The form's fields, read as the v1 domain wants them.
struct ProductForm {
    name: String,
    description: String,
    price: Option<Money>,
    cost: Option<Money>,
    stock: Option<i32>,
    sku: Option<String>,
    category: Option<Option<Uuid>>,
    needs_preparation: Option<bool>,
    is_available: Option<bool>,
}

fn amount(form: &Form, name: &str) -> ApiResult<Option<Money>> {
    form.text(name)
        .map(|raw| {
            parse_amount(&serde_json::Value::String(raw.to_string()))
                .ok_or_else(|| ApiError::field(name, "Must be a number such as 15000.0."))
                .and_then(|d| {
                    Money::new(d).map_err(|e| ApiError::field(name, format!("Amount {e}.")))
                })
        })
        .transpose()
}

async fn read_product_form(conn: &mut sqlx::PgConnection, form: &Form) -> ApiResult<ProductForm> {
    let category = match form.text("category").map(str::trim) {
        None => None,
        Some("") | Some("null") => Some(None),
        Some(raw) => {
            let int_id: i64 = raw
                .parse()
                .map_err(|_| ApiError::field("category", "Unknown category."))?;
            let id = categories::id_for_int(&mut *conn, int_id)
                .await
                .map_err(|_| ApiError::field("category", "Unknown category."))?;
            Some(Some(id))
        }
    };
    let sku = form
        .text("sku")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(ProductForm {
        name: form.text("name").unwrap_or_default().to_string(),
        description: form.text("description").unwrap_or_default().to_string(),
        price: amount(form, "price")?,
        cost: amount(form, "cost")?,
        stock: form.whole("stock")?,
        sku,
        category,
        needs_preparation: form.flag("needs_preparation")?,
        is_available: form.flag("is_available")?,
    })
}

/// Uploads the form's image, if any, before the product is written.
async fn upload(state: &AppState, form: &mut Form) -> ApiResult<Option<String>> {
    match form.image.take() {
        None => Ok(None),
        Some((bytes, filename)) => Ok(Some(
            crate::uploads::store_image(state, bytes, &filename)
                .await?
                .public_id,
        )),
    }
}

/// The app's product form, for the OpenAPI document: every field a string
/// (the app's Dio `FormData`), an optional file part `image`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppProductForm {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    name: String,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 2000
    )]
    description: Option<String>,
    /// A number as Dart prints a double (`"15000.0"`), rounded half-up to cents.
    #[schema(pattern = r"^\d{1,11}(\.\d{1,6})?$")]
    price: String,
    #[schema(pattern = r"^\d{1,11}(\.\d{1,6})?$")]
    cost: Option<String>,
    /// Units on the shelf (`"12"`; `"12.0"` is taken too).
    #[schema(pattern = r"^\d{1,6}(\.0)?$")]
    stock: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 64
    )]
    sku: Option<String>,
    /// A category's integer id, or `""`/`"null"` for none.
    #[schema(pattern = r"^(|null|\d{1,18})$")]
    category: Option<String>,
    #[schema(pattern = r"^(true|false|1|0|yes|no|on|off)$")]
    needs_preparation: Option<String>,
    #[schema(pattern = r"^(true|false|1|0|yes|no|on|off)$")]
    is_available: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    image: Option<Vec<u8>>,
}

/// The edit form: the same fields, every one optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AppProductEditForm {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    name: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 2000
    )]
    description: Option<String>,
    #[schema(pattern = r"^\d{1,11}(\.\d{1,6})?$")]
    price: Option<String>,
    #[schema(pattern = r"^\d{1,11}(\.\d{1,6})?$")]
    cost: Option<String>,
    #[schema(pattern = r"^\d{1,6}(\.0)?$")]
    stock: Option<String>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 64
    )]
    sku: Option<String>,
    #[schema(pattern = r"^(|null|\d{1,18})$")]
    category: Option<String>,
    #[schema(pattern = r"^(true|false|1|0|yes|no|on|off)$")]
    needs_preparation: Option<String>,
    #[schema(pattern = r"^(true|false|1|0|yes|no|on|off)$")]
    is_available: Option<String>,
    #[schema(value_type = Option<String>, format = Binary)]
    image: Option<Vec<u8>>,
}

/// Create a product from the app's multipart form (manager+): every field
/// a string, and an optional file part `image`.
#[utoipa::path(post, path = "/api/v0/product/create", tag = TAG,
    request_body(content = AppProductForm, content_type = "multipart/form-data",
                 description = "`name`, `description`, `price`, `cost`, `stock`, `sku`, `category`, `needs_preparation`, `is_available`, optional file `image`"),
    responses((status = 201, body = EnvelopeBody), (status = 400, body = V0ErrorBody),
              (status = 403, body = V0ErrorBody), (status = 409, body = V0ErrorBody),
              (status = 413, body = V0ErrorBody), (status = 415, body = V0ErrorBody),
              (status = 503, description = "An image was sent and uploads are not configured", body = V0ErrorBody)))]
async fn create_product(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    req: Request,
) -> ApiResult<Envelope<AppProduct>> {
    let mut form = form::read(req).await?;
    let mut conn = state.db.acquire().await?;
    let fields = read_product_form(&mut conn, &form).await?;
    let price = fields
        .price
        .ok_or_else(|| ApiError::field("price", "This field is required."))?;
    let image = upload(&state, &mut form).await?;
    let input = NewProduct {
        sku: fields.sku,
        barcode: None,
        name: fields.name,
        description: fields.description,
        category_id: fields.category.flatten(),
        price,
        cost: fields.cost,
        stock: fields.stock.unwrap_or(0),
        low_stock_threshold: 0,
        is_active: fields.is_available.unwrap_or(true),
        // The app's create form starts with it on.
        needs_preparation: fields.needs_preparation.unwrap_or(true),
        image_public_id: image.clone(),
    };
    let product = match products::create(&mut conn, input, auth.user_id).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(orphan) = image {
                state.destroy_image(&orphan).await;
            }
            return Err(e);
        }
    };
    let cats = category_ints(&mut conn).await?;
    Ok(Envelope::created(
        "Product created",
        app_product(product.with_image_url(state.cloud_name()), &cats),
    ))
}

/// Change a product from the app's edit form (manager+). Every field comes
/// every time; a `stock` that differs from the shelf's is a count in the
/// stock ledger; `image` only when the photo changed.
#[utoipa::path(patch, path = "/api/v0/product/{id}", tag = TAG, params(("id" = i64, Path)),
    request_body(content = AppProductEditForm, content_type = "multipart/form-data", description = "As for product/create"),
    responses((status = 503, description = "An image was sent and uploads are not configured", body = V0ErrorBody), (status = 403, body = V0ErrorBody), (status = 200, body = EnvelopeBody), (status = 400, body = V0ErrorBody),
              (status = 404, body = V0ErrorBody), (status = 409, body = V0ErrorBody)))]
async fn edit_product(
    auth: Auth<ManagerUp>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Envelope<AppProduct>> {
    let mut form = form::read(req).await?;
    let mut conn = state.db.acquire().await?;
    let id = products::id_for_int(&mut *conn, int_path(&id, "Product")?).await?;
    let fields = read_product_form(&mut conn, &form).await?;
    let image = upload(&state, &mut form).await?;
    let patch = ProductPatch {
        sku: form.text("sku").map(|_| fields.sku),
        barcode: None,
        name: form.text("name").map(|_| fields.name),
        description: form.text("description").map(|_| fields.description),
        category_id: fields.category,
        price: fields.price,
        cost: fields.cost,
        low_stock_threshold: None,
        is_active: fields.is_available,
        needs_preparation: fields.needs_preparation,
        image_public_id: image.clone().map(Some),
        version: None,
        stock: fields.stock,
    };
    let updated = match products::update(&mut conn, id, patch, None, auth.user_id).await {
        Ok(u) => u,
        Err(e) => {
            if let Some(orphan) = image {
                state.destroy_image(&orphan).await;
            }
            return Err(e);
        }
    };
    drop(conn);
    if let Some(old) = updated.replaced_image {
        state.destroy_image(&old).await;
    }
    let mut conn = state.db.acquire().await?;
    let cats = category_ints(&mut conn).await?;
    Ok(Envelope::ok(
        "Product updated",
        app_product(updated.product.with_image_url(state.cloud_name()), &cats),
    ))
}

/// Delete a product (manager+): it leaves the list; old sales keep its
/// name.
#[utoipa::path(delete, path = "/api/v0/product/{id}", tag = TAG, params(("id" = i64, Path)),
    responses((status = 403, body = V0ErrorBody), (status = 200, body = EnvelopeBody), (status = 404, body = V0ErrorBody)))]
async fn delete_product(
    _: Auth<ManagerUp>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<()>> {
    let mut conn = state.db.acquire().await?;
    let id = products::id_for_int(&mut *conn, int_path(&id, "Product")?).await?;
    drop(conn);
    if let Some(image) = products::delete(&state.db, id, None).await? {
        state.destroy_image(&image).await;
    }
    Ok(Envelope::ok("Product deleted", ()))
}
