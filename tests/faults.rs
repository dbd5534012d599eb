//! Faults, against a throwaway Postgres cluster each test starts itself
//! (never the shared server): the database restarted in the middle of a
//! checkout load, the pool exhausted, clients that go away mid-checkout.
//! Afterwards no sale is partial: every sale has its lines and ledger rows,
//! and stock is exactly what the ledger says.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kasirgo::auth::Role;
use kasirgo::auth::jwt::{self, TokenType};
use kasirgo::dev::Cluster;
use kasirgo::state::AppState;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

struct Throwaway {
    cluster: Cluster,
    _dir: tempfile::TempDir,
    state: AppState,
    app: kasirgo::http::App,
    token: String,
    product: Uuid,
}

/// A cluster of its own with a migrated database, the whole API on it,
/// a cashier's token and a product with `stock` units.
async fn throwaway(extra: &[(&str, &str)], stock: i32) -> Throwaway {
    let dir = tempfile::tempdir().unwrap();
    // The server may run as another account (as root, `nobody`): it must
    // reach its directory.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cluster = Cluster::start(&dir.path().join("pg")).expect("a throwaway cluster");
    let url = kasirgo::dev::ensure_database(&cluster.url("postgres"), "faults")
        .await
        .unwrap();
    kasirgo::db::migrate(&url).await.unwrap();
    let state = AppState::new(common::config(&url, extra)).unwrap();
    let app = kasirgo::serverless::app(kasirgo::routes::FUNCTIONS, state.clone());
    let cashier: Uuid = sqlx::query_scalar(
        "INSERT INTO users (username, role, password_hash) VALUES ('kasir', 'cashier', 'x') RETURNING id",
    )
    .fetch_one(&state.db)
    .await
    .unwrap();
    let token = jwt::issue(&state.config, TokenType::Access, cashier, Role::Cashier)
        .unwrap()
        .token;
    let product: Uuid = sqlx::query_scalar(
        "INSERT INTO products (name, price, cost, stock) VALUES ('Kopi', 10000, 4000, $1) RETURNING id",
    )
    .bind(stock)
    .fetch_one(&state.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO stock_movements (product_id, kind, delta, stock_after) VALUES ($1, 'opening', $2, $2)",
    )
    .bind(product)
    .bind(stock)
    .execute(&state.db)
    .await
    .unwrap();
    Throwaway {
        cluster,
        _dir: dir,
        state,
        app,
        token,
        product,
    }
}

async fn send(app: &kasirgo::http::App, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{status}: not JSON ({ct})"
    );
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

fn checkout(token: &str, product: Uuid, key: Uuid) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/transactions")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key.to_string())
        .body(Body::from(
            json!({"items": [{"product_id": product, "quantity": 1}], "payment_method": "cash"})
                .to_string(),
        ))
        .unwrap()
}

/// No partial sale, and stock exactly as the ledger and the sales say.
async fn assert_whole(t: &Throwaway, opening: i64) {
    let db = &t.state.db;
    let lineless: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sales s WHERE NOT EXISTS (SELECT 1 FROM sale_lines l WHERE l.sale_id = s.id)",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(lineless, 0, "a sale without its lines");
    let unledgered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sales s WHERE NOT EXISTS
             (SELECT 1 FROM stock_movements m WHERE m.sale_id = s.id AND m.kind = 'sale')",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(unledgered, 0, "a sale without its ledger rows");
    let (stock, sold, ledger): (i32, i64, i64) = sqlx::query_as(
        "SELECT p.stock,
                (SELECT coalesce(sum(quantity), 0) FROM sale_lines WHERE product_id = p.id)::bigint,
                (SELECT coalesce(sum(delta), 0) FROM stock_movements WHERE product_id = p.id)::bigint
         FROM products p WHERE p.id = $1",
    )
    .bind(t.product)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(i64::from(stock), opening - sold, "stock = opening - sold");
    assert_eq!(i64::from(stock), ledger, "stock = the ledger's sum");
}

