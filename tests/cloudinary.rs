//! The Cloudinary client against its documentation and against the local
//! fake, which checks keys, timestamps and signatures independently.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::fake_cloudinary::{FakeCloudinary, PNG_3X2};
use kasirgo::cloudinary::{Cloudinary, CloudinaryError, delivery_url, sign, sniff_image};
use kasirgo::config::{CloudinaryConfig, parse_cloudinary_url};
use kasirgo::error::ApiError;

fn client_for(fake: &FakeCloudinary) -> Cloudinary {
    let config = parse_cloudinary_url(&fake.cloudinary_url).expect("the fake's CLOUDINARY_URL");
    assert_eq!(config, fake.config());
    Cloudinary::new(config, fake.base_url.clone())
}

fn keys<'a>(names: impl IntoIterator<Item = &'a String>) -> BTreeSet<&'a str> {
    names.into_iter().map(String::as_str).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn signer_matches_cloudinary_published_examples() {
    // "Generating authentication signatures": secret abcd, api key 1234,
    // uploading https://www.example.com/sample.jpg as sample_image with two
    // eager transformations; the key and the file are not signed.
    let params = [
        ("file", "https://www.example.com/sample.jpg".to_string()),
        ("api_key", "1234".to_string()),
        ("timestamp", "1315060510".to_string()),
        ("public_id", "sample_image".to_string()),
        ("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop".to_string()),
    ];
    assert_eq!(
        sign(&params, "abcd"),
        "bfd09f95f331f558cbd1320e67aa8d488770583e"
    );
    // Cloudinary support's "How to generate a Cloudinary signature on my own"
    // sanity check: public_id=sample_image&timestamp=1315060510 + abcd.
    let params = [
        ("timestamp", "1315060510".to_string()),
        ("public_id", "sample_image".to_string()),
    ];
    assert_eq!(
        sign(&params, "abcd"),
        "b4ad47fb4e25c7bf5f92a20089f9db59bc302313"
    );
}

