//! Checkout under every kind of bad input and concurrency: exact money,
//! atomic stock, idempotent retries, collision-free numbering.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::shop::{line, sell, staff, stock_of, stocked};
use common::{Reply, TestApp, assert_error};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn checkout(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> Reply {
    let mut req = Request::post("/api/transactions")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

/// A checkout on a cloned app service, for spawning concurrently.
async fn checkout_status(
    app: kasirgo::http::App,
    token: String,
    body: Value,
    key: Option<String>,
) -> (StatusCode, Value) {
    let mut req = Request::post("/api/transactions")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = app
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// `again` replays `first`: 201, marked as a replay, the first answer byte
/// for byte in meaning.
fn assert_replays(again: &Reply, first: &Reply) {
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body, "the first answer");
}

#[tokio::test]
async fn a_sale_is_priced_by_the_server_and_exact() {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    app.call(
        Method::PATCH,
        "/api/settings",
        Some(json!({"tax_rate": "0.11"})),
        Some(&owner),
    )
    .await;
    let kopi = stocked(&app, &owner, "18000", 10).await;
    let roti = stocked(&app, &owner, "7500.50", 5).await;

    let r = checkout(
        &app,
        &cashier,
        json!({"items": [
                  {"product_id": kopi["id"], "quantity": 2, "note": "less sugar", "unit_price": "1"},
                  {"product_id": roti["id"], "quantity": 1}],
               "customer_name": "Budi", "notes": "table 4", "order_type": "take_away",
               "discount": "5000", "payment_method": "cash", "paid_amount": 100000}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let s = &r.body;
    // 2 x 18000 + 7500.50 = 43500.50; minus 5000 = 38500.50; tax 11% =
    // 4235.0550 -> 4235.06 (half-up); total 42735.56; change 57264.44.
    assert_eq!(s["subtotal"], "43500.50");
    assert_eq!(s["discount"], "5000.00");
    assert_eq!(s["tax"], "4235.06");
    assert_eq!(s["total"], "42735.56");
    assert_eq!(s["paid_amount"], "100000.00");
    assert_eq!(s["change_amount"], "57264.44");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["order_type"], "take_away");
    assert_eq!(s["payment_method"], "cash");
    assert_eq!(s["cashier"]["id"], cashier_id.to_string());
    assert_eq!(
        s["items"][0]["unit_price"], "18000.00",
        "the client's price is ignored"
    );
    assert_eq!(s["items"][0]["line_total"], "36000.00");
    assert_eq!(s["items"][0]["note"], "less sugar");
    assert_eq!(s["items"][1]["product_name"], roti["name"]);
    let no = s["transaction_no"].as_str().unwrap();
    // Numbered on the store-local day of the sale itself, so the check
    // holds at any instant, midnight included.
    let local_day = |sale: &Value| {
        chrono::DateTime::parse_from_rfc3339(sale["occurred_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Jakarta)
            .format("%Y%m%d")
            .to_string()
    };
    let today = local_day(s);
    assert_eq!(no, format!("TRX-{today}-0001"));

    assert_eq!(stock_of(&app, kopi["id"].as_str().unwrap()).await, 8);
    assert_eq!(stock_of(&app, roti["id"].as_str().unwrap()).await, 4);
    let ledger: Vec<(String, i32, i32)> = sqlx::query_as(
        "SELECT kind, delta, stock_after FROM stock_movements WHERE sale_id = $1::uuid ORDER BY delta",
    )
    .bind(s["id"].as_str().unwrap())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(ledger, [("sale".into(), -2, 8), ("sale".into(), -1, 4)]);

    // Non-cash: paid defaults to the total.
    let r = checkout(
        &app,
        &cashier,
        json!({"items": [line(&kopi, 1)], "payment_method": "card"}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["total"], "19980.00");
    assert_eq!(r.body["change_amount"], "0.00");
    // The day's second sale, unless local midnight fell between the two.
    let second = if local_day(&r.body) == today { 2 } else { 1 };
    assert_eq!(
        r.body["transaction_no"],
        format!("TRX-{}-{second:04}", local_day(&r.body))
    );

    // The detail view has the lines and (no) refunds.
    let d = app
        .get(
            &format!("/api/transactions/{}", s["id"].as_str().unwrap()),
            Some(&cashier),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(d.body["refunds"], json!([]));
    assert_eq!(d.body["total"], "42735.56");
}

#[tokio::test]
async fn bad_checkouts_are_refused_and_write_nothing() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "10000", 5).await;
    let gone = stocked(&app, &manager, "1000", 5).await;
    app.call(
        Method::DELETE,
        &format!("/api/products/{}", gone["id"].as_str().unwrap()),
        None,
        Some(&manager),
    )
    .await;
    let off = stocked(&app, &manager, "1000", 5).await;
    app.call(
        Method::PATCH,
        &format!("/api/products/{}", off["id"].as_str().unwrap()),
        Some(json!({"is_active": false})),
        Some(&manager),
    )
    .await;
    let cash = |items: Value| json!({"items": items, "payment_method": "cash"});

    let cases: Vec<(Value, &str)> = vec![
        (cash(json!([])), "items"),
        (cash(json!([line(&p, 0)])), "items[0].quantity"),
        (cash(json!([line(&p, -1)])), "items[0].quantity"),
        (cash(json!([line(&p, 10_001)])), "items[0].quantity"),
        (
            cash(json!([line(&p, 1), {"product_id": uuid::Uuid::new_v4(), "quantity": 1}])),
            "items[1].product_id",
        ),
        (cash(json!([line(&gone, 1)])), "items[0].product_id"),
        (cash(json!([line(&off, 1)])), "items[0].product_id"),
        (
            cash(json!([{"product_id": "nope", "quantity": 1}])),
            "items[0].product_id",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "bitcoin"}),
            "payment_method",
        ),
        (json!({"items": [line(&p, 1)]}), "payment_method"),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "order_type": "drive_thru"}),
            "order_type",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "paid_amount": "9999.99"}),
            "paid_amount",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "discount": "10000.01"}),
            "discount",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "discount": "-1"}),
            "discount",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "occurred_at": "2099-01-01T00:00:00Z"}),
            "occurred_at",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "occurred_at": "yesterday"}),
            "occurred_at",
        ),
        (
            json!({"items": [line(&p, 1)], "payment_method": "cash", "customer_name": "x".repeat(10_000)}),
            "customer_name",
        ),
    ];
    for (body, field) in cases {
        let r = checkout(&app, &cashier, body.clone(), None).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(
            r.body["fields"][field].is_array(),
            "{field} for {body}: {}",
            r.text
        );
    }
    let r = checkout(
        &app,
        &cashier,
        cash(json!([line(&p, 1)])),
        Some("not-a-uuid"),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let r = checkout(&app, &cashier, json!([1, 2]), None).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let r = app
        .send(
            Request::post("/api/transactions")
                .header(header::AUTHORIZATION, format!("Bearer {cashier}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"items\": ["))
                .unwrap(),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = app
        .post("/api/transactions", cash(json!([line(&p, 1)])), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");

    assert_eq!(count(&app, "sales").await, 0);
    assert_eq!(count(&app, "stock_movements WHERE kind = 'sale'").await, 0);
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 5);
}

#[tokio::test]
async fn short_lines_are_all_listed_and_nothing_is_sold() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let a = stocked(&app, &manager, "1000", 3).await;
    let b = stocked(&app, &manager, "1000", 1).await;
    let c = stocked(&app, &manager, "1000", 50).await;
    // Two lines of `a` (different notes) count together: 2 + 2 > 3.
    let body = json!({"items": [
        {"product_id": a["id"], "quantity": 2, "note": "hot"},
        {"product_id": b["id"], "quantity": 2},
        {"product_id": c["id"], "quantity": 1},
        {"product_id": a["id"], "quantity": 2, "note": "iced"}],
        "payment_method": "cash"});
    let r = checkout(&app, &manager, body, None).await;
    assert_error(&r, StatusCode::CONFLICT, "insufficient_stock");
    let mut short: Vec<(String, i64, i64)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["product_id"].as_str().unwrap().to_string(),
                i["requested"].as_i64().unwrap(),
                i["available"].as_i64().unwrap(),
            )
        })
        .collect();
    short.sort();
    let mut expected = vec![
        (a["id"].as_str().unwrap().to_string(), 4, 3),
        (b["id"].as_str().unwrap().to_string(), 2, 1),
    ];
    expected.sort();
    assert_eq!(short, expected);
    for (p, stock) in [(&a, 3), (&b, 1), (&c, 50)] {
        assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, stock);
    }
    assert_eq!(count(&app, "sales").await, 0);

    // Duplicate lines are kept as lines (their notes differ), sold together.
    let r = checkout(
        &app,
        &manager,
        json!({"items": [{"product_id": a["id"], "quantity": 1, "note": "hot"},
                         {"product_id": a["id"], "quantity": 2, "note": "iced"}],
               "payment_method": "cash"}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_buyers_of_ten_units_sell_exactly_ten() {
    let app = TestApp::with_config(&[("DB_MAX_CONNECTIONS", "20")]).await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "5000", 10).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (svc, token) = (app.app.clone(), manager.clone());
        let body = json!({"items": [line(&p, 1)], "payment_method": "cash"});
        tasks.push(tokio::spawn(checkout_status(svc, token, body, None)));
    }
    let mut sold = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => sold += 1,
            StatusCode::CONFLICT => assert_eq!(body["code"], "insufficient_stock"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(sold, 10);
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 0);
    assert_eq!(count(&app, "sales").await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_carts_never_deadlock_and_conserve_stock() {
    use rand::Rng;
    use rand::seq::{IndexedRandom, SliceRandom};
    let app = TestApp::with_config(&[("DB_MAX_CONNECTIONS", "16")]).await;
    let (_, manager) = staff(&app, "manager").await;
    let mut products = Vec::new();
    for _ in 0..6 {
        products.push(stocked(&app, &manager, "1000", 40).await);
    }
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let mut rng = rand::rng();
        let lines = rng.random_range(1..=5);
        let mut cart: Vec<Value> = products
            .choose_multiple(&mut rng, lines)
            .map(|p| line(p, rng.random_range(1..=3)))
            .collect();
        cart.shuffle(&mut rng);
        let body = json!({"items": cart, "payment_method": "cash"});
        tasks.push(tokio::spawn(checkout_status(
            app.app.clone(),
            manager.clone(),
            body,
            None,
        )));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED
                || (status == StatusCode::CONFLICT && body["code"] == "insufficient_stock"),
            "{status}: {body}"
        );
    }
    for p in &products {
        let id = p["id"].as_str().unwrap();
        let sold: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(quantity), 0) FROM sale_lines WHERE product_id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        let ledger: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(delta), 0) FROM stock_movements WHERE product_id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        let stock = i64::from(stock_of(&app, id).await);
        assert_eq!(stock, 40 - sold, "stock is conserved");
        assert_eq!(ledger, stock, "the ledger adds up to the stock");
        assert!(stock >= 0);
    }
}

