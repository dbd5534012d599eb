//! Transaction search and detail, and refunds: exact money, never more
//! than was sold, safe under concurrent refunds.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{DurationRound, TimeZone};
use common::shop::{staff, stock_of, stocked};
use common::{Reply, TestApp, assert_error};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn sell(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/transactions", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn numbers(r: &Reply) -> Vec<String> {
    r.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text))
        .iter()
        .map(|s| s["customer_name"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of `GET /api/transactions?{query}`, following next_cursor:
/// the customer names, in order.
async fn walk(app: &TestApp, query: &str, token: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = format!("/api/transactions?{query}");
    loop {
        let r = app.get(&path, Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(numbers(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/transactions?{query}&cursor={c}"),
            None => break,
        }
    }
    seen
}

/// Moves a sale to `at`, older than checkout accepts: as if synced long ago.
async fn backdate(app: &TestApp, sale: &Value, at: chrono::DateTime<chrono::Utc>) {
    sqlx::query("UPDATE sales SET occurred_at = $2 WHERE id = $1::uuid")
        .bind(sale["id"].as_str().unwrap())
        .bind(at)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn search_by_text_dates_and_filters_newest_first() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    let (_, other) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "10000", 100).await;
    let sale = |customer: &str, notes: &str, qty: i64, method: &str, at: &str| {
        json!({"items": [{"product_id": p["id"], "quantity": qty}], "customer_name": customer,
               "notes": notes, "payment_method": method, "occurred_at": at})
    };
    let now = chrono::Utc::now();
    let day = |days_ago: i64, hh: u32, mm: u32| {
        // Store-local (WIB, UTC+7) wall clock `days_ago` days back.
        let local = (now.with_timezone(&chrono_tz::Asia::Jakarta)
            - chrono::Duration::days(days_ago))
        .date_naive()
        .and_hms_opt(hh, mm, 0)
        .unwrap();
        (local - chrono::Duration::hours(7)).and_utc().to_rfc3339()
    };
    // Every sale lies on a past store-local day, so each is in the past
    // whatever the hour the test runs at (a time "today" may not be yet).
    // Budi at 23:30 WIB three days ago: UTC says the day before was 16:30.
    let budi = sell(
        &app,
        &cashier,
        sale("Budi", "table 4", 1, "cash", &day(3, 23, 30)),
    )
    .await;
    sell(
        &app,
        &cashier,
        sale("Siti", "Less SUGAR please", 3, "ewallet", &day(2, 0, 30)),
    )
    .await;
    sell(&app, &other, sale("Andi", "", 5, "card", &day(1, 9, 0))).await;

    let get = |q: String, token: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/transactions?{q}"), Some(&token))
                .await
        }
    };
    let r = get(String::new(), manager.clone()).await;
    assert_eq!(numbers(&r), ["Andi", "Siti", "Budi"], "newest first");
    assert_eq!(r.body["results"][0]["item_count"], 1);
    assert_eq!(
        numbers(&get("q=sugar".into(), manager.clone()).await),
        ["Siti"]
    );
    assert_eq!(
        numbers(&get("q=BUDI".into(), manager.clone()).await),
        ["Budi"]
    );
    assert_eq!(
        numbers(&get("q=TABLE".into(), manager.clone()).await),
        ["Budi"]
    );
    let no = budi["transaction_no"].as_str().unwrap();
    assert_eq!(
        numbers(&get(format!("q={}", &no[no.len() - 6..]), manager.clone()).await),
        ["Budi"]
    );
    assert_eq!(
        numbers(&get("payment_method=ewallet".into(), manager.clone()).await),
        ["Siti"]
    );
    assert_eq!(
        numbers(&get("min_total=25000&max_total=30000".into(), manager.clone()).await),
        ["Siti"]
    );
    assert_eq!(
        numbers(&get(format!("cashier_id={cashier_id}"), manager.clone()).await),
        ["Siti", "Budi"]
    );
    assert_eq!(
        numbers(&get("status=completed".into(), manager.clone()).await).len(),
        3
    );

    let local = |days_ago: i64| {
        (now.with_timezone(&chrono_tz::Asia::Jakarta) - chrono::Duration::days(days_ago))
            .date_naive()
            .to_string()
    };
    // The 23:30 sale is on its store-local day, not the UTC one.
    assert_eq!(
        numbers(
            &get(
                format!("from={}&to={}", local(3), local(3)),
                manager.clone()
            )
            .await
        ),
        ["Budi"]
    );
    assert_eq!(
        numbers(
            &get(
                format!("from={}&to={}", local(2), local(1)),
                manager.clone()
            )
            .await
        ),
        ["Andi", "Siti"]
    );
    assert_eq!(
        numbers(&get(format!("from={}", local(4)), manager.clone()).await).len(),
        3
    );

    // A cashier sees only their own sales, whatever they ask for.
    assert_eq!(numbers(&get(String::new(), other.clone()).await), ["Andi"]);
    assert_eq!(
        numbers(&get(format!("cashier_id={cashier_id}"), other.clone()).await),
        ["Andi"]
    );
    let r = app
        .get(
            &format!("/api/transactions/{}", budi["id"].as_str().unwrap()),
            Some(&other),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    for bad in [
        "from=yesterday",
        "from=2026-11-10&to=2026-11-01",
        "status=lost",
        "payment_method=gold",
        "min_total=-1",
        "limit=0",
    ] {
        let r = app
            .get(&format!("/api/transactions?{bad}"), Some(&manager))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }

    // Pagination walks everything once.
    let mut seen = Vec::new();
    let mut path = "/api/transactions?limit=2".to_string();
    loop {
        let r = app.get(&path, Some(&manager)).await;
        seen.extend(numbers(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/transactions?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Andi", "Siti", "Budi"]);
}

#[tokio::test]
async fn refunds_are_exact_and_never_exceed_the_sale() {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (_, cashier) = staff(&app, "cashier").await;
    app.call(
        Method::PATCH,
        "/api/settings",
        Some(json!({"tax_rate": "0.11"})),
        Some(&owner),
    )
    .await;
    let kopi = stocked(&app, &owner, "10.00", 10).await;
    let roti = stocked(&app, &owner, "5.00", 10).await;
    // 3 x 10.00 + 2 x 5.00 = 40.00; discount 1.00; tax 11% of 39.00 = 4.29;
    // total 43.29.
    let sale = sell(
        &app,
        &cashier,
        json!({"items": [{"product_id": kopi["id"], "quantity": 3}, {"product_id": roti["id"], "quantity": 2}],
               "discount": "1", "payment_method": "cash"}),
    )
    .await;
    assert_eq!(sale["total"], "43.29");
    let kopi_line = sale["items"][0]["id"].clone();
    let roti_line = sale["items"][1]["id"].clone();
    let tid = sale["id"].clone();

    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "reason": "x"}),
            Some(&cashier),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");

    // One kopi back: its share of the sale, 10/40 of 43.29 = 10.8225 -> 10.82.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "items": [{"item_id": kopi_line, "quantity": 1}],
                                      "reason": "Spilled"}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["amount"], "10.82");
    assert_eq!(r.body["restocked"], true);
    assert_eq!(r.body["items"][0]["quantity"], 1);
    assert_eq!(stock_of(&app, kopi["id"].as_str().unwrap()).await, 8);

    // More than is left on the line: refused, nothing changes.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "items": [{"item_id": kopi_line, "quantity": 3}],
                                      "reason": "x"}),
            Some(&owner),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    // Listing the same line twice counts both.
    let r = app
        .post("/api/refunds", json!({"transaction_id": tid, "items": [{"item_id": kopi_line, "quantity": 1},
                                                                     {"item_id": kopi_line, "quantity": 2}],
                                      "reason": "x"}), Some(&owner))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    let d = app
        .get(
            &format!("/api/transactions/{}", tid.as_str().unwrap()),
            Some(&owner),
        )
        .await;
    assert_eq!(d.body["status"], "partially_refunded");
    assert_eq!(d.body["refunded_amount"], "10.82");
    assert_eq!(d.body["items"][0]["refunded_quantity"], 1);
    assert_eq!(d.body["refunds"].as_array().unwrap().len(), 1);

    // Without restocking.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "items": [{"item_id": roti_line, "quantity": 1}],
                                      "reason": "Stale", "restock": false}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(stock_of(&app, roti["id"].as_str().unwrap()).await, 8);

    // Everything left: the refunds add up to the total exactly.
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "reason": "Closing the tab"}),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = app
        .get(
            &format!("/api/transactions/{}", tid.as_str().unwrap()),
            Some(&owner),
        )
        .await;
    assert_eq!(d.body["status"], "refunded");
    assert_eq!(d.body["refunded_amount"], "43.29");
    let total: rust_decimal::Decimal = d.body["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["amount"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(total.to_string(), "43.29");
    let r = app
        .post(
            "/api/refunds",
            json!({"transaction_id": tid, "reason": "again"}),
            Some(&owner),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    assert_eq!(stock_of(&app, kopi["id"].as_str().unwrap()).await, 10);
    assert_eq!(
        stock_of(&app, roti["id"].as_str().unwrap()).await,
        9,
        "one roti was not restocked"
    );
    let ledger: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stock_movements WHERE kind = 'refund'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(ledger, 3, "one ledger row per restocked product per refund");

    for bad in [
        json!({"transaction_id": uuid::Uuid::new_v4(), "reason": "x"}),
        json!({"transaction_id": tid, "reason": ""}),
        json!({"transaction_id": tid, "items": [], "reason": "x"}),
        json!({"transaction_id": tid, "items": [{"item_id": uuid::Uuid::new_v4(), "quantity": 1}], "reason": "x"}),
        json!({"transaction_id": tid, "items": [{"item_id": kopi_line, "quantity": 0}], "reason": "x"}),
    ] {
        let r = app.post("/api/refunds", bad.clone(), Some(&owner)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }

    let r = app
        .get(
            &format!("/api/refunds?transaction_id={}", tid.as_str().unwrap()),
            Some(&owner),
        )
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 3);
    assert_error(
        &app.get("/api/refunds", Some(&cashier)).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_never_over_refund() {
    let app = TestApp::with_config(&[("DB_MAX_CONNECTIONS", "12")]).await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "7.77", 10).await;
    let sale = sell(
        &app,
        &manager,
        json!({"items": [{"product_id": p["id"], "quantity": 3}], "payment_method": "cash"}),
    )
    .await;
    let line_id = sale["items"][0]["id"].clone();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let svc = app.app.clone();
            let token = manager.clone();
            // Half refund one unit, half "everything left".
            let body = if i % 2 == 0 {
                json!({"transaction_id": sale["id"], "items": [{"item_id": line_id, "quantity": 1}], "reason": "race"})
            } else {
                json!({"transaction_id": sale["id"], "reason": "race"})
            };
            tokio::spawn(async move {
                let req = Request::post("/api/refunds")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap();
                svc.oneshot(req).await.unwrap().status()
            })
        })
        .collect();
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status}"
        );
    }
    let (refunded_qty, refunded_amount): (i32, rust_decimal::Decimal) = sqlx::query_as(
        "SELECT l.refunded_quantity, s.refunded_amount FROM sales s JOIN sale_lines l ON l.sale_id = s.id WHERE s.id = $1::uuid",
    )
    .bind(sale["id"].as_str().unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(refunded_qty, 3);
    assert_eq!(refunded_amount.to_string(), "23.31");
    let sum: rust_decimal::Decimal = sqlx::query_scalar("SELECT sum(amount) FROM refunds")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sum.to_string(), "23.31", "refund rows add up to the sale");
    assert_eq!(stock_of(&app, p["id"].as_str().unwrap()).await, 10);
}

