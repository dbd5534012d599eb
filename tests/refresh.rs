//! The refresh grace window: a rotated refresh token answers again, for
//! `REFRESH_GRACE_SECONDS`, with the very pair its rotation issued, so the
//! KasirGo app's unlocked, retried refreshes never log the cashier out.
//! (Grace 0, the old behaviour, is in tests/auth.rs.)

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use common::users::{PASSWORD, create_user, login, user_with_token};
use common::{Function, JWT_SECRET, Reply, TestApp, assert_error, http_client};
use serde_json::{Value, json};
use uuid::Uuid;

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.post("/api/auth/refresh", json!({ "refresh": token }), None)
        .await
}

/// A refresh that must succeed: its `(access, refresh)`.
async fn refreshed(app: &TestApp, token: &str) -> (String, String) {
    let r = refresh(app, token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    pair(&r.body)
}

fn pair(body: &Value) -> (String, String) {
    (
        body["access"].as_str().expect("access").to_string(),
        body["refresh"].as_str().expect("refresh").to_string(),
    )
}

async fn assert_blacklisted(app: &TestApp, token: &str, why: &str) {
    let r = refresh(app, token).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "token_not_valid");
    assert_eq!(
        r.body["detail"], "Token is blacklisted",
        "{why}: {}",
        r.text
    );
}

async fn logout(app: &TestApp, access: &str, token: &str) -> Reply {
    app.post(
        "/api/auth/logout",
        json!({ "refresh": token }),
        Some(access),
    )
    .await
}

