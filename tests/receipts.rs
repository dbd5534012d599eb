//! Receipts: the 58 and 80 mm layouts against fixtures of exact text, the
//! ESC/POS bytes, a pending sale's QR, and share links (made, opened,
//! forged, revoked, expired; rendered in headless Chromium).

mod common;

use axum::http::{Method, StatusCode};
use common::shop::{product, staff};
use common::{TestApp, assert_error, chromium};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A shop with its receipt details set, a cashier named Siti Aminah and
/// one sale: a long-named drink with a note, bread, a discount, 11% tax, a
/// take-away charge, cash with change, then a partial refund.
async fn shop_with_a_sale() -> (TestApp, String, String, Value) {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    sqlx::query("UPDATE users SET full_name = 'Siti Aminah' WHERE id = $1")
        .bind(cashier_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let r = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(
                json!({"store_name": "Warung Kopi Bu Sri", "tax_rate": "0.11",
                        "store_address": "Jl. Melati No. 5, Kebayoran Baru, Jakarta Selatan",
                        "store_phone": "0812-3456-7890",
                        "receipt_footer": "Terima kasih, sampai jumpa lagi!"}),
            ),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let kopi = product(
        &app,
        &owner,
        json!({"name": "Es Kopi Susu Gula Aren Ukuran Jumbo Spesial", "price": "28000", "stock": 50}),
    )
    .await;
    let roti = product(
        &app,
        &owner,
        json!({"name": "Roti Bakar", "price": "15000", "stock": 50}),
    )
    .await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": kopi["id"], "quantity": 2, "note": "kurang manis"},
                             {"product_id": roti["id"], "quantity": 1}],
                   "customer_name": "Budi", "order_type": "take_away", "takeaway_charge": "2000",
                   "discount": "1000", "payment_method": "cash", "paid_amount": "100000"}),
            Some(&cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sale = r.body;
    let roti_line = sale["items"][1]["id"].clone();
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": sale["id"], "reason": "gosong",
                   "items": [{"item_id": roti_line, "quantity": 1}]}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (app, owner, cashier, sale)
}