/// Eight tills each ring up 40 sales, retrying each on a 503 with its
/// Idempotency-Key, while the database is stopped (once 24 sales are in)
/// and started again: during the outage they get clean 503 JSON,
/// afterwards the same process serves again, and exactly 320 whole sales
/// exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_during_checkouts_loses_or_doubles_nothing() {
    let t = Arc::new(tokio::sync::Mutex::new(
        throwaway(&[("DB_ACQUIRE_TIMEOUT_MS", "1000")], 10_000).await,
    ));
    let (app, token, product) = {
        let t = t.lock().await;
        (t.app.clone(), t.token.clone(), t.product)
    };
    let unavailable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tills = Vec::new();
    for _ in 0..8 {
        let (app, token, unavailable, created) = (
            app.clone(),
            token.clone(),
            unavailable.clone(),
            created.clone(),
        );
        tills.push(tokio::spawn(async move {
            for _ in 0..40 {
                let key = Uuid::new_v4();
                let started = Instant::now();
                loop {
                    let (status, body) = send(&app, checkout(&token, product, key)).await;
                    match status {
                        StatusCode::CREATED => {
                            created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {
                            assert_eq!(body["code"], "service_unavailable", "{body}");
                            unavailable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            assert!(
                                started.elapsed() < Duration::from_secs(60),
                                "never served again"
                            );
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => panic!("{other}: {body}"),
                    }
                }
            }
        }));
    }
    // Let some sales in (counted, not timed: a fast checkout would finish
    // the load first), then stop the server (fast: open transactions are
    // rolled back) and start it again a moment later.
    while created.load(std::sync::atomic::Ordering::Relaxed) < 24 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    {
        let mut t = t.lock().await;
        let data = t.cluster.data_dir().to_path_buf();
        t.cluster.stop().unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        t.cluster = Cluster::start(data.parent().unwrap()).unwrap();
    }
    for till in tills {
        till.await.unwrap();
    }
    assert!(
        unavailable.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the outage was seen"
    );
    let t = t.lock().await;
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&t.state.db)
        .await
        .unwrap();
    assert_eq!(sales, 320, "every sale once: none lost, none doubled");
    assert_whole(&t, 10_000).await;
}

/// One connection, held: a request waits for the acquire timeout, then
/// answers 503 JSON; it never hangs. Released, the next one is served.
#[tokio::test]
async fn an_exhausted_pool_answers_503_after_the_acquire_timeout() {
    let t = throwaway(
        &[
            ("DB_MAX_CONNECTIONS", "1"),
            ("DB_ACQUIRE_TIMEOUT_MS", "500"),
        ],
        10,
    )
    .await;
    let held = t.state.db.acquire().await.unwrap();
    let started = Instant::now();
    let (status, body) = send(&t.app, checkout(&t.token, t.product, Uuid::new_v4())).await;
    let waited = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "service_unavailable");
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
    drop(held);
    let (status, body) = send(&t.app, checkout(&t.token, t.product, Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_whole(&t, 10).await;
}

/// A client that goes away drops its request's future wherever it is
/// (hyper does so on a disconnect): cut checkouts off after random delays,
/// many times over, and every sale that exists is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_checkout_leaves_the_whole_sale_or_none() {
    let t = throwaway(&[], 1000).await;
    let mut completed = 0;
    for i in 0..60u64 {
        let cut = Duration::from_micros(200 + (i * 7919) % 6000);
        let fut = t
            .app
            .clone()
            .oneshot(checkout(&t.token, t.product, Uuid::new_v4()));
        if let Ok(res) = tokio::time::timeout(cut, fut).await {
            assert_eq!(res.unwrap().status(), StatusCode::CREATED);
            completed += 1;
        }
    }
    // Let connections the cut requests left be cleaned up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&t.state.db)
        .await
        .unwrap();
    assert!(sales >= completed, "{sales} sales, {completed} answered");
    assert!(sales < 60, "some were cut off before committing");
    assert_whole(&t, 1000).await;
}
