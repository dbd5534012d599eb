//! Staff accounts and tokens for tests.

use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::TestApp;

pub const PASSWORD: &str = "correct-horse-9";

/// Creates an account straight in the database (as `kasirgo create-user`).
pub async fn create_user(app: &TestApp, username: &str, role: &str) -> Uuid {
    kasirgo::users::create_checked(&app.state.db, username, PASSWORD, role)
        .await
        .expect("create user")
        .id
}

/// Logs in and returns the whole 200 body.
pub async fn login(app: &TestApp, username: &str, password: &str) -> Value {
    let reply = app
        .post(
            "/api/auth/login",
            json!({ "username": username, "password": password }),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.text);
    reply.body
}

/// A new account with `role` and its access token.
pub async fn user_with_token(app: &TestApp, username: &str, role: &str) -> (Uuid, String) {
    let id = create_user(app, username, role).await;
    let body = login(app, username, PASSWORD).await;
    (id, body["access"].as_str().expect("access").to_string())
}
