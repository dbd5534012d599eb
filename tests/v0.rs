//! `/api/v0`, checked the way the KasirGo app's Dart code reads it: the
//! `{message, data}` envelope, JSON integer ids, money as strings out and
//! doubles in, whole sales as history rows, errors with `message`.

mod common;

use axum::http::{Method, StatusCode, header};
use common::shop::{staff, stock_of, stocked};
use common::{Reply, TestApp};
use serde_json::{Value, json};

/// Asserts a 2xx in the app's envelope and returns `data`.
fn data(r: &Reply, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "the app decodes JSON only"
    );
    assert!(r.body["message"].is_string(), "message: {}", r.text);
    assert!(r.body.get("data").is_some(), "data: {}", r.text);
    r.body["data"].clone()
}

/// Asserts an error the app can show: `message` (and `detail`) strings.
fn app_error(r: &Reply, status: StatusCode) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.body["detail"].is_string(), "{}", r.text);
    r.body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("message: {}", r.text))
        .to_string()
}

/// A product with the app's integer id, made through v1.
async fn product(
    app: &TestApp,
    manager: &str,
    price: &str,
    stock: i32,
    prep: bool,
) -> (i64, Value) {
    let p = stocked(app, manager, price, stock).await;
    sqlx::query("UPDATE products SET needs_preparation = $2 WHERE id = $1::uuid")
        .bind(p["id"].as_str().unwrap())
        .bind(prep)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let int_id: i64 = sqlx::query_scalar("SELECT int_id FROM products WHERE id = $1::uuid")
        .bind(p["id"].as_str().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    (int_id, p)
}

/// The checkout screen's body for a cash sale, doubles and all, with the
/// total computed as the app computes it (in floating point).
fn cash_sale(lines: &[(i64, f64, i64)], tax_percent: i64, takeaway: f64, paid: f64) -> Value {
    let subtotal: f64 = lines.iter().map(|(_, price, q)| price * *q as f64).sum();
    let total = subtotal + subtotal * (tax_percent as f64 / 100.0) + takeaway;
    json!({
        "customer_name": "Budi",
        "order_type": if takeaway > 0.0 { "take_away" } else { "dine_in" },
        "payment_method": "cash",
        "payment_method_code": null,
        "status": "completed",
        "paid_amount": paid,
        "subtotal": subtotal,
        "total": total,
        "change_amount": paid - total,
        "tax_percentage": tax_percent,
        "discount": 0,
        "takeaway_charge": takeaway,
        "notes": "meja 4",
        "items": lines.iter().map(|(id, price, q)| json!({
            "product": id, "product_name": "x", "quantity": q, "price": price,
            "subtotal": price * *q as f64, "notes": ""
        })).collect::<Vec<_>>(),
    })
}

async fn sell(app: &TestApp, token: &str, body: Value) -> Value {
    data(
        &app.post("/api/v0/transaction/create/", body, Some(token))
            .await,
        StatusCode::CREATED,
    )
}

async fn history(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v0/transaction/?{query}"), Some(token))
        .await;
    data(&r, StatusCode::OK).as_array().unwrap().clone()
}

#[tokio::test]
async fn login_refresh_and_firebase_answer_as_the_app_reads_them() {
    let app = TestApp::new().await;
    let id = common::users::create_user(&app, "kasir", "cashier").await;
    let r = app
        .post(
            "/api/v0/auth/login/",
            json!({"username": "kasir", "password": common::users::PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.body["access"].as_str().unwrap().to_string();
    let refresh = r.body["refresh"].as_str().unwrap().to_string();
    // The app reads user_id (a string) and exp (an int) from the payload.
    let payload = access.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["user_id"], id.to_string());
    assert!(payload["exp"].is_i64());

    // The exact text the app turns into "Username or password is wrong".
    let r = app
        .post(
            "/api/v0/auth/login/",
            json!({"username": "kasir", "password": "wrong-password"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["detail"],
        "No active account found with the given credentials"
    );

    let r = app
        .post("/api/v0/auth/refresh/", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["access"].is_string());

    // Firebase: a prompt JSON 501 the app logs and moves past.
    let r = app
        .call(
            Method::POST,
            "/api/v0/auth/firebase-token/",
            None,
            Some(&access),
        )
        .await;
    assert!(!app_error(&r, StatusCode::NOT_IMPLEMENTED).is_empty());
}

#[tokio::test]
async fn a_cash_sale_from_the_checkout_screen_is_recorded_exactly() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (kopi, kopi_v1) = product(&app, &manager, "18000.00", 10, true).await;
    let (roti, roti_v1) = product(&app, &manager, "7500.00", 5, false).await;

    // 2 kopi + 1 roti = 43500; tax 10% = 4350; take-away 2000: 49850.
    let s = sell(
        &app,
        &cashier,
        cash_sale(
            &[(kopi, 18000.0, 2), (roti, 7500.0, 1)],
            10,
            2000.0,
            50000.0,
        ),
    )
    .await;
    assert!(s["id"].is_i64(), "the app casts ids to int: {s}");
    assert!(
        s["transaction_number"]
            .as_str()
            .unwrap()
            .starts_with("TRX-")
    );
    assert_eq!(s["total"], "49850.00", "money out is a string");
    assert_eq!(s["subtotal"], "43500.00");
    assert_eq!(s["tax"], "4350.00", "the app's tax_percentage is honoured");
    assert_eq!(s["takeaway_charge"], "2000.00");
    assert_eq!(s["paid_amount"], "50000.00");
    assert_eq!(s["change_amount"], "150.00");
    assert_eq!(s["status"], "processing", "the kopi goes to the kitchen");
    assert_eq!(s["customer_name"], "Budi");
    assert_eq!(s["items"][0]["quantity"], 2);
    assert_eq!(s["items"][0]["price"], "18000.00");
    assert!(
        chrono::DateTime::parse_from_rfc3339(s["created_at"].as_str().unwrap()).is_ok(),
        "DateTime.parse needs a zone"
    );
    assert!(s["created_at"].as_str().unwrap().ends_with("+07:00"));
    assert_eq!(stock_of(&app, kopi_v1["id"].as_str().unwrap()).await, 8);
    assert_eq!(stock_of(&app, roti_v1["id"].as_str().unwrap()).await, 4);

    // A cash sale never carries a `payment` key (null would crash the app).
    let r = app
        .post(
            "/api/v0/transaction/create/",
            cash_sale(&[(roti, 7500.0, 1)], 11, 0.0, 10000.0),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.body.get("payment").is_none());
    assert_eq!(r.body["data"]["status"], "completed", "nothing to prepare");
    // 7500 * 1.11 = 8325, float noise and all.
    assert_eq!(r.body["data"]["total"], "8325.00");
}

#[tokio::test]
async fn a_refused_checkout_writes_nothing_and_says_why() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (kopi, kopi_v1) = product(&app, &manager, "18000.00", 3, false).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sales")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
    };

    // Short stock.
    let r = app
        .post(
            "/api/v0/transaction/create/",
            cash_sale(&[(kopi, 18000.0, 4)], 11, 0.0, 100000.0),
            Some(&cashier),
        )
        .await;
    assert!(!app_error(&r, StatusCode::CONFLICT).is_empty());
    // A stale price: the app shows 15000, the catalog says 18000.
    let r = app
        .post(
            "/api/v0/transaction/create/",
            cash_sale(&[(kopi, 15000.0, 1)], 11, 0.0, 20000.0),
            Some(&cashier),
        )
        .await;
    assert!(app_error(&r, StatusCode::BAD_REQUEST).contains("does not match"));
    // QRIS needs a provider: refused, not a paid-looking sale.
    let mut qris = cash_sale(&[(kopi, 18000.0, 1)], 11, 0.0, 19980.0);
    qris["payment_method"] = json!("qris");
    qris["payment_method_code"] = json!("SP");
    qris["status"] = json!("pending");
    let r = app
        .post("/api/v0/transaction/create/", qris, Some(&cashier))
        .await;
    assert!(app_error(&r, StatusCode::BAD_REQUEST).contains("not available"));
    // Unknown product, bad tax, too little cash, a dine-in take-away charge.
    for (body, field) in [
        (cash_sale(&[(999_999, 1.0, 1)], 11, 0.0, 5.0), "product"),
        (
            cash_sale(&[(kopi, 18000.0, 1)], 101, 0.0, 50000.0),
            "tax_percentage",
        ),
        (
            cash_sale(&[(kopi, 18000.0, 1)], 11, 0.0, 100.0),
            "paid_amount",
        ),
        (
            {
                let mut b = cash_sale(&[(kopi, 18000.0, 1)], 11, 2000.0, 50000.0);
                b["order_type"] = json!("dine_in");
                b
            },
            "takeaway_charge",
        ),
        (
            // A choice is one of the names exactly, as Django's was.
            {
                let mut b = cash_sale(&[(kopi, 18000.0, 1)], 11, 0.0, 50000.0);
                b["order_type"] = json!(" dine_in");
                b
            },
            "order_type",
        ),
        (
            {
                let mut b = cash_sale(&[(kopi, 18000.0, 1)], 11, 0.0, 50000.0);
                b["payment_method"] = json!("cash ");
                b
            },
            "payment_method",
        ),
    ] {
        let r = app
            .post("/api/v0/transaction/create/", body, Some(&cashier))
            .await;
        assert!(
            app_error(&r, StatusCode::BAD_REQUEST).contains(field),
            "{}",
            r.text
        );
    }
    assert_eq!(count().await, 0, "nothing was written");
    assert_eq!(stock_of(&app, kopi_v1["id"].as_str().unwrap()).await, 3);

    // Without a token: 401 (the app refreshes), JSON with a message.
    let r = app
        .get("/api/v0/transaction/?page=1&page_size=10", None)
        .await;
    app_error(&r, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn history_pages_search_and_the_kitchen_queue() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, kitchen) = staff(&app, "cashier").await;
    let (kopi, _) = product(&app, &manager, "10000.00", 100, true).await;
    let (roti, _) = product(&app, &manager, "5000.00", 100, false).await;
    let mut numbers = Vec::new();
    for i in 0..12 {
        let mut body = cash_sale(
            &[(
                if i % 3 == 0 { kopi } else { roti },
                if i % 3 == 0 { 10000.0 } else { 5000.0 },
                1,
            )],
            11,
            0.0,
            20000.0,
        );
        body["customer_name"] = json!(format!("Pelanggan {i}"));
        numbers.push(sell(&app, &cashier, body).await["transaction_number"].clone());
    }
    numbers.reverse(); // newest first

    let p1 = history(&app, &cashier, "page=1&page_size=5").await;
    let p3 = history(&app, &cashier, "page=3&page_size=5").await;
    let p4 = history(&app, &cashier, "page=4&page_size=5").await;
    assert_eq!(p1.len(), 5);
    assert_eq!(p3.len(), 2);
    assert!(
        p4.is_empty(),
        "a page past the end is an empty list, not an error"
    );
    let seen: Vec<Value> = [
        p1.clone(),
        history(&app, &cashier, "page=2&page_size=5").await,
        p3,
    ]
    .concat()
    .iter()
    .map(|s| s["transaction_number"].clone())
    .collect();
    assert_eq!(seen, numbers, "every sale once, newest first");
    // A row is the whole sale, typed as the detail panel reads it.
    let row = &p1[0];
    assert!(row["id"].is_i64());
    assert!(row["total"].is_string());
    assert!(row["items"][0]["product_name"].is_string());
    assert!(row["cashier_name"].is_string());

    let found = history(&app, &cashier, "page=1&page_size=10&search=pelanggan+1").await;
    let names: Vec<&str> = found
        .iter()
        .map(|s| s["customer_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pelanggan 11", "Pelanggan 10", "Pelanggan 1"]);

    // The kitchen (another cashier's account) sees every sale to prepare.
    let queue = history(&app, &kitchen, "page=1&page_size=50&status=processing").await;
    assert_eq!(queue.len(), 4, "sales 0, 3, 6, 9 have a kopi");
    assert!(queue.iter().all(|s| s["status"] == "processing"));
    assert!(
        history(&app, &kitchen, "page=1&page_size=10")
            .await
            .is_empty(),
        "but only their own history"
    );
    assert!(
        history(&app, &cashier, "page=1&page_size=10&status=pending")
            .await
            .is_empty()
    );
    assert_eq!(
        history(&app, &cashier, "page=1&page_size=50&status=completed")
            .await
            .len(),
        8
    );

    // The kitchen marks one ready: the whole updated sale comes back.
    let id = queue[0]["id"].as_i64().unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v0/transaction/{id}/"),
            Some(json!({"status": "completed"})),
            Some(&kitchen),
        )
        .await;
    let sale = data(&r, StatusCode::OK);
    assert_eq!(sale["status"], "completed");
    assert!(
        sale["items"].is_array() && sale["total"].is_string(),
        "the whole row"
    );
    assert_eq!(
        history(&app, &kitchen, "page=1&page_size=50&status=processing")
            .await
            .len(),
        3
    );
    // Twice is fine (two kitchen screens).
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v0/transaction/{id}/"),
            Some(json!({"status": "completed"})),
            Some(&kitchen),
        )
        .await;
    data(&r, StatusCode::OK);

    // Edit Info: the owner of the sale may; another cashier may not rename it.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v0/transaction/{id}/"),
            Some(json!({"customer_name": "", "notes": "tanpa gula "})),
            Some(&cashier),
        )
        .await;
    let sale = data(&r, StatusCode::OK);
    assert_eq!(sale["customer_name"], "");
    assert_eq!(sale["notes"], "tanpa gula");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v0/transaction/{id}/"),
            Some(json!({"notes": "x"})),
            Some(&kitchen),
        )
        .await;
    app_error(&r, StatusCode::NOT_FOUND);
    for bad in [
        json!({"status": "cancelled"}),
        json!({"status": "pending"}),
        json!({"status": "completed "}),
        json!({"total": 1}),
    ] {
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v0/transaction/{id}/"),
                Some(bad),
                Some(&cashier),
            )
            .await;
        app_error(&r, StatusCode::BAD_REQUEST);
    }
    for bad in [
        "page=0",
        "page_size=500",
        "status=lost",
        "page=5000&page_size=100",
    ] {
        let r = app
            .get(&format!("/api/v0/transaction/?{bad}"), Some(&cashier))
            .await;
        app_error(&r, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn deleting_a_sale_voids_it_with_restock_and_keeps_it_in_the_books() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (kopi, kopi_v1) = product(&app, &manager, "10000.00", 10, false).await;
    let s = sell(
        &app,
        &cashier,
        cash_sale(&[(kopi, 10000.0, 3)], 11, 0.0, 50000.0),
    )
    .await;
    let id = s["id"].as_i64().unwrap();
    assert_eq!(stock_of(&app, kopi_v1["id"].as_str().unwrap()).await, 7);

    // A cashier cannot void (403, not 401: the app would log out).
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/transaction/{id}/"),
            None,
            Some(&cashier),
        )
        .await;
    app_error(&r, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/transaction/{id}/"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(data(&r, StatusCode::OK)["status"], "cancelled");
    assert_eq!(stock_of(&app, kopi_v1["id"].as_str().unwrap()).await, 10);
    let row = &history(&app, &cashier, "page=1&page_size=10").await[0];
    assert_eq!(row["status"], "cancelled");
    // Kept in the ledger: the sale, its refund, the restock.
    let (refunded, moves): (String, i64) = sqlx::query_as(
        "SELECT s.refunded_amount::text, (SELECT count(*) FROM stock_movements m WHERE m.sale_id = s.id)
         FROM sales s WHERE s.int_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(refunded, "33300.00");
    assert_eq!(moves, 2);
    // Voided twice: a clear refusal; cancel (unpaid only) likewise.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/transaction/{id}/"),
            None,
            Some(&manager),
        )
        .await;
    app_error(&r, StatusCode::CONFLICT);
    let r = app
        .call(
            Method::POST,
            &format!("/api/v0/transaction/{id}/cancel/"),
            None,
            Some(&manager),
        )
        .await;
    assert!(app_error(&r, StatusCode::BAD_REQUEST).contains("unpaid"));
    let r = app
        .call(
            Method::DELETE,
            "/api/v0/transaction/999999/",
            None,
            Some(&manager),
        )
        .await;
    app_error(&r, StatusCode::NOT_FOUND);
    let r = app
        .call(
            Method::DELETE,
            "/api/v0/transaction/abc/",
            None,
            Some(&manager),
        )
        .await;
    app_error(&r, StatusCode::NOT_FOUND);
}

const BOUNDARY: &str = "--dio-boundary-0123456789";

/// The product form as Dio writes it: text parts with no part type, and
/// the picker's file as `image` typed from its file name.
fn product_form(fields: &[(&str, &str)], image: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((filename, bytes)) = image {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\ncontent-type: image/jpeg\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn send_form(app: &TestApp, method: Method, path: &str, token: &str, body: Vec<u8>) -> Reply {
    app.send(
        axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

fn kopi_fields<'a>(category: &'a str, stock: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Kopi Susu "),
        ("description", ""),
        ("price", "18000.0"),
        ("cost", "6000.0"),
        ("stock", stock),
        ("sku", "KS-01"),
        ("category", category),
        ("needs_preparation", "true"),
        ("is_available", "true"),
    ]
}

#[tokio::test]
async fn the_catalog_round_trips_through_the_app_s_forms() {
    let fake = common::fake_cloudinary::FakeCloudinary::start().await;
    let app = TestApp::with_config(&[
        ("CLOUDINARY_URL", fake.cloudinary_url.as_str()),
        ("CLOUDINARY_API_BASE", fake.base_url.as_str()),
    ])
    .await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;

    // Categories: create, list (ints), rename, delete.
    let r = app
        .post(
            "/api/v0/category/create/",
            json!({"name": "Minuman", "description": ""}),
            Some(&manager),
        )
        .await;
    let cat = data(&r, StatusCode::CREATED);
    let cat_id = cat["id"].as_i64().expect("an int id");
    let r = app.get("/api/v0/categories/", Some(&cashier)).await;
    let list = data(&r, StatusCode::OK);
    assert_eq!(list[0]["id"], cat_id);
    assert_eq!(list[0]["name"], "Minuman");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v0/category/{cat_id}/"),
            Some(json!({"name": "Drinks", "description": "cold"})),
            Some(&manager),
        )
        .await;
    assert_eq!(data(&r, StatusCode::OK)["description"], "cold");
    let r = app
        .post(
            "/api/v0/category/create/",
            json!({"name": "drinks", "description": ""}),
            Some(&manager),
        )
        .await;
    assert!(
        !app_error(&r, StatusCode::CONFLICT).is_empty(),
        "a duplicate name is a 4xx with message"
    );
    let r = app
        .post(
            "/api/v0/category/create/",
            json!({"name": "x", "description": ""}),
            Some(&cashier),
        )
        .await;
    app_error(&r, StatusCode::FORBIDDEN);

    // A product from the create form, with a photo judged by its bytes.
    let cat_text = cat_id.to_string();
    let r = send_form(
        &app,
        Method::POST,
        "/api/v0/product/create/",
        &manager,
        product_form(
            &kopi_fields(&cat_text, "12"),
            Some(("IMG_0001.jpg", &common::fake_cloudinary::PNG_3X2)),
        ),
    )
    .await;
    data(&r, StatusCode::CREATED);
    assert_eq!(fake.uploads().len(), 1);
    let r = app.get("/api/v0/products/", Some(&cashier)).await;
    let products = data(&r, StatusCode::OK);
    let p = &products[0];
    assert!(p["id"].is_i64());
    assert_eq!(p["name"], "Kopi Susu");
    assert_eq!(p["price"], "18000.00", "price is a string (double.parse)");
    assert_eq!(p["cost"], "6000.00");
    assert_eq!(p["stock"], 12);
    assert_eq!(p["sku"], "KS-01");
    assert_eq!(p["category"], cat_id, "the category's int id");
    assert_eq!(p["is_available"], true);
    assert_eq!(p["needs_preparation"], true);
    assert!(p["image"].as_str().unwrap().starts_with("http"), "{p}");
    let id = p["id"].as_i64().unwrap();
    let uuid: String = sqlx::query_scalar("SELECT id::text FROM products WHERE int_id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();

    // The edit form: every field again; a changed stock is a count in the
    // ledger; no image part keeps the photo.
    let r = send_form(
        &app,
        Method::PATCH,
        &format!("/api/v0/product/{id}/"),
        &manager,
        product_form(&kopi_fields("", "9"), None),
    )
    .await;
    let edited = data(&r, StatusCode::OK);
    assert_eq!(edited["stock"], 9);
    assert_eq!(edited["category"], Value::Null);
    assert_eq!(edited["image"], p["image"]);
    let ledger: Vec<(String, i32, i32)> = sqlx::query_as(
        "SELECT kind, delta, stock_after FROM stock_movements WHERE product_id = $1::uuid ORDER BY id",
    )
    .bind(&uuid)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        [("opening".into(), 12, 12), ("count".into(), -3, 9)]
    );
    // The same stock again writes no row.
    let r = send_form(
        &app,
        Method::PATCH,
        &format!("/api/v0/product/{id}/"),
        &manager,
        product_form(&kopi_fields("", "9"), None),
    )
    .await;
    data(&r, StatusCode::OK);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stock_movements WHERE product_id = $1::uuid")
            .bind(&uuid)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, 2);

    // Out of stock shows as unavailable.
    let r = send_form(
        &app,
        Method::PATCH,
        &format!("/api/v0/product/{id}/"),
        &manager,
        product_form(&kopi_fields("", "0"), None),
    )
    .await;
    assert_eq!(data(&r, StatusCode::OK)["is_available"], false);

    // Bad forms: each a 4xx with a message, nothing written.
    for (fields, status) in [
        (
            vec![("name", "A"), ("price", "abc")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", "A"), ("price", "-5")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", ""), ("price", "100")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", "A"), ("price", "100"), ("stock", "lots")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", "A"), ("price", "100"), ("category", "424242")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", "A"), ("price", "100"), ("is_available", "maybe")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("name", "B"), ("price", "100"), ("sku", "ks-01")],
            StatusCode::CONFLICT,
        ),
    ] {
        let r = send_form(
            &app,
            Method::POST,
            "/api/v0/product/create/",
            &manager,
            product_form(&fields, None),
        )
        .await;
        app_error(&r, status);
    }
    let r = send_form(
        &app,
        Method::POST,
        "/api/v0/product/create/",
        &manager,
        product_form(
            &[("name", "A"), ("price", "1")],
            Some(("x.jpg", b"not an image")),
        ),
    )
    .await;
    app_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app
        .post(
            "/api/v0/product/create/",
            json!({"name": "A", "price": 1}),
            Some(&manager),
        )
        .await;
    app_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = send_form(
        &app,
        Method::POST,
        "/api/v0/product/create/",
        &cashier,
        product_form(&[("name", "A"), ("price", "1")], None),
    )
    .await;
    app_error(&r, StatusCode::FORBIDDEN);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(live, 1);

    // Deleting: it leaves the list; the category's products are kept.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/category/{cat_id}/"),
            None,
            Some(&manager),
        )
        .await;
    data(&r, StatusCode::OK);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/product/{id}/"),
            None,
            Some(&manager),
        )
        .await;
    data(&r, StatusCode::OK);
    let r = app.get("/api/v0/products/", Some(&cashier)).await;
    assert_eq!(data(&r, StatusCode::OK), json!([]));
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v0/product/{id}/"),
            None,
            Some(&manager),
        )
        .await;
    app_error(&r, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_role_sees_and_edits_its_own_profile_and_password() {
    let app = TestApp::new().await;
    let id = common::users::create_user(&app, "siti", "cashier").await;
    let tokens = common::users::login(&app, "siti", common::users::PASSWORD).await;
    let access = tokens["access"].as_str().unwrap().to_string();
    let refresh = tokens["refresh"].as_str().unwrap().to_string();
    let path = format!("/api/v0/user/{id}/");

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(
                json!({"username": "siti", "first_name": "Siti", "last_name": "Rahma Dewi",
                        "email": "siti@example.com", "phone": ""}),
            ),
            Some(&access),
        )
        .await;
    assert_eq!(data(&r, StatusCode::OK)["first_name"], "Siti");
    let r = app.get(&path, Some(&access)).await;
    let p = data(&r, StatusCode::OK);
    assert_eq!(p["username"], "siti");
    assert_eq!(p["first_name"], "Siti");
    assert_eq!(p["last_name"], "Rahma Dewi");
    assert_eq!(p["email"], "siti@example.com");
    assert_eq!(p["phone"], "");
    assert_eq!(p["role"], "cashier");
    assert_eq!(
        p["cafe_id"],
        Value::Null,
        "an int or null; null keeps Firebase quiet"
    );

    // Someone else's profile: 403, never 401 (the app would refresh).
    let (other, _) = staff(&app, "cashier").await;
    let r = app
        .get(&format!("/api/v0/user/{other}/"), Some(&access))
        .await;
    app_error(&r, StatusCode::FORBIDDEN);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"email": "no-at-sign"})),
            Some(&access),
        )
        .await;
    app_error(&r, StatusCode::BAD_REQUEST);

    // A wrong old password is a 400 with a message, not a 401.
    let pw = format!("/api/v0/user/{id}/change-password/");
    let r = app
        .post(
            &pw,
            json!({"old_password": "nope-nope", "new_password": "new-password-1"}),
            Some(&access),
        )
        .await;
    assert!(!app_error(&r, StatusCode::BAD_REQUEST).is_empty());
    let r = app
        .post(
            &pw,
            json!({"old_password": common::users::PASSWORD, "new_password": "short"}),
            Some(&access),
        )
        .await;
    app_error(&r, StatusCode::BAD_REQUEST);
    let r = app
        .post(
            &pw,
            json!({"old_password": common::users::PASSWORD, "new_password": "new-password-1"}),
            Some(&access),
        )
        .await;
    data(&r, StatusCode::OK);
    // The session carries on.
    let r = app
        .post("/api/v0/auth/refresh/", json!({"refresh": refresh}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    common::users::login(&app, "siti", "new-password-1").await;
}

#[tokio::test]
async fn two_clients_refreshing_one_token_at_once_both_stay_logged_in() {
    let app = TestApp::new().await;
    common::users::create_user(&app, "kasir2", "cashier").await;
    let tokens = common::users::login(&app, "kasir2", common::users::PASSWORD).await;
    let refresh = tokens["refresh"].as_str().unwrap().to_string();
    let (a, b) = tokio::join!(
        app.post("/api/v0/auth/refresh/", json!({"refresh": refresh}), None),
        app.post("/api/v0/auth/refresh/", json!({"refresh": refresh}), None),
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(a.body["refresh"], b.body["refresh"], "the same new pair");
    assert_eq!(a.body["access"], b.body["access"]);
    let access = a.body["access"].as_str().unwrap();
    let r = app.get("/api/v0/categories/", Some(access)).await;
    data(&r, StatusCode::OK);
}

/// What the Dart code needs of a JSON value, field by field.
fn is(v: &Value, kind: &str, what: &str) {
    let ok = match kind {
        "int" => v.is_i64(),
        "str" => v.is_string(),
        "num-str" => v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        "bool" => v.is_boolean(),
        "list" => v.is_array(),
        "obj" => v.is_object(),
        "str?" => v.is_string() || v.is_null(),
        "int?" => v.is_i64() || v.is_null(),
        _ => unreachable!(),
    };
    assert!(ok, "{what} must be {kind}, is {v}");
}

/// The app's calls, in the order a shift makes them, sent as Dio and
/// package:http send them (trailing slashes, `Content-Type:
/// application/json` on every Dio call, doubles, multipart, int ids) to the
/// real `v0` function binary.
#[tokio::test]
async fn the_app_s_calls_replayed_against_the_real_function_binary() {
    let db = common::TestDb::new().await;
    let f = common::Function::start(
        env!("CARGO_BIN_EXE_v0"),
        &[
            ("DATABASE_URL", &db.url),
            ("JWT_SECRET", common::JWT_SECRET),
        ],
    );
    kasirgo::users::create_checked(&db.pool, "pemilik", "rahasia-123", "owner")
        .await
        .unwrap();
    let http = common::http_client();
    let url = |p: &str| format!("{}/api/v0{p}", f.base);
    let json_of = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(ct.starts_with("application/json"), "{ct}");
        (status, r.json::<Value>().await.unwrap())
    };

    // package:http: login, then firebase-token (no body), then the profile.
    let (status, login) = json_of(
        http.post(url("/auth/login/"))
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(r#"{"username":"pemilik","password":"rahasia-123"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    is(&login["access"], "str", "access");
    is(&login["refresh"], "str", "refresh");
    let access = login["access"].as_str().unwrap().to_string();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            access.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    is(&claims["user_id"], "str", "user_id");
    is(&claims["exp"], "int", "exp");
    let (status, _) = json_of(
        http.post(url("/auth/firebase-token/"))
            .header(header::CONTENT_TYPE, "application/json")
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(status >= 400, "firebase-token answers promptly and not 2xx");

    let dio = |method: reqwest::Method, path: &str| {
        http.request(method, url(path))
            .bearer_auth(&access)
            .header(header::CONTENT_TYPE, "application/json")
    };
    let user_id = claims["user_id"].as_str().unwrap();
    let (status, profile) = json_of(
        dio(reqwest::Method::GET, &format!("/user/{user_id}/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    for field in [
        "username",
        "first_name",
        "last_name",
        "email",
        "phone",
        "role",
    ] {
        is(&profile["data"][field], "str?", field);
    }
    is(&profile["data"]["cafe_id"], "int?", "cafe_id");

    // Catalog: a category, then a product from the multipart form.
    let (status, _) = json_of(
        dio(reqwest::Method::POST, "/category/create/")
            .body(r#"{"name":"Makanan","description":""}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let (_, cats) = json_of(
        dio(reqwest::Method::GET, "/categories/")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let cat = &cats["data"][0];
    is(&cat["id"], "int", "category id");
    is(&cat["name"], "str", "category name");
    is(&cat["description"], "str?", "category description");
    let form = reqwest::multipart::Form::new()
        .text("name", "Nasi Goreng")
        .text("description", "")
        .text("price", "25000.0")
        .text("cost", "9000.0")
        .text("stock", "20")
        .text("sku", "NG-1")
        .text("category", cat["id"].to_string())
        .text("needs_preparation", "true")
        .text("is_available", "true");
    let r = http
        .post(url("/product/create/"))
        .bearer_auth(&access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (_, products) = json_of(
        dio(reqwest::Method::GET, "/products/")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let p = &products["data"][0];
    is(&p["id"], "int", "product id");
    is(&p["name"], "str", "product name");
    is(&p["price"], "num-str", "product price");
    is(&p["stock"], "int", "stock");
    is(&p["sku"], "str?", "sku");
    is(&p["category"], "int?", "category");
    is(&p["is_available"], "bool", "is_available");
    is(&p["needs_preparation"], "bool", "needs_preparation");
    is(&p["image"], "str?", "image");
    let product_id = p["id"].as_i64().unwrap();

    // Checkout, with the app's doubles (25000 * 2 * 1.11 = 55500.00000000001).
    let subtotal = 25000.0_f64 * 2.0;
    let total = subtotal + subtotal * (11.0 / 100.0);
    let body = json!({
        "customer_name": "Guest", "order_type": "dine_in", "payment_method": "cash",
        "payment_method_code": null, "status": "processing", "paid_amount": 60000.0,
        "subtotal": subtotal, "tax_percentage": 11, "discount": 0, "total": total,
        "change_amount": 60000.0 - total, "notes": "", "takeaway_charge": 0.0,
        "items": [{"product": product_id, "product_name": "Nasi Goreng", "quantity": 2,
                   "price": 25000.0, "subtotal": 50000.0, "notes": "pedas"}],
    });
    let (status, sale) = json_of(
        dio(reqwest::Method::POST, "/transaction/create/")
            .body(body.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{sale}");
    assert!(sale.get("payment").is_none());
    is(
        &sale["data"]["transaction_number"],
        "str",
        "transaction_number",
    );

    // History and kitchen, with the app's query order.
    for query in [
        "?page=1&page_size=10",
        "?page=1&page_size=50&status=processing",
    ] {
        let (status, page) = json_of(
            dio(reqwest::Method::GET, &format!("/transaction/{query}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        let row = &page["data"][0];
        is(&row["id"], "int", "sale id");
        is(&row["total"], "num-str", "total");
        is(&row["created_at"], "str", "created_at");
        for field in [
            "customer_name",
            "notes",
            "cashier_name",
            "order_type",
            "payment_method",
            "transaction_number",
            "status",
        ] {
            is(&row[field], "str?", field);
        }
        for field in [
            "subtotal",
            "tax",
            "discount",
            "takeaway_charge",
            "paid_amount",
            "change_amount",
        ] {
            is(&row[field], "num-str", field);
        }
        is(&row["items"], "list", "items");
        is(&row["items"][0]["product_name"], "str", "item product_name");
        is(&row["items"][0]["quantity"], "int", "item quantity");
        is(&row["items"][0]["notes"], "str?", "item notes");
        assert_eq!(row["status"], "processing");
    }
    let (_, past) = json_of(
        dio(reqwest::Method::GET, "/transaction/?page=2&page_size=10")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(past["data"], json!([]));
    let sale_id = sale["data"]["id"].as_i64().unwrap();
    let (status, ready) = json_of(
        dio(reqwest::Method::PATCH, &format!("/transaction/{sale_id}/"))
            .body(r#"{"status":"completed"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ready["data"]["status"], "completed");
    is(&ready["data"]["total"], "num-str", "the whole row");
    let (status, _) = json_of(
        dio(reqwest::Method::DELETE, &format!("/transaction/{sale_id}/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = json_of(
        dio(reqwest::Method::GET, "/transaction/?page=1&page_size=10")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after["data"][0]["status"], "cancelled");
    let (_, products) = json_of(
        dio(reqwest::Method::GET, "/products/")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(products["data"][0]["stock"], 20, "the void restocked");

    // Refresh, twice at once, as two Dio clients do.
    let refresh = login["refresh"].as_str().unwrap();
    let send = || {
        http.post(url("/auth/refresh/"))
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(json!({"refresh": refresh}).to_string())
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    assert_eq!(
        (a.unwrap().status().as_u16(), b.unwrap().status().as_u16()),
        (200, 200)
    );
}

#[tokio::test]
async fn malformed_bodies_and_wrong_types_get_a_message_and_write_nothing() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let send = |body: &'static str| {
        app.send(
            axum::http::Request::post("/api/v0/transaction/create/")
                .header(header::AUTHORIZATION, format!("Bearer {manager}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
    };
    for body in [
        "{",
        "[]",
        r#"{"payment_method": "cash", "total": "lots", "items": []}"#,
        r#"{"payment_method": "cash", "total": 1.0, "items": "kopi"}"#,
        r#"{"payment_method": "cash", "total": 1.0, "items": [{"product": "7", "quantity": 1}]}"#,
        r#"{"payment_method": "cash", "total": 1.0, "items": [{"product": 7, "quantity": 1.5}]}"#,
        r#"{"payment_method": 3, "total": 1.0, "items": []}"#,
    ] {
        let r = send(body).await;
        assert!(!app_error(&r, StatusCode::BAD_REQUEST).is_empty(), "{body}");
    }
    // A too-large photo: 413 in the envelope, no product.
    let big = vec![0xFFu8; 4 * 1024 * 1024 + 1];
    let r = send_form(
        &app,
        Method::POST,
        "/api/v0/product/create/",
        &manager,
        product_form(&[("name", "A"), ("price", "1")], Some(("big.jpg", &big))),
    )
    .await;
    app_error(&r, StatusCode::PAYLOAD_TOO_LARGE);
    let (sales, products): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM sales), (SELECT count(*) FROM products)")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((sales, products), (0, 0));
}
