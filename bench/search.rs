//! Transaction search over a million sales through the release dev server.
//!
//! A generator writes 1,000,000 sales (1-3 lines each) over the last 730
//! store-local days, by `generate_series` in batches, numbered as checkout
//! numbers them (`TRX-YYYYMMDD-NNNN`, `sale_days`, `sale_number_seq`), by six
//! cashiers, with varied customer names and notes, then `VACUUM ANALYZE`
//! (what autovacuum does to an insert-only table). Then, as a manager and as
//! a cashier (who sees only their own sales), `GET /api/transactions` with
//! `q` (customer name, notes, transaction number fragments) and a month's
//! `from`/`to` (first page, and the second page via `next_cursor`), each
//! side by side with the handler's query function
//! (`kasirgo::sales::search::search`) on a direct connection.
//!
//! `cargo build --release --bins --examples && cargo run --release --example bench-search`
//! (`SALES=1000000`, `ROUNDS=30` per case; `KEEP_DB=1` keeps the generated
//! database for EXPLAIN ANALYZE).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate, Utc};
use kasirgo::sales::search::{Before, SaleFilter, search};
use serde_json::Value;
use support::history::{self, DAYS};
use support::{BenchDb, DevServer, client, env_or, percentile_ms, staff};
use uuid::Uuid;

const PAGE: i64 = 50;
const CASHIERS: usize = 6;

