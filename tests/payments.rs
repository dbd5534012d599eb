//! Pending sales paid by the shop's own QRIS or by transfer, confirmed by
//! hand: settings, every transition, the window's end, the cron, the
//! races, reports and search, and the app's (v0) side of it.

mod common;

use axum::http::{Method, StatusCode};
use common::qris::{crc_ok, decode, edited, field, static_qris};
use common::shop::{line, sell, staff, stock_of, stocked};
use common::{Reply, TestApp, assert_error};
use serde_json::{Value, json};

const CRON_SECRET: &str = "cron-secret-for-tests-0123456789";

async fn shop_with_qris() -> (TestApp, String, String, String) {
    let app = TestApp::with_config(&[("CRON_SECRET", CRON_SECRET)]).await;
    let (_, owner) = staff(&app, "owner").await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let r = patch_settings(
        &app,
        &owner,
        json!({"qris_payload": static_qris("Warung Bu Sri")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (app, owner, manager, cashier)
}

async fn patch_settings(app: &TestApp, owner: &str, body: Value) -> Reply {
    app.call(Method::PATCH, "/api/settings", Some(body), Some(owner))
        .await
}

fn path(sale: &Value, action: &str) -> String {
    format!(
        "/api/transactions/{}/{action}",
        sale["id"].as_str().unwrap()
    )
}

async fn act(app: &TestApp, token: &str, sale: &Value, action: &str) -> Reply {
    app.call(Method::POST, &path(sale, action), None, Some(token))
        .await
}

/// Closes a pending sale's window as if its minutes had passed.
async fn overdue(app: &TestApp, sale: &Value) {
    sqlx::query("UPDATE sales SET pending_until = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(sale["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn releases(app: &TestApp, sale: &Value) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT product_id::text, delta FROM stock_movements
         WHERE sale_id = $1::uuid AND kind = 'release' ORDER BY product_id",
    )
    .bind(sale["id"].as_str().unwrap())
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

/// The summary's breakdowns, for what reads the sales themselves.
async fn summary(app: &TestApp, token: &str) -> Value {
    let r = app.get(&summary_path(), Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

fn qris_row(summary: &Value) -> Value {
    summary["by_payment_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["payment_method"] == "qris")
        .unwrap()
        .clone()
}

async fn report_totals(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/reports/daily", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["totals"].clone()
}

#[tokio::test]
async fn the_shops_static_qris_is_checked_on_save_with_a_message_per_fault() {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (_, manager) = staff(&app, "manager").await;
    let good = static_qris("Warung Bu Sri");

    let wrong_crc = format!("{}{}", &good[..good.len() - 4], "0000");
    let no_country = edited(&good, "58", None);
    let dollars = edited(&good, "53", Some("840"));
    let dynamic = edited(&good, "01", Some("12"));
    for (bad, mentions) in [
        (wrong_crc.as_str(), "0000"),
        (no_country.as_str(), "58"),
        (dollars.as_str(), "360"),
        (dynamic.as_str(), "static"),
        (&good[..40], "cut off"),
        ("hello", ""),
    ] {
        let r = patch_settings(&app, &owner, json!({"qris_payload": bad})).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        let msgs = r.body["fields"]["qris_payload"].to_string();
        assert!(
            msgs.to_lowercase().contains(&mentions.to_lowercase()),
            "{bad}: {msgs}"
        );
    }
    let r = app.get("/api/settings", Some(&manager)).await;
    assert_eq!(r.body["qris_payload"], Value::Null, "nothing was saved");

    // Only the owner sets it; surrounding whitespace is trimmed.
    let r = patch_settings(&app, &manager, json!({"qris_payload": good})).await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = patch_settings(&app, &owner, json!({"qris_payload": format!("  {good}\n")})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["qris_payload"], good.as_str());
    assert_eq!(r.body["qris"]["merchant_name"], "Warung Bu Sri");
    assert_eq!(r.body["qris"]["merchant_city"], "JAKARTA");
    assert_eq!(r.body["qris"]["nmid"], "ID1020017611473");
    assert_eq!(
        r.body["payment_provider"],
        Value::Null,
        "no provider: it says so"
    );
    assert_eq!(r.body["payment_window_minutes"], 15);

    for bad in [0, 1441] {
        let r = patch_settings(&app, &owner, json!({"payment_window_minutes": bad})).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    let r = patch_settings(&app, &owner, json!({"payment_window_minutes": 5})).await;
    assert_eq!(r.body["payment_window_minutes"], 5);

    let r = patch_settings(&app, &owner, json!({"qris_payload": null})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["qris_payload"], Value::Null);
    assert_eq!(r.body["qris"], Value::Null);
}

#[tokio::test]
async fn without_a_qris_or_a_provider_a_qris_sale_is_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "15000", 5).await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [line(&p, 2)], "payment_method": "qris"}),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "qris_not_set_up");
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 5);
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sales, 0);

    // A transfer is confirmed by hand: it needs nothing set up.
    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 1)], "payment_method": "transfer"}),
    )
    .await;
    assert_eq!(s["status"], "pending");
    assert_eq!(s["payment"]["provider"], "manual");
    assert_eq!(s["payment"]["channel"], "transfer");
    assert_eq!(s["payment"]["qr_string"], Value::Null);
}

