//! QRIS and virtual-account sales through Duitku, end to end against a local
//! fake that checks signatures as Duitku does: the app is served over HTTP
//! so the fake's callbacks reach it as Duitku's would.

mod common;

use axum::http::{Method, StatusCode};
use common::fake_duitku::FakeDuitku;
use common::qris::crc_ok;
use common::shop::{line, staff, stock_of, stocked};
use common::{TestApp, assert_error};
use serde_json::{Value, json};

const CRON_SECRET: &str = "cron-secret-for-tests-0123456789";

struct Shop {
    app: TestApp,
    duitku: FakeDuitku,
    callback: String,
    manager: String,
    cashier: String,
    _server: tokio::task::JoinHandle<()>,
}

/// The app configured with the fake Duitku, listening for its callbacks.
async fn shop() -> Shop {
    let duitku = FakeDuitku::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/api/callbacks/duitku",
        listener.local_addr().unwrap().port()
    );
    let mut env = duitku.env(&url::Url::parse(&callback).unwrap());
    env.push(("CRON_SECRET".into(), CRON_SECRET.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::with_config(&env).await;
    let server = app.serve_on(listener);
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    Shop {
        app,
        duitku,
        callback,
        manager,
        cashier,
        _server: server,
    }
}

async fn sale(s: &Shop, id: &str) -> Value {
    let r = s
        .app
        .get(&format!("/api/transactions/{id}"), Some(&s.manager))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn qris_sale(s: &Shop, p: &Value, qty: i64) -> Value {
    let r = s
        .app
        .post(
            "/api/transactions",
            json!({"items": [line(p, qty)], "payment_method": "qris", "customer_name": "Dewi"}),
            Some(&s.cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn paid_transactions(s: &Shop) -> i64 {
    let r = s.app.get("/api/reports/daily", Some(&s.manager)).await;
    r.body["totals"]["transactions"].as_i64().unwrap()
}

#[tokio::test]
async fn a_qris_sale_opens_an_invoice_and_duitkus_callback_completes_it_once() {
    let s = shop().await;
    let r = s.app.get("/api/settings", Some(&s.cashier)).await;
    assert_eq!(r.body["payment_provider"], "duitku");
    let p = stocked(&s.app, &s.manager, "18000", 10).await;
    let sold = qris_sale(&s, &p, 2).await;
    assert_eq!(sold["status"], "pending");
    let pay = &sold["payment"];
    assert_eq!(pay["provider"], "duitku");
    assert_eq!(pay["method_code"], "SP");
    assert_eq!(pay["amount"], "36000.00");
    assert!(crc_ok(pay["qr_string"].as_str().unwrap()), "{pay}");
    let order = pay["order_id"].as_str().unwrap();
    let invoice = s.duitku.invoice(order).expect("an invoice was opened");
    assert_eq!(invoice.amount, 36000);
    assert_eq!(invoice.method, "SP");
    assert_eq!(invoice.callback_url, s.callback);
    assert_eq!(pay["reference"], invoice.reference.as_str());
    assert_eq!(stock_of(&s.app, p["id"].as_str().unwrap()).await, 8);
    assert_eq!(paid_transactions(&s).await, 0);

    // The customer pays: Duitku calls back; the sale is paid.
    let (status, body) = s.duitku.pay(order).await;
    assert_eq!((status, body.as_str()), (200, "SUCCESS"));
    let id = sold["id"].as_str().unwrap();
    let after = sale(&s, id).await;
    assert_eq!(after["status"], "completed");
    assert_eq!(after["payment"]["status"], "success");
    assert_eq!(
        after["payment"]["confirmed_by"],
        Value::Null,
        "the provider's word"
    );
    assert_eq!(paid_transactions(&s).await, 1);

    // Duitku delivers it again: acknowledged, nothing changes.
    let form = s.duitku.signed_form(order, 36000, "00");
    let (status, body) = s.duitku.post_callback(&s.callback, &form).await;
    assert_eq!((status, body.as_str()), (200, "SUCCESS"));
    assert_eq!(paid_transactions(&s).await, 1);
    assert_eq!(stock_of(&s.app, p["id"].as_str().unwrap()).await, 8);
    // An out-of-order "failed" after the payment changes nothing either.
    let form = s.duitku.signed_form(order, 36000, "01");
    let (status, _) = s.duitku.post_callback(&s.callback, &form).await;
    assert_eq!(status, 200);
    assert_eq!(sale(&s, id).await["status"], "completed");
}

#[tokio::test]
async fn callbacks_that_are_forged_wrong_or_unknown_change_nothing() {
    let s = shop().await;
    let p = stocked(&s.app, &s.manager, "10000", 10).await;
    let sold = qris_sale(&s, &p, 1).await;
    let order = sold["payment"]["order_id"].as_str().unwrap().to_string();
    let id = sold["id"].as_str().unwrap().to_string();
    let field = |form: &mut Vec<(String, String)>, k: &str, v: &str| {
        form.iter_mut().find(|(key, _)| key == k).unwrap().1 = v.into();
    };

    let mut bad_signature = s.duitku.signed_form(&order, 10000, "00");
    field(&mut bad_signature, "signature", &"0".repeat(32));
    let mut tampered_amount = s.duitku.signed_form(&order, 10000, "00");
    field(&mut tampered_amount, "amount", "1");
    let mut other_merchant = s.duitku.signed_form(&order, 10000, "00");
    field(&mut other_merchant, "merchantCode", "DS99999");
    let wrong_amount = s.duitku.signed_form(&order, 9000, "00");
    let unknown = s.duitku.signed_form("KGnosuchorder", 10000, "00");
    for (form, want) in [
        (bad_signature, 401),
        (tampered_amount, 401),
        (other_merchant, 400),
        (wrong_amount, 400),
        (unknown, 404),
    ] {
        let (status, body) = s.duitku.post_callback(&s.callback, &form).await;
        assert_eq!(status, want, "{body}");
        assert!(body.contains("detail"), "a JSON error: {body}");
    }
    // Duitku's signature does not cover resultCode: a genuine "failed"
    // turned into "00" verifies, so the provider is asked, says pending,
    // and the sale stays pending.
    let mut flipped = s.duitku.signed_form(&order, 10000, "01");
    field(&mut flipped, "resultCode", "00");
    let (status, _) = s.duitku.post_callback(&s.callback, &flipped).await;
    assert_eq!(status, 200);
    let now = sale(&s, &id).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["payment"]["status"], "pending");
    assert_eq!(stock_of(&s.app, p["id"].as_str().unwrap()).await, 9);

    // No provider configured: no such callback.
    let bare = TestApp::new().await;
    let r = bare
        .post(
            "/api/callbacks/duitku",
            json!({"merchantOrderId": order}),
            None,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_failed_payment_cancels_the_sale_and_a_late_one_is_flagged_for_refund() {
    let s = shop().await;
    let p = stocked(&s.app, &s.manager, "10000", 10).await;
    let pid = p["id"].as_str().unwrap().to_string();

    let failed = qris_sale(&s, &p, 3).await;
    let (status, _) = s
        .duitku
        .fail(failed["payment"]["order_id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    let after = sale(&s, failed["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["payment"]["status"], "failed");
    assert_eq!(stock_of(&s.app, &pid).await, 10);

    // Paid after the window (and its grace) closed: the sale has expired,
    // its stock is back; the money is flagged to be returned.
    let late = qris_sale(&s, &p, 2).await;
    sqlx::query("UPDATE sales SET pending_until = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(late["id"].as_str().unwrap())
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let r = s
        .app
        .get("/api/cron/expire-payments", Some(CRON_SECRET))
        .await;
    assert_eq!(r.body["expired"], 1, "{}", r.text);
    let (status, body) = s
        .duitku
        .pay(late["payment"]["order_id"].as_str().unwrap())
        .await;
    assert_eq!((status, body.as_str()), (200, "SUCCESS"), "acknowledged");
    let after = sale(&s, late["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "expired");
    assert!(after["payment"]["late_paid_at"].is_string(), "{after}");
    assert_eq!(stock_of(&s.app, &pid).await, 10);
    assert_eq!(paid_transactions(&s).await, 0);

    // Overdue but not yet swept when the callback comes: it expires the
    // sale then and there, and flags the money the same way.
    let unswept = qris_sale(&s, &p, 4).await;
    sqlx::query("UPDATE sales SET pending_until = now() - interval '1 second' WHERE id = $1::uuid")
        .bind(unswept["id"].as_str().unwrap())
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let (status, _) = s
        .duitku
        .pay(unswept["payment"]["order_id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    let after = sale(&s, unswept["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "expired");
    assert_eq!(after["payment"]["status"], "expired");
    assert!(after["payment"]["late_paid_at"].is_string(), "{after}");
    assert_eq!(stock_of(&s.app, &pid).await, 10);
}

#[tokio::test]
async fn a_refused_invoice_writes_nothing_and_says_why() {
    let s = shop().await;
    let p = stocked(&s.app, &s.manager, "10000", 10).await;
    s.duitku.refuse_next("Payment channel not available");
    let r = s
        .app
        .post(
            "/api/transactions",
            json!({"items": [line(&p, 1)], "payment_method": "qris"}),
            Some(&s.cashier),
        )
        .await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "payment_provider_error");
    assert!(
        r.text.contains("Payment channel not available"),
        "{}",
        r.text
    );
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    assert_eq!(sales, 0);
    assert_eq!(stock_of(&s.app, p["id"].as_str().unwrap()).await, 10);

    // The app sees a 400 with the gateway's message, as Django answered.
    s.duitku.refuse_next("Minimum Payment 10000 IDR");
    let r = s
        .app
        .post(
            "/api/v0/transaction/create/",
            app_checkout(p["int_id"].as_i64().unwrap(), "qris", "SP"),
            Some(&s.cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Minimum Payment")
    );
}

fn app_checkout(product: i64, method: &str, code: &str) -> Value {
    json!({
        "customer_name": "Rina", "order_type": "take_away", "payment_method": method,
        "payment_method_code": code, "status": "pending", "paid_amount": 11100.0,
        "subtotal": 10000.0, "total": 11100.0, "change_amount": 0.0, "tax_percentage": 11,
        "discount": 0, "takeaway_charge": 0.0, "notes": "",
        "items": [{"product": product, "product_name": "x", "quantity": 1,
                   "price": 10000.0, "subtotal": 10000.0, "notes": ""}],
    })
}

#[tokio::test]
async fn the_apps_bca_va_is_paid_and_its_poll_asks_duitku_when_the_callback_is_lost() {
    let s = shop().await;
    let p = stocked(&s.app, &s.manager, "10000", 10).await;
    let r = s
        .app
        .post(
            "/api/v0/transaction/create/",
            app_checkout(p["int_id"].as_i64().unwrap(), "bca va", "BC"),
            Some(&s.cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["data"]["payment_method"], "transfer");
    assert_eq!(r.body["data"]["status"], "pending");
    let payment = &r.body["payment"];
    assert!(payment["payment_id"].is_i64());
    assert!(
        payment["va_number"].as_str().is_some_and(|v| !v.is_empty()),
        "{payment}"
    );
    assert_eq!(payment["amount"], "11100.00");

    let poll = format!("/api/v0/payment/status/{}/", payment["payment_id"]);
    let r = s.app.get(&poll, Some(&s.cashier)).await;
    assert_eq!(r.body["data"]["status"], "pending", "{}", r.text);
    let order = r.body["data"]["merchant_order_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.duitku.invoice(&order).unwrap().method, "BC");

    // Paid, but the callback is lost: the next poll (10 s after the last
    // provider check) asks Duitku and sees it.
    s.duitku.mark_paid(&order);
    sqlx::query("UPDATE payments SET checked_at = now() - interval '11 seconds'")
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let r = s.app.get(&poll, Some(&s.cashier)).await;
    assert_eq!(r.body["data"]["status"], "success", "{}", r.text);
    assert_eq!(paid_transactions(&s).await, 1);
    let r = s
        .app
        .call(
            Method::GET,
            "/api/v0/transaction/?page=1&page_size=10",
            None,
            Some(&s.cashier),
        )
        .await;
    assert_eq!(r.body["data"][0]["status"], "completed");
}