async fn fifty_at_once(app: &TestApp, token: &str, products: &[Value]) -> BTreeSet<String> {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let body = json!({"items": [line(&products[i % products.len()], 1)], "payment_method": "cash"});
            tokio::spawn(checkout_status(app.app.clone(), token.to_string(), body, None))
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        numbers.insert(body["transaction_no"].as_str().unwrap().to_string());
    }
    numbers
}

/// Numbers never collide. Once a day has begun they are consecutive; the
/// very first sales of a day, if simultaneous, may skip a number (the one
/// that lost the race to create the day retries; see the sales migration).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sales_get_fifty_distinct_numbers() {
    let app = TestApp::with_config(&[("DB_MAX_CONNECTIONS", "20")]).await;
    let (_, manager) = staff(&app, "manager").await;
    let mut products = Vec::new();
    for _ in 0..5 {
        products.push(stocked(&app, &manager, "1000", 100).await);
    }
    let first = fifty_at_once(&app, &manager, &products).await;
    assert_eq!(first.len(), 50, "no collisions, even as the day begins");
    let then = fifty_at_once(&app, &manager, &products).await;
    assert_eq!(then.len(), 50, "no collisions");
    assert!(first.is_disjoint(&then));
    let seq: Vec<u32> = then
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        seq.last().unwrap() - seq.first().unwrap(),
        49,
        "consecutive: {seq:?}"
    );
}