#[tokio::test]
async fn a_qris_sale_waits_holding_its_stock_and_counts_once_confirmed() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    sqlx::query("UPDATE store_settings SET tax_rate = 0.11")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let kopi = stocked(&app, &manager, "15250", 10).await;
    let before = report_totals(&app, &manager).await;

    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&kopi, 1)], "payment_method": "qris", "customer_name": "Ani"}),
    )
    .await;
    // 15250 + 11% = 16927.50: the QR asks whole rupiah, rounded up.
    assert_eq!(s["status"], "pending");
    assert_eq!(s["total"], "16927.50");
    assert_eq!(s["paid_amount"], "16928.00");
    assert_eq!(s["change_amount"], "0.50");
    assert!(s["pending_until"].is_string());
    assert_eq!(
        stock_of(&app, kopi["id"].as_str().unwrap()).await,
        9,
        "held"
    );

    let p = &s["payment"];
    assert!(p["id"].is_i64());
    assert_eq!(p["provider"], "qris_static");
    assert_eq!(p["status"], "pending");
    assert_eq!(p["amount"], "16928.00");
    assert_eq!(p["reference"], "ID1020017611473", "the shop's NMID");
    let qr = p["qr_string"].as_str().unwrap();
    assert!(crc_ok(qr), "{qr}");
    assert_eq!(field(qr, "01").as_deref(), Some("12"), "dynamic");
    assert_eq!(field(qr, "54").as_deref(), Some("16928"));
    let stored = static_qris("Warung Bu Sri");
    for (tag, value) in decode(&stored) {
        if !["01", "63"].contains(&tag.as_str()) {
            assert_eq!(field(qr, &tag), Some(value), "tag {tag} kept");
        }
    }

    // In no report yet; found by status and stage.
    assert_eq!(report_totals(&app, &manager).await, before);
    let waiting = summary(&app, &manager).await;
    assert_eq!(qris_row(&waiting)["transactions"], 0, "{waiting}");
    assert_eq!(waiting["by_cashier"], json!([]));
    assert_eq!(waiting["top_products"]["by_quantity"], json!([]));
    assert!(
        waiting["by_hour"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["transactions"] == 0)
    );
    for q in ["status=pending", "stage=pending"] {
        let r = app
            .get(&format!("/api/transactions?{q}"), Some(&manager))
            .await;
        assert_eq!(r.body["results"][0]["id"], s["id"], "{q}: {}", r.text);
        assert_eq!(r.body["results"][0]["stage"], "pending");
    }
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": s["id"], "reason": "no"}),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    // The QR as an image.
    let r = app.get(&path(&s, "payment/qr.png"), Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "image/png");

    // Confirmed by the cashier who saw the money arrive.
    let r = act(&app, &cashier, &s, "confirm").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "completed");
    assert!(r.body["settled_at"].is_string());
    assert_eq!(r.body["payment"]["status"], "success");
    assert!(r.body["payment"]["confirmed_by"].is_string());
    assert_eq!(stock_of(&app, kopi["id"].as_str().unwrap()).await, 9);
    let after = report_totals(&app, &manager).await;
    assert_eq!(
        after["transactions"].as_i64().unwrap(),
        before["transactions"].as_i64().unwrap() + 1
    );
    assert_eq!(after["gross_sales"], "15250.00");
    let paid = summary(&app, &manager).await;
    assert_eq!(qris_row(&paid)["transactions"], 1);
    assert_eq!(qris_row(&paid)["total"], "16927.50");
    assert_eq!(paid["by_cashier"][0]["transactions"], 1);
    assert_eq!(paid["top_products"]["by_quantity"][0]["quantity"], 1);

    // Again (a double tap): the same sale, counted once.
    let r = act(&app, &manager, &s, "confirm").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(report_totals(&app, &manager).await, after);
    // Paid: cancel is refused, refund is the way back.
    let r = act(&app, &manager, &s, "cancel").await;
    assert_error(&r, StatusCode::CONFLICT, "sale_paid");
    assert!(releases(&app, &s).await.is_empty());
}

