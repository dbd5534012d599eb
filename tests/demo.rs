//! `kasirgo seed-demo`: a demo store that obeys the same rules as a real one.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

fn seed(url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kasirgo"))
        .arg("seed-demo")
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

async fn login(app: &TestApp, username: &str) -> String {
    let r = app
        .post(
            "/api/auth/login",
            json!({"username": username, "password": "kasirgo-demo"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["access"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn seed_demo_fills_an_empty_store_through_the_domain_rules() {
    let app = TestApp::new().await;
    let out = seed(&app.db.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("seeded 4 categories, 14 products"), "{said}");

    let owner = login(&app, "owner").await;
    let cashier = login(&app, "kasir").await;
    let products = app.get("/api/products?limit=200", Some(&owner)).await;
    assert_eq!(products.body["results"].as_array().unwrap().len(), 14);
    let sales = app.get("/api/transactions?limit=200", Some(&cashier)).await;
    let sales = sales.body["results"].as_array().unwrap().clone();
    assert!(sales.len() > 20, "three days of sales: {}", sales.len());
    assert!(
        sales.iter().any(|s| s["status"] == "refunded"),
        "one sale is refunded"
    );

    // Every unit sold and refunded went through the ledger: per product,
    // opening stock + ledger deltas = stock, and sold - restocked = opening - stock.
    let rows: Vec<(i32, i64, i64, i64)> = sqlx::query_as(
        "SELECT p.stock,
                (SELECT coalesce(sum(delta), 0) FROM stock_movements m WHERE m.product_id = p.id),
                (SELECT coalesce(sum(quantity), 0) FROM sale_lines l WHERE l.product_id = p.id),
                (SELECT coalesce(sum(delta), 0) FROM stock_movements m
                  WHERE m.product_id = p.id AND m.kind = 'opening')
         FROM products p",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut sold_total = 0;
    for (stock, ledger, sold, opening) in rows {
        assert_eq!(i64::from(stock), ledger);
        assert!(sold <= opening, "never oversold");
        sold_total += sold;
    }
    assert!(sold_total > 0);

    // The store is no longer empty: a second seed refuses and adds nothing.
    let again = seed(&app.db.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let count: Value = app.get("/api/products?limit=200", Some(&owner)).await.body;
    assert_eq!(count["results"].as_array().unwrap().len(), 14);
}
