//! Staff accounts: who may manage whom, the last owner, concurrency,
//! pagination and bad input, against a real Postgres.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::users::{PASSWORD, create_user, login, user_with_token};
use common::{Reply, TestApp, assert_error};
use serde_json::{Value, json};
use uuid::Uuid;

async fn patch(app: &TestApp, id: Uuid, body: Value, token: &str) -> Reply {
    app.call(
        Method::PATCH,
        &format!("/api/users/{id}"),
        Some(body),
        Some(token),
    )
    .await
}

async fn delete(app: &TestApp, id: Uuid, token: &str) -> Reply {
    app.call(
        Method::DELETE,
        &format!("/api/users/{id}"),
        None,
        Some(token),
    )
    .await
}

fn new_user(username: &str, role: &str) -> Value {
    json!({"username": username, "password": PASSWORD, "role": role})
}

#[tokio::test]
async fn cashiers_cannot_manage_staff() {
    let app = TestApp::new().await;
    let (me, cashier) = user_with_token(&app, "kasir", "cashier").await;
    let other = create_user(&app, "kasir2", "cashier").await;
    let replies = [
        app.get("/api/users", Some(&cashier)).await,
        app.post("/api/users", new_user("x1", "cashier"), Some(&cashier))
            .await,
        app.post("/api/users/", new_user("x2", "owner"), Some(&cashier))
            .await,
        app.get(&format!("/api/users/{other}"), Some(&cashier))
            .await,
        app.get(&format!("/api/users/{me}"), Some(&cashier)).await,
        patch(&app, me, json!({"role": "owner"}), &cashier).await,
        delete(&app, other, &cashier).await,
    ];
    for reply in &replies {
        assert_error(reply, StatusCode::FORBIDDEN, "permission_denied");
    }
    // Sending a role where none is taken changes nothing either.
    let r = app
        .post(
            "/api/me/password",
            json!({"old_password": PASSWORD, "new_password": "new-password-1", "role": "owner"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let me_now = app.get("/api/me", Some(&cashier)).await;
    assert_eq!(me_now.body["role"], "cashier");
    let fresh = login(&app, "kasir", "new-password-1").await;
    assert_eq!(fresh["user"]["role"], "cashier");
}

#[tokio::test]
async fn managers_manage_cashiers_only() {
    let app = TestApp::new().await;
    let owner_id = create_user(&app, "boss", "owner").await;
    let other_manager = create_user(&app, "mgr2", "manager").await;
    let (manager_id, manager) = user_with_token(&app, "mgr", "manager").await;

    for role in ["manager", "owner"] {
        let r = app
            .post("/api/users", new_user("up", role), Some(&manager))
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    }
    let r = app
        .post("/api/users", new_user("kasir", "cashier"), Some(&manager))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["role"], "cashier");
    let cashier: Uuid = r.body["id"].as_str().unwrap().parse().unwrap();

    // Reading, editing and deleting managers and owners (themselves too) is out.
    for id in [owner_id, other_manager, manager_id] {
        assert_error(
            &app.get(&format!("/api/users/{id}"), Some(&manager)).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        assert_error(
            &patch(&app, id, json!({"full_name": "X"}), &manager).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        assert_error(
            &delete(&app, id, &manager).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
    }
    // Promoting a cashier is out; editing one is fine.
    for role in ["manager", "owner"] {
        assert_error(
            &patch(&app, cashier, json!({"role": role}), &manager).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
    }
    let r = patch(
        &app,
        cashier,
        json!({"full_name": "Budi Santoso", "phone": "+62 812-1111"}),
        &manager,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["full_name"], "Budi Santoso");
    assert_eq!(r.body["role"], "cashier");

    // The list shows a manager only the cashiers.
    let list = app.get("/api/users", Some(&manager)).await;
    assert_eq!(list.status, StatusCode::OK);
    let roles: Vec<&str> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["cashier"]);

    assert_eq!(
        delete(&app, cashier, &manager).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn owners_manage_everyone() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    for (name, role) in [("mgr", "manager"), ("boss2", "owner"), ("kasir", "cashier")] {
        let r = app
            .post(
                "/api/users",
                json!({"username": name, "password": PASSWORD, "role": role,
                       "full_name": "Siti Rahma", "phone": "0812 3456", "is_active": true}),
                Some(&owner),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["role"], role);
        assert_eq!(r.body["version"], 1);
        assert!(r.body.get("password").is_none() && r.body.get("password_hash").is_none());
        login(&app, name, PASSWORD).await;
    }
    let list = app.get("/api/users", Some(&owner)).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 4);
    assert!(list.body["next_cursor"].is_null());
    assert!(!list.text.contains("argon2"));
}

#[tokio::test]
async fn the_last_active_owner_stays() {
    let app = TestApp::new().await;
    let (boss, owner) = user_with_token(&app, "boss", "owner").await;
    for change in [json!({"role": "manager"}), json!({"is_active": false})] {
        let r = patch(&app, boss, change, &owner).await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
    }
    assert_error(
        &delete(&app, boss, &owner).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // An inactive second owner does not count.
    let second = create_user(&app, "boss2", "owner").await;
    assert_eq!(
        patch(&app, second, json!({"is_active": false}), &owner)
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &patch(&app, boss, json!({"role": "cashier"}), &owner).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // With another active owner, the first may step down.
    assert_eq!(
        patch(&app, second, json!({"is_active": true}), &owner)
            .await
            .status,
        StatusCode::OK
    );
    let r = patch(&app, boss, json!({"role": "manager"}), &owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second_token = login(&app, "boss2", PASSWORD).await["access"]
        .as_str()
        .unwrap()
        .to_string();
    assert_error(
        &delete(&app, second, &second_token).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let owners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE role = 'owner' AND is_active AND deleted_at IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(owners, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_owners_demoting_each_other_at_once_leave_one() {
    for round in 0..5 {
        let app = TestApp::new().await;
        let (a, token_a) = user_with_token(&app, &format!("a{round}"), "owner").await;
        let (b, token_b) = user_with_token(&app, &format!("b{round}"), "owner").await;
        let (app1, app2) = (app.app.clone(), app.app.clone());
        let call = |app: kasirgo::http::App, id: Uuid, token: String| async move {
            use tower::ServiceExt;
            let req = Request::builder()
                .method(Method::PATCH)
                .uri(format!("/api/users/{id}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"role": "manager"}).to_string()))
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        };
        let ra = tokio::spawn(call(app1, b, token_a));
        let rb = tokio::spawn(call(app2, a, token_b));
        let mut statuses = [ra.await.unwrap(), rb.await.unwrap()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
    }
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively_among_live_users() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let r = app
        .post("/api/users", new_user("Kasir", "cashier"), Some(&owner))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id: Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let dup = app
        .post("/api/users", new_user("kASIR", "cashier"), Some(&owner))
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    let other = create_user(&app, "other", "cashier").await;
    assert_error(
        &patch(&app, other, json!({"username": "KASIR"}), &owner).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // Once deleted, the name is free again.
    assert_eq!(
        delete(&app, id, &owner).await.status,
        StatusCode::NO_CONTENT
    );
    let again = app
        .post("/api/users", new_user("kasir", "cashier"), Some(&owner))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
}

#[tokio::test]
async fn stale_versions_are_refused() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let id = create_user(&app, "kasir", "cashier").await;
    let with_if_match = |v: &'static str, body: Value| {
        Request::builder()
            .method(Method::PATCH)
            .uri(format!("/api/users/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {owner}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, v)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = app
        .send(with_if_match("1", json!({"full_name": "A"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    let r = app
        .send(with_if_match("1", json!({"full_name": "B"})))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "version_mismatch");
    let r = app
        .send(with_if_match("\"2\"", json!({"full_name": "B"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch(&app, id, json!({"full_name": "C", "version": 2}), &owner).await;
    assert_error(&r, StatusCode::CONFLICT, "version_mismatch");
    let r = patch(&app, id, json!({"full_name": "C", "version": 3}), &owner).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .send(with_if_match("abc", json!({"full_name": "D"})))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let r = app.get(&format!("/api/users/{id}"), Some(&owner)).await;
    assert_eq!(
        (r.body["full_name"].as_str(), r.body["version"].as_i64()),
        (Some("C"), Some(4))
    );
}

#[tokio::test]
async fn delete_is_soft_and_unknown_ids_are_404() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let id = create_user(&app, "kasir", "cashier").await;
    assert_eq!(
        delete(&app, id, &owner).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &app.get(&format!("/api/users/{id}"), Some(&owner)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &delete(&app, id, &owner).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let still_there: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(still_there);
    let list = app.get("/api/users", Some(&owner)).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 1);
    for path in [
        format!("/api/users/{}", Uuid::new_v4()),
        "/api/users/not-a-uuid".to_string(),
        "/api/users/123".to_string(),
        format!("/api/users/{}/", Uuid::new_v4()),
    ] {
        assert_error(
            &app.get(&path, Some(&owner)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let r = app
            .call(
                Method::PATCH,
                &path,
                Some(json!({"full_name": "x"})),
                Some(&owner),
            )
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn the_list_pages_with_a_cursor() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let mut expected = vec!["boss".to_string()];
    for i in 0..6 {
        let name = format!("kasir{i}");
        create_user(&app, &name, "cashier").await;
        expected.push(name);
    }
    let mut seen = Vec::new();
    let mut path = "/api/users?limit=3".to_string();
    let mut pages = 0;
    loop {
        let r = app.get(&path, Some(&owner)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        pages += 1;
        for u in r.body["results"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/users/?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    let r = app.get("/api/users", Some(&owner)).await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 7);
    for bad in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=-5",
        // Blank is the default; a CR or a space is not blank.
        "limit=%0D",
        "limit=%205",
        "cursor=%%%",
        "cursor=bm90LWpzb24",
    ] {
        let r = app.get(&format!("/api/users?{bad}"), Some(&owner)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"].is_object(), "{bad}: {}", r.text);
    }
}

#[tokio::test]
async fn bad_input_is_400_with_fields() {
    let app = TestApp::new().await;
    let (boss, owner) = user_with_token(&app, "boss", "owner").await;
    let long = "x".repeat(10_000);
    let cases = [
        (json!({"password": PASSWORD, "role": "cashier"}), "username"),
        (json!({"username": "a", "role": "cashier"}), "password"),
        (json!({"username": "a", "password": PASSWORD}), "role"),
        (
            json!({"username": 42, "password": PASSWORD, "role": "cashier"}),
            "username",
        ),
        (
            json!({"username": "a", "password": PASSWORD, "role": "cashier", "is_active": "yes"}),
            "is_active",
        ),
        (
            json!({"username": "", "password": PASSWORD, "role": "cashier"}),
            "username",
        ),
        (
            json!({"username": long, "password": PASSWORD, "role": "cashier"}),
            "username",
        ),
        (
            json!({"username": "a b", "password": PASSWORD, "role": "cashier"}),
            "username",
        ),
        (
            json!({"username": "a", "password": "short", "role": "cashier"}),
            "password",
        ),
        (
            json!({"username": "a", "password": long, "role": "cashier"}),
            "password",
        ),
        (
            json!({"username": "a", "password": PASSWORD, "role": "superuser"}),
            "role",
        ),
        (
            json!({"username": "a", "password": PASSWORD, "role": ""}),
            "role",
        ),
        (
            json!({"username": "a", "password": PASSWORD, "role": "cashier", "full_name": long}),
            "full_name",
        ),
        (
            json!({"username": "a", "password": PASSWORD, "role": "cashier", "phone": "call me"}),
            "phone",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/api/users", body.clone(), Some(&owner)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"][field].is_array(), "{field}: {}", r.text);
    }
    let patches = [
        (json!({"role": "admin"}), "role"),
        (json!({"username": ""}), "username"),
        (json!({"full_name": long}), "full_name"),
        (json!({"is_active": "no"}), "is_active"),
        (json!({"password": "short"}), "password"),
    ];
    for (body, field) in patches {
        let r = patch(&app, boss, body.clone(), &owner).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"][field].is_array(), "{field}: {}", r.text);
    }
    let r = app
        .call(Method::POST, "/api/users", None, Some(&owner))
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // Nothing was created by any of that.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn me_and_password_change() {
    let app = TestApp::new().await;
    let (id, token) = user_with_token(&app, "kasir", "cashier").await;
    let r = app.get("/api/me/", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], id.to_string());
    assert_eq!(r.body["username"], "kasir");

    let cases = [
        (
            json!({"old_password": "wrong-password", "new_password": "new-password-1"}),
            "old_password",
        ),
        (
            json!({"old_password": PASSWORD, "new_password": "short"}),
            "new_password",
        ),
        (
            json!({"old_password": PASSWORD, "new_password": "x".repeat(10_000)}),
            "new_password",
        ),
        (json!({"old_password": PASSWORD}), "new_password"),
        (
            json!({"old_password": "", "new_password": "new-password-1"}),
            "old_password",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post("/api/me/password", body.clone(), Some(&token))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"][field].is_array(), "{field}: {}", r.text);
    }
    let r = app
        .post(
            "/api/me/password",
            json!({"old_password": PASSWORD, "new_password": "new-password-1"}),
            None,
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
    let r = app
        .post(
            "/api/me/password/",
            json!({"old_password": PASSWORD, "new_password": "new-password-1"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    login(&app, "kasir", "new-password-1").await;
    let old = app
        .post(
            "/api/auth/login",
            json!({"username": "kasir", "password": PASSWORD}),
            None,
        )
        .await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "no_active_account");
}

#[tokio::test]
async fn a_manager_can_reset_a_cashier_password() {
    let app = TestApp::new().await;
    let (_, manager) = user_with_token(&app, "mgr", "manager").await;
    let id = create_user(&app, "kasir", "cashier").await;
    let r = patch(&app, id, json!({"password": "reset-password-1"}), &manager).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    login(&app, "kasir", "reset-password-1").await;
}

#[tokio::test]
async fn the_cli_creates_users_and_refuses_duplicates() {
    let app = TestApp::new().await;
    let run = |username: &str, role: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kasirgo"))
            .args([
                "create-user",
                "--username",
                username,
                "--password",
                PASSWORD,
                "--role",
                role,
            ])
            .env("DATABASE_URL", &app.db.url)
            .output()
            .unwrap()
    };
    let out = run("pemilik", "owner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        login(&app, "pemilik", PASSWORD).await["user"]["role"],
        "owner"
    );
    let out = run("PEMILIK", "cashier");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
    let out = run("kasir", "admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"));
}

/// Starts `kasirgo serve` on `url` and returns it with what it printed
/// up to its last start-up line (the docs URL).
fn serve(url: &str) -> (std::process::Child, Vec<String>, u16) {
    use std::io::{BufRead, BufReader};
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kasirgo"))
        .args(["serve", "--port", &port.to_string()])
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", common::JWT_SECRET)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("API docs:");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, printed, port)
}

#[tokio::test]
async fn serve_creates_a_demo_owner_only_on_an_empty_database() {
    let db = common::TestDb::new().await;
    let (mut first, printed, port) = serve(&db.url);
    assert!(
        printed
            .iter()
            .any(|l| l == "demo login: owner / kasirgo-demo"),
        "{printed:?}"
    );
    let res = common::http_client()
        .post(format!("http://127.0.0.1:{port}/api/token/"))
        .json(&json!({"username": "owner", "password": "kasirgo-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["role"], "owner");
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, printed, _) = serve(&db.url);
    assert!(
        !printed.iter().any(|l| l.contains("demo login")),
        "{printed:?}"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

async fn patch_me(app: &TestApp, body: Value, token: &str) -> Reply {
    app.call(Method::PATCH, "/api/me", Some(body), Some(token))
        .await
}

#[tokio::test]
async fn every_role_edits_its_own_profile() {
    let app = TestApp::new().await;
    for (name, role) in [("boss", "owner"), ("mgr", "manager"), ("kasir", "cashier")] {
        let (id, token) = user_with_token(&app, name, role).await;
        let r = patch_me(
            &app,
            json!({
                "username": format!("  {name}.baru "),
                "full_name": " Siti Rahma ",
                "email": "  siti@toko.example.com ",
                "phone": " +62 812-3456 ",
            }),
            &token,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{role}: {}", r.text);
        assert_eq!(r.body["id"], id.to_string());
        assert_eq!(r.body["username"], format!("{name}.baru"));
        assert_eq!(r.body["full_name"], "Siti Rahma");
        assert_eq!(r.body["email"], "siti@toko.example.com");
        assert_eq!(r.body["phone"], "+62 812-3456");
        assert_eq!(r.body["role"], role);
        assert_eq!(r.body["version"], 2);

        let me = app.get("/api/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body, r.body, "{role}: GET shows what PATCH answered");

        // Absent fields stay; "" clears the optional ones.
        let r = patch_me(&app, json!({"email": "", "phone": ""}), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (&r.body["email"], &r.body["phone"], &r.body["full_name"]),
            (&json!(""), &json!(""), &json!("Siti Rahma"))
        );
        let r = patch_me(&app, json!({}), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["username"], format!("{name}.baru"));
        // The new username logs in.
        login(&app, &format!("{name}.baru"), PASSWORD).await;
    }
}

#[tokio::test]
async fn own_profile_input_is_checked_like_staff_edits() {
    let app = TestApp::new().await;
    let (_, token) = user_with_token(&app, "kasir", "cashier").await;
    let long_email = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long_email.len(), 255);
    let cases = [
        (json!({"email": "siti"}), "email"),
        (json!({"email": "siti@toko"}), "email"),
        (json!({"email": "@toko.com"}), "email"),
        (json!({"email": "siti@@toko.com"}), "email"),
        (json!({"email": "si ti@toko.com"}), "email"),
        (json!({"email": "siti@toko..com"}), "email"),
        (json!({"email": "siti@.com"}), "email"),
        (json!({"email": "siti@toko.com."}), "email"),
        (json!({"email": long_email}), "email"),
        (json!({"email": 5}), "email"),
        (json!({"username": ""}), "username"),
        (json!({"username": "si ti"}), "username"),
        (json!({"full_name": "x".repeat(151)}), "full_name"),
        (json!({"phone": "call me"}), "phone"),
        (json!({"role": "owner"}), "role"),
        (json!({"is_active": false}), "is_active"),
        (json!({"password": "new-password-1"}), "password"),
        (json!({"first_name": "Siti"}), "first_name"),
    ];
    for (body, field) in cases {
        let r = patch_me(&app, body.clone(), &token).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"][field].is_array(), "{body}: {}", r.text);
    }
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(
        (&me.body["role"], &me.body["version"], &me.body["email"]),
        (&json!("cashier"), &json!(1), &json!("")),
        "nothing changed"
    );
    // The longest plausible address is taken.
    let longest = format!("{}@example.com", "a".repeat(242));
    let r = patch_me(&app, json!({"email": longest}), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], longest);
    let r = app.call(Method::PATCH, "/api/me", None, Some(&token)).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = app
        .call(Method::PATCH, "/api/me", Some(json!({"email": ""})), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
}

#[tokio::test]
async fn own_profile_conflicts_and_versions() {
    let app = TestApp::new().await;
    create_user(&app, "Siti", "cashier").await;
    let (_, token) = user_with_token(&app, "kasir", "cashier").await;
    let r = patch_me(&app, json!({"username": "SITI"}), &token).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    // Renaming oneself to one's own name in other letters is fine.
    let r = patch_me(&app, json!({"username": "Kasir"}), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);

    let stale = Request::builder()
        .method(Method::PATCH)
        .uri("/api/me/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, "1")
        .body(Body::from(json!({"full_name": "A"}).to_string()))
        .unwrap();
    assert_error(
        &app.send(stale).await,
        StatusCode::CONFLICT,
        "version_mismatch",
    );
    let r = patch_me(&app, json!({"full_name": "A", "version": 1}), &token).await;
    assert_error(&r, StatusCode::CONFLICT, "version_mismatch");
    let r = patch_me(&app, json!({"full_name": "A", "version": 2}), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["full_name"], "A");
}

#[tokio::test]
async fn a_deactivated_or_deleted_account_cannot_edit_itself() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let (paused, paused_token) = user_with_token(&app, "paused", "cashier").await;
    let (gone, gone_token) = user_with_token(&app, "gone", "cashier").await;
    let r = patch(&app, paused, json!({"is_active": false}), &owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        delete(&app, gone, &owner).await.status,
        StatusCode::NO_CONTENT
    );
    // Their access tokens are still good for up to one lifetime.
    let r = patch_me(&app, json!({"full_name": "X"}), &paused_token).await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = patch_me(&app, json!({"full_name": "X"}), &gone_token).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = app.get(&format!("/api/users/{paused}"), Some(&owner)).await;
    assert_eq!(r.body["full_name"], "");
}

#[tokio::test]
async fn staff_management_shows_and_edits_email() {
    let app = TestApp::new().await;
    let (_, owner) = user_with_token(&app, "boss", "owner").await;
    let r = app
        .post(
            "/api/users",
            json!({"username": "kasir", "password": PASSWORD, "role": "cashier",
                   "email": " kasir@toko.example "}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["email"], "kasir@toko.example");
    let id: Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    let r = app
        .post(
            "/api/users",
            json!({"username": "kasir2", "password": PASSWORD, "role": "cashier"}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.body["email"], "", "{}", r.text);
    let r = app
        .post(
            "/api/users",
            json!({"username": "kasir3", "password": PASSWORD, "role": "cashier",
                   "email": "kasir3"}),
            Some(&owner),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["email"].is_array(), "{}", r.text);

    let r = patch(&app, id, json!({"email": "baru@toko.example"}), &owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "baru@toko.example");
    let r = patch(&app, id, json!({"email": "baru@"}), &owner).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["email"].is_array(), "{}", r.text);
    let r = app.get(&format!("/api/users/{id}"), Some(&owner)).await;
    assert_eq!(r.body["email"], "baru@toko.example");
    let list = app.get("/api/users", Some(&owner)).await;
    let emails: Vec<&str> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["", "baru@toko.example", ""]);
    // The one who was edited sees it on their own profile.
    let token = login(&app, "kasir", PASSWORD).await["access"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.body["email"], "baru@toko.example");
}

#[tokio::test]
async fn changing_the_password_keeps_the_session() {
    let app = TestApp::new().await;
    create_user(&app, "kasir", "cashier").await;
    let session = login(&app, "kasir", PASSWORD).await;
    let other = login(&app, "kasir", PASSWORD).await;
    let access = session["access"].as_str().unwrap();

    let wrong = app
        .post(
            "/api/me/password",
            json!({"old_password": "not-the-password", "new_password": "new-password-1"}),
            Some(access),
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::BAD_REQUEST,
        "never 401: {}",
        wrong.text
    );
    assert_eq!(wrong.body["code"], "validation_failed");
    assert_eq!(
        wrong.body["fields"]["old_password"],
        json!(["Wrong password."])
    );

    let r = app
        .post(
            "/api/me/password",
            json!({"old_password": PASSWORD, "new_password": "new-password-1"}),
            Some(access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // The same access token goes on working, and so does the refresh token.
    assert_eq!(
        app.get("/api/me", Some(access)).await.status,
        StatusCode::OK
    );
    for pair in [&session, &other] {
        let r = app
            .post(
                "/api/auth/refresh",
                json!({"refresh": pair["refresh"]}),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            app.get("/api/me", r.body["access"].as_str()).await.status,
            StatusCode::OK
        );
    }
    login(&app, "kasir", "new-password-1").await;
}

#[tokio::test]
async fn the_domain_functions_work_without_http() {
    use kasirgo::users::{ProfilePatch, me};
    let app = TestApp::new().await;
    let id = create_user(&app, "kasir", "cashier").await;
    let mut conn = app.db.pool.acquire().await.unwrap();
    let patch = ProfilePatch {
        full_name: Some("Budi Santoso".into()),
        email: Some("budi@toko.example".into()),
        ..ProfilePatch::default()
    };
    let user = me::update_profile(&mut conn, id, patch, Some(1))
        .await
        .unwrap();
    assert_eq!(user.email, "budi@toko.example");
    assert_eq!(
        me::profile(&app.db.pool, id).await.unwrap().full_name,
        "Budi Santoso"
    );
    let bad = ProfilePatch {
        email: Some("budi".into()),
        ..ProfilePatch::default()
    };
    let err = me::update_profile(&mut conn, id, bad, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kasirgo::error::ApiError::Validation(_)),
        "{err:?}"
    );
    let err = me::change_password(
        &app.db.pool,
        id,
        "wrong-pass".into(),
        "new-password-1".into(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, kasirgo::error::ApiError::Validation(_)),
        "{err:?}"
    );
    me::change_password(&app.db.pool, id, PASSWORD.into(), "new-password-1".into())
        .await
        .unwrap();
    login(&app, "kasir", "new-password-1").await;
}

#[tokio::test]
async fn openapi_documents_the_own_profile_edit() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json", None).await.body;
    let op = &doc["paths"]["/api/me"]["patch"];
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProfilePatch",
        "{op}"
    );
    for status in ["200", "400", "401", "403", "404", "409"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
    let schemas = &doc["components"]["schemas"];
    let fields = schemas["ProfilePatch"]["properties"].as_object().unwrap();
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["email", "full_name", "phone", "username", "version"]
    );
    assert!(schemas["User"]["properties"]["email"].is_object());
    assert!(schemas["UpdateUser"]["properties"]["email"].is_object());
    assert!(schemas["CreateUser"]["properties"]["email"].is_object());
    assert!(doc["paths"]["/api/me"]["get"].is_object());
    assert!(doc["paths"]["/api/me/password"]["post"].is_object());
}
