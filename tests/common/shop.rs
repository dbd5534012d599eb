//! Staff, products and sales for catalog and checkout tests, made directly
//! (no password hashing, no login round trip) so tests stay quick.

use axum::http::StatusCode;
use kasirgo::auth::Role;
use kasirgo::auth::jwt::{self, TokenType};
use serde_json::{Value, json};
use uuid::Uuid;

use super::TestApp;

/// An account of `role` and an access token for it.
pub async fn staff(app: &TestApp, role: &str) -> (Uuid, String) {
    let username = format!("{role}_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (username, role, password_hash) VALUES ($1, $2, 'unusable') RETURNING id",
    )
    .bind(&username)
    .bind(role)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert user");
    let role: Role = role.parse().expect("role");
    let token = jwt::issue(&app.state.config, TokenType::Access, id, role)
        .expect("token")
        .token;
    (id, token)
}

/// Creates a product through the API and returns its body.
pub async fn product(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/products", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// A product with `price` and `stock`, named uniquely.
pub async fn stocked(app: &TestApp, token: &str, price: &str, stock: i32) -> Value {
    let name = format!("Item {}", &Uuid::new_v4().simple().to_string()[..8]);
    product(
        app,
        token,
        json!({"name": name, "price": price, "stock": stock}),
    )
    .await
}

/// A cart line of `q` units of product `p`.
pub fn line(p: &Value, q: i64) -> Value {
    json!({"product_id": p["id"], "quantity": q})
}

/// A v1 checkout that must succeed; the sale.
pub async fn sell(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/transactions", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

pub async fn stock_of(app: &TestApp, id: &str) -> i32 {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .expect("product stock")
}
