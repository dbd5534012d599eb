//! The real `api/` binaries, started as Vercel's builder starts them
//! (`VERCEL_DEV_PORT`), answering over HTTP.

mod common;

use std::process::Command;

use common::{Function, JWT_SECRET, TestDb, http_client};

#[tokio::test]
async fn health_binary_answers_over_http() {
    let db = TestDb::new().await;
    let f = Function::start(
        env!("CARGO_BIN_EXE_health"),
        &[("DATABASE_URL", &db.url), ("JWT_SECRET", JWT_SECRET)],
    );
    let client = http_client();
    for path in ["/api/health", "/api/health/"] {
        let res = client
            .get(format!("{}{path}", f.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "ok");
    }
    // The runtime does no routing: other paths reach us and get JSON 404s.
    let res = client
        .get(format!("{}/api/elsewhere", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn health_binary_is_503_without_a_database() {
    let dead = format!("postgres://postgres@127.0.0.1:{}/x", common::free_port());
    let f = Function::start(
        env!("CARGO_BIN_EXE_health"),
        &[
            ("DATABASE_URL", &dead),
            ("JWT_SECRET", JWT_SECRET),
            ("DB_ACQUIRE_TIMEOUT_MS", "500"),
        ],
    );
    let res = http_client()
        .get(format!("{}/api/health", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
}

#[test]
fn functions_refuse_to_start_without_a_usable_jwt_secret() {
    for (secret, why) in [(None, "is not set"), (Some("too-short"), "at least 32")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_health"));
        cmd.env_clear()
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x")
            .env("VERCEL_DEV_PORT", common::free_port().to_string());
        if let Some(secret) = secret {
            cmd.env("JWT_SECRET", secret);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("JWT_SECRET") && stderr.contains(why),
            "{stderr}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
}

#[tokio::test]
async fn docs_binary_serves_the_document_and_page() {
    let db = TestDb::new().await;
    let f = Function::start(
        env!("CARGO_BIN_EXE_docs"),
        &[("DATABASE_URL", &db.url), ("JWT_SECRET", JWT_SECRET)],
    );
    let client = http_client();
    let doc: serde_json::Value = client
        .get(format!("{}/api/openapi.json", f.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/health"].is_object());
    let page = client
        .get(format!("{}/api/docs/", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let css = client
        .get(format!("{}/api/docs/swagger-ui.css", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}