async fn refresh_rows(app: &TestApp, user: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE user_id = $1")
        .bind(user)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// `n` refreshes of `token` at once, each on a task of its own.
async fn concurrently(app: &TestApp, token: &str, n: usize) -> Vec<(StatusCode, Value)> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let svc = app.app.clone();
        let body = json!({ "refresh": token }).to_string();
        handles.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/auth/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            let res = svc.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_all_get_the_same_pair() {
    let app = TestApp::new().await;
    let id = create_user(&app, "kasir", "cashier").await;
    let first = login(&app, "kasir", PASSWORD).await;
    let old = first["refresh"].as_str().unwrap().to_string();

    let replies = concurrently(&app, &old, 8).await;
    for (status, body) in &replies {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let (access, new) = pair(&replies[0].1);
    for (_, body) in &replies {
        assert_eq!(
            pair(body),
            (access.clone(), new.clone()),
            "one pair for all"
        );
    }
    assert_ne!(new, old);
    // One rotation happened: the login's token and one successor.
    assert_eq!(refresh_rows(&app, id).await, 2);

    let me = app.get("/api/me", Some(&access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], id.to_string());
    let (next_access, next) = refreshed(&app, &new).await;
    assert_ne!(next, new);
    assert_eq!(
        app.get("/api/me", Some(&next_access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_repeat_within_the_window_gets_the_same_pair_and_the_successor_rotates() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let r1 = login(&app, "kasir", PASSWORD).await["refresh"]
        .as_str()
        .unwrap()
        .to_string();

    let p2 = refreshed(&app, &r1).await;
    // A retry of a refresh that timed out, on either path, comes later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(refreshed(&app, &r1).await, p2);
    let alias = app
        .post("/api/token/refresh/", json!({ "refresh": r1 }), None)
        .await;
    assert_eq!(alias.status, StatusCode::OK, "{}", alias.text);
    assert_eq!(pair(&alias.body), p2);
    assert_eq!(
        alias.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access", "refresh"]
    );

    // The successor is an ordinary refresh token: it rotates, with a grace
    // window of its own, and the chain goes on.
    let p3 = refreshed(&app, &p2.1).await;
    assert_ne!(p3, p2);
    assert_eq!(refreshed(&app, &p2.1).await, p3);
    assert_eq!(refreshed(&app, &r1).await, p2, "r1 still answers with p2");
    let p4 = refreshed(&app, &p3.1).await;
    assert_ne!(p4, p3);
    assert_eq!(app.get("/api/me", Some(&p4.0)).await.status, StatusCode::OK);
    // Every access token handed out is good.
    for access in [&p2.0, &p3.0, &p4.0] {
        assert_eq!(
            app.get("/api/me", Some(access)).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn after_the_window_reuse_is_refused() {
    let app = TestApp::with_config(&[("REFRESH_GRACE_SECONDS", "1")]).await;
    create_user(&app, "kasir", "cashier").await;
    let r1 = login(&app, "kasir", PASSWORD).await["refresh"]
        .as_str()
        .unwrap()
        .to_string();
    let p2 = refreshed(&app, &r1).await;
    assert_eq!(refreshed(&app, &r1).await, p2, "within the second");
    // The rotation instant is kept in whole seconds (it is the pair's
    // `iat`), so past 2 s is past the 1 s window whatever the fraction.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_blacklisted(&app, &r1, "after the window").await;
    // The pair it had issued is unaffected.
    let p3 = refreshed(&app, &p2.1).await;
    assert_ne!(p3, p2);
}

#[tokio::test]
async fn a_logged_out_token_gets_no_grace() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let first = login(&app, "kasir", PASSWORD).await;
    let (access, r1) = pair(&first);
    let other = pair(&login(&app, "kasir", PASSWORD).await);

    let out = logout(&app, &access, &r1).await;
    assert_eq!(out.status, StatusCode::RESET_CONTENT, "{}", out.text);
    assert_blacklisted(&app, &r1, "right after logout").await;
    assert_error(
        &logout(&app, &access, &r1).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
    );
    // Another login of the same account is another session.
    let p = refreshed(&app, &other.1).await;
    assert_eq!(refreshed(&app, &other.1).await, p);
}

#[tokio::test]
async fn logging_out_a_rotated_token_ends_its_whole_session() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let (_, r1) = pair(&login(&app, "kasir", PASSWORD).await);
    // One client rotated r1; the other, still holding r1, logs out with it.
    let (a2, r2) = refreshed(&app, &r1).await;
    let out = logout(&app, &a2, &r1).await;
    assert_eq!(out.status, StatusCode::RESET_CONTENT, "{}", out.text);
    assert_blacklisted(&app, &r1, "the rotated token").await;
    assert_blacklisted(&app, &r2, "its successor").await;
    assert_error(
        &logout(&app, &a2, &r2).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
    );
}

#[tokio::test]
async fn logging_out_the_newest_token_ends_the_grace_of_older_ones() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let (_, r1) = pair(&login(&app, "kasir", PASSWORD).await);
    let (_, r2) = refreshed(&app, &r1).await;
    let (a3, r3) = refreshed(&app, &r2).await;
    let out = logout(&app, &a3, &r3).await;
    assert_eq!(out.status, StatusCode::RESET_CONTENT, "{}", out.text);
    for (token, why) in [(&r1, "r1"), (&r2, "r2"), (&r3, "r3")] {
        assert_blacklisted(&app, token, why).await;
    }
}

#[tokio::test]
async fn a_replay_is_the_rotation_itself_and_needs_a_live_account() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let id = create_user(&app, "kasir", "cashier").await;
    let (_, r1) = pair(&login(&app, "kasir", PASSWORD).await);
    let p2 = refreshed(&app, &r1).await;

    // A promotion after the rotation: the replay is still the same pair
    // (the role it was issued with), the next rotation carries the new role.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(json!({"role": "manager"})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(refreshed(&app, &r1).await, p2);
    let p3 = refreshed(&app, &p2.1).await;
    assert_eq!(
        app.get("/api/users", Some(&p3.0)).await.status,
        StatusCode::OK
    );

    // A deactivated account gets nothing, replay or not.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(json!({"is_active": false})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for token in [&p2.1, &p3.1] {
        let r = refresh(&app, token).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "no_active_account");
    }
}

#[tokio::test]
async fn verify_stays_strict_about_a_rotated_token() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let (_, r1) = pair(&login(&app, "kasir", PASSWORD).await);
    let p2 = refreshed(&app, &r1).await;
    let r = app
        .post("/api/auth/verify", json!({ "token": r1 }), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "token_not_valid");
    assert_eq!(r.body["detail"], "Token is blacklisted");
    for token in [&p2.0, &p2.1] {
        let r = app
            .post("/api/auth/verify", json!({ "token": token }), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

/// Two serverless instances answering one token at once: the row lock
/// serialises them across processes, and both sign the same pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_function_binaries_answer_one_refresh_with_one_pair() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let env = [
        ("DATABASE_URL", app.db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let exe = env!("CARGO_BIN_EXE_auth-action");
    let (one, two) = (Function::start(exe, &env), Function::start(exe, &env));
    let client = http_client();
    for _ in 0..3 {
        let (_, token) = pair(&login(&app, "kasir", PASSWORD).await);
        let send = |base: &str| {
            client
                .post(format!("{base}/api/token/refresh/"))
                .json(&json!({ "refresh": token }))
                .send()
        };
        let (a, b) = tokio::join!(send(&one.base), send(&two.base));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.status(), reqwest::StatusCode::OK);
        assert_eq!(b.status(), reqwest::StatusCode::OK);
        let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
        assert_eq!(pair(&a), pair(&b));
        assert_ne!(pair(&a).1, token);
    }
}