#[tokio::test]
async fn a_made_to_order_sale_reaches_the_kitchen_only_once_paid() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let kopi = stocked(&app, &manager, "18000", 10).await;
    sqlx::query("UPDATE products SET needs_preparation = true WHERE id = $1::uuid")
        .bind(kopi["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&kopi, 1)], "payment_method": "qris"}),
    )
    .await;
    assert_eq!(s["preparation"], Value::Null);
    let queue = app
        .get("/api/transactions?stage=processing", Some(&cashier))
        .await;
    assert_eq!(queue.body["results"], json!([]), "{}", queue.text);
    let r = act(&app, &cashier, &s, "confirm").await;
    assert_eq!(r.body["preparation"], "processing", "{}", r.text);
    let queue = app
        .get("/api/transactions?stage=processing", Some(&cashier))
        .await;
    assert_eq!(queue.body["results"][0]["id"], s["id"]);
}

#[tokio::test]
async fn a_cancelled_sale_gives_its_stock_back_once_and_cannot_be_paid() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let a = stocked(&app, &manager, "5000", 10).await;
    let b = stocked(&app, &manager, "7000", 10).await;
    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&a, 2), line(&b, 1), line(&a, 1)], "payment_method": "qris"}),
    )
    .await;
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 7);

    // Another cashier can neither see nor cancel it.
    let (_, other) = staff(&app, "cashier").await;
    let r = act(&app, &other, &s, "cancel").await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    let r = act(&app, &cashier, &s, "cancel").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["payment"]["status"], "cancelled");
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 10);
    assert_eq!(stock_of(&app, b["id"].as_str().unwrap()).await, 10);
    let mut want = vec![
        (a["id"].as_str().unwrap().to_string(), 3),
        (b["id"].as_str().unwrap().to_string(), 1),
    ];
    want.sort();
    assert_eq!(releases(&app, &s).await, want, "one row per product");

    // Again: nothing more comes back.
    let r = act(&app, &cashier, &s, "cancel").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(releases(&app, &s).await, want);
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 10);
    let r = act(&app, &manager, &s, "confirm").await;
    assert_error(&r, StatusCode::CONFLICT, "sale_cancelled");

    // A cash sale never waited.
    let cash = sell(
        &app,
        &cashier,
        json!({"items": [line(&a, 1)], "payment_method": "cash"}),
    )
    .await;
    for action in ["confirm", "cancel"] {
        let r = act(&app, &cashier, &cash, action).await;
        assert_error(&r, StatusCode::CONFLICT, "not_pending");
    }
    let r = app.get(&path(&cash, "payment"), Some(&cashier)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn once_the_window_closes_the_sale_expires_whoever_comes_first() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let p = stocked(&app, &manager, "10000", 10).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let body = json!({"items": [line(&p, 2)], "payment_method": "qris"});

    // A confirmation after the window: refused, and the sale expires now.
    let s1 = sell(&app, &cashier, body.clone()).await;
    overdue(&app, &s1).await;
    let r = act(&app, &cashier, &s1, "confirm").await;
    assert_error(&r, StatusCode::CONFLICT, "sale_expired");
    let r = app
        .get(
            &format!("/api/transactions/{}", s1["id"].as_str().unwrap()),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.body["status"], "expired");
    assert_eq!(r.body["payment"]["status"], "expired");
    assert_eq!(stock_of(&app, &pid).await, 10);
    assert_eq!(releases(&app, &s1).await, vec![(pid.clone(), 2)]);
    let r = act(&app, &cashier, &s1, "confirm").await;
    assert_error(&r, StatusCode::CONFLICT, "sale_expired");
    let r = act(&app, &cashier, &s1, "cancel").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "cancelling an expired sale changes nothing"
    );
    assert_eq!(releases(&app, &s1).await.len(), 1);

    // Reads expire what is overdue: the product list shows the stock back.
    let s2 = sell(&app, &cashier, body.clone()).await;
    assert_eq!(stock_of(&app, &pid).await, 8);
    overdue(&app, &s2).await;
    let r = app.get("/api/products", Some(&cashier)).await;
    let listed = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == p["id"])
        .unwrap()
        .clone();
    assert_eq!(listed["stock"], 10, "{listed}");

    // So does the payment status a till polls.
    let s3 = sell(&app, &cashier, body.clone()).await;
    overdue(&app, &s3).await;
    let r = app.get(&path(&s3, "payment"), Some(&cashier)).await;
    assert_eq!(r.body["status"], "expired", "{}", r.text);

    // And a checkout that finds the product short takes back what an
    // overdue sale held first.
    let big = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 10)], "payment_method": "transfer"}),
    )
    .await;
    overdue(&app, &big).await;
    let cash = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 10)], "payment_method": "cash"}),
    )
    .await;
    assert_eq!(cash["status"], "completed");
    assert_eq!(stock_of(&app, &pid).await, 0);
    let expired: i64 = sqlx::query_scalar("SELECT count(*) FROM sales WHERE status = 'expired'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(expired, 4);
    let totals = report_totals(&app, &manager).await;
    assert_eq!(totals["transactions"], 1, "only the cash sale counts");
}