#[tokio::test]
async fn upload_and_destroy_are_accepted_and_recorded() {
    let fake = FakeCloudinary::start().await;
    let cloudinary = client_for(&fake);

    let uploaded = cloudinary
        .upload(
            PNG_3X2.to_vec(),
            "kopi.png",
            "image/png",
            "kasirgo/products",
            "kopi-susu",
        )
        .await
        .expect("upload accepted");
    assert_eq!(uploaded.public_id, "kasirgo/products/kopi-susu");
    assert_eq!(
        (uploaded.format.as_str(), uploaded.width, uploaded.height),
        ("png", 3, 2)
    );
    assert_eq!(uploaded.bytes, PNG_3X2.len() as u64);
    assert!(uploaded.version > 0);
    assert!(
        uploaded
            .secure_url
            .starts_with("https://res.cloudinary.com/kasirgo-test/image/upload/v"),
        "{}",
        uploaded.secure_url
    );

    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1, "rejections: {:?}", fake.rejections());
    let upload = &uploads[0];
    assert_eq!(
        keys(upload.fields.keys()),
        BTreeSet::from(["api_key", "folder", "public_id", "signature", "timestamp"])
    );
    assert_eq!(upload.fields["api_key"], fake.api_key);
    assert_eq!(upload.fields["folder"], "kasirgo/products");
    assert_eq!(upload.fields["public_id"], "kopi-susu");
    let sent_at: i64 = upload.fields["timestamp"].parse().unwrap();
    assert!((now() - sent_at).abs() < 60);
    assert_eq!(upload.file_name.as_deref(), Some("kopi.png"));
    assert_eq!(upload.file_content_type.as_deref(), Some("image/png"));
    assert_eq!(upload.file_len, PNG_3X2.len());
    assert!(fake.assets().contains("kasirgo/products/kopi-susu"));

    cloudinary
        .destroy(&uploaded.public_id)
        .await
        .expect("destroy accepted");
    let calls = fake.destroy_calls();
    assert_eq!(calls.len(), 1, "rejections: {:?}", fake.rejections());
    assert_eq!(calls[0].public_id, "kasirgo/products/kopi-susu");
    assert_eq!(calls[0].result, "ok");
    assert_eq!(
        keys(calls[0].fields.keys()),
        BTreeSet::from(["api_key", "public_id", "signature", "timestamp"])
    );
    assert!(fake.assets().is_empty());
    assert!(fake.rejections().is_empty());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_never_shown() {
    let fake = FakeCloudinary::start().await;
    let wrong_secret = "not-the-real-secret-42";
    let cloudinary = Cloudinary::new(
        CloudinaryConfig {
            api_secret: wrong_secret.to_string(),
            ..fake.config()
        },
        fake.base_url.clone(),
    );

    let err = cloudinary
        .upload(PNG_3X2.to_vec(), "a.png", "image/png", "kasirgo", "a")
        .await
        .expect_err("a bad signature must be refused");
    match &err {
        CloudinaryError::Rejected { status, message } => {
            assert_eq!(*status, 401);
            assert!(message.starts_with("Invalid Signature"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        format!("{cloudinary:?}"),
    ] {
        assert!(!shown.contains(wrong_secret), "{shown}");
        assert!(!shown.contains(&fake.api_secret), "{shown}");
    }
    assert!(!err.is_transient());
    assert_eq!(
        ApiError::from(err).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );

    fake.add_asset("kasirgo/keep");
    let err = cloudinary.destroy("kasirgo/keep").await.unwrap_err();
    assert!(
        matches!(&err, CloudinaryError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert!(fake.uploads().is_empty());
    assert!(fake.destroyed().is_empty());
    assert!(fake.assets().contains("kasirgo/keep"));
    assert_eq!(fake.rejections().len(), 2);
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let fake = FakeCloudinary::start().await;
    let cloudinary = Cloudinary::new(
        CloudinaryConfig {
            api_key: "999".into(),
            ..fake.config()
        },
        fake.base_url.clone(),
    );
    let err = cloudinary.destroy("x").await.unwrap_err();
    assert!(
        matches!(&err, CloudinaryError::Rejected { status: 401, message } if message.contains("api_key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn destroying_an_unknown_image_succeeds() {
    let fake = FakeCloudinary::start().await;
    let cloudinary = client_for(&fake);
    cloudinary
        .destroy("kasirgo/products/never-uploaded")
        .await
        .expect("not found is success");
    // And twice over: a retried clean-up must not fail either.
    cloudinary
        .destroy("kasirgo/products/never-uploaded")
        .await
        .unwrap();
    let calls = fake.destroy_calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.result == "not found"));
}

#[tokio::test]
async fn injected_failures_surface_as_errors() {
    let fake = FakeCloudinary::start().await;
    let cloudinary = client_for(&fake);

    fake.fail_next(500);
    let err = cloudinary
        .upload(PNG_3X2.to_vec(), "a.png", "image/png", "kasirgo", "a")
        .await
        .expect_err("a 500 is an error");
    assert!(
        matches!(&err, CloudinaryError::Rejected { status: 500, message } if message.contains("Injected")),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(
        ApiError::from(err).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(fake.uploads().is_empty());

    // The failure is one-shot: the retry goes through.
    cloudinary
        .upload(PNG_3X2.to_vec(), "a.png", "image/png", "kasirgo", "a")
        .await
        .expect("the next upload succeeds");

    fake.fail_next(503);
    let err = cloudinary.destroy("kasirgo/a").await.unwrap_err();
    assert!(
        matches!(err, CloudinaryError::Rejected { status: 503, .. }),
        "{err:?}"
    );
    assert!(fake.assets().contains("kasirgo/a"));
}

#[tokio::test]
async fn an_unreachable_cloudinary_is_a_transient_error() {
    let port = common::free_port();
    let config = CloudinaryConfig {
        cloud_name: "demo".into(),
        api_key: "1".into(),
        api_secret: "s".into(),
    };
    let cloudinary = Cloudinary::new(config, format!("http://127.0.0.1:{port}").parse().unwrap());
    let err = cloudinary.destroy("x").await.unwrap_err();
    assert!(matches!(err, CloudinaryError::Http(_)), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_non_image_is_refused_by_the_fake_too() {
    let fake = FakeCloudinary::start().await;
    let err = client_for(&fake)
        .upload(b"hello".to_vec(), "a.txt", "text/plain", "kasirgo", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CloudinaryError::Rejected { status: 400, message } if message == "Invalid image file"),
        "{err:?}"
    );
    assert_eq!(
        ApiError::from(err).status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

/// Posts what the app would post to Cloudinary with the signed parameters.
async fn app_direct_upload(
    signed: &kasirgo::cloudinary::SignedUpload,
    public_id: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG_3X2.to_vec())
                .file_name("photo.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("api_key", signed.api_key.clone())
        .text("timestamp", signed.timestamp.to_string())
        .text("folder", signed.folder.clone())
        .text("public_id", public_id.to_string())
        .text("signature", signed.signature.clone());
    common::http_client()
        .post(&signed.upload_url)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn direct_upload_parameters_are_accepted_as_signed_only() {
    let fake = FakeCloudinary::start().await;
    let cloudinary = client_for(&fake);

    let signed = cloudinary.direct_upload_params("kasirgo/products", "p-1", now());
    assert_eq!(signed.cloud_name, fake.cloud_name);
    assert_eq!(signed.api_key, fake.api_key);
    assert_eq!(
        signed.upload_url,
        format!(
            "{}/v1_1/kasirgo-test/image/upload",
            fake.base_url.as_str().trim_end_matches('/')
        )
    );
    let res = app_direct_upload(&signed, "p-1").await;
    assert_eq!(res.status(), 200, "{:?}", fake.rejections());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["public_id"], "kasirgo/products/p-1");

    // The app cannot reuse the signature for another public id.
    let res = app_direct_upload(&signed, "p-2").await;
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Signature")
    );

    // Nor use one signed more than an hour ago.
    let stale = cloudinary.direct_upload_params("kasirgo/products", "p-3", now() - 2 * 3600);
    let res = app_direct_upload(&stale, "p-3").await;
    assert_eq!(res.status(), 400);
    assert_eq!(fake.uploads().len(), 1);
}

#[test]
fn delivery_urls_ask_for_automatic_format_and_quality() {
    let url = delivery_url("demo", "kasirgo/products/kopi-susu");
    assert_eq!(
        url,
        "https://res.cloudinary.com/demo/image/upload/f_auto,q_auto/kasirgo/products/kopi-susu"
    );
    let cloudinary = Cloudinary::new(
        CloudinaryConfig {
            cloud_name: "demo".into(),
            api_key: "1".into(),
            api_secret: "s".into(),
        },
        "https://api.cloudinary.com".parse().unwrap(),
    );
    assert!(cloudinary.delivery_url("x").contains("/f_auto,q_auto/"));
}

#[test]
fn sniff_image_accepts_images_and_refuses_the_rest() {
    assert_eq!(sniff_image(&PNG_3X2), Some("image/png"));
    assert_eq!(
        sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F']),
        Some("image/jpeg")
    );
    assert_eq!(
        sniff_image(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"),
        Some("image/webp")
    );
    assert_eq!(sniff_image(b"hello, this is plain text"), None);
    assert_eq!(
        sniff_image(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        None
    );
    assert_eq!(sniff_image(b"%PDF-1.7"), None);
    assert_eq!(sniff_image(&PNG_3X2[..4]), None);
}
