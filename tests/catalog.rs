//! Store settings, categories, products and the stock ledger, through the
//! API on a real database.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::shop::{product, staff, stock_of, stocked};
use common::{TestApp, assert_error};
use serde_json::{Value, json};

async fn patch_with(
    app: &TestApp,
    path: &str,
    body: Value,
    token: &str,
    if_match: &str,
) -> common::Reply {
    app.send(
        Request::builder()
            .method(Method::PATCH)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, if_match)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn settings_are_read_by_anyone_and_changed_by_the_owner() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, owner) = staff(&app, "owner").await;

    assert_error(
        &app.get("/api/settings", None).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    );
    let r = app.get("/api/settings/", Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["timezone"], "Asia/Jakarta");
    assert_eq!(r.body["currency"], "IDR");
    assert_eq!(r.body["tax_rate"], "0.00");
    assert_eq!(r.body["version"], 1);

    for token in [&cashier, &manager] {
        let r = app
            .call(
                Method::PATCH,
                "/api/settings",
                Some(json!({"store_name": "X"})),
                Some(token),
            )
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    }

    let bad = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(
                json!({"timezone": "Mars/Olympus", "tax_rate": "1.5", "currency": "rupiah",
                        "store_name": "", "receipt_footer": "x".repeat(10_000)}),
            ),
            Some(&owner),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    for field in [
        "timezone",
        "tax_rate",
        "currency",
        "store_name",
        "receipt_footer",
    ] {
        assert!(
            bad.body["fields"][field].is_array(),
            "{field}: {}",
            bad.text
        );
    }
    for rate in [json!("0.12345"), json!(0.11), json!("-0.1"), json!("abc")] {
        let r = app
            .call(
                Method::PATCH,
                "/api/settings",
                Some(json!({"tax_rate": rate})),
                Some(&owner),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    // Nothing was half-written.
    assert_eq!(
        app.get("/api/settings", Some(&owner)).await.body["version"],
        1
    );

    let ok = patch_with(
        &app,
        "/api/settings",
        json!({"store_name": "Warung Bu Sri", "timezone": "Asia/Makassar", "tax_rate": "0.11",
               "currency": "idr", "receipt_footer": "Terima kasih!"}),
        &owner,
        "1",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["store_name"], "Warung Bu Sri");
    assert_eq!(ok.body["timezone"], "Asia/Makassar");
    assert_eq!(ok.body["tax_rate"], "0.11");
    assert_eq!(ok.body["currency"], "IDR");
    assert_eq!(ok.body["version"], 2);

    let stale = patch_with(
        &app,
        "/api/settings",
        json!({"store_name": "Late"}),
        &owner,
        "\"1\"",
    )
    .await;
    assert_error(&stale, StatusCode::CONFLICT, "version_mismatch");
    assert_eq!(
        app.get("/api/settings", Some(&owner)).await.body["store_name"],
        "Warung Bu Sri"
    );
}

#[tokio::test]
async fn categories_crud_with_unique_names_and_versions() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;

    let r = app
        .post(
            "/api/categories",
            json!({"name": "Minuman"}),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");

    let r = app
        .post(
            "/api/categories/",
            json!({"name": " Minuman ", "description": "Drinks"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let drinks = r.body.clone();
    assert_eq!(drinks["name"], "Minuman", "names are trimmed");
    let id = drinks["id"].as_str().unwrap();

    let dup = app
        .post(
            "/api/categories",
            json!({"name": "MINUMAN"}),
            Some(&manager),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(10_000)}),
        json!({"name": 5}),
        json!({}),
    ] {
        let r = app.post("/api/categories", bad, Some(&manager)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"]["name"].is_array(), "{}", r.text);
    }

    let r = app
        .get(&format!("/api/categories/{id}"), Some(&cashier))
        .await;
    assert_eq!(r.body["description"], "Drinks");
    assert_error(
        &app.get("/api/categories/not-a-uuid", Some(&cashier)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let r = patch_with(
        &app,
        &format!("/api/categories/{id}"),
        json!({"name": "Drinks"}),
        &manager,
        "1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    let stale = patch_with(
        &app,
        &format!("/api/categories/{id}"),
        json!({"name": "Old"}),
        &manager,
        "1",
    )
    .await;
    assert_error(&stale, StatusCode::CONFLICT, "version_mismatch");

    // A product in the category becomes uncategorised when it is deleted.
    let p = product(
        &app,
        &manager,
        json!({"name": "Teh", "price": "5000", "category_id": id}),
    )
    .await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/categories/{id}"),
            None,
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/categories/{id}"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &app.get(&format!("/api/categories/{id}"), Some(&manager))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let p = app
        .get(
            &format!("/api/products/{}", p["id"].as_str().unwrap()),
            Some(&manager),
        )
        .await;
    assert!(p.body["category_id"].is_null());
    // The name is free again.
    let r = app
        .post("/api/categories", json!({"name": "Drinks"}), Some(&manager))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // Listing walks pages in name order.
    for name in ["Snacks", "Alat", "Kopi"] {
        app.post("/api/categories", json!({"name": name}), Some(&manager))
            .await;
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/categories?limit=2&cursor={c}"),
            None => "/api/categories?limit=2".to_string(),
        };
        let r = app.get(&path, Some(&cashier)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        names.extend(
            r.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(names, ["Alat", "Drinks", "Kopi", "Snacks"]);
    let r = app.get("/api/categories?limit=0", Some(&cashier)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let r = app
        .get("/api/categories?cursor=garbage", Some(&cashier))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn products_money_is_exact_and_validated() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;

    let p = product(
        &app,
        &manager,
        json!({"name": "Kopi Susu", "sku": "KS-1", "barcode": "899100", "price": 18000,
               "cost": "7500.5", "stock": 12, "low_stock_threshold": 3}),
    )
    .await;
    assert_eq!(p["price"], "18000.00");
    assert_eq!(p["cost"], "7500.50");
    assert_eq!(p["stock"], 12);
    assert_eq!(p["version"], 1);
    assert!(p["image_url"].is_null());

    for (field, value) in [
        ("price", json!(18000.5)),
        ("price", json!("-1")),
        ("price", json!("1.005")),
        ("price", json!("abc")),
        ("price", json!("1e3")),
        ("cost", json!("-0.01")),
        ("stock", json!(-1)),
        ("name", json!("")),
        ("name", json!("x".repeat(10_000))),
    ] {
        let mut body = json!({"name": "Teh", "price": "5000"});
        body[field] = value.clone();
        let r = app.post("/api/products", body, Some(&manager)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(
            r.body["fields"][field].is_array(),
            "{field}={value}: {}",
            r.text
        );
    }
    let r = app
        .post(
            "/api/products",
            json!({"name": "Teh", "price": "5000", "category_id": uuid::Uuid::new_v4()}),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["category_id"].is_array());
    let dup = app
        .post(
            "/api/products",
            json!({"name": "Other", "price": "1", "sku": "ks-1"}),
            Some(&manager),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing half-written");
}

#[tokio::test]
async fn products_patch_checks_stock_and_honours_versions() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let p = product(
        &app,
        &manager,
        json!({"name": "Roti", "sku": "R1", "price": "8000", "stock": 5}),
    )
    .await;
    let path = format!("/api/products/{}", p["id"].as_str().unwrap());

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"price": "9000"})),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");

    for bad in [json!(-1), json!(1_000_001), json!("7"), json!(2.5)] {
        let r = app
            .call(
                Method::PATCH,
                &path,
                Some(json!({"stock": bad, "price": "9000"})),
                Some(&manager),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"]["stock"].is_array(), "{bad}: {}", r.text);
    }
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 5);
    assert_eq!(
        app.get(&path, Some(&manager)).await.body["price"],
        "8000.00",
        "nothing half-written"
    );

    let r = patch_with(
        &app,
        &path,
        json!({"price": "9000", "sku": null, "description": "Fresh"}),
        &manager,
        "1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["price"], "9000.00");
    assert!(r.body["sku"].is_null(), "null clears");
    assert_eq!(r.body["name"], "Roti", "absent fields are kept");
    assert_eq!(r.body["stock"], 5);
    assert_eq!(r.body["version"], 2);

    let stale = patch_with(&app, &path, json!({"price": "1"}), &manager, "1").await;
    assert_error(&stale, StatusCode::CONFLICT, "version_mismatch");
    let stale = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"price": "1", "version": 1})),
            Some(&manager),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "version_mismatch");
    assert_eq!(
        app.get(&path, Some(&manager)).await.body["price"],
        "9000.00"
    );

    let r = app.call(Method::DELETE, &path, None, Some(&manager)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &app.get(&path, Some(&manager)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"price": "1"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Its SKU is free for a new product.
    product(
        &app,
        &manager,
        json!({"name": "Roti 2", "sku": "R1", "price": "1"}),
    )
    .await;
}

fn names(r: &common::Reply) -> Vec<String> {
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let r = app
        .get(&format!("/api/products?{query}"), Some(token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    names(&r)
}

#[tokio::test]
async fn product_filters_and_pagination() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let cat = app
        .post("/api/categories", json!({"name": "Kopi"}), Some(&manager))
        .await
        .body;
    let cat_id = cat["id"].as_str().unwrap();
    product(&app, &manager, json!({"name": "Kopi Tubruk", "sku": "KT", "price": "5000", "stock": 10, "category_id": cat_id})).await;
    product(&app, &manager, json!({"name": "Kopi Susu", "barcode": "8991234", "price": "12000", "stock": 2, "low_stock_threshold": 5, "category_id": cat_id})).await;
    product(
        &app,
        &manager,
        json!({"name": "Es Teh", "price": "4000", "stock": 0}),
    )
    .await;
    product(
        &app,
        &manager,
        json!({"name": "Diskon 50%_", "price": "0", "is_active": false}),
    )
    .await;

    assert_eq!(
        listed(&app, &cashier, "q=kopi").await,
        ["Kopi Susu", "Kopi Tubruk"]
    );
    assert_eq!(listed(&app, &cashier, "q=kt").await, ["Kopi Tubruk"], "sku");
    assert_eq!(
        listed(&app, &cashier, "q=91234").await,
        ["Kopi Susu"],
        "barcode substring"
    );
    assert_eq!(
        listed(&app, &cashier, "q=50%25_").await,
        ["Diskon 50%_"],
        "wildcards are literal"
    );
    // Unescaped, `%` and `_` would match every product.
    assert_eq!(listed(&app, &cashier, "q=%25").await, ["Diskon 50%_"]);
    assert_eq!(listed(&app, &cashier, "q=_").await, ["Diskon 50%_"]);
    assert_eq!(
        listed(&app, &cashier, &format!("category_id={cat_id}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        listed(&app, &cashier, "min_price=4000&max_price=5000").await,
        ["Es Teh", "Kopi Tubruk"]
    );
    assert_eq!(
        listed(&app, &cashier, "in_stock=true").await,
        ["Kopi Susu", "Kopi Tubruk"]
    );
    assert_eq!(
        listed(&app, &cashier, "low_stock=true").await,
        ["Diskon 50%_", "Es Teh", "Kopi Susu"]
    );
    assert_eq!(
        listed(&app, &cashier, "is_active=false").await,
        ["Diskon 50%_"]
    );
    for bad in [
        "min_price=abc",
        "in_stock=maybe",
        "category_id=nope",
        "limit=500",
    ] {
        let r = app
            .get(&format!("/api/products?{bad}"), Some(&cashier))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }

    let mut seen = Vec::new();
    let mut path = "/api/products?limit=3".to_string();
    loop {
        let r = app.get(&path, Some(&cashier)).await;
        seen.extend(names(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/products?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Diskon 50%_", "Es Teh", "Kopi Susu", "Kopi Tubruk"]);
}

#[tokio::test]
async fn stock_adjustments_and_counts_write_the_ledger() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (manager_id, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", 10).await;
    let id = p["id"].as_str().unwrap();

    let r = app
        .post(
            "/api/stock",
            json!({"product_id": id, "delta": 5, "reason": "x"}),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    assert_error(
        &app.get("/api/stock", Some(&cashier)).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );

    let r = app
        .post(
            "/api/stock",
            json!({"product_id": id, "delta": 5, "reason": "Delivery"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (
            r.body["kind"].as_str(),
            r.body["delta"].as_i64(),
            r.body["stock_after"].as_i64()
        ),
        (Some("adjustment"), Some(5), Some(15))
    );
    assert_eq!(r.body["user_id"], manager_id.to_string());

    let r = app
        .post(
            "/api/stock",
            json!({"product_id": id, "counted": 12, "reason": "Stock take"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (
            r.body["kind"].as_str(),
            r.body["delta"].as_i64(),
            r.body["stock_after"].as_i64()
        ),
        (Some("count"), Some(-3), Some(12))
    );

    let r = app
        .post(
            "/api/stock",
            json!({"product_id": id, "delta": -13, "reason": "Broken"}),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "insufficient_stock");
    assert_eq!(r.body["items"][0]["available"], 12);
    assert_eq!(stock_of(&app, id).await, 12);

    for bad in [
        json!({"product_id": id, "delta": 1, "counted": 1, "reason": "x"}),
        json!({"product_id": id, "reason": "x"}),
        json!({"product_id": id, "delta": 0, "reason": "x"}),
        json!({"product_id": id, "delta": 1, "reason": ""}),
        json!({"product_id": id, "counted": -1, "reason": "x"}),
        json!({"product_id": uuid::Uuid::new_v4(), "delta": 1, "reason": "x"}),
        json!({"product_id": "nope", "delta": 1, "reason": "x"}),
    ] {
        let r = app.post("/api/stock", bad.clone(), Some(&manager)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    assert_eq!(stock_of(&app, id).await, 12);

    let r = app
        .get(&format!("/api/stock?product_id={id}"), Some(&manager))
        .await;
    let ledger: Vec<(String, i64, i64)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().into(),
                m["delta"].as_i64().unwrap(),
                m["stock_after"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ledger,
        [
            ("count".into(), -3, 12),
            ("adjustment".into(), 5, 15),
            ("opening".into(), 10, 10)
        ]
    );
    // The ledger is append-only.
    let rewrite = sqlx::query("UPDATE stock_movements SET delta = 0")
        .execute(&app.db.pool)
        .await;
    assert!(rewrite.is_err());
}

#[tokio::test]
async fn concurrent_stock_removals_never_go_below_zero() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", 10).await;
    let id = p["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let (app_svc, manager, id) = (app.app.clone(), manager.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/api/stock")
                .header(header::AUTHORIZATION, format!("Bearer {manager}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"product_id": id, "delta": -1, "reason": "shrink"}).to_string(),
                ))
                .unwrap();
            tower::ServiceExt::oneshot(app_svc, req)
                .await
                .unwrap()
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(stock_of(&app, &id).await, 0);
}

#[tokio::test]
async fn needs_preparation_and_int_ids_in_every_read_model() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let cat = app
        .post("/api/categories", json!({"name": "Kopi"}), Some(&manager))
        .await;
    assert_eq!(cat.status, StatusCode::CREATED, "{}", cat.text);
    let cat_int = cat.body["int_id"].as_i64().expect("category int_id");
    let cat_id = cat.body["id"].as_str().unwrap().to_string();

    let plain = product(&app, &manager, json!({"name": "Air", "price": "3000"})).await;
    assert_eq!(plain["needs_preparation"], false, "default false");
    let latte = product(
        &app,
        &manager,
        json!({"name": "Latte", "price": "25000", "needs_preparation": true,
               "category_id": cat_id}),
    )
    .await;
    assert_eq!(latte["needs_preparation"], true);
    let (plain_int, latte_int) = (
        plain["int_id"].as_i64().expect("int_id"),
        latte["int_id"].as_i64().expect("int_id"),
    );
    assert_ne!(plain_int, latte_int);
    let latte_path = format!("/api/products/{}", latte["id"].as_str().unwrap());

    let r = app.get(&latte_path, Some(&cashier)).await;
    assert_eq!(
        (&r.body["needs_preparation"], r.body["int_id"].as_i64()),
        (&json!(true), Some(latte_int))
    );
    let r = app.get("/api/products", Some(&cashier)).await;
    let listed: Vec<(String, bool, i64)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["needs_preparation"].as_bool().unwrap(),
                p["int_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("Air".to_string(), false, plain_int),
            ("Latte".to_string(), true, latte_int)
        ]
    );
    let r = app
        .get(&format!("/api/categories/{cat_id}"), Some(&cashier))
        .await;
    assert_eq!(r.body["int_id"].as_i64(), Some(cat_int));
    let r = app.get("/api/categories", Some(&cashier)).await;
    assert_eq!(r.body["results"][0]["int_id"].as_i64(), Some(cat_int));

    // PATCH sets it; int_id is read-only (ignored in a PATCH).
    let r = app
        .call(
            Method::PATCH,
            &latte_path,
            Some(json!({"needs_preparation": false, "int_id": 999_999})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["needs_preparation"], false);
    assert_eq!(r.body["int_id"].as_i64(), Some(latte_int));
    let r = app
        .call(
            Method::PATCH,
            &latte_path,
            Some(json!({"price": "26000"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.body["needs_preparation"], false, "absent keeps it");
    let r = app
        .call(
            Method::PATCH,
            &latte_path,
            Some(json!({"needs_preparation": true})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.body["needs_preparation"], true);
    let r = app
        .call(
            Method::PATCH,
            &latte_path,
            Some(json!({"needs_preparation": "yes"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["needs_preparation"].is_array());
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/categories/{cat_id}"),
            Some(json!({"description": "Hot", "int_id": 5})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["int_id"].as_i64(), Some(cat_int));

    // The sync payload carries both.
    let r = app.get("/api/sync", Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let synced = r.body["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == latte["id"])
        .unwrap()
        .clone();
    assert_eq!(synced["needs_preparation"], true);
    assert_eq!(synced["int_id"].as_i64(), Some(latte_int));
    let plain_synced = r.body["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == plain["id"])
        .unwrap()
        .clone();
    assert_eq!(plain_synced["needs_preparation"], false);
    assert_eq!(r.body["categories"][0]["int_id"].as_i64(), Some(cat_int));
}

#[tokio::test]
async fn int_id_lookups_for_the_app_surface() {
    use kasirgo::catalog::{categories, products};
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let cat = app
        .post("/api/categories", json!({"name": "Roti"}), Some(&manager))
        .await
        .body;
    let a = product(&app, &manager, json!({"name": "B Roti", "price": "1"})).await;
    let b = product(&app, &manager, json!({"name": "A Roti", "price": "1"})).await;
    let pool = &app.db.pool;

    let id = products::id_for_int(pool, a["int_id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(id.to_string(), a["id"].as_str().unwrap());
    let id = categories::id_for_int(pool, cat["int_id"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(id.to_string(), cat["id"].as_str().unwrap());
    let missing = products::id_for_int(pool, 987_654_321).await.unwrap_err();
    assert!(
        matches!(missing, kasirgo::error::ApiError::NotFound(_)),
        "{missing:?}"
    );
    let missing = categories::id_for_int(pool, 987_654_321).await.unwrap_err();
    assert!(
        matches!(missing, kasirgo::error::ApiError::NotFound(_)),
        "{missing:?}"
    );

    let all: Vec<String> = products::list_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(all, ["A Roti", "B Roti"]);

    // Deleted rows are not found by their number any more.
    app.call(
        Method::DELETE,
        &format!("/api/products/{}", b["id"].as_str().unwrap()),
        None,
        Some(&manager),
    )
    .await;
    app.call(
        Method::DELETE,
        &format!("/api/categories/{}", cat["id"].as_str().unwrap()),
        None,
        Some(&manager),
    )
    .await;
    assert!(
        products::id_for_int(pool, b["int_id"].as_i64().unwrap())
            .await
            .is_err()
    );
    assert!(
        categories::id_for_int(pool, cat["int_id"].as_i64().unwrap())
            .await
            .is_err()
    );
    assert_eq!(products::list_all(pool).await.unwrap().len(), 1);
    assert!(categories::list_all(pool).await.unwrap().is_empty());
}

/// (kind, delta, stock_after, user_id) of a product's ledger, oldest first.
async fn ledger(app: &TestApp, id: &str) -> Vec<(String, i32, i32, Option<uuid::Uuid>)> {
    sqlx::query_as(
        "SELECT kind, delta, stock_after, user_id FROM stock_movements
         WHERE product_id = $1::uuid ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn patch_stock_is_a_count_in_the_ledger() {
    let app = TestApp::new().await;
    let (manager_id, manager) = staff(&app, "manager").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    let p = product(
        &app,
        &manager,
        json!({"name": "Teh", "sku": "TEH", "price": "4000", "stock": 10}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_string();
    let path = format!("/api/products/{id}");
    assert_eq!(
        ledger(&app, &id).await,
        [("opening".into(), 10, 10, Some(manager_id))],
        "creating with stock records the opening entry"
    );

    // A sale takes 3, then the form says 12: a count of +5 from 7.
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": id, "quantity": 3}], "payment_method": "cash"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = patch_with(
        &app,
        &path,
        json!({"stock": 12, "price": "4500"}),
        &manager,
        "1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["stock"], 12, "the answer shows the counted stock");
    assert_eq!(r.body["price"], "4500.00");
    assert_eq!(r.body["version"], 2);
    let rows = ledger(&app, &id).await;
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[1].0.as_str(), rows[1].1, rows[1].2), ("sale", -3, 7));
    assert_eq!(rows[2], ("count".into(), 5, 12, Some(manager_id)));
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM stock_movements WHERE product_id = $1::uuid ORDER BY id DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(reason, kasirgo::catalog::products::EDIT_COUNT_REASON);
    // The ledger endpoint shows it like any count.
    let r = app
        .get(&format!("/api/stock?product_id={id}"), Some(&manager))
        .await;
    assert_eq!(r.body["results"][0]["kind"], "count");
    assert_eq!(r.body["results"][0]["stock_after"], 12);

    // The same stock again (the app sends every field on every edit): no
    // ledger row, the other fields still change.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 12, "name": "Teh Manis"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "Teh Manis");
    assert_eq!(ledger(&app, &id).await.len(), 3);

    // Down to zero is a count too; the stock never goes negative.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 0})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["stock"], 0);
    assert_eq!(
        ledger(&app, &id).await.last().unwrap(),
        &("count".into(), -12, 0, Some(manager_id))
    );

    // A failing edit writes neither the count nor anything else: a stale
    // version, a duplicate SKU, an unknown category, a cashier.
    product(
        &app,
        &manager,
        json!({"name": "Kopi", "sku": "KOPI", "price": "1"}),
    )
    .await;
    let version = app.get(&path, Some(&manager)).await.body["version"]
        .as_i64()
        .unwrap();
    let stale = patch_with(&app, &path, json!({"stock": 40}), &manager, "1").await;
    assert_error(&stale, StatusCode::CONFLICT, "version_mismatch");
    let dup = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 40, "sku": "kopi"})),
            Some(&manager),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    let cat = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 40, "category_id": uuid::Uuid::new_v4()})),
            Some(&manager),
        )
        .await;
    assert_error(&cat, StatusCode::BAD_REQUEST, "validation_failed");
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 40})),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    assert_eq!(stock_of(&app, &id).await, 0);
    assert_eq!(ledger(&app, &id).await.len(), 4);
    let now = app.get(&path, Some(&manager)).await.body;
    assert_eq!(now["version"].as_i64(), Some(version));
    assert_eq!(now["sku"], "TEH");
    // A deleted product cannot be counted.
    let r = app.call(Method::DELETE, &path, None, Some(&manager)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 3})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(ledger(&app, &id).await.len(), 4);
    let _ = cashier_id;
}

#[tokio::test]
async fn patch_stock_racing_sales_keeps_stock_and_ledger_consistent() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "1000", 1000).await;
    let id = p["id"].as_str().unwrap().to_string();
    let path = format!("/api/products/{id}");

    // Counts far apart (further than everything the sales can take), so
    // every one of them differs from the stock it meets.
    let counts: Vec<i32> = (1..=6).map(|k| 2000 * k).collect();
    let mut tasks = Vec::new();
    for t in 0..6 {
        let (app, cashier) = (app.clone(), cashier.clone());
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut sold = 0;
            for i in 0..6 {
                let q = 1 + (t + i) % 3;
                let r = app
                    .post(
                        "/api/transactions",
                        json!({"items": [{"product_id": id, "quantity": q}],
                               "payment_method": "cash"}),
                        Some(&cashier),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                sold += q;
            }
            sold
        }));
    }
    let mut edits = Vec::new();
    for (k, counted) in counts.iter().copied().enumerate() {
        let (app, manager, path) = (app.clone(), manager.clone(), path.clone());
        edits.push(tokio::spawn(async move {
            let r = app
                .call(
                    Method::PATCH,
                    &path,
                    Some(json!({"stock": counted, "price": format!("{}", 1000 + k)})),
                    Some(&manager),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }));
    }
    let mut sold = 0;
    for t in tasks {
        sold += t.await.unwrap();
    }
    for e in edits {
        e.await.unwrap();
    }

    let rows = ledger(&app, &id).await;
    // The ledger is one unbroken chain: each row starts from the stock the
    // previous one left, and the last one is the product's stock.
    let mut running = 0;
    for (kind, delta, after, _) in &rows {
        assert_eq!(
            running + delta,
            *after,
            "{kind} {delta} -> {after} in {rows:?}"
        );
        running = *after;
    }
    assert_eq!(stock_of(&app, &id).await, running);
    let sale_units: i32 = rows.iter().filter(|r| r.0 == "sale").map(|r| -r.1).sum();
    assert_eq!(sale_units, sold, "every sale is in the ledger");
    let mut counted: Vec<i32> = rows
        .iter()
        .filter(|r| r.0 == "count")
        .map(|r| r.2)
        .collect();
    counted.sort();
    assert_eq!(
        counted, counts,
        "every edit is one count that set its value"
    );
    let line_units: i64 = sqlx::query_scalar(
        "SELECT sum(quantity)::bigint FROM sale_lines WHERE product_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(line_units, i64::from(sold));
}
