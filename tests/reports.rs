//! Financial reports: exact figures on a hand-computed shop across the
//! WIB/UTC day boundary, with discounts, tax, take-away charges and partial
//! refunds; CSV that parses back to the JSON; roles; bad input; rollups that
//! always equal the raw sums, also under concurrent checkouts and refunds.

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, NaiveDate, Utc};
use common::shop::{product, staff, stocked};
use common::{Reply, TestApp, assert_error};
use kasirgo::reports::{self, Figures, Source};
use serde_json::{Value, json};

const WIB: chrono_tz::Tz = chrono_tz::Asia::Jakarta;

fn today() -> NaiveDate {
    Utc::now().with_timezone(&WIB).date_naive()
}

/// RFC 3339 UTC of a WIB wall-clock time `days_ago` days back.
fn wib(days_ago: i64, hh: u32, mm: u32) -> String {
    let local = (today() - Duration::days(days_ago))
        .and_hms_opt(hh, mm, 0)
        .unwrap();
    (local - Duration::hours(7)).and_utc().to_rfc3339()
}

fn day(days_ago: i64) -> String {
    (today() - Duration::days(days_ago)).to_string()
}

async fn sell(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/transactions", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn refund(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/refunds", body, Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// A sale with a take-away charge, written straight into the tables as a
/// checkout recording one does (the CHECKs hold it to
/// `total = subtotal - discount + tax + takeaway_charge`): `lines` are
/// (product id, unit price, unit cost, quantity), `tax` is given. Paid
/// exactly. Returns the sale's id and its line ids in order.
#[allow(clippy::too_many_arguments)]
async fn takeaway_sale(
    pool: &sqlx::PgPool,
    cashier_id: uuid::Uuid,
    at: &str,
    lines: &[(&str, &str, &str, i32)],
    discount: &str,
    tax: &str,
    takeaway: &str,
    method: &str,
) -> (String, Vec<String>) {
    let mut tx = pool.begin().await.unwrap();
    let product_ids: Vec<uuid::Uuid> = lines.iter().map(|l| l.0.parse().unwrap()).collect();
    let prices: Vec<String> = lines.iter().map(|l| l.1.to_string()).collect();
    let costs: Vec<String> = lines.iter().map(|l| l.2.to_string()).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.3).collect();
    let sale: uuid::Uuid = sqlx::query_scalar(
        "WITH s AS (
             SELECT sum(p::numeric * q) AS subtotal
             FROM unnest($1::text[], $2::int[]) AS l(p, q)
         )
         INSERT INTO sales (transaction_no, cashier_id, order_type, payment_method, subtotal,
                            discount, tax, takeaway_charge, total, paid_amount, change_amount,
                            occurred_at)
         SELECT 'TKW-' || gen_random_uuid(), $3, 'take_away', $4, subtotal,
                $5::numeric, $6::numeric, $7::numeric,
                subtotal - $5::numeric + $6::numeric + $7::numeric,
                subtotal - $5::numeric + $6::numeric + $7::numeric, 0, $8::timestamptz
         FROM s
         RETURNING id",
    )
    .bind(&prices)
    .bind(&quantities)
    .bind(cashier_id)
    .bind(method)
    .bind(discount)
    .bind(tax)
    .bind(takeaway)
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let mut line_ids: Vec<(i32, uuid::Uuid)> = sqlx::query_as(
        "INSERT INTO sale_lines (sale_id, line_no, product_id, product_name, sku, unit_price,
                                 unit_cost, quantity, line_total)
         SELECT $1, l.n, p.id, p.name, p.sku, l.price::numeric, l.cost::numeric, l.q,
                l.price::numeric * l.q
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY
              AS l(product_id, price, cost, q, n)
         JOIN products p ON p.id = l.product_id
         RETURNING line_no, id",
    )
    .bind(sale)
    .bind(&product_ids)
    .bind(&prices)
    .bind(&costs)
    .bind(&quantities)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    line_ids.sort();
    (
        sale.to_string(),
        line_ids.iter().map(|(_, id)| id.to_string()).collect(),
    )
}

fn ok(r: &Reply) -> &Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    &r.body
}

/// The figures of a report row, as the strings the JSON carries.
fn figures(row: &Value) -> BTreeMap<String, String> {
    [
        "transactions",
        "items_sold",
        "gross_sales",
        "discounts",
        "tax",
        "refunds",
        "net_sales",
        "cost_of_goods",
        "gross_profit",
        "items_refunded",
        "refunded_tax",
        "takeaway_charges",
    ]
    .iter()
    .map(|k| {
        let v = &row[*k];
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("{k} is {other} in {row}"),
        };
        (k.to_string(), s)
    })
    .collect()
}

