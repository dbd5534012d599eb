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
async fn products_patch_never_touches_stock_and_honours_versions() {
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

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"stock": 100, "price": "9000"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["stock"].is_array());
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