/// The receipt with its date-bound parts (the number, the times) put in
/// fixed placeholders of the same width.
fn normalised(text: &str, sale: &Value) -> String {
    let no = sale["transaction_no"].as_str().unwrap();
    let chars: Vec<char> = text.replace(no, "TRX-YYYYMMDD-NNNN").chars().collect();
    // Every dd/mm/yyyy hh:mm becomes the placeholder.
    let is_time = |w: &[char]| {
        w.len() == 16
            && w.iter().enumerate().all(|(k, c)| match k {
                2 | 5 => *c == '/',
                10 => *c == ' ',
                13 => *c == ':',
                _ => c.is_ascii_digit(),
            })
    };
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if is_time(&chars[i..(i + 16).min(chars.len())]) {
            out.push_str("dd/mm/yyyy hh:mm");
            i += 16;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

async fn receipt(app: &TestApp, token: &str, sale: &Value, query: &str) -> common::Reply {
    app.get(
        &format!(
            "/api/transactions/{}/receipt?{query}",
            sale["id"].as_str().unwrap()
        ),
        Some(token),
    )
    .await
}

fn check_fixture(name: &str, got: &str) {
    let path = format!("{FIXTURES}/{name}");
    if std::env::var_os("KASIRGO_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(got, want, "{name} differs:\n{got}");
}

#[tokio::test]
async fn receipts_for_58_and_80_mm_match_their_fixtures() {
    let (app, _, cashier, sale) = shop_with_a_sale().await;
    for (paper, columns, fixture) in [
        ("58", 32, "receipt_58mm.txt"),
        ("80", 48, "receipt_80mm.txt"),
    ] {
        let r = receipt(&app, &cashier, &sale, &format!("paper={paper}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        for line in r.text.lines() {
            assert!(
                line.chars().count() <= columns,
                "too wide for {paper} mm: {line:?}"
            );
        }
        check_fixture(fixture, &normalised(&r.text, &sale));
    }
    // The default is 58 mm.
    let r = receipt(&app, &cashier, &sale, "").await;
    assert!(r.text.lines().all(|l| l.chars().count() <= 32));
    for bad in [
        "paper=57",
        "format=pdf",
        "paper=%0D",
        "format=%0D",
        "format=%20html",
    ] {
        let r = receipt(&app, &cashier, &sale, bad).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    // Another cashier's sale is not found.
    let (_, other) = staff(&app, "cashier").await;
    let r = receipt(&app, &other, &sale, "").await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn escpos_bytes_print_the_same_receipt_and_a_pending_sales_qr() {
    let (app, owner, cashier, sale) = shop_with_a_sale().await;
    let r = app
        .send(
            axum::http::Request::get(format!(
                "/api/transactions/{}/receipt?format=escpos&paper=80",
                sale["id"].as_str().unwrap()
            ))
            .header("authorization", format!("Bearer {cashier}"))
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    let bytes = &r.bytes;
    assert!(bytes.starts_with(&[0x1B, b'@']), "initialise");
    assert!(bytes.ends_with(&[0x1D, b'V', 66, 0]), "cut");
    assert!(r.text.contains("Rp100.000"));

    // A pending QRIS sale: "not paid" and the QR, as the printer's QR.
    app.call(
        Method::PATCH,
        "/api/settings",
        Some(json!({"qris_payload": common::qris::static_qris("Warung Kopi Bu Sri")})),
        Some(&owner),
    )
    .await;
    let p = product(
        &app,
        &owner,
        json!({"name": "Teh", "price": "5000", "stock": 5}),
    )
    .await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": p["id"], "quantity": 1}], "payment_method": "qris"}),
            Some(&cashier),
        )
        .await;
    let pending = r.body;
    let qr = pending["payment"]["qr_string"].as_str().unwrap();
    let r = receipt(&app, &cashier, &pending, "format=escpos").await;
    let mut store = vec![0x1D, b'(', b'k'];
    let len = qr.len() + 3;
    store.extend([(len % 256) as u8, (len / 256) as u8, 49, 80, 48]);
    store.extend(qr.as_bytes());
    assert!(
        r.bytes.windows(store.len()).any(|w| w == store),
        "the QR's data"
    );
    let r = receipt(&app, &cashier, &pending, "").await;
    assert!(r.text.contains("BELUM DIBAYAR"), "{}", r.text);
    assert!(r.text.contains("Scan QRIS: Rp5.550"), "{}", r.text);
}

fn token_of(link: &Value) -> String {
    link["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_share_link_opens_the_receipt_page_until_revoked_or_expired() {
    let (app, _, cashier, sale) = shop_with_a_sale().await;
    let path = format!(
        "/api/transactions/{}/receipt/link",
        sale["id"].as_str().unwrap()
    );
    let r = app.post(&path, json!({}), Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let link = r.body;
    assert!(token_of(&link).len() >= 40, "unguessable");
    assert_eq!(link["path"], format!("/api/receipts/{}", token_of(&link)));

    let page = app.get(link["path"].as_str().unwrap(), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("Warung Kopi Bu Sri"));
    assert!(page.text.contains("Rp100.000"), "{}", page.text);
    assert!(
        page.text.contains("name=\"viewport\""),
        "readable on a phone"
    );

    // Forged, unknown, revoked and expired: the same 404, no hint.
    let t = token_of(&link);
    let mut forged = t.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let not_found = app.get("/api/receipts/nothing-here", None).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let r = app.get(&format!("/api/receipts/{forged}"), None).await;
    assert_eq!(
        (r.status, &r.text),
        (StatusCode::NOT_FOUND, &not_found.text)
    );

    let r = app.post(&path, json!({"days": 0}), Some(&cashier)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    let second = app
        .post(&path, json!({"days": 7}), Some(&cashier))
        .await
        .body;
    sqlx::query("UPDATE receipt_links SET expires_at = now() - interval '1 second' WHERE sale_id = $1::uuid AND id <> (SELECT id FROM receipt_links WHERE sale_id = $1::uuid ORDER BY created_at LIMIT 1)")
        .bind(sale["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let r = app.get(second["path"].as_str().unwrap(), None).await;
    assert_eq!(
        (r.status, &r.text),
        (StatusCode::NOT_FOUND, &not_found.text),
        "expired"
    );

    let (_, other) = staff(&app, "cashier").await;
    let r = app.call(Method::DELETE, &path, None, Some(&other)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = app.call(Method::DELETE, &path, None, Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revoked"], 2);
    let r = app.get(link["path"].as_str().unwrap(), None).await;
    assert_eq!(
        (r.status, &r.text),
        (StatusCode::NOT_FOUND, &not_found.text),
        "revoked"
    );
}

/// The page a customer opens from WhatsApp, in a real (headless) browser
/// at a phone's width: it renders, and `tests/fixtures/receipt_page.png`
/// is its screenshot (looked at by a person; rewritten with
/// KASIRGO_WRITE_FIXTURES=1).
#[tokio::test]
async fn the_receipt_page_renders_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium on this machine (`apt-get install chromium`)");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test"
        );
        return;
    };
    let (app, _, cashier, sale) = shop_with_a_sale().await;
    let path = format!(
        "/api/transactions/{}/receipt/link",
        sale["id"].as_str().unwrap()
    );
    let link = app.post(&path, json!({}), Some(&cashier)).await.body;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}{}",
        listener.local_addr().unwrap().port(),
        link["path"].as_str().unwrap()
    );
    app.serve_on(listener);
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("receipt.png");
    let run = |extra: Vec<String>| {
        let browser = browser.to_string();
        let profile = dir.path().join("profile");
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(browser)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--window-size=390,1100",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .args(extra)
                .arg(url)
                .output()
                .expect("run chromium")
        })
    };
    let dom = run(vec!["--dump-dom".into()]).await.unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("Warung Kopi Bu Sri") && dom.contains("Rp100.000"),
        "{dom}"
    );
    let out = run(vec![format!("--screenshot={}", shot.display())])
        .await
        .unwrap();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture"
    );
    if std::env::var_os("KASIRGO_WRITE_FIXTURES").is_some() {
        std::fs::write(format!("{FIXTURES}/receipt_page.png"), &png).unwrap();
    }
}