fn expect(values: [&str; 12]) -> BTreeMap<String, String> {
    let keys = [
        "transactions",
        "items_sold",
        "gross_sales",
        "discounts",
        "tax",
        "refunds",
        "net_sales",
        "cost_of_goods",
        "gross_profit",
        "items_refunded",
        "refunded_tax",
        "takeaway_charges",
    ];
    keys.iter()
        .zip(values)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Shop {
    app: TestApp,
    manager: String,
    cashier: String,
    cashier_id: uuid::Uuid,
    kopi: String,
    roti: String,
}

/// Tax 11%. Kopi: price 10000, cost 6000. Roti: price 2500, cost 1000.
///
/// - S1, 3 days ago 23:30 WIB (16:30 UTC): 2 kopi + 1 roti, discount 1000,
///   cash. Subtotal 22500, tax 11% of 21500 = 2365.00, total 23865.00,
///   cost 13000.
/// - 2 days ago: nothing in WIB; but S2 below is on this day in UTC.
/// - S2, yesterday 00:30 WIB (17:30 UTC the day before): 1 kopi, ewallet.
///   Subtotal 10000, tax 1100.00, total 11100.00, cost 6000.
/// - S3, yesterday 12:00 WIB: 3 roti, discount 500, cash. Subtotal 7500,
///   tax 11% of 7000 = 770.00, total 7770.00, cost 3000.
/// - Today (refunds count on the day they are made):
///   R1: one kopi of S1, restocked: 23865 x 10000/22500 = 10606.67, of
///   which tax 2365 x 10606.67/23865 = 1051.11; its cost 6000 comes back.
///   R2: one roti of S3, not restocked: 7770 x 2500/7500 = 2590.00, tax
///   770 x 2590/7770 = 256.67; the roti's cost stays spent.
async fn shop() -> Shop {
    let app = TestApp::new().await;
    sqlx::query("UPDATE store_settings SET tax_rate = 0.11, timezone = 'Asia/Jakarta'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (_, manager) = staff(&app, "manager").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    let kopi = product(
        &app,
        &manager,
        json!({"name": "Kopi", "sku": "KOPI", "price": "10000", "cost": "6000", "stock": 100}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let roti = product(
        &app,
        &manager,
        json!({"name": "Roti", "sku": "ROTI", "price": "2500", "cost": "1000", "stock": 100}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let s1 = sell(
        &app,
        &cashier,
        json!({"items": [{"product_id": kopi, "quantity": 2}, {"product_id": roti, "quantity": 1}],
               "discount": "1000", "payment_method": "cash", "occurred_at": wib(3, 23, 30)}),
    )
    .await;
    assert_eq!(s1["total"], "23865.00");
    let s2 = sell(
        &app,
        &cashier,
        json!({"items": [{"product_id": kopi, "quantity": 1}],
               "payment_method": "ewallet", "occurred_at": wib(1, 0, 30)}),
    )
    .await;
    assert_eq!(s2["total"], "11100.00");
    let s3 = sell(
        &app,
        &cashier,
        json!({"items": [{"product_id": roti, "quantity": 3}],
               "discount": "500", "payment_method": "cash", "occurred_at": wib(1, 12, 0)}),
    )
    .await;
    assert_eq!(s3["total"], "7770.00");
    let kopi_line = s1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == kopi.as_str())
        .unwrap()["id"]
        .clone();
    let r1 = refund(
        &app,
        &manager,
        json!({"transaction_id": s1["id"], "items": [{"item_id": kopi_line, "quantity": 1}],
               "reason": "spilled"}),
    )
    .await;
    assert_eq!(r1["amount"], "10606.67");
    let r2 = refund(
        &app,
        &manager,
        json!({"transaction_id": s3["id"], "items": [{"item_id": s3["items"][0]["id"], "quantity": 1}],
               "reason": "stale", "restock": false}),
    )
    .await;
    assert_eq!(r2["amount"], "2590.00");
    Shop {
        app,
        manager,
        cashier,
        cashier_id,
        kopi,
        roti,
    }
}

fn day3() -> BTreeMap<String, String> {
    expect([
        "1", "3", "22500.00", "1000.00", "2365.00", "0.00", "21500.00", "13000.00", "8500.00", "0",
        "0.00", "0.00",
    ])
}

fn zeros() -> BTreeMap<String, String> {
    expect([
        "0", "0", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0", "0.00", "0.00",
    ])
}

fn day1() -> BTreeMap<String, String> {
    expect([
        "2", "4", "17500.00", "500.00", "1870.00", "0.00", "17000.00", "9000.00", "8000.00", "0",
        "0.00", "0.00",
    ])
}

fn day0() -> BTreeMap<String, String> {
    // net = -(13196.67 - 1307.78); cost = -6000 (only the kopi was restocked)
    expect([
        "0",
        "0",
        "0.00",
        "0.00",
        "0.00",
        "13196.67",
        "-11888.89",
        "-6000.00",
        "-5888.89",
        "2",
        "1307.78",
        "0.00",
    ])
}

fn all_days() -> BTreeMap<String, String> {
    expect([
        "3", "7", "40000.00", "1500.00", "4235.00", "13196.67", "26611.11", "16000.00", "10611.11",
        "2", "1307.78", "0.00",
    ])
}

/// The daily report from `from` to `to` days ago, after the store moves
/// to `zone`.
async fn daily_in_zone(s: &Shop, zone: &str, from: i64, to: i64) -> Value {
    sqlx::query("UPDATE store_settings SET timezone = $1")
        .bind(zone)
        .execute(&s.app.db.pool)
        .await
        .unwrap();
    let r = s
        .app
        .get(
            &format!("/api/reports/daily?from={}&to={}", day(from), day(to)),
            Some(&s.manager),
        )
        .await;
    ok(&r).clone()
}

#[tokio::test]
async fn daily_figures_are_exact_on_store_local_days() {
    let s = shop().await;
    let r = s
        .app
        .get(
            &format!("/api/reports/daily?from={}&to={}", day(3), day(0)),
            Some(&s.manager),
        )
        .await;
    let body = ok(&r);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(body["timezone"], "Asia/Jakarta");
    assert_eq!(body["currency"], "IDR");
    let rows = body["results"].as_array().unwrap();
    let dates: Vec<&str> = rows.iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert_eq!(dates, [day(3), day(2), day(1), day(0)]);
    assert_eq!(figures(&rows[0]), day3(), "23:30 WIB is that WIB day");
    assert_eq!(
        figures(&rows[1]),
        zeros(),
        "00:30 WIB belongs to the next WIB day, not this UTC one"
    );
    assert_eq!(figures(&rows[2]), day1());
    assert_eq!(
        figures(&rows[3]),
        day0(),
        "refunds count the day they happen"
    );
    assert_eq!(figures(&body["totals"]), all_days());

    // Defaults: the last 7 days, today included.
    let r = s.app.get("/api/reports/daily", Some(&s.manager)).await;
    let body = ok(&r);
    assert_eq!(body["from"], day(6));
    assert_eq!(body["to"], day(0));
    assert_eq!(body["results"].as_array().unwrap().len(), 7);
    assert_eq!(figures(&body["totals"]), all_days());

    // A trailing slash, and one day only.
    let r = s
        .app
        .get(
            &format!("/api/reports/daily/?from={}&to={}", day(1), day(1)),
            Some(&s.manager),
        )
        .await;
    assert_eq!(figures(&ok(&r)["results"][0]), day1());

    // Owners may read reports too.
    let (_, owner) = staff(&s.app, "owner").await;
    ok(&s.app.get("/api/reports/daily", Some(&owner)).await);

    // In another zone the same sales fall on other days: UTC+0 puts S2
    // (17:30 UTC) on the day the WIB report had empty.
    let body = daily_in_zone(&s, "UTC", 3, 2).await;
    assert_eq!(body["timezone"], "UTC");
    assert_eq!(body["results"][1]["transactions"], 1);
    assert_eq!(body["results"][1]["gross_sales"], "10000.00");

    // A +05:45 zone: local days do not start on the hour, so the figures
    // come from the raw rows; S2 (17:30 UTC) is at 23:15 there.
    let body = daily_in_zone(&s, "Asia/Kathmandu", 4, 0).await;
    assert_eq!(body["timezone"], "Asia/Kathmandu");
    assert_eq!(body["results"][2]["transactions"], 1);
    assert_eq!(body["results"][2]["tax"], "1100.00");
    assert_eq!(figures(&body["totals"]), all_days());
}

#[tokio::test]
async fn monthly_and_summary_agree_with_the_days() {
    let s = shop().await;
    let month = |days_ago: i64| {
        (today() - Duration::days(days_ago))
            .format("%Y-%m")
            .to_string()
    };
    let r = s
        .app
        .get(
            &format!("/api/reports/monthly?from={}&to={}", month(3), month(0)),
            Some(&s.manager),
        )
        .await;
    let body = ok(&r);
    assert_eq!(figures(&body["totals"]), all_days());
    let rows = body["results"].as_array().unwrap();
    assert_eq!(rows[0]["month"], month(3));
    assert_eq!(rows.last().unwrap()["month"], month(0));
    if month(3) == month(0) {
        assert_eq!(figures(&rows[0]), all_days());
    }

    // Default: this year, every month, empty ones as zeros.
    let r = s.app.get("/api/reports/monthly", Some(&s.manager)).await;
    let body = ok(&r);
    let year = today().format("%Y").to_string();
    assert_eq!(body["from"], format!("{year}-01"));
    assert_eq!(body["to"], format!("{year}-12"));
    assert_eq!(body["results"].as_array().unwrap().len(), 12);
    let this_month = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["month"] == month(0))
        .unwrap();
    assert!(figures(this_month)["refunds"] == "13196.67");

    let r = s
        .app
        .get(
            &format!("/api/reports/summary?from={}&to={}", day(3), day(0)),
            Some(&s.manager),
        )
        .await;
    let body = ok(&r);
    assert_eq!(figures(&body["totals"]), all_days());
    let methods = body["by_payment_method"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| m["payment_method"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cash", "qris", "card", "transfer", "ewallet"]);
    assert_eq!(methods[0]["transactions"], 2);
    assert_eq!(methods[0]["total"], "31635.00");
    assert_eq!(methods[0]["refunds"], "13196.67");
    assert_eq!(methods[0]["net"], "18438.33");
    assert_eq!(methods[4]["total"], "11100.00");
    assert_eq!(methods[4]["refunds"], "0.00");
    // QRIS sales are rung up now and wait for their money: none back-dated here.
    assert_eq!(methods[1]["transactions"], 0);
    assert_eq!(methods[1]["total"], "0.00");

    let cashiers = body["by_cashier"].as_array().unwrap();
    assert_eq!(cashiers.len(), 1);
    assert_eq!(cashiers[0]["cashier_id"], s.cashier_id.to_string());
    assert_eq!(cashiers[0]["transactions"], 3);
    assert_eq!(cashiers[0]["items_sold"], 7);
    assert_eq!(cashiers[0]["total"], "42735.00");

    let top = &body["top_products"];
    assert_eq!(top["by_quantity"][0]["product_id"], s.roti.as_str());
    assert_eq!(top["by_quantity"][0]["quantity"], 4);
    assert_eq!(top["by_quantity"][0]["revenue"], "10000.00");
    assert_eq!(top["by_quantity"][0]["product_name"], "Roti");
    assert_eq!(top["by_revenue"][0]["product_id"], s.kopi.as_str());
    assert_eq!(top["by_revenue"][0]["quantity"], 3);
    assert_eq!(top["by_revenue"][0]["revenue"], "30000.00");

    let hours = body["by_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let at = |h: usize| (hours[h]["transactions"].clone(), hours[h]["total"].clone());
    assert_eq!(at(23), (json!(1), json!("23865.00")), "23:30 WIB");
    assert_eq!(at(0), (json!(1), json!("11100.00")), "00:30 WIB");
    assert_eq!(at(12), (json!(1), json!("7770.00")));
    assert_eq!(at(17), (json!(0), json!("0.00")));

    // Default: today, where only the refunds happened.
    let r = s.app.get("/api/reports/summary", Some(&s.manager)).await;
    let body = ok(&r);
    assert_eq!(body["from"], day(0));
    assert_eq!(body["to"], day(0));
    assert_eq!(figures(&body["totals"]), day0());
    assert_eq!(body["by_payment_method"][0]["refunds"], "13196.67");
    assert_eq!(body["by_cashier"], json!([]));
}

/// Parses RFC 4180 text (quoted fields, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "CSV ends with CRLF");
    rows
}

async fn csv_get(app: &TestApp, path: &str, token: &str, accept: Option<&str>) -> Reply {
    let mut req = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(accept) = accept {
        req = req.header(header::ACCEPT, accept);
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

fn assert_csv_matches(reply: &Reply, json: &Value, key: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let disposition = reply.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"kasirgo-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let rows = parse_csv(&reply.text);
    let header = &rows[0];
    assert_eq!(header[0], key);
    let results = json["results"].as_array().unwrap();
    assert_eq!(rows.len() - 1, results.len(), "one line per row");
    for (line, row) in rows[1..].iter().zip(results) {
        assert_eq!(line[0], row[key].as_str().unwrap());
        let mut from_csv = BTreeMap::new();
        for (name, value) in header[1..].iter().zip(&line[1..]) {
            from_csv.insert(name.clone(), value.clone());
        }
        assert_eq!(from_csv, figures(row), "{key} {}", line[0]);
    }
}

#[tokio::test]
async fn csv_parses_back_to_the_json_figures() {
    let s = shop().await;
    let q = format!("from={}&to={}", day(3), day(0));
    let json = ok(&s
        .app
        .get(&format!("/api/reports/daily?{q}"), Some(&s.manager))
        .await)
    .clone();
    let by_param = csv_get(
        &s.app,
        &format!("/api/reports/daily?{q}&format=csv"),
        &s.manager,
        None,
    )
    .await;
    assert_csv_matches(&by_param, &json, "date");
    assert!(
        by_param.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(&format!("kasirgo-daily-{}-to-{}.csv", day(3), day(0)))
    );
    let by_accept = csv_get(
        &s.app,
        &format!("/api/reports/daily?{q}"),
        &s.manager,
        Some("text/csv"),
    )
    .await;
    assert_eq!(by_accept.text, by_param.text);
    // ?format=json wins over Accept.
    let r = csv_get(
        &s.app,
        &format!("/api/reports/daily?{q}&format=json"),
        &s.manager,
        Some("text/csv"),
    )
    .await;
    assert_eq!(ok(&r)["results"], json["results"]);

    let json = ok(&s.app.get("/api/reports/monthly", Some(&s.manager)).await).clone();
    let csv = csv_get(
        &s.app,
        "/api/reports/monthly",
        &s.manager,
        Some("text/csv;q=0.9, application/json;q=0.1"),
    )
    .await;
    assert_csv_matches(&csv, &json, "month");

    let q = format!("from={}&to={}", day(3), day(0));
    let json = ok(&s
        .app
        .get(&format!("/api/reports/summary?{q}"), Some(&s.manager))
        .await)
    .clone();
    let csv = csv_get(
        &s.app,
        &format!("/api/reports/summary?{q}&format=CSV"),
        &s.manager,
        None,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    let rows = parse_csv(&csv.text);
    assert_eq!(rows[0], ["section", "key", "name", "metric", "value"]);
    let find = |section: &str, key: &str, metric: &str| -> String {
        rows.iter()
            .find(|r| r[0] == section && r[1] == key && r[3] == metric)
            .unwrap_or_else(|| panic!("{section} {key} {metric} in {}", csv.text))[4]
            .clone()
    };
    let totals: BTreeMap<String, String> = rows
        .iter()
        .filter(|r| r[0] == "totals")
        .map(|r| (r[3].clone(), r[4].clone()))
        .collect();
    assert_eq!(totals, figures(&json["totals"]));
    assert_eq!(find("by_payment_method", "cash", "total"), "31635.00");
    assert_eq!(find("by_payment_method", "ewallet", "net"), "11100.00");
    assert_eq!(
        find("top_products_by_revenue", &s.kopi, "revenue"),
        "30000.00"
    );
    assert_eq!(find("by_hour", "23", "total"), "23865.00");
    let cashier = rows
        .iter()
        .find(|r| r[0] == "by_cashier" && r[3] == "total")
        .unwrap();
    assert_eq!(cashier[1], s.cashier_id.to_string());
    assert_eq!(cashier[4], "42735.00");
}

#[tokio::test]
async fn managers_and_owners_only() {
    let app = TestApp::new().await;
    let (_, cashier) = staff(&app, "cashier").await;
    for path in [
        "/api/reports/daily",
        "/api/reports/monthly",
        "/api/reports/summary",
        "/api/reports/daily?format=csv",
    ] {
        assert_error(
            &app.get(path, Some(&cashier)).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        );
        assert_error(
            &app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
        );
    }
    let (_, manager) = staff(&app, "manager").await;
    assert_error(
        &app.get("/api/reports/weekly", Some(&manager)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = app
        .post("/api/reports/daily", json!({}), Some(&manager))
        .await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn bad_input_is_400_with_fields() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let cases: &[(&str, &[&str])] = &[
        ("/api/reports/daily?from=2026-13-01", &["from"]),
        (
            "/api/reports/daily?from=yesterday&to=2026-02-30",
            &["from", "to"],
        ),
        ("/api/reports/daily?to=2026-1-5", &["to"]),
        (
            "/api/reports/daily?from=2026-11-25&to=2026-11-24",
            &["from"],
        ),
        ("/api/reports/daily?from=2024-01-01&to=2025-01-01", &["to"]),
        ("/api/reports/daily?format=xml", &["format"]),
        ("/api/reports/monthly?from=2026-1", &["from"]),
        ("/api/reports/monthly?from=2026-11-01", &["from"]),
        ("/api/reports/monthly?to=2026-00", &["to"]),
        ("/api/reports/monthly?from=2026-05&to=2026-04", &["from"]),
        ("/api/reports/monthly?from=2016-12&to=2026-12", &["to"]),
        (
            "/api/reports/monthly?format=pdf&from=x",
            &["format", "from"],
        ),
        ("/api/reports/summary?from=2026-11-24T00:00:00Z", &["from"]),
        (
            "/api/reports/summary?from=2025-11-01&to=2026-11-24",
            &["to"],
        ),
        (
            "/api/reports/summary?from=2026-11-24&to=2026-11-01",
            &["from"],
        ),
    ];
    for (path, fields) in cases {
        let r = app.get(path, Some(&manager)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
        let got: Vec<&str> = r.body["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: {}", r.text))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(&got, fields, "{path}: {}", r.text);
    }
    // The longest ranges allowed.
    ok(&app
        .get(
            "/api/reports/daily?from=2024-01-01&to=2024-12-31",
            Some(&manager),
        )
        .await);
    let r = app
        .get(
            "/api/reports/monthly?from=2017-01&to=2026-12",
            Some(&manager),
        )
        .await;
    assert_eq!(ok(&r)["results"].as_array().unwrap().len(), 120);
}

/// Each WIB day from `days` ago to today, through rollups and raw.
async fn both_ways(app: &TestApp, days: i64) -> (Vec<Figures>, Vec<Figures>) {
    let range = kasirgo::reports::period::Days {
        from: today() - Duration::days(days),
        to: today(),
    };
    let periods = range.periods(WIB);
    let mut conn = app.db.pool.acquire().await.unwrap();
    let rollups = reports::sums(&mut conn, &periods, Source::Rollups)
        .await
        .unwrap();
    let raw = reports::sums(&mut conn, &periods, Source::Raw)
        .await
        .unwrap();
    (
        rollups.into_iter().map(Figures::from).collect(),
        raw.into_iter().map(Figures::from).collect(),
    )
}

#[tokio::test]
async fn rollups_equal_raw_sums_under_concurrent_checkouts_and_refunds() {
    let s = shop().await;
    let app = std::sync::Arc::new(s.app);
    let (rollups, raw) = both_ways(&app, 4).await;
    assert_eq!(rollups, raw);
    assert_eq!(
        serde_json::to_value(rollups[2]).unwrap(),
        serde_json::to_value(Figures::default()).unwrap()
    );

    let extra = stocked(&app, &s.manager, "3333.33", 10_000).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for t in 0..6 {
        let (app, cashier, manager) = (app.clone(), s.cashier.clone(), s.manager.clone());
        let (kopi, extra) = (s.kopi.clone(), extra.clone());
        let cashier_id = s.cashier_id;
        tasks.push(tokio::spawn(async move {
            for i in 0..8 {
                let at = wib((t + i) % 4, (3 * i as u32 + t as u32) % 24, 59);
                let sale = sell(
                    &app,
                    &cashier,
                    json!({"items": [{"product_id": kopi, "quantity": 1 + i % 3},
                                     {"product_id": extra, "quantity": 2}],
                           "discount": format!("{}.{:02}", i * 7, t * 3),
                           "payment_method": "card",
                           "occurred_at": if (t + i) % 4 == 0 { Utc::now().to_rfc3339() } else { at }}),
                )
                .await;
                if i % 2 == 0 {
                    refund(
                        &app,
                        &manager,
                        json!({"transaction_id": sale["id"],
                               "items": [{"item_id": sale["items"][1]["id"], "quantity": 1}],
                               "reason": "concurrent", "restock": i % 4 == 0}),
                    )
                    .await;
                }
                if i % 2 == 1 {
                    // A take-away sale, refunded wholly or in part.
                    let (sale, lines) = takeaway_sale(
                        &app.db.pool,
                        cashier_id,
                        &wib(1 + (t + i) % 3, (5 * i as u32 + t as u32) % 24, 29),
                        &[(&kopi, "10000", "6000", 2), (&extra, "3333.33", "0", 1)],
                        "0",
                        &format!("{}.{:02}", 100 + t, i * 13),
                        &format!("{}.{:02}", 1000 + 100 * t, i * 11),
                        "cash",
                    )
                    .await;
                    let body = if i % 4 == 1 {
                        json!({"transaction_id": sale, "reason": "concurrent void"})
                    } else {
                        json!({"transaction_id": sale, "reason": "concurrent",
                               "items": [{"item_id": lines[0], "quantity": 1}]})
                    };
                    refund(&app, &manager, body).await;
                }
                if i % 3 == 0 {
                    let mut conn = app.db.pool.acquire().await.unwrap();
                    reports::compact(&mut conn).await.unwrap();
                }
            }
        }));
    }
    // Readers while it runs: every answer is exact at its snapshot, so
    // totals only grow in transactions.
    let mut seen = 0;
    for _ in 0..10 {
        let r = app.get("/api/reports/daily", Some(&s.manager)).await;
        let n = ok(&r)["totals"]["transactions"].as_i64().unwrap();
        assert!(n >= seen);
        seen = n;
    }
    for t in tasks {
        t.await.unwrap();
    }

    let (rollups, raw) = both_ways(&app, 4).await;
    assert_eq!(rollups, raw, "pending deltas counted");
    let total: i64 = raw.iter().map(|f| f.transactions).sum();
    assert_eq!(total, 3 + 48 + 24);
    let charges: rust_decimal::Decimal = raw.iter().map(|f| f.takeaway_charges.0).sum();
    assert!(charges > rust_decimal::Decimal::from(24_000), "{charges}");
    let mut conn = app.db.pool.acquire().await.unwrap();
    reports::compact(&mut conn).await.unwrap();
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM report_pending")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    let (after, raw_after) = both_ways(&app, 4).await;
    assert_eq!(after, raw_after, "compacted");
    assert_eq!(after, rollups);

    // Fully refunding a sale returns exactly its tax, whatever the rounding
    // of the partial refunds before.
    let untaxed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sales s
         WHERE s.status = 'refunded'
           AND s.tax <> (SELECT sum(r.tax) FROM refunds r WHERE r.sale_id = s.id)",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(untaxed, 0);
    // ... and nets to zero, take-away charge included.
    let not_netted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sales s
         WHERE s.status = 'refunded'
           AND s.subtotal - s.discount + s.takeaway_charge
               <> (SELECT sum(r.amount - r.tax) FROM refunds r WHERE r.sale_id = s.id)",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(not_netted, 0);
    let voided: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sales WHERE status = 'refunded' AND takeaway_charge > 0",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(voided, 12);

    // A repair by hand (a refund moved to another day, a line's cost
    // corrected, a sale's time fixed) keeps rollups and raw sums equal.
    sqlx::query(
        "UPDATE refunds SET created_at = created_at - interval '2 days'
         WHERE id = (SELECT id FROM refunds ORDER BY id LIMIT 1)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE sale_lines SET unit_cost = unit_cost + 1 WHERE product_id = $1::uuid")
        .bind(&s.kopi)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE sales SET occurred_at = occurred_at - interval '1 day'
         WHERE id IN (SELECT id FROM sales ORDER BY id LIMIT 5)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE sales SET takeaway_charge = takeaway_charge + 250, total = total + 250,
                          paid_amount = paid_amount + 250
         WHERE id IN (SELECT id FROM sales WHERE takeaway_charge > 0 ORDER BY id LIMIT 4)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (rollups, raw) = both_ways(&app, 5).await;
    assert_eq!(rollups, raw, "after repairs");
    reports::rebuild(&app.db.pool).await.unwrap();
    let (rebuilt, _) = both_ways(&app, 5).await;
    assert_eq!(rebuilt, raw, "after a rebuild");
}

/// Take-away charges: their own figure, in net sales, refunded with the
/// total, in JSON and CSV of every report.
///
/// Tax 11%. Kopi 10000 (cost 6000), Roti 2500 (cost 1000).
/// - T1, 2 days ago 10:00 WIB, cash: 2 kopi, take-away 2000. Subtotal
///   20000, tax 2200.00, total 24200.00, cost 12000.
/// - T2, yesterday 09:00 WIB, ewallet: 1 kopi + 2 roti, discount 1234.56,
///   take-away 3000. Subtotal 15000, tax 11% of 13765.44 = 1514.20, total
///   18279.64, cost 8000.
/// - T3, yesterday 12:00 WIB, through checkout: 1 roti, cash, no charge.
///   Subtotal 2500, tax 275.00, total 2775.00, cost 1000.
/// - Today: R1, one kopi of T1, restocked: 24200 x 10000/20000 = 12100.00,
///   tax 2200 x 12100/24200 = 1100.00 (the other 11000 is 10000 of goods
///   and half the charge). R2: all of T2, restocked: 18279.64, tax 1514.20.
///
/// Returns the app, a manager's token and T2's id.
async fn takeaway_shop() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    sqlx::query("UPDATE store_settings SET tax_rate = 0.11, timezone = 'Asia/Jakarta'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (_, manager) = staff(&app, "manager").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    let kopi = product(
        &app,
        &manager,
        json!({"name": "Kopi", "price": "10000", "cost": "6000", "stock": 100}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let roti = product(
        &app,
        &manager,
        json!({"name": "Roti", "price": "2500", "cost": "1000", "stock": 100}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pool = app.db.pool.clone();
    let (t1, t1_lines) = takeaway_sale(
        &pool,
        cashier_id,
        &wib(2, 10, 0),
        &[(&kopi, "10000", "6000", 2)],
        "0",
        "2200.00",
        "2000.00",
        "cash",
    )
    .await;
    let (t2, _) = takeaway_sale(
        &pool,
        cashier_id,
        &wib(1, 9, 0),
        &[(&kopi, "10000", "6000", 1), (&roti, "2500", "1000", 2)],
        "1234.56",
        "1514.20",
        "3000.00",
        "ewallet",
    )
    .await;
    let total: rust_decimal::Decimal =
        sqlx::query_scalar("SELECT total FROM sales WHERE id = $1::uuid")
            .bind(&t2)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(total.to_string(), "18279.64");
    let t3 = sell(
        &app,
        &cashier,
        json!({"items": [{"product_id": roti, "quantity": 1}],
               "payment_method": "cash", "occurred_at": wib(1, 12, 0)}),
    )
    .await;
    assert_eq!(t3["total"], "2775.00");
    let r1 = refund(
        &app,
        &manager,
        json!({"transaction_id": t1, "items": [{"item_id": t1_lines[0], "quantity": 1}],
               "reason": "one too many"}),
    )
    .await;
    assert_eq!(r1["amount"], "12100.00");
    let r2 = refund(
        &app,
        &manager,
        json!({"transaction_id": t2, "reason": "order cancelled"}),
    )
    .await;
    assert_eq!(r2["amount"], "18279.64");
    (app, manager, t2)
}

#[tokio::test]
async fn takeaway_charges_count_in_every_report() {
    let (app, manager, t2) = takeaway_shop().await;
    let day2 = expect([
        "1", "2", "20000.00", "0.00", "2200.00", "0.00", "22000.00", "12000.00", "10000.00", "0",
        "0.00", "2000.00",
    ]);
    let day1 = expect([
        "2", "4", "17500.00", "1234.56", "1789.20", "0.00", "19265.44", "9000.00", "10265.44", "0",
        "0.00", "3000.00",
    ]);
    // refunds 12100 + 18279.64, of which tax 1100 + 1514.20
    let day0 = expect([
        "0",
        "0",
        "0.00",
        "0.00",
        "0.00",
        "30379.64",
        "-27765.44",
        "-14000.00",
        "-13765.44",
        "4",
        "2614.20",
        "0.00",
    ]);
    // What is left: half of T1 (10000 of goods + 1000 of its charge) and
    // T3 (2500); T2 nets to zero.
    let totals = expect([
        "3", "6", "37500.00", "1234.56", "3989.20", "30379.64", "13500.00", "7000.00", "6500.00",
        "4", "2614.20", "5000.00",
    ]);

    let q = format!("from={}&to={}", day(2), day(0));
    let daily = ok(&app
        .get(&format!("/api/reports/daily?{q}"), Some(&manager))
        .await)
    .clone();
    let rows = daily["results"].as_array().unwrap();
    assert_eq!(figures(&rows[0]), day2);
    assert_eq!(figures(&rows[1]), day1);
    assert_eq!(figures(&rows[2]), day0);
    assert_eq!(figures(&daily["totals"]), totals);
    let csv = csv_get(
        &app,
        &format!("/api/reports/daily?{q}&format=csv"),
        &manager,
        None,
    )
    .await;
    assert!(
        parse_csv(&csv.text)[0]
            .iter()
            .any(|h| h == "takeaway_charges"),
        "{}",
        csv.text
    );
    assert_csv_matches(&csv, &daily, "date");

    let month = |days_ago: i64| {
        (today() - Duration::days(days_ago))
            .format("%Y-%m")
            .to_string()
    };
    let q_months = format!("from={}&to={}", month(2), month(0));
    let monthly = ok(&app
        .get(&format!("/api/reports/monthly?{q_months}"), Some(&manager))
        .await)
    .clone();
    assert_eq!(figures(&monthly["totals"]), totals);
    let csv = csv_get(
        &app,
        &format!("/api/reports/monthly?{q_months}&format=csv"),
        &manager,
        None,
    )
    .await;
    assert_csv_matches(&csv, &monthly, "month");

    let summary = ok(&app
        .get(&format!("/api/reports/summary?{q}"), Some(&manager))
        .await)
    .clone();
    assert_eq!(figures(&summary["totals"]), totals);
    let methods = summary["by_payment_method"].as_array().unwrap();
    assert_eq!(
        (
            &methods[0]["total"],
            &methods[0]["refunds"],
            &methods[0]["net"]
        ),
        (&json!("26975.00"), &json!("12100.00"), &json!("14875.00")),
        "cash: T1 and T3, charge included"
    );
    assert_eq!(
        (
            &methods[4]["total"],
            &methods[4]["refunds"],
            &methods[4]["net"]
        ),
        (&json!("18279.64"), &json!("18279.64"), &json!("0.00")),
        "ewallet: T2, wholly refunded"
    );
    let csv = csv_get(
        &app,
        &format!("/api/reports/summary?{q}&format=csv"),
        &manager,
        None,
    )
    .await;
    let summary_totals: BTreeMap<String, String> = parse_csv(&csv.text)
        .into_iter()
        .filter(|r| r[0] == "totals")
        .map(|r| (r[3].clone(), r[4].clone()))
        .collect();
    assert_eq!(summary_totals, totals);

    // A wholly refunded sale with a charge nets to zero: what it added on
    // its day is exactly what its refund takes out.
    let t2_net: rust_decimal::Decimal = sqlx::query_scalar(
        "SELECT s.subtotal - s.discount + s.takeaway_charge
                - (SELECT sum(r.amount - r.tax) FROM refunds r WHERE r.sale_id = s.id)
         FROM sales s WHERE s.id = $1::uuid AND s.status = 'refunded'",
    )
    .bind(&t2)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(t2_net.is_zero(), "{t2_net}");

    // Rollups equal the raw rows, and stay so after a repair by hand of a
    // charge alone (the total follows, as the CHECK demands).
    let (rollups, raw) = both_ways(&app, 2).await;
    assert_eq!(rollups, raw);
    sqlx::query(
        "UPDATE sales SET takeaway_charge = takeaway_charge + 500, total = total + 500,
                          paid_amount = paid_amount + 500
         WHERE takeaway_charge > 0 AND status <> 'refunded'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (rollups, raw) = both_ways(&app, 2).await;
    assert_eq!(rollups, raw, "after a repair of a charge");
    assert_eq!(raw[0].takeaway_charges.to_string(), "2500.00");
}