#[tokio::test]
async fn the_cron_expires_overdue_sales_and_needs_its_secret() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let p = stocked(&app, &manager, "10000", 10).await;
    let mut sales = Vec::new();
    for _ in 0..3 {
        sales.push(
            sell(
                &app,
                &cashier,
                json!({"items": [line(&p, 1)], "payment_method": "qris"}),
            )
            .await,
        );
    }
    overdue(&app, &sales[0]).await;
    overdue(&app, &sales[1]).await;

    let cron = "/api/cron/expire-payments";
    let r = app.get(cron, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
    let r = app.get(cron, Some("not-the-secret")).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
    let r = app.get(cron, Some(&manager)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
    let r = app.get(cron, Some(CRON_SECRET)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["expired"], 2);
    let r = app.get(cron, Some(CRON_SECRET)).await;
    assert_eq!(r.body["expired"], 0, "once");
    let r = app.get("/api/cron/nothing", Some(CRON_SECRET)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 9);

    // Without CRON_SECRET configured the cron is off, never open.
    let bare = TestApp::new().await;
    let r = bare.get(cron, Some("")).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
}

/// Twenty pending sales, half past their window, each hit at once by a
/// confirmation, a cancel and two cron sweeps: every sale ends one way,
/// stock is given back exactly once for each that did not end paid, and
/// the report counts exactly the paid ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirmation_cancel_and_expiry_racing_have_one_outcome() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let p = stocked(&app, &manager, "1000", 1000).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let mut sales = Vec::new();
    for i in 0..20 {
        let s = sell(
            &app,
            &cashier,
            json!({"items": [line(&p, 1 + i % 3)], "payment_method": "qris"}),
        )
        .await;
        if i % 2 == 0 {
            overdue(&app, &s).await;
        }
        sales.push(s);
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for s in &sales {
        for action in ["confirm", "cancel", "sweep", "sweep"] {
            let (app, s, cashier) = (app.clone(), s.clone(), cashier.clone());
            tasks.push(tokio::spawn(async move {
                match action {
                    "sweep" => {
                        let r = app
                            .get("/api/cron/expire-payments", Some(CRON_SECRET))
                            .await;
                        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                    }
                    _ => {
                        let r = act(&app, &cashier, &s, action).await;
                        assert!(
                            r.status == StatusCode::OK || r.status == StatusCode::CONFLICT,
                            "{action}: {}",
                            r.text
                        );
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut sold = 0;
    let mut paid = 0;
    for (i, s) in sales.iter().enumerate() {
        let qty = 1 + (i as i32) % 3;
        let status: String = sqlx::query_scalar("SELECT status FROM sales WHERE id = $1::uuid")
            .bind(s["id"].as_str().unwrap())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        let back = releases(&app, s).await;
        match status.as_str() {
            "completed" => {
                assert!(i % 2 == 1, "sale {i} was past its window yet got paid");
                assert!(back.is_empty());
                sold += qty;
                paid += 1;
            }
            "expired" | "cancelled" => assert_eq!(back, vec![(pid.clone(), qty)], "sale {i}"),
            other => panic!("sale {i} ended {other}"),
        }
        if i % 2 == 0 {
            assert_eq!(status, "expired", "sale {i} was overdue");
        }
    }
    assert_eq!(stock_of(&app, &pid).await, 1000 - sold);
    let totals = report_totals(&app, &manager).await;
    assert_eq!(totals["transactions"], paid);
    let ledger: i64 =
        sqlx::query_scalar("SELECT sum(delta) FROM stock_movements WHERE product_id = $1::uuid")
            .bind(&pid)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        ledger,
        i64::from(1000 - sold),
        "the ledger adds up to the stock"
    );
}

#[tokio::test]
async fn a_qris_sale_cannot_be_dated_back_and_an_idempotent_retry_replays_its_payment() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let p = stocked(&app, &manager, "10000", 10).await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [line(&p, 1)], "payment_method": "qris",
                   "occurred_at": "2026-01-01T00:00:00Z"}),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");

    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"items": [line(&p, 1)], "payment_method": "qris"});
    let mut answers = Vec::new();
    for _ in 0..2 {
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/transactions")
            .header("authorization", format!("Bearer {cashier}"))
            .header("content-type", "application/json")
            .header("idempotency-key", &key)
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        answers.push(r.body);
    }
    assert_eq!(answers[0]["payment"]["id"], answers[1]["payment"]["id"]);
    assert_eq!(
        answers[0]["payment"]["qr_string"],
        answers[1]["payment"]["qr_string"]
    );
    assert_eq!(answers[0]["transaction_no"], answers[1]["transaction_no"]);
    assert_eq!(
        stock_of(&app, p["id"].as_str().unwrap()).await,
        9,
        "sold once"
    );
}

// ---- the app (v0) ----

fn app_sale(product_int: i64, price: f64, payment: &str, code: Value) -> Value {
    let total = price + price * 0.11;
    json!({
        "customer_name": "", "order_type": "dine_in", "payment_method": payment,
        "payment_method_code": code, "status": "pending", "paid_amount": total,
        "subtotal": price, "total": total, "change_amount": 0.0, "tax_percentage": 11,
        "discount": 0, "takeaway_charge": 0.0, "notes": "",
        "items": [{"product": product_int, "product_name": "x", "quantity": 1,
                   "price": price, "subtotal": price, "notes": ""}],
    })
}

#[tokio::test]
async fn the_app_gets_its_qr_polls_it_and_sees_the_payment_succeed() {
    let (app, _, manager, cashier) = shop_with_qris().await;
    let p = stocked(&app, &manager, "18000", 10).await;
    let int_id = p["int_id"].as_i64().unwrap();

    let r = app
        .post(
            "/api/v0/transaction/create/",
            app_sale(int_id, 18000.0, "qris", json!("SP")),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["data"]["status"], "pending");
    let payment = &r.body["payment"];
    assert!(payment["payment_id"].is_i64(), "{payment}");
    assert!(payment["va_number"].is_null(), "null: the app shows the QR");
    let qr = payment["qr_string"].as_str().unwrap();
    assert!(crc_ok(qr));
    assert_eq!(field(qr, "54").as_deref(), Some("19980"));
    assert_eq!(payment["amount"], "19980.00");
    assert_eq!(payment["reference"], "ID1020017611473");
    assert!(
        payment.get("transaction_id").is_none(),
        "leaving the screen cancels nothing"
    );

    let poll = format!("/api/v0/payment/status/{}/", payment["payment_id"]);
    let r = app.get(&poll, Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"]["status"], "pending");
    assert!(r.body["data"]["amount"].is_string());
    let (_, other) = staff(&app, "cashier").await;
    let r = app.get(&poll, Some(&other)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another cashier's payment");

    // The history lists it as pending; the kitchen does not.
    let r = app
        .get(
            "/api/v0/transaction/?page=1&page_size=10&status=pending",
            Some(&cashier),
        )
        .await;
    assert_eq!(r.body["data"][0]["status"], "pending", "{}", r.text);

    // Someone confirms it (v1, the back office): the app's poll sees it.
    let sale_id: String = sqlx::query_scalar("SELECT sale_id::text FROM payments WHERE id = $1")
        .bind(payment["payment_id"].as_i64().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/transactions/{sale_id}/confirm"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get(&poll, Some(&cashier)).await;
    assert_eq!(r.body["data"]["status"], "success");
    assert!(r.body["data"]["paid_at"].is_string());
}

#[tokio::test]
async fn the_app_without_a_provider_is_told_why_and_can_cancel_an_unpaid_sale() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "18000", 10).await;
    let int_id = p["int_id"].as_i64().unwrap();
    for (method, code) in [("qris", "SP"), ("bca va", "BC")] {
        let r = app
            .post(
                "/api/v0/transaction/create/",
                app_sale(int_id, 18000.0, method, json!(code)),
                Some(&cashier),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method}: {}", r.text);
        assert!(
            r.body["message"].as_str().unwrap().contains("not"),
            "{}",
            r.text
        );
    }
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 10);

    // With the shop's QRIS stored, the legacy cancel ends an unpaid sale.
    let (_, owner) = staff(&app, "owner").await;
    patch_settings(&app, &owner, json!({"qris_payload": static_qris("Toko")})).await;
    let r = app
        .post(
            "/api/v0/transaction/create/",
            app_sale(int_id, 18000.0, "qris", json!("SP")),
            Some(&cashier),
        )
        .await;
    let id = r.body["data"]["id"].as_i64().unwrap();
    let cancel = format!("/api/v0/transaction/{id}/cancel/");
    let r = app.call(Method::POST, &cancel, None, Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"]["status"], "cancelled");
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 10);
    let r = app.call(Method::POST, &cancel, None, Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["message"].is_string());
}

/// The summary of yesterday and today (store-local): a sale made just
/// before local midnight is still in it when read just after.
fn summary_path() -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let yesterday = today - chrono::Duration::days(1);
    format!("/api/reports/summary?from={yesterday}&to={today}")
}
