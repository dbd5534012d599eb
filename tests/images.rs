//! Product photos: uploads through the API, signed direct uploads, and the
//! old asset destroyed when a product's image is replaced or removed, all
//! against a local fake Cloudinary that checks signatures.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::fake_cloudinary::{FakeCloudinary, PNG_3X2};
use common::shop::{product, staff};
use common::{Reply, TestApp, assert_error};
use serde_json::json;

async fn app_with(fake: &FakeCloudinary) -> TestApp {
    TestApp::with_config(&[
        ("CLOUDINARY_URL", fake.cloudinary_url.as_str()),
        ("CLOUDINARY_API_BASE", fake.base_url.as_str()),
    ])
    .await
}

const BOUNDARY: &str = "kasirgo-test-boundary";

fn multipart(field: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
    app.send(
        Request::post("/api/uploads")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn uploads_go_to_cloudinary_signed() {
    let fake = FakeCloudinary::start().await;
    let app = app_with(&fake).await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;
    let form = format!("multipart/form-data; boundary={BOUNDARY}");

    let r = upload(&app, &cashier, &form, multipart("file", "a.png", &PNG_3X2)).await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");

    let r = upload(
        &app,
        &manager,
        &form,
        multipart("file", "kopi.png", &PNG_3X2),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let public_id = r.body["public_id"].as_str().unwrap();
    assert!(public_id.starts_with("kasirgo/products/"), "{public_id}");
    let url = r.body["url"].as_str().unwrap();
    assert!(url.contains("/image/upload/f_auto,q_auto/"), "{url}");
    assert!(url.ends_with(public_id));
    assert_eq!(
        (r.body["width"].as_u64(), r.body["height"].as_u64()),
        (Some(3), Some(2))
    );
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].public_id, public_id);
    assert_eq!(uploads[0].file_len, PNG_3X2.len());

    let r = upload(
        &app,
        &manager,
        &form,
        multipart("file", "notes.txt", b"not an image at all"),
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let mut big = PNG_3X2.to_vec();
    big.resize(4 * 1024 * 1024 + 1, 0);
    let r = upload(&app, &manager, &form, multipart("file", "big.png", &big)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let r = upload(&app, &manager, &form, multipart("photo", "a.png", &PNG_3X2)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(r.body["fields"]["file"].is_array());
    let r = upload(&app, &manager, "application/json", b"{}".to_vec()).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(
        fake.uploads().len(),
        1,
        "refused files never reach Cloudinary"
    );
}

#[tokio::test]
async fn signed_direct_upload_parameters_work_at_cloudinary() {
    let fake = FakeCloudinary::start().await;
    let app = app_with(&fake).await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, manager) = staff(&app, "manager").await;

    let r = app
        .post("/api/uploads/sign/", json!({}), Some(&cashier))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = app
        .call(Method::POST, "/api/uploads/sign", None, Some(&manager))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = &r.body;
    for field in [
        "cloud_name",
        "api_key",
        "timestamp",
        "signature",
        "folder",
        "public_id",
        "upload_url",
    ] {
        assert!(!s[field].is_null(), "{field} missing: {}", r.text);
    }
    assert_eq!(s["cloud_name"], fake.cloud_name.as_str());
    assert!(
        !r.text.contains(&fake.api_secret),
        "the secret never leaves the server"
    );

    // The app posts exactly these to Cloudinary: the fake checks the signature.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG_3X2.to_vec()).file_name("p.png"),
        )
        .text("api_key", s["api_key"].as_str().unwrap().to_string())
        .text("timestamp", s["timestamp"].to_string())
        .text("folder", s["folder"].as_str().unwrap().to_string())
        .text("public_id", s["public_id"].as_str().unwrap().to_string())
        .text("signature", s["signature"].as_str().unwrap().to_string());
    let res = common::http_client()
        .post(s["upload_url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn uploads_answer_503_when_cloudinary_is_not_configured() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let r = app
        .call(Method::POST, "/api/uploads/sign", None, Some(&manager))
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
}

#[tokio::test]
async fn replaced_and_removed_images_are_destroyed() {
    let fake = FakeCloudinary::start().await;
    let app = app_with(&fake).await;
    let (_, manager) = staff(&app, "manager").await;
    for id in [
        "kasirgo/products/a",
        "kasirgo/products/b",
        "kasirgo/products/c",
    ] {
        fake.add_asset(id);
    }
    let p = product(
        &app,
        &manager,
        json!({"name": "Kopi", "price": "5000", "image_public_id": "kasirgo/products/a"}),
    )
    .await;
    let url = p["image_url"].as_str().unwrap();
    assert_eq!(
        url,
        format!(
            "https://res.cloudinary.com/{}/image/upload/f_auto,q_auto/kasirgo/products/a",
            fake.cloud_name
        )
    );
    let path = format!("/api/products/{}", p["id"].as_str().unwrap());

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": "kasirgo/products/b"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(fake.destroyed(), ["kasirgo/products/a"]);

    // Other changes leave the image alone.
    app.call(
        Method::PATCH,
        &path,
        Some(json!({"price": "6000"})),
        Some(&manager),
    )
    .await;
    assert_eq!(fake.destroyed().len(), 1);

    // A Cloudinary failure never loses the product change.
    fake.fail_next(500);
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": null})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["image_public_id"].is_null() && r.body["image_url"].is_null());
    assert_eq!(
        fake.destroyed().len(),
        1,
        "b was not destroyed (injected failure)"
    );

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": "kasirgo/products/c"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call(Method::DELETE, &path, None, Some(&manager)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        fake.destroyed(),
        ["kasirgo/products/a", "kasirgo/products/c"]
    );

    let r = app
        .post(
            "/api/products",
            json!({"name": "X", "price": "1", "image_public_id": "../etc/passwd"}),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn a_kept_image_url_shows_until_an_upload_or_a_removal() {
    let fake = FakeCloudinary::start().await;
    let app = app_with(&fake).await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    fake.add_asset("kasirgo/products/new");
    let kept = "https://kasirgo.example/media/products/kopi.jpg";
    let keep = |id: String| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query("UPDATE products SET image_url = $2 WHERE id = $1::uuid")
                .bind(id)
                .bind(kept)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    let kept_url = |id: String| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT image_url FROM products WHERE id = $1::uuid",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    // An imported product: no Cloudinary asset, a kept absolute URL, shown
    // in every read model.
    let p = product(&app, &manager, json!({"name": "Kopi", "price": "5000"})).await;
    assert!(p["image_url"].is_null());
    let id = p["id"].as_str().unwrap().to_string();
    let path = format!("/api/products/{id}");
    keep(id.clone()).await;
    assert_eq!(app.get(&path, Some(&cashier)).await.body["image_url"], kept);
    assert_eq!(
        app.get("/api/products", Some(&cashier)).await.body["results"][0]["image_url"],
        kept
    );
    assert_eq!(
        app.get("/api/sync", Some(&cashier)).await.body["products"][0]["image_url"],
        kept
    );
    // Other edits keep it.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"price": "5500"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.body["image_url"], kept);
    assert_eq!(kept_url(id.clone()).await.as_deref(), Some(kept));

    // An upload replaces it: the Cloudinary URL, the kept one gone.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": "kasirgo/products/new"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cloudinary = format!(
        "https://res.cloudinary.com/{}/image/upload/f_auto,q_auto/kasirgo/products/new",
        fake.cloud_name
    );
    assert_eq!(r.body["image_url"], cloudinary.as_str());
    assert_eq!(kept_url(id.clone()).await, None);
    assert_eq!(
        app.get("/api/sync", Some(&cashier)).await.body["products"][0]["image_url"],
        cloudinary.as_str()
    );
    assert!(
        fake.destroyed().is_empty(),
        "a kept URL is no asset of ours"
    );

    // Removing the image of an imported product removes the kept URL.
    let q = product(&app, &manager, json!({"name": "Teh", "price": "3000"})).await;
    let q_id = q["id"].as_str().unwrap().to_string();
    keep(q_id.clone()).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/products/{q_id}"),
            Some(json!({"image_public_id": null})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["image_url"].is_null() && r.body["image_public_id"].is_null());
    assert_eq!(kept_url(q_id).await, None);
    // And removing a Cloudinary image leaves nothing either.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": null})),
            Some(&manager),
        )
        .await;
    assert!(r.body["image_url"].is_null());
    assert_eq!(fake.destroyed(), ["kasirgo/products/new"]);
}

#[tokio::test]
async fn a_kept_image_url_shows_without_cloudinary_configured() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let p = product(&app, &manager, json!({"name": "Kopi", "price": "5000"})).await;
    let kept = "https://kasirgo.example/media/products/kopi.jpg";
    sqlx::query("UPDATE products SET image_url = $2 WHERE id = $1::uuid")
        .bind(p["id"].as_str().unwrap())
        .bind(kept)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let path = format!("/api/products/{}", p["id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some(&manager)).await.body["image_url"], kept);
    // A Cloudinary public id without Cloudinary configured has no URL.
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"image_public_id": "kasirgo/products/x"})),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["image_url"].is_null());
}
