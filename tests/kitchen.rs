//! After checkout, on v1: the take-away charge, the kitchen's preparation
//! state and queue, editing a sale's customer name and notes, and the
//! stage filter the app's history uses.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::shop::{line, staff, stocked};
use common::{Reply, TestApp, assert_error};
use serde_json::{Value, json};

async fn made_to_order(app: &TestApp, manager: &str, price: &str) -> Value {
    let p = stocked(app, manager, price, 100).await;
    sqlx::query("UPDATE products SET needs_preparation = true WHERE id = $1::uuid")
        .bind(p["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    p
}

async fn sell(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/transactions", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn patch(app: &TestApp, token: &str, sale: &Value, body: Value) -> Reply {
    let path = format!("/api/transactions/{}", sale["id"].as_str().unwrap());
    app.call(Method::PATCH, &path, Some(body), Some(token))
        .await
}

async fn stages(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let r = app
        .get(&format!("/api/transactions?{query}"), Some(token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customer_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_take_away_charge_is_in_the_total_untaxed_and_only_on_take_away() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    sqlx::query("UPDATE store_settings SET tax_rate = 0.11")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let p = stocked(&app, &manager, "10000", 10).await;
    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 2)], "order_type": "take_away", "takeaway_charge": "2000",
               "payment_method": "cash", "paid_amount": "30000"}),
    )
    .await;
    assert_eq!(s["subtotal"], "20000.00");
    assert_eq!(s["tax"], "2200.00", "the charge is not taxed");
    assert_eq!(s["takeaway_charge"], "2000.00");
    assert_eq!(s["total"], "24200.00");
    assert_eq!(s["change_amount"], "5800.00");
    assert!(s["int_id"].is_i64());
    assert_eq!(s["preparation"], Value::Null, "nothing to prepare");

    // A refund of everything gives the charge back too.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": s["id"], "reason": "wrong order"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["amount"], "24200.00");

    for bad in [
        json!({"items": [line(&p, 1)], "order_type": "dine_in", "takeaway_charge": "2000",
               "payment_method": "cash"}),
        json!({"items": [line(&p, 1)], "order_type": "take_away", "takeaway_charge": "-1",
               "payment_method": "cash"}),
        json!({"items": [line(&p, 1)], "order_type": "take_away", "takeaway_charge": 1.5,
               "payment_method": "cash"}),
    ] {
        let r = app.post("/api/transactions", bad, Some(&cashier)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    // A dine-in order may say 0.
    sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 1)], "takeaway_charge": "0", "payment_method": "cash"}),
    )
    .await;
}

