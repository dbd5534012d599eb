//! Tokens, logins, refresh rotation, throttling and the access guard,
//! against a real Postgres.

mod common;

use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::users::{PASSWORD, create_user, login, user_with_token};
use common::{Function, JWT_SECRET, TestApp, assert_error, http_client};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(user_id: Uuid, role: &str, token_type: &str, exp: i64) -> Value {
    json!({
        "token_type": token_type,
        "exp": exp,
        "iat": now() - 10,
        "jti": Uuid::new_v4().simple().to_string(),
        "user_id": user_id,
        "role": role,
    })
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

const ACCESS_INVALID: &str = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}"#;

async fn assert_access_refused(app: &TestApp, token: &str, why: &str) {
    let reply = app.get("/api/me", Some(token)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{why}: {}",
        reply.text
    );
    let expected: Value = serde_json::from_str(ACCESS_INVALID).unwrap();
    assert_eq!(reply.body, expected, "{why}");
    assert!(
        reply.headers.contains_key(header::WWW_AUTHENTICATE),
        "{why}"
    );
}

#[tokio::test]
async fn login_answers_a_pair_and_the_user() {
    let app = TestApp::new().await;
    let id = create_user(&app, "Siti", "manager").await;
    for path in [
        "/api/auth/login",
        "/api/auth/login/",
        "/api/token",
        "/api/token/",
    ] {
        let reply = app
            .post(
                path,
                json!({"username": "siti", "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        let user = &reply.body["user"];
        assert_eq!(user["id"], id.to_string());
        assert_eq!(user["username"], "Siti");
        assert_eq!(user["role"], "manager");
        assert!(user.get("password").is_none() && user.get("password_hash").is_none());
        assert!(!reply.text.contains("argon2"), "{}", reply.text);
        let access = reply.body["access"].as_str().unwrap();
        assert!(reply.body["refresh"].as_str().unwrap().len() > 20);
        let me = app.get("/api/me", Some(access)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.body["id"], id.to_string());
    }
}

#[tokio::test]
async fn token_claims_are_simplejwt_shaped() {
    let app = TestApp::new().await;
    let id = create_user(&app, "kasir", "cashier").await;
    let body = login(&app, "kasir", PASSWORD).await;
    let payload = |t: &str| -> Value {
        let part = t.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["access"].as_str().unwrap().split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let access = payload(body["access"].as_str().unwrap());
    let refresh = payload(body["refresh"].as_str().unwrap());
    assert_eq!(access["token_type"], "access");
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["user_id"], id.to_string());
    assert_eq!(access["role"], "cashier");
    assert_eq!(access["jti"].as_str().unwrap().len(), 32);
    let ttl = access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap();
    assert_eq!(ttl, 15 * 60);
    let ttl = refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap();
    assert_eq!(ttl, 7 * 24 * 3600);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let expected = json!({
        "detail": "No active account found with the given credentials",
        "code": "no_active_account",
    });
    for (username, password) in [("kasir", "wrong-password"), ("nobody", PASSWORD)] {
        let reply = app
            .post(
                "/api/token/",
                json!({"username": username, "password": password}),
                None,
            )
            .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "no_active_account");
        assert_eq!(reply.body, expected);
        assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    }
}

#[tokio::test]
async fn login_rejects_bad_input_with_fields() {
    let app = TestApp::new().await;
    let long = "x".repeat(10_000);
    let cases = [
        (json!({"password": "x"}), "username"),
        (json!({"username": "x"}), "password"),
        (json!({"username": 5, "password": "x"}), "username"),
        (json!({"username": "x", "password": ["x"]}), "password"),
        (json!({"username": "", "password": "x"}), "username"),
        (json!({"username": "x", "password": ""}), "password"),
        (json!({"username": long, "password": "x"}), "username"),
        (json!({"username": "x", "password": long}), "password"),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/auth/login", body.clone(), None).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(
            reply.body["fields"][field].is_array(),
            "{body}: {}",
            reply.text
        );
    }
    let reply = app.call(Method::POST, "/api/auth/login", None, None).await;
    assert_error(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

/// With `REFRESH_GRACE_SECONDS=0` a used refresh token is refused at once,
/// as before the grace window existed (tests/refresh.rs has the window).
#[tokio::test]
async fn without_grace_refresh_rotates_and_refuses_reuse() {
    let app = TestApp::with_config(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    create_user(&app, "kasir", "cashier").await;
    let first = login(&app, "kasir", PASSWORD).await;
    let old = first["refresh"].as_str().unwrap().to_string();

    let reply = app
        .post("/api/token/refresh/", json!({"refresh": old}), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let new_refresh = reply.body["refresh"].as_str().unwrap().to_string();
    let new_access = reply.body["access"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, old);
    assert_eq!(
        reply.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["access", "refresh"]
    );
    assert_eq!(
        app.get("/api/me", Some(&new_access)).await.status,
        StatusCode::OK
    );

    let reuse = app
        .post("/api/auth/refresh", json!({"refresh": old}), None)
        .await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "token_not_valid");
    assert_eq!(reuse.body["detail"], "Token is blacklisted");

    let again = app
        .post("/api/auth/refresh", json!({"refresh": new_refresh}), None)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_grace_concurrent_refreshes_of_one_token_have_one_winner() {
    let app = TestApp::with_config(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    create_user(&app, "kasir", "cashier").await;
    let refresh = login(&app, "kasir", PASSWORD).await["refresh"]
        .as_str()
        .unwrap()
        .to_string();
    let replies = futures_join(&app, &refresh, 6).await;
    let ok = replies.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}

async fn futures_join(app: &TestApp, refresh: &str, n: usize) -> Vec<StatusCode> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let svc = app.app.clone();
        let body = json!({ "refresh": refresh }).to_string();
        handles.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/auth/refresh")
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            svc.oneshot(req).await.unwrap().status()
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn refresh_rejects_access_tokens_and_garbage() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let pair = login(&app, "kasir", PASSWORD).await;
    for token in [pair["access"].as_str().unwrap(), "garbage", "a.b.c"] {
        let reply = app
            .post("/api/auth/refresh", json!({"refresh": token}), None)
            .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
        assert_eq!(reply.body["detail"], "Token is invalid or expired");
    }
    for body in [
        json!({}),
        json!({"refresh": ""}),
        json!({"refresh": 7}),
        json!({"refresh": "x".repeat(10_000)}),
    ] {
        let reply = app.post("/api/auth/refresh", body.clone(), None).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(reply.body["fields"]["refresh"].is_array(), "{body}");
    }
}

#[tokio::test]
async fn verify_accepts_valid_tokens_only() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let pair = login(&app, "kasir", PASSWORD).await;
    for path in [
        "/api/auth/verify",
        "/api/token/verify/",
        "/api/token/verify",
    ] {
        for token in [
            pair["access"].as_str().unwrap(),
            pair["refresh"].as_str().unwrap(),
        ] {
            let reply = app.post(path, json!({"token": token}), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
            assert_eq!(reply.body, json!({}));
        }
    }
    let reply = app
        .post("/api/auth/verify", json!({"token": "not-a-token"}), None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
    let expired = sign(
        &claims(Uuid::new_v4(), "owner", "access", now() - 1),
        JWT_SECRET.as_bytes(),
    );
    let reply = app
        .post("/api/auth/verify", json!({"token": expired}), None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");

    // A rotated (blacklisted) refresh token no longer verifies.
    let refresh = pair["refresh"].as_str().unwrap();
    let r = app
        .post("/api/auth/refresh", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let reply = app
        .post("/api/auth/verify", json!({"token": refresh}), None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
    assert_eq!(reply.body["detail"], "Token is blacklisted");
}

#[tokio::test]
async fn logout_blacklists_the_refresh_token() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    create_user(&app, "other", "cashier").await;
    let pair = login(&app, "kasir", PASSWORD).await;
    let other = login(&app, "other", PASSWORD).await;
    let (access, refresh) = (
        pair["access"].as_str().unwrap(),
        pair["refresh"].as_str().unwrap(),
    );

    let reply = app
        .post("/api/auth/logout", json!({"refresh": refresh}), None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "not_authenticated");

    let reply = app
        .post(
            "/api/auth/logout",
            json!({"refresh": other["refresh"]}),
            Some(access),
        )
        .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "permission_denied");

    let reply = app
        .post(
            "/api/auth/logout/",
            json!({"refresh": refresh}),
            Some(access),
        )
        .await;
    assert_eq!(reply.status, StatusCode::RESET_CONTENT, "{}", reply.text);
    assert!(reply.text.is_empty());

    let reply = app
        .post("/api/auth/refresh", json!({"refresh": refresh}), None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
    assert_eq!(reply.body["detail"], "Token is blacklisted");
    let reply = app
        .post(
            "/api/auth/logout",
            json!({"refresh": refresh}),
            Some(access),
        )
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
    // The other user's session is untouched.
    let reply = app
        .post(
            "/api/auth/refresh",
            json!({"refresh": other["refresh"]}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn no_credentials_is_not_authenticated() {
    let app = TestApp::new().await;
    for path in ["/api/me", "/api/users"] {
        let reply = app.get(path, None).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "not_authenticated");
        assert!(
            reply.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let req = axum::http::Request::get("/api/me")
        .header(header::AUTHORIZATION, "Basic b3duZXI6eA==")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_error(
        &app.send(req).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    );
}

#[tokio::test]
async fn forged_and_broken_access_tokens_are_refused() {
    let app = TestApp::new().await;
    let (id, access) = user_with_token(&app, "kasir", "cashier").await;
    let secret = JWT_SECRET.as_bytes();

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(id, "owner", "access", now() + 600))
    );
    assert_access_refused(&app, &none, "alg none").await;
    let none_sig = format!("{none}{}", access.rsplit('.').next().unwrap());
    assert_access_refused(&app, &none_sig, "alg none with a signature").await;

    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(id, "owner", "access", now() + 600),
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert_access_refused(&app, &hs512, "HS512 with the right key").await;

    let wrong_key = sign(
        &claims(id, "owner", "access", now() + 600),
        b"another-secret-another-secret-0123456",
    );
    assert_access_refused(&app, &wrong_key, "wrong key").await;

    let expired = sign(&claims(id, "cashier", "access", now() - 1), secret);
    assert_access_refused(&app, &expired, "expired by one second").await;
    let fresh = sign(&claims(id, "cashier", "access", now() + 60), secret);
    assert_eq!(
        app.get("/api/me", Some(&fresh)).await.status,
        StatusCode::OK
    );

    let refresh = login(&app, "kasir", PASSWORD).await["refresh"]
        .as_str()
        .unwrap()
        .to_string();
    assert_access_refused(&app, &refresh, "refresh as access").await;
    let typeless = sign(
        &json!({"exp": now() + 600, "iat": now(), "jti": Uuid::new_v4().simple().to_string(), "user_id": id, "role": "cashier"}),
        secret,
    );
    assert_access_refused(&app, &typeless, "no token_type").await;
    let no_exp = sign(
        &json!({"token_type": "access", "iat": now(), "jti": Uuid::new_v4().simple().to_string(), "user_id": id, "role": "cashier"}),
        secret,
    );
    assert_access_refused(&app, &no_exp, "no exp").await;
    let bad_role = sign(&claims(id, "superuser", "access", now() + 600), secret);
    assert_access_refused(&app, &bad_role, "unknown role").await;

    // Payload swapped for one claiming owner, signature kept.
    let mut parts: Vec<&str> = access.split('.').collect();
    let promoted = b64(&claims(id, "owner", "access", now() + 600));
    parts[1] = &promoted;
    assert_access_refused(&app, &parts.join("."), "tampered payload").await;
    assert_access_refused(&app, &access[..access.len() - 5], "truncated").await;
    let last = access.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &access[..access.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    assert_access_refused(&app, &flipped, "flipped signature").await;
    for junk in ["x", "a.b.c", "...", "\u{e9}t\u{e9}", &"x".repeat(10_000)] {
        assert_access_refused(&app, junk, junk).await;
    }
    let req = axum::http::Request::get("/api/me")
        .header(header::AUTHORIZATION, "Bearer")
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = app.send(req).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "token_not_valid");
    // And the real token still works.
    assert_eq!(
        app.get("/api/me", Some(&access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn django_pbkdf2_hash_logs_in_and_is_rehashed() {
    let app = TestApp::new().await;
    // python3 -c "import hashlib,base64; print(base64.b64encode(hashlib.pbkdf2_hmac(
    //   'sha256', b'kasir-lama-123', b'Xy7salt9QwErTy', 260000)).decode())"
    let django = "pbkdf2_sha256$260000$Xy7salt9QwErTy$3uFTcSdA0x9Gk7hU5n/wFSBNWAUioJYi+MvFO/KPDMI=";
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (username, role, password_hash) VALUES ('lama', 'cashier', $1) RETURNING id",
    )
    .bind(django)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
    };

    let wrong = app
        .post(
            "/api/auth/login",
            json!({"username": "lama", "password": "kasir-lama-124"}),
            None,
        )
        .await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "no_active_account");
    assert_eq!(stored().await, django);

    login(&app, "lama", "kasir-lama-123").await;
    let rehashed = stored().await;
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{rehashed}"
    );
    // The new hash still takes the same password.
    login(&app, "lama", "kasir-lama-123").await;
    assert_eq!(stored().await, rehashed, "no second rehash");
}

async fn try_login(app: &TestApp, username: &str, password: &str) -> common::Reply {
    app.post(
        "/api/auth/login",
        json!({"username": username, "password": password}),
        None,
    )
    .await
}

#[tokio::test]
async fn throttle_refuses_even_the_right_password() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    for i in 0..5 {
        let reply = try_login(
            &app,
            if i % 2 == 0 { "kasir" } else { "KASIR" },
            "wrong-pass",
        )
        .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "no_active_account");
    }
    let reply = try_login(&app, "kasir", PASSWORD).await;
    assert_error(&reply, StatusCode::TOO_MANY_REQUESTS, "throttled");
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    // Another username is not affected.
    create_user(&app, "other", "cashier").await;
    login(&app, "other", PASSWORD).await;

    // When the window has passed, the right password works again.
    sqlx::query("UPDATE login_throttle SET window_start = now() - interval '15 minutes 1 second'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    login(&app, "kasir", PASSWORD).await;
}

#[tokio::test]
async fn throttle_limit_is_configurable_and_counts_unknown_users() {
    let app = TestApp::with_config(&[("LOGIN_THROTTLE", "2")]).await;
    for _ in 0..2 {
        assert_error(
            &try_login(&app, "ghost", "x").await,
            StatusCode::UNAUTHORIZED,
            "no_active_account",
        );
    }
    assert_error(
        &try_login(&app, "ghost", "x").await,
        StatusCode::TOO_MANY_REQUESTS,
        "throttled",
    );
}

#[tokio::test]
async fn success_before_the_limit_resets_the_count() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    for _ in 0..3 {
        for _ in 0..4 {
            let reply = try_login(&app, "kasir", "wrong-pass").await;
            assert_error(&reply, StatusCode::UNAUTHORIZED, "no_active_account");
        }
        login(&app, "kasir", PASSWORD).await;
    }
}

#[tokio::test]
async fn throttle_holds_across_two_function_binaries() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let env = [
        ("DATABASE_URL", app.db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
    ];
    let exe = env!("CARGO_BIN_EXE_auth-action");
    let one = Function::start(exe, &env);
    let two = Function::start(exe, &env);
    let client = http_client();
    let post = |base: &str, password: &str| {
        client
            .post(format!("{base}/api/token/"))
            .json(&json!({"username": "kasir", "password": password}))
            .send()
    };
    for _ in 0..5 {
        let res = post(&one.base, "wrong-pass").await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let res = post(&two.base, PASSWORD).await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "throttled");
}

#[tokio::test]
async fn deactivated_and_deleted_users_cannot_log_in_or_refresh() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let mut ids = Vec::new();
    for name in ["gone", "paused"] {
        let id = create_user(&app, name, "cashier").await;
        ids.push((id, login(&app, name, PASSWORD).await));
    }
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}", ids[0].0),
            None,
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/users/{}", ids[1].0),
            Some(json!({"is_active": false})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for (name, (_, pair)) in ["gone", "paused"].iter().zip(&ids) {
        assert_error(
            &try_login(&app, name, PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "no_active_account",
        );
        let r = app
            .post(
                "/api/auth/refresh",
                json!({"refresh": pair["refresh"]}),
                None,
            )
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "no_active_account");
    }
}

#[tokio::test]
async fn refresh_carries_the_current_role() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let id = create_user(&app, "kasir", "cashier").await;
    let pair = login(&app, "kasir", PASSWORD).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(json!({"role": "manager"})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The old access token still says cashier (checked without the database)...
    assert_error(
        &app.get("/api/users", pair["access"].as_str()).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
    // ...a refreshed one says manager.
    let r = app
        .post(
            "/api/auth/refresh",
            json!({"refresh": pair["refresh"]}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let reply = app.get("/api/users", r.body["access"].as_str()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}