/// Name/notes search across time: matches minutes to years old, on both
/// sides of 3, 30 and 365 days back (the windows a windowed search, newest
/// window first, would use), ties on one instant, pages that straddle them,
/// a cursor, `to`, `from` and a cashier's own sales still give every match
/// exactly once, newest first.
#[tokio::test]
async fn text_search_pages_across_time_windows() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, cashier) = staff(&app, "cashier").await;
    let (_, other) = staff(&app, "cashier").await;
    let p = stocked(&app, &manager, "10000", 1000).await;
    let now_hour = chrono::Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap();
    // (customer, hours ago, seller): "Wiryo" matches 13 times; the ties
    // share an instant (then newest first by id).
    let sales = [
        ("Wiryo A", 1, &cashier),
        ("Other", 2, &cashier),
        ("Wiryo B", 30, &other),
        ("Wiryo C", 71, &cashier),
        ("Wiryo D", 73, &cashier),
        ("Other", 100, &other),
        ("Wiryo E", 24 * 29, &other),
        ("Wiryo F", 24 * 31, &cashier),
        ("Wiryo G", 24 * 31, &cashier),
        ("Wiryo H", 24 * 200, &cashier),
        ("Other", 24 * 300, &cashier),
        ("Wiryo I", 24 * 364, &other),
        ("Wiryo J", 24 * 366, &cashier),
        ("Wiryo K", 24 * 700, &cashier),
        ("Wiryo L", 24 * 700, &other),
        ("Wiryo M", 24 * 2000, &cashier),
    ];
    let mut expected = Vec::new();
    for (name, hours, seller) in sales {
        let sale = sell(
            &app,
            seller,
            json!({"items": [{"product_id": p["id"], "quantity": 1}], "customer_name": name,
                   "notes": "", "payment_method": "cash"}),
        )
        .await;
        backdate(
            &app,
            &sale,
            now_hour - chrono::Duration::hours(hours.into()),
        )
        .await;
        expected.push((
            hours,
            sale["id"].as_str().unwrap().to_string(),
            name,
            seller == &cashier,
        ));
    }
    // Newest first, then by id descending.
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    // (hours ago, id, customer, sold by `cashier`)
    type Sold<'a> = (i32, String, &'a str, bool);
    let wanted = |f: &dyn Fn(&Sold) -> bool| -> Vec<String> {
        expected
            .iter()
            .filter(|e| e.2.starts_with("Wiryo") && f(e))
            .map(|e| e.2.to_string())
            .collect()
    };
    let all = wanted(&|_| true);
    assert_eq!(all.len(), 13);
    for limit in [1, 2, 3, 4, 5, 13, 50] {
        assert_eq!(
            walk(&app, &format!("q=wiryo&limit={limit}"), &manager).await,
            all,
            "limit {limit}"
        );
        assert_eq!(
            walk(&app, &format!("q=wiryo&limit={limit}"), &cashier).await,
            wanted(&|e| e.3),
            "cashier, limit {limit}"
        );
    }
    // `to` a store-local date 10 days back: windows back from its end.
    let to = (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Jakarta)
        - chrono::Duration::days(10))
    .date_naive();
    let day_start = |d: chrono::NaiveDate| {
        chrono_tz::Asia::Jakarta
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let to_end = day_start(to.succ_opt().unwrap());
    for limit in [1, 2, 3, 50] {
        assert_eq!(
            walk(&app, &format!("q=wiryo&to={to}&limit={limit}"), &manager).await,
            wanted(&|e| now_hour - chrono::Duration::hours(e.0.into()) < to_end),
            "to, limit {limit}"
        );
    }
    // `from` cuts the windows short.
    let from = to - chrono::Duration::days(400);
    assert_eq!(
        walk(
            &app,
            &format!("q=wiryo&from={from}&to={to}&limit=2"),
            &manager
        )
        .await,
        wanted(&|e| {
            let at = now_hour - chrono::Duration::hours(e.0.into());
            at >= day_start(from) && at < to_end
        }),
    );
}