#[tokio::test]
async fn a_retried_checkout_replays_and_never_sells_twice() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "2500", 10).await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"items": [line(&p, 2)], "payment_method": "cash", "paid_amount": "10000"});

    let first = checkout(&app, &cashier, body.clone(), Some(&key)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same body, keys in another order and spacing: a replay.
    let same: Value = serde_json::from_str(&format!(
        r#"{{ "paid_amount": "10000", "payment_method": "cash", "items": [ {{"quantity": 2, "product_id": {}}} ] }}"#,
        p["id"]
    ))
    .unwrap();
    assert_replays(&checkout(&app, &cashier, same, Some(&key)).await, &first);
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 8);
    assert_eq!(count(&app, "sales").await, 1);

    let other = checkout(
        &app,
        &cashier,
        json!({"items": [line(&p, 3)], "payment_method": "cash"}),
        Some(&key),
    )
    .await;
    assert_error(
        &other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // Another user's key space is their own.
    let r = checkout(&app, &manager, body.clone(), Some(&key)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.headers.get("idempotent-replayed").is_none());
    assert_eq!(count(&app, "sales").await, 2);
}

/// The same Idempotency-Key sent 10 times at once for 3 units of a
/// product with `stock`: one sale, and every answer is that sale (a replay
/// or the sale itself, never "insufficient stock" when the first attempt
/// took the last units).
async fn ten_at_once(stock: i32) {
    let app = TestApp::with_config(&[("DB_MAX_CONNECTIONS", "12")]).await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", stock).await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"items": [line(&p, 3)], "payment_method": "cash"});
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(checkout_status(
                app.app.clone(),
                cashier.clone(),
                body.clone(),
                Some(key.clone()),
            ))
        })
        .collect();
    let mut ids = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.insert(body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every answer is the one sale");
    assert_eq!(count(&app, "sales").await, 1);
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, stock - 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_retries_make_one_sale() {
    ten_at_once(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_retries_of_the_last_units_make_one_sale() {
    ten_at_once(3).await;
}

#[tokio::test]
async fn a_retry_replays_after_its_units_ran_out_or_its_product_went() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", 2).await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"items": [line(&p, 2)], "payment_method": "cash"});
    let first = checkout(&app, &manager, body.clone(), Some(&key)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);

    // The first sale took the last units.
    assert_replays(
        &checkout(&app, &manager, body.clone(), Some(&key)).await,
        &first,
    );
    // Another body under the key is still a reused key, not a short line.
    let other = checkout(
        &app,
        &manager,
        json!({"items": [line(&p, 1)], "payment_method": "cash"}),
        Some(&key),
    )
    .await;
    assert_error(
        &other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // Without the key, the same cart is short.
    let short = checkout(&app, &manager, body.clone(), None).await;
    assert_error(&short, StatusCode::CONFLICT, "insufficient_stock");

    // The product is deleted since: the retry still gets its sale.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/products/{}", p["id"].as_str().unwrap()),
            None,
            Some(&manager),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_replays(&checkout(&app, &manager, body, Some(&key)).await, &first);
    assert_eq!(count(&app, "sales").await, 1);
}

#[tokio::test]
async fn a_failure_mid_transaction_leaves_no_partial_sale() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let a = stocked(&app, &manager, "1000", 5).await;
    let b = stocked(&app, &manager, "1000", 5).await;
    // Fail while writing the second line, after stock, number and header.
    sqlx::raw_sql(
        "CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.note = 'explode' THEN RAISE EXCEPTION 'injected failure'; END IF;
         RETURN NEW; END $$;
         CREATE TRIGGER explode BEFORE INSERT ON sale_lines FOR EACH ROW EXECUTE FUNCTION explode();",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let key = uuid::Uuid::new_v4().to_string();
    let r = checkout(
        &app,
        &manager,
        json!({"items": [line(&a, 1), {"product_id": b["id"], "quantity": 2, "note": "explode"}],
               "payment_method": "cash"}),
        Some(&key),
    )
    .await;
    assert_error(&r, StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    assert!(!r.text.contains("injected"), "no internals: {}", r.text);
    for table in [
        "sales",
        "sale_lines",
        "idempotency_keys",
        "stock_movements WHERE kind = 'sale'",
    ] {
        assert_eq!(count(&app, table).await, 0, "{table}");
    }
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 5);
    assert_eq!(stock_of(&app, b["id"].as_str().unwrap()).await, 5);
    // The key was not burnt: the retry goes through.
    let r = checkout(
        &app,
        &manager,
        json!({"items": [line(&a, 1), line(&b, 2)], "payment_method": "cash"}),
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// The cart is read without locks and the stock taken at the end, on the
/// condition that nothing it was priced on changed. A price changed in
/// between: the attempt writes nothing, and the sale is priced again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_changed_mid_checkout_is_priced_again_and_nothing_is_doubled() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let a = stocked(&app, &manager, "1000", 5).await;
    let b = stocked(&app, &manager, "2000", 5).await;
    // A sale noted 'wait' stops inside its write, after the read, while
    // the test holds advisory lock 4242.
    sqlx::raw_sql(
        "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.notes = 'wait' THEN
             PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242);
         END IF; RETURN NEW; END $$;
         CREATE TRIGGER hold BEFORE INSERT ON sales FOR EACH ROW EXECUTE FUNCTION hold();",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let mut gate = app.db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(4242)")
        .execute(&mut *gate)
        .await
        .unwrap();
    let sale = tokio::spawn(checkout_status(
        app.app.clone(),
        cashier.clone(),
        json!({"items": [line(&a, 1), line(&b, 2)], "payment_method": "cash", "notes": "wait"}),
        Some(uuid::Uuid::new_v4().to_string()),
    ));
    // Wait until the sale is inside its write.
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    sqlx::query("UPDATE products SET price = 1500 WHERE id = $1::uuid")
        .bind(a["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut *gate)
        .await
        .unwrap();
    let (status, body) = sale.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["subtotal"], "5500.00", "the new price: {body}");
    assert_eq!(body["items"][0]["unit_price"], "1500.00");
    // One sale, its lines and ledger once, the stock taken once.
    assert_eq!(count(&app, "sales").await, 1);
    assert_eq!(count(&app, "sale_lines").await, 2);
    assert_eq!(count(&app, "idempotency_keys").await, 1);
    assert_eq!(count(&app, "stock_movements WHERE kind = 'sale'").await, 2);
    assert_eq!(stock_of(&app, a["id"].as_str().unwrap()).await, 4);
    assert_eq!(stock_of(&app, b["id"].as_str().unwrap()).await, 3);
}

/// The write itself refuses a cart priced on a catalog that has changed:
/// SQLSTATE KG409, and nothing of the sale is left.
#[tokio::test]
async fn checkout_write_refuses_a_stale_cart_whole() {
    let app = TestApp::new().await;
    let (cashier_id, manager) = staff(&app, "manager").await;
    let a = stocked(&app, &manager, "1000", 5).await;
    let b = stocked(&app, &manager, "2000", 1).await;
    let ids: Vec<uuid::Uuid> = [&a, &b]
        .iter()
        .map(|p| p["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let (lo, hi) = if ids[0] < ids[1] {
        (ids[0], ids[1])
    } else {
        (ids[1], ids[0])
    };
    // Each case: (price, cost, qty) of both products as the stale cart
    // saw them; the real ones are 1000/0 and 2000/0 with stock 5 and 1.
    let price_of = |id: uuid::Uuid| if id == ids[0] { 1000 } else { 2000 };
    let stock = |id: uuid::Uuid| if id == ids[0] { 5 } else { 1 };
    for (what, bump_price, bump_cost, extra_qty) in [
        ("a price", 1, 0, 0),
        ("a cost", 0, 1, 0),
        ("more than the stock", 0, 0, 1),
    ] {
        let err = sqlx::query(
            "SELECT * FROM checkout_write(gen_random_uuid(), $1, 'Asia/Jakarta', '', '', 'dine_in',
                 'cash', 0, 0, 0, 0, 0, 0, now(), now(), 0, NULL, 'completed', NULL, NULL, NULL,
                 '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
                 ARRAY[$2, $3]::uuid[], ARRAY[$4, $5]::int[], ARRAY[$6, $7]::numeric[],
                 ARRAY[$8, $8]::numeric[], gen_random_uuid(), '\\x00', '{}')",
        )
        .bind(cashier_id)
        .bind(lo)
        .bind(hi)
        .bind(stock(lo))
        .bind(stock(hi) + extra_qty)
        .bind(price_of(lo))
        .bind(price_of(hi) + bump_price)
        .bind(bump_cost)
        .execute(&app.db.pool)
        .await
        .expect_err(what);
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("KG409"), "{what}: {err}");
        for table in [
            "sales",
            "idempotency_keys",
            "stock_movements WHERE kind = 'sale'",
        ] {
            assert_eq!(count(&app, table).await, 0, "{what}: {table}");
        }
        assert_eq!(stock_of(&app, &lo.to_string()).await, stock(lo), "{what}");
        assert_eq!(stock_of(&app, &hi.to_string()).await, stock(hi), "{what}");
    }
}

/// A cart's rows are locked in product id order, whatever order the cart
/// lists them in: two carts sharing products then queue instead of
/// deadlocking. With the higher id held elsewhere, the sale must already
/// hold the lower one while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_takes_the_carts_rows_in_id_order() {
    use sqlx::Connection;
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let mut products = [
        stocked(&app, &manager, "1000", 5).await,
        stocked(&app, &manager, "1000", 5).await,
    ];
    products.sort_by_key(|p| p["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    let (lo, hi) = (products[0].clone(), products[1].clone());
    let id = |p: &Value| p["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap();

    let mut holder = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE")
        .bind(id(&hi))
        .execute(&mut holder)
        .await
        .unwrap();

    // The cart names the higher id first.
    let sale = tokio::spawn(checkout_status(
        app.app.clone(),
        cashier.clone(),
        json!({"items": [line(&hi, 1), line(&lo, 1)], "payment_method": "cash"}),
        Some(uuid::Uuid::new_v4().to_string()),
    ));

    // Wait until the sale is blocked on a row lock (the higher id's).
    let mut waiting = false;
    for _ in 0..400 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'
               AND query LIKE '%checkout_write%'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(waiting, "the sale never waited on the held product");

    // The lower id is already the sale's.
    let mut probe = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let err = sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE NOWAIT")
        .bind(id(&lo))
        .execute(&mut probe)
        .await
        .expect_err("the lower id is locked by the waiting sale");
    let code = err.as_database_error().and_then(|e| e.code());
    assert_eq!(code.as_deref(), Some("55P03"), "{err}");

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let (status, body) = sale.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "the sale goes through: {body}");
    assert_eq!(stock_of(&app, lo["id"].as_str().unwrap()).await, 4);
    assert_eq!(stock_of(&app, hi["id"].as_str().unwrap()).await, 4);
}

/// The rules of products, sales and sale_lines are BEFORE triggers since
/// migration 18 (a CHECK is parsed and planned again by every statement
/// that writes its table). Each must refuse what its CHECK refused, with
/// SQLSTATE 23514 and the same constraint's name, on update and on insert.
#[tokio::test]
async fn the_rules_of_a_sale_still_refuse_what_their_checks_refused() {
    let app = TestApp::new().await;
    let (cashier_id, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", 5).await;
    let sale = sell(
        &app,
        &manager,
        json!({"items": [line(&p, 2)], "payment_method": "cash",
               "paid_amount": "5000"}),
    )
    .await;
    let product: uuid::Uuid = p["id"].as_str().unwrap().parse().unwrap();
    let sale_id: uuid::Uuid = sale["id"].as_str().unwrap().parse().unwrap();
    let line_id: uuid::Uuid = sale["items"][0]["id"].as_str().unwrap().parse().unwrap();

    // `sql` with `binds` as $1, $2, ... must fail on `constraint`; its
    // transaction is rolled back.
    let refused = |sql: String, binds: Vec<uuid::Uuid>, constraint: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for id in binds {
                query = query.bind(id);
            }
            let err = query.execute(&mut *tx).await.expect_err(&sql);
            let db = err.as_database_error().expect(&sql);
            assert_eq!(db.code().as_deref(), Some("23514"), "{sql}: {db}");
            assert_eq!(db.constraint(), Some(constraint), "{sql}: {db}");
            assert!(db.message().contains(constraint), "{sql}: {db}");
        }
    };
    // Each rule broken on a row that keeps every rule tested before it
    // (Postgres tests CHECKs by name; the triggers keep that order).
    // (SET clause, the constraint it breaks)
    type Rules = &'static [(&'static str, &'static str)];
    let rules: [(&str, uuid::Uuid, Rules); 3] = [
        (
            "products",
            product,
            &[
                ("barcode = ''", "products_barcode_check"),
                ("cost = -1", "products_cost_check"),
                (
                    "description = repeat('x', 2001)",
                    "products_description_check",
                ),
                ("image_public_id = ''", "products_image_public_id_check"),
                ("image_url = ''", "products_image_url_check"),
                (
                    "low_stock_threshold = -1",
                    "products_low_stock_threshold_check",
                ),
                ("name = '  '", "products_name_check"),
                ("price = -1", "products_price_check"),
                ("sku = ''", "products_sku_check"),
                ("stock = -1", "products_stock_check"),
            ],
        ),
        (
            "sales",
            sale_id,
            &[
                ("discount = -1", "sales_check"),
                ("paid_amount = total - 1", "sales_check2"),
                ("change_amount = change_amount + 1", "sales_check3"),
                ("refunded_amount = total + 1", "sales_check4"),
                ("preparation = 'completed'", "sales_check5"),
                (
                    "customer_name = repeat('x', 201)",
                    "sales_customer_name_check",
                ),
                ("notes = repeat('x', 1001)", "sales_notes_check"),
                ("order_type = 'x'", "sales_order_type_check"),
                ("payment_method = 'x'", "sales_payment_method_check"),
                (
                    "status = 'pending', pending_until = now(), settled_at = now()",
                    "sales_pending_unsettled",
                ),
                ("status = 'pending'", "sales_pending_window"),
                ("preparation = 'x'", "sales_preparation_check"),
                ("settled_at = now()", "sales_settled"),
                ("status = 'x'", "sales_status_check"),
                ("takeaway_charge = -1", "sales_takeaway_charge_check"),
                ("tax = -1", "sales_tax_check"),
                ("subtotal = subtotal + 1", "sales_total_check"),
                (
                    "status = 'cancelled', refunded_amount = 1",
                    "sales_unpaid_never_refunded",
                ),
            ],
        ),
        (
            "sale_lines",
            line_id,
            &[
                ("line_total = line_total + 1", "sale_lines_check"),
                ("refunded_quantity = quantity + 1", "sale_lines_check1"),
                ("line_no = 0", "sale_lines_line_no_check"),
                ("note = repeat('x', 201)", "sale_lines_note_check"),
                ("quantity = 0, line_total = 0", "sale_lines_quantity_check"),
                ("unit_cost = -1", "sale_lines_unit_cost_check"),
                (
                    "unit_price = -1, line_total = -quantity",
                    "sale_lines_unit_price_check",
                ),
            ],
        ),
    ];
    for (table, id, rules) in rules {
        for (set, constraint) in rules {
            refused(
                format!("UPDATE {table} SET {set} WHERE id = $1"),
                vec![id],
                constraint,
            )
            .await;
        }
    }
    // Rows that keep the rules still pass.
    sqlx::query(
        "UPDATE products SET price = 0, cost = 0, name = 'Teh', stock = stock - 1 WHERE id = $1",
    )
    .bind(product)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE sales SET notes = 'ok', customer_name = 'Budi' WHERE id = $1")
        .bind(sale_id)
        .execute(&app.db.pool)
        .await
        .unwrap();

    // Inserts: a new product, and a sale and its line as checkout writes
    // them (no stock taken: the cart's product list is empty).
    refused(
        "INSERT INTO products (sku, name, price, cost, stock) VALUES (md5($1::text), 'x', -1, 0, 0)"
            .into(),
        vec![product],
        "products_price_check",
    )
    .await;
    let write = "SELECT * FROM checkout_write(gen_random_uuid(), $1, 'Asia/Jakarta', '', '',
                 'dine_in', 'cash', 100, 0, 0, {total}, 100, {change}, now(), now(), 0, NULL,
                 'completed', NULL, NULL, NULL,
                 ARRAY[gen_random_uuid()], ARRAY[$2]::uuid[], ARRAY['Teh'], ARRAY[NULL]::text[],
                 ARRAY[100]::numeric[], ARRAY[0]::numeric[], ARRAY[1], ARRAY[{line}]::numeric[],
                 ARRAY[''], '{}', '{}', '{}', '{}', NULL, NULL, NULL)";
    for (total, change, line, constraint) in [
        ("99", "1", "100", "sales_total_check"),
        ("100", "0", "101", "sale_lines_check"),
    ] {
        let sql = write
            .replace("{total}", total)
            .replace("{change}", change)
            .replace("{line}", line);
        refused(sql, vec![cashier_id, product], constraint).await;
    }
    assert_eq!(
        count(&app, "sales").await,
        1,
        "the refused inserts left nothing"
    );
}
