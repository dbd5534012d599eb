//! Customers: phone numbers in every local form, attaching a customer at
//! checkout by id or phone, their figures, search, the summary's top
//! customers, and who may change what.

mod common;

use axum::http::{Method, StatusCode};
use common::shop::{line, sell, staff, stocked};
use common::{TestApp, assert_error};
use serde_json::{Value, json};

async fn customer(app: &TestApp, token: &str, id: &Value) -> Value {
    let r = app
        .get(
            &format!("/api/customers/{}", id.as_str().unwrap()),
            Some(token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_phone_in_any_local_form_is_one_customer() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    let r = app
        .post(
            "/api/customers",
            json!({"name": "Ani", "phone": "0812-3456-7890"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["phone"], "+6281234567890");
    assert_eq!(r.body["visits"], 0);
    for same in [
        "81234567890",
        "+62 812-3456-7890",
        "6281234567890",
        "(0812) 3456 7890",
    ] {
        let r = app
            .post(
                "/api/customers",
                json!({"name": "Ani lagi", "phone": same}),
                Some(&cashier),
            )
            .await;
        assert_error(&r, StatusCode::CONFLICT, "phone_taken");
    }
    for garbage in [
        "hello",
        "12",
        "+1 415 555 0100",
        "0812-3456-78901234",
        "08x2345678",
    ] {
        let r = app
            .post(
                "/api/customers",
                json!({"name": "X", "phone": garbage}),
                Some(&cashier),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    let r = app
        .post("/api/customers", json!({"name": "  "}), Some(&cashier))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let r = app
        .post(
            "/api/customers",
            json!({"name": "Tanpa HP"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "a phone is optional");

    // Found by part of the name, or the phone in another form.
    for q in ["an", "ANI", "0812 3456", "+6281234567890", "081234567890"] {
        let r = app
            .get(
                &format!("/api/customers?q={}", urlencode(q)),
                Some(&cashier),
            )
            .await;
        let names: Vec<&str> = r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"Ani"), "{q}: {names:?}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_sale_attaches_its_customer_and_the_figures_follow() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, owner) = staff(&app, "owner").await;
    app.call(
        Method::PATCH,
        "/api/settings",
        Some(json!({"tax_rate": "0", "qris_payload": common::qris::static_qris("Toko")})),
        Some(&owner),
    )
    .await;
    let p = stocked(&app, &manager, "10000", 100).await;

    // A new phone at checkout makes the customer, with the sale's name.
    let s1 = sell(&app, &cashier, json!({"items": [line(&p, 2)], "payment_method": "cash",
                                          "customer_name": "Dewi", "customer_phone": "0857 1111 2222"})).await;
    let dewi = s1["customer_id"].clone();
    assert!(dewi.is_string(), "{s1}");
    let c = customer(&app, &cashier, &dewi).await;
    assert_eq!(
        (c["name"].as_str(), c["phone"].as_str()),
        (Some("Dewi"), Some("+6285711112222"))
    );

    // The same phone, written otherwise: the same customer. By id too.
    let s2 = sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 1)], "payment_method": "cash",
                                          "customer_phone": "+62-857-1111-2222"}),
    )
    .await;
    assert_eq!(s2["customer_id"], dewi);
    sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 1)], "payment_method": "card",
                                 "customer_id": dewi}),
    )
    .await;
    // A QRIS sale still waiting is no visit yet.
    sell(
        &app,
        &cashier,
        json!({"items": [line(&p, 5)], "payment_method": "qris",
                                 "customer_id": dewi}),
    )
    .await;
    // A refund takes what was spent back.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": s2["id"], "reason": "salah"}),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let c = customer(&app, &cashier, &dewi).await;
    assert_eq!(c["visits"], 3);
    assert_eq!(
        c["total_spent"], "30000.00",
        "20000 + 10000 + 10000 - 10000"
    );
    assert!(c["last_visit"].is_string());
    assert_eq!(
        c["sales"].as_array().unwrap().len(),
        4,
        "every sale listed, pending too"
    );

    // Bad references refuse the sale, writing nothing.
    for (body, field) in [
        (json!({"customer_id": uuid::Uuid::new_v4()}), "customer_id"),
        (json!({"customer_phone": "not a phone"}), "customer_phone"),
        (
            json!({"customer_id": dewi, "customer_phone": "0857 1111 2222"}),
            "customer_id",
        ),
    ] {
        let mut body = body;
        body["items"] = json!([line(&p, 1)]);
        body["payment_method"] = json!("cash");
        let r = app.post("/api/transactions", body, Some(&cashier)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        assert!(r.body["fields"][field].is_array(), "{}", r.text);
    }

    // The summary's top customers.
    let other = sell(&app, &cashier, json!({"items": [line(&p, 1)], "payment_method": "cash",
                                             "customer_name": "Eko", "customer_phone": "081299998888"})).await;
    let r = app.get(&summary_path(), Some(&manager)).await;
    let top = r.body["top_customers"].as_array().unwrap().clone();
    assert_eq!(top.len(), 2, "{}", r.text);
    assert_eq!(top[0]["customer_id"], dewi);
    assert_eq!(top[0]["spent"], "30000.00");
    assert_eq!(top[1]["customer_id"], other["customer_id"]);

    // Cashiers add and look up; managers edit and delete.
    let id = dewi.as_str().unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/customers/{id}"),
            Some(json!({"notes": "VIP"})),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/customers/{id}"),
            Some(json!({"notes": "suka kopi", "phone": "081299998888"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "phone_taken");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/customers/{id}"),
            Some(json!({"notes": "suka kopi"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.body["notes"], "suka kopi", "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/customers/{id}"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .get(
            &format!("/api/transactions/{}", s1["id"].as_str().unwrap()),
            Some(&manager),
        )
        .await;
    assert_eq!(
        r.body["customer_id"],
        Value::Null,
        "the sale stays, detached"
    );
    assert_eq!(r.body["customer_name"], "Dewi");
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