/// Every trigram the search asks the slices index for is one pg_trgm
/// itself finds in a text containing `q`, whatever the case, punctuation
/// or non-ASCII letters: otherwise the index would hide a match.
#[tokio::test]
async fn search_trigrams_are_in_every_text_that_matches() {
    let db = common::TestDb::new().await;
    let texts = [
        "Meja 12, extra-ice",
        "GoFood order #004212",
        "Angelina Tanjung",
        "café Ñoño 5x pedas",
        "İstanbul KELVIN ẞtraße",
        "a_b%c\\d  spaced   out ",
    ];
    let mut checked = 0;
    for text in texts {
        let chars: Vec<char> = text.chars().collect();
        for i in 0..chars.len() {
            for j in i + 1..=chars.len() {
                // Substrings, and the same in the other case where ASCII.
                let q: String = chars[i..j].iter().collect();
                for q in [q.clone(), q.to_ascii_uppercase()] {
                    let trigrams = kasirgo::sales::search::trigrams_in(&q);
                    let (matches, has_all): (bool, bool) =
                        sqlx::query_as("SELECT $1 ILIKE $2, show_trgm($1) @> $3::text[]")
                            .bind(text)
                            .bind(kasirgo::catalog::products::like_pattern(&q))
                            .bind(&trigrams)
                            .fetch_one(&db.pool)
                            .await
                            .unwrap();
                    assert!(matches, "{q:?} in {text:?}");
                    assert!(has_all, "{q:?} in {text:?}: {trigrams:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}

/// Sales on both sides of a time-slice edge of the search index (and on
/// it), paged one by one, newest first, with a cursor that stops on the
/// edge.
#[tokio::test]
async fn text_search_pages_across_a_time_slice_edge() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let p = stocked(&app, &manager, "1000", 100).await;
    // Slice 693 starts at 693 * 2,592,000 s after the epoch.
    let edge = chrono::Utc.timestamp_opt(693 * 2_592_000, 0).unwrap();
    let offsets_us = [
        -1_000_000i64,
        -1,
        0,
        1,
        2_592_000_000_000 - 1,
        2_592_000_000_000,
    ];
    let mut expected = Vec::new();
    for (i, us) in offsets_us.iter().enumerate() {
        let name = format!("Kusnadi {i}");
        let sale = sell(
            &app,
            &manager,
            json!({"items": [{"product_id": p["id"], "quantity": 1}], "customer_name": name,
                   "payment_method": "cash"}),
        )
        .await;
        backdate(&app, &sale, edge + chrono::Duration::microseconds(*us)).await;
        expected.push(name);
    }
    expected.reverse();
    assert_eq!(walk(&app, "q=kusnadi&limit=1", &manager).await, expected);
}