#[tokio::test]
async fn made_to_order_sales_wait_in_the_kitchen_until_marked_done() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (kitchen_id, kitchen) = staff(&app, "cashier").await;
    let kopi = made_to_order(&app, &manager, "15000").await;
    let roti = stocked(&app, &manager, "5000", 100).await;

    let a = sell(
        &app,
        &cashier,
        json!({"items": [line(&kopi, 1), line(&roti, 1)], "customer_name": "A", "payment_method": "cash"}),
    )
    .await;
    assert_eq!(a["preparation"], "processing");
    let b = sell(
        &app,
        &cashier,
        json!({"items": [line(&roti, 1)], "customer_name": "B", "payment_method": "cash"}),
    )
    .await;
    assert_eq!(b["preparation"], Value::Null);
    let c = sell(
        &app,
        &cashier,
        json!({"items": [line(&kopi, 2)], "customer_name": "C", "payment_method": "card"}),
    )
    .await;

    // The queue is everyone's, whoever asks; the rest of the history is not.
    assert_eq!(stages(&app, &kitchen, "stage=processing").await, ["C", "A"]);
    assert!(stages(&app, &kitchen, "").await.is_empty());
    assert_eq!(stages(&app, &cashier, "stage=completed").await, ["B"]);
    assert_eq!(
        stages(&app, &manager, "stage=completed,processing").await,
        ["C", "B", "A"]
    );
    let r = app
        .get("/api/transactions?stage=processing", Some(&kitchen))
        .await;
    assert_eq!(r.body["results"][0]["stage"], "processing");
    assert_eq!(r.body["results"][0]["preparation"], "processing");

    // The kitchen (not the seller) marks A done, once or twice.
    let r = patch(&app, &kitchen, &a, json!({"preparation": "completed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["preparation"], "completed");
    assert!(r.body["prepared_at"].is_string());
    let again = patch(&app, &kitchen, &a, json!({"preparation": "completed"})).await;
    assert_eq!(again.body["prepared_at"], r.body["prepared_at"]);
    let by: uuid::Uuid = sqlx::query_scalar("SELECT prepared_by FROM sales WHERE id = $1::uuid")
        .bind(a["id"].as_str().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(by, kitchen_id);
    assert_eq!(stages(&app, &kitchen, "stage=processing").await, ["C"]);

    // Nothing to prepare, or a step back: refused. Another cashier's sale
    // that never went to the kitchen is not theirs to see at all.
    let r = patch(&app, &cashier, &b, json!({"preparation": "completed"})).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = patch(&app, &kitchen, &b, json!({"preparation": "completed"})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = patch(&app, &manager, &c, json!({"preparation": "processing"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");

    // A voided sale leaves the queue and shows as cancelled.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": c["id"], "reason": "customer left"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(stages(&app, &kitchen, "stage=processing").await.is_empty());
    assert_eq!(stages(&app, &manager, "stage=cancelled").await, ["C"]);
    let r = patch(&app, &kitchen, &c, json!({"preparation": "completed"})).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    for bad in ["stage=lost", "stage=processing,", "stage="] {
        let r = app
            .get(&format!("/api/transactions?{bad}"), Some(&manager))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
}

#[tokio::test]
async fn a_sale_s_customer_name_and_notes_can_be_corrected() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, other) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "10000", 10).await;
    let s = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 1)], "customer_name": "Budi", "payment_method": "cash"}),
    )
    .await;

    let r = patch(
        &app,
        &cashier,
        &s,
        json!({"customer_name": "Budi S.", "notes": "meja 4"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["customer_name"], "Budi S.");
    assert_eq!(r.body["notes"], "meja 4");
    assert_eq!(r.body["total"], s["total"], "money never changes here");
    // The search finds the new name.
    assert_eq!(stages(&app, &cashier, "q=budi+s").await, ["Budi S."]);
    // Another cashier's sale is not theirs to rename; a manager's is.
    let r = patch(&app, &other, &s, json!({"notes": "x"})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = patch(&app, &manager, &s, json!({"notes": ""})).await;
    assert_eq!(r.body["notes"], "");

    for bad in [
        json!({}),
        json!({"customer_name": "x".repeat(201)}),
        json!({"total": "1"}),
        json!({"customer_name": 5}),
    ] {
        let r = patch(&app, &cashier, &s, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    let r = app
        .call(
            Method::PATCH,
            "/api/transactions/00000000-0000-0000-0000-000000000000",
            Some(json!({"notes": "x"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/transactions/{}", s["id"].as_str().unwrap()),
            Some(json!({"notes": "x"})),
            None,
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
}

#[tokio::test]
async fn a_replayed_sale_answers_its_int_id_and_kitchen_state_too() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let kopi = made_to_order(&app, &manager, "15000").await;
    let body = json!({"items": [line(&kopi, 1)], "payment_method": "cash"});
    let key = uuid::Uuid::new_v4().to_string();
    let send = || {
        Request::post("/api/transactions")
            .header(header::AUTHORIZATION, format!("Bearer {cashier}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &key)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let first = app.send(send()).await;
    let again = app.send(send()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert!(first.body["int_id"].as_i64().unwrap() > 0);
    assert_eq!(again.body, first.body);
    assert_eq!(again.body["preparation"], "processing");
}