struct Case {
    kind: &'static str,
    label: String,
    query: Vec<(&'static str, String)>,
    filter: SaleFilter,
    /// Time the page after the first one.
    second_page: bool,
}

fn q(kind: &'static str, term: &str) -> Case {
    Case {
        kind,
        label: format!("q={term}"),
        query: vec![("q", term.to_string())],
        filter: SaleFilter {
            q: Some(term.to_string()),
            ..Default::default()
        },
        second_page: false,
    }
}

/// The second page of a `q` search (through its `next_cursor`).
fn q_page_2(kind: &'static str, term: &str) -> Case {
    Case {
        second_page: true,
        ..q(kind, term)
    }
}

fn range(from: NaiveDate, to: NaiveDate, second_page: bool) -> Case {
    Case {
        kind: if second_page {
            "dates, page 2"
        } else {
            "dates, page 1"
        },
        label: format!("from={from}&to={to}"),
        query: vec![("from", from.to_string()), ("to", to.to_string())],
        filter: SaleFilter {
            from: Some(from),
            to: Some(to),
            ..Default::default()
        },
        second_page,
    }
}

fn stats(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    (percentile_ms(&lat, 0.50), percentile_ms(&lat, 0.95))
}

#[tokio::main]
async fn main() {
    let sales: i64 = env_or("SALES", 1_000_000);
    let rounds: usize = env_or("ROUNDS", 30);
    let db = BenchDb::create("search").await;
    let mut conn = db.connect().await;
    let (_, manager_token) = staff(&mut conn, "manager").await;
    let mut cashiers = Vec::new();
    for _ in 0..CASHIERS {
        cashiers.push(staff(&mut conn, "cashier").await);
    }
    let cashier_ids: Vec<Uuid> = cashiers.iter().map(|c| c.0).collect();
    let tz = chrono_tz::Asia::Jakarta;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let first_day = today - Days::new(DAYS as u64);
    sqlx::raw_sql(
        "INSERT INTO products (id, sku, name, price, cost, stock)
         SELECT ('00000000-0000-0000-0000-' || lpad(p::text, 12, '0'))::uuid,
                'SKU-' || lpad(p::text, 4, '0'), 'Produk ' || p,
                1000 * (3 + p % 48), 400 * (3 + p % 48), 1000
         FROM generate_series(1, 200) p",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    history::generate(&mut conn, sales, &cashier_ids, first_day).await;

    let server = DevServer::start(&db.url);
    let http = client();

    // A day about 100 days back, its numbers, and the calendar month
    // before last.
    let day = today - Days::new(100);
    let d = day.format("%Y%m%d").to_string();
    let last_month = today.with_day(1).unwrap() - Days::new(1);
    let to = last_month.with_day(1).unwrap() - Days::new(1);
    let from = to.with_day(1).unwrap();
    let cases = vec![
        q("customer", "budi"),
        q("customer", "hendrik"),
        q("customer", "angelina tan"),
        q_page_2("cust., page 2", "angelina tan"),
        q("notes", "gofood"),
        q("notes", "meja 12"),
        q("notes", "MBR0042"),
        q("number", &format!("TRX-{d}-0042")),
        q("number frag.", &format!("{d}-004")),
        q("number: day", &d),
        q("no match", "xavier"),
        range(from, to, false),
        range(from, to, true),
    ];

    let roles = [
        ("manager", manager_token.clone(), None),
        ("cashier", cashiers[0].1.clone(), Some(cashiers[0].0)),
    ];
    let mut summary = Vec::new();
    for (role, token, own) in &roles {
        // Page 1 of each case once, for its row count and next_cursor.
        let mut cursors = Vec::new();
        for case in &cases {
            let res = http
                .get(format!(
                    "{}/api/transactions?{}",
                    server.base,
                    serde_urlencoded::to_string(&case.query).unwrap()
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{}", case.label);
            let doc: Value = res.json().await.unwrap();
            let last = doc["results"].as_array().unwrap().last().cloned();
            cursors.push((
                doc["next_cursor"].as_str().map(String::from),
                last.map(|r| Before {
                    at: serde_json::from_value(r["occurred_at"].clone()).unwrap(),
                    id: serde_json::from_value(r["id"].clone()).unwrap(),
                }),
            ));
        }
        let mut lat: Vec<(Vec<Duration>, Vec<Duration>, usize)> =
            vec![(Vec::new(), Vec::new(), 0); cases.len()];
        for round in 0..rounds + 1 {
            for (i, case) in cases.iter().enumerate() {
                let mut query = case.query.clone();
                let mut before = None;
                if case.second_page {
                    query.push(("cursor", cursors[i].0.clone().expect("a second page")));
                    before = cursors[i].1.as_ref();
                }
                let t = Instant::now();
                let res = http
                    .get(format!(
                        "{}/api/transactions?{}",
                        server.base,
                        serde_urlencoded::to_string(&query).unwrap()
                    ))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{}", case.label);
                let body = res.bytes().await.unwrap();
                let h = t.elapsed();
                let doc: Value = serde_json::from_slice(&body).unwrap();
                let n = doc["results"].as_array().unwrap().len();

                let t = Instant::now();
                let rows = search(&mut conn, &case.filter, tz, *own, before, PAGE + 1)
                    .await
                    .unwrap();
                let s = t.elapsed();
                assert_eq!(rows.len().min(PAGE as usize), n, "{}", case.label);
                if round > 0 {
                    lat[i].0.push(h);
                    lat[i].1.push(s);
                    lat[i].2 = n;
                }
            }
        }
        println!();
        println!(
            "GET /api/transactions as {role}{} over {sales} sales, 1 client, {rounds} rounds, page of {PAGE}:",
            if own.is_some() {
                format!(" (own sales only: 1 of {CASHIERS} cashiers)")
            } else {
                String::new()
            }
        );
        println!(
            "{:<14} {:<36} {:>5} {:>9} {:>9} {:>9} {:>7}",
            "case", "query", "rows", "HTTP p50", "HTTP p95", "SQL p50", "ratio"
        );
        let mut groups: Vec<(&str, Vec<Duration>, Vec<Duration>)> = vec![
            ("q (all terms)", Vec::new(), Vec::new()),
            ("dates, page 1", Vec::new(), Vec::new()),
            ("dates, page 2", Vec::new(), Vec::new()),
        ];
        for (case, (h, s, n)) in cases.iter().zip(lat) {
            let g = match case.kind {
                "dates, page 1" => 1,
                "dates, page 2" => 2,
                _ => 0,
            };
            groups[g].1.extend(&h);
            groups[g].2.extend(&s);
            let (hp50, hp95) = stats(h);
            let (sp50, _) = stats(s);
            println!(
                "{:<14} {:<36} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>7.2}",
                case.kind,
                case.label,
                n,
                hp50,
                hp95,
                sp50,
                hp50 / sp50
            );
        }
        for (name, h, s) in groups {
            let (hp50, hp95) = stats(h);
            let (sp50, sp95) = stats(s);
            summary.push(format!(
                "{role:<8} {name:<14} HTTP p50 {hp50:>6.2} ms  p95 {hp95:>6.2} ms | direct p50 {sp50:>6.2} ms  p95 {sp95:>6.2} ms"
            ));
        }
    }
    println!();
    println!("summary (goal: HTTP p95 under 20 ms):");
    for line in summary {
        println!("{line}");
    }

    drop(conn);
    drop(server);
    if std::env::var_os("KEEP_DB").is_some() {
        // For EXPLAIN ANALYZE on the generated data; drop it by hand.
        println!("kept database {} (KEEP_DB)", db.name);
    } else {
        db.drop_now().await;
    }
}
