//! The foundation through every layer, in-process: health, the error
//! envelope for unknown paths and methods, JSON extraction, OpenAPI, docs.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::post;
use common::{TestApp, TestDb, assert_error};
use kasirgo::http::{App, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn health_answers_ok_with_the_database() {
    let app = TestApp::new().await;
    for path in ["/api/health", "/api/health/"] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.body["status"], "ok");
        assert_eq!(r.body["database"], "ok");
        assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn health_is_503_when_the_database_is_down() {
    let dead = format!("postgres://postgres@127.0.0.1:{}/x", common::free_port());
    let state =
        kasirgo::state::AppState::new(common::config(&dead, &[("DB_ACQUIRE_TIMEOUT_MS", "500")]))
            .unwrap();
    let app = kasirgo::serverless::app(kasirgo::routes::FUNCTIONS, state);
    let res = app
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 10_000).await.unwrap())
            .unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals: {body}"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = TestApp::new().await;
    assert_error(
        &app.get("/api/nothing-here", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get("/", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = app.call(Method::DELETE, "/api/health/", None, None).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Probe {
    name: String,
    quantity: i32,
}

/// A router using the shared extractor, as every endpoint does.
fn probe_app() -> App {
    let router = axum::Router::new()
        .route(
            "/api/probe",
            post(|Json(p): Json<Probe>| async move { Json(json!({"name": p.name})) }),
        )
        .route(
            "/api/panic",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("secret internals");
                }
                "unreachable"
            }),
        );
    App::new(router, [])
}

async fn send(req: Request<Body>) -> (StatusCode, Value) {
    let res = probe_app().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn json_post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/api/probe")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn json_bodies_are_checked() {
    let (s, b) = send(json_post(r#"{"name":"kopi","quantity":2}"#)).await;
    assert_eq!((s, b["name"].as_str()), (StatusCode::OK, Some("kopi")));

    let (s, b) = send(json_post(r#"{"name": "#)).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );

    let (s, b) = send(json_post(r#"{"name":"kopi"}"#)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["code"], "validation_failed");
    assert_eq!(b["fields"]["quantity"][0], "This field is required.");

    let (s, b) = send(json_post(r#"{"name":"kopi","quantity":"two"}"#)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["fields"]["quantity"].is_array(), "{b}");

    let (s, b) = send(
        Request::post("/api/probe")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    let big = format!(r#"{{"name":"{}","quantity":1}}"#, "x".repeat(1024 * 1024));
    let (s, b) = send(json_post(big.clone())).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    // Without a Content-Length (chunked), the limit still holds.
    let stream = futures_stream(big.into_bytes());
    let (s, _) = send(
        Request::post("/api/probe")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(stream))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    tokio_stream::iter(chunks)
}

#[tokio::test]
async fn a_panicking_handler_is_a_json_500_without_internals() {
    let (s, b) = send(Request::get("/api/panic").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(b["code"], "server_error");
    assert!(!b.to_string().contains("secret"), "{b}");
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = TestApp::new().await;
    let r = app.get("/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = &r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().unwrap();
    for f in kasirgo::routes::FUNCTIONS {
        let (_, api) = (f.router)().split_for_parts();
        for path in api.paths.paths.keys() {
            assert!(paths.contains_key(path), "{path} of {} missing", f.bin);
        }
    }
    let health = &paths["/api/health"]["get"];
    assert!(health["responses"]["200"].is_object());
    assert!(health["responses"]["503"].is_object());
}

#[tokio::test]
async fn docs_page_is_served_with_its_own_assets() {
    let app = TestApp::new().await;
    let page = app.get("/api/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("/api/docs/swagger-ui-bundle.js"));
    assert!(page.text.contains("/api/openapi.json"));
    // Works offline: nothing is loaded from another host.
    assert!(!page.text.contains("http://") && !page.text.contains("https://"));
    for (asset, kind) in [
        ("/api/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/api/docs/swagger-ui.css", "text/css"),
    ] {
        let r = app.get(asset, None).await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
        assert_eq!(r.headers[header::CONTENT_TYPE], kind);
        assert!(r.text.len() > 100_000, "{asset} is the real bundle");
    }
    assert_error(
        &app.get("/api/docs/nope.js", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn migrations_create_default_store_settings() {
    let db = TestDb::new().await;
    let (name, tz, currency, tax): (String, String, String, rust_decimal::Decimal) =
        sqlx::query_as("SELECT store_name, timezone, currency, tax_rate FROM store_settings")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(name, "KasirGo Store");
    assert_eq!(tz, "Asia/Jakarta");
    assert_eq!(currency, "IDR");
    assert!(tax.is_zero());
    // Migrating again is a no-op.
    kasirgo::db::migrate(&db.url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM store_settings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
