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
use sqlx::PgConnection;
use support::{BenchDb, DevServer, client, env_or, percentile_ms, staff};
use uuid::Uuid;

const DAYS: i64 = 730;
const BATCH: i64 = 50_000;
const PAGE: i64 = 50;
const CASHIERS: usize = 6;

/// Sales `$1..=$2` (their `sale_number_seq` values), by the cashiers `$3`,
/// from store-local day `$4` on at `$5` sales a day between 08:00 and
/// 22:00 Asia/Jakarta, with their lines (products 1-200 of the bench's
/// catalog). Deterministic: every choice comes from `hashint8` of `g`.
/// 40% walk-ins without a name; 40% with notes (table numbers, kitchen
/// requests, delivery order numbers, member codes); amounts that satisfy
/// every CHECK (10% discounted; cash paid up to the next 10,000).
const SALES: &str = "WITH s AS (
    SELECT g, day, no, nlines, cashier, cust, notes, pay, otype, disc_pct,
           (day + time '08:00' + (no - 1) * (interval '14 hours' / $5)
                + make_interval(secs => h6 % 30000 / 1000.0)) AT TIME ZONE 'Asia/Jakarta' AS at
    FROM (
        SELECT g, h6,
               $4::date + ((g - 1) / $5)::int AS day,
               (g - 1) % $5 + 1 AS no,
               1 + h6 / 30000 % 3 AS nlines,
               ($3::uuid[])[1 + h5 % cardinality($3::uuid[])] AS cashier,
               CASE WHEN h1 % 10 < 4 THEN ''
                    ELSE (ARRAY['Budi', 'Siti', 'Agus', 'Dewi', 'Andi', 'Rina', 'Joko', 'Sri', 'Hendra',
                                'Putri', 'Rudi', 'Ayu', 'Bambang', 'Lestari', 'Eko', 'Indah', 'Fajar',
                                'Wulan', 'Dimas', 'Nur', 'Yusuf', 'Fitri', 'Arif', 'Maya', 'Hadi', 'Ratna',
                                'Teguh', 'Sari', 'Irfan', 'Dian', 'Gilang', 'Intan', 'Rizky', 'Nadia',
                                'Bayu', 'Kartika', 'Wahyu', 'Anisa', 'Yoga', 'Mega', 'Kevin', 'Jessica',
                                'Michael', 'Stefanie', 'Hendrik', 'Cynthia', 'Ferdinand', 'Angelina'])
                         [1 + h2 % 48]
                         || CASE WHEN h3 % 3 = 0 THEN ''
                                 ELSE ' ' || (ARRAY['Santoso', 'Wijaya', 'Saputra', 'Pratama', 'Hidayat',
                                      'Kurniawan', 'Setiawan', 'Nugroho', 'Susanto', 'Gunawan', 'Halim',
                                      'Tanjung', 'Siregar', 'Nasution', 'Harahap', 'Lubis', 'Simanjuntak',
                                      'Sihombing', 'Wibowo', 'Purnomo', 'Hartono', 'Sutanto', 'Rahman',
                                      'Hakim', 'Permana', 'Firmansyah', 'Ramadhan', 'Kusuma', 'Lim',
                                      'Tan'])[1 + h3 / 3 % 30] END
               END AS cust,
               CASE WHEN h4 % 10 < 6 THEN ''
                    ELSE CASE h4 / 10 % 10
                        WHEN 0 THEN 'meja ' || (1 + h4 / 100 % 24)
                        WHEN 1 THEN 'bungkus, sambal dipisah'
                        WHEN 2 THEN 'less sugar'
                        WHEN 3 THEN 'tanpa es'
                        WHEN 4 THEN 'pedas level ' || (1 + h4 / 100 % 5)
                        WHEN 5 THEN 'GoFood order #' || lpad((h4 / 100 % 1000000)::text, 6, '0')
                        WHEN 6 THEN 'GrabFood GF-' || lpad((h4 / 100 % 1000000)::text, 6, '0')
                        WHEN 7 THEN 'member MBR' || lpad((h4 / 100 % 5000)::text, 4, '0')
                        WHEN 8 THEN 'pesanan kantor, minta nota'
                        ELSE 'table ' || (1 + h4 / 100 % 24) || ', extra ice' END
               END AS notes,
               (ARRAY['cash', 'cash', 'cash', 'qris', 'qris', 'card', 'transfer', 'ewallet'])
                   [1 + h1 / 10 % 8] AS pay,
               (ARRAY['dine_in', 'dine_in', 'take_away', 'delivery'])[1 + h1 / 80 % 4] AS otype,
               CASE WHEN h1 / 320 % 10 = 0 THEN 10 ELSE 0 END AS disc_pct
        -- Independent choices: one hash each (a shared hash with
        -- overlapping bit ranges made, e.g., one cashier never serve a
        -- Hendrik).
        FROM (SELECT g, abs(hashint8(g * 8 + 1)::bigint) AS h1, abs(hashint8(g * 8 + 2)::bigint) AS h2,
                     abs(hashint8(g * 8 + 3)::bigint) AS h3, abs(hashint8(g * 8 + 4)::bigint) AS h4,
                     abs(hashint8(g * 8 + 5)::bigint) AS h5, abs(hashint8(g * 8 + 6)::bigint) AS h6
              FROM generate_series($1::bigint, $2::bigint) g) r
    ) x
), l AS (
    SELECT s.g, k, p, 1 + (abs(hh) >> 9) % 3 AS qty,
           1000 * (3 + p % 48) AS price, 400 * (3 + p % 48) AS cost
    FROM s, generate_series(1, s.nlines) k,
         LATERAL (SELECT hashint8(s.g * 4 + k) AS hh) z,
         LATERAL (SELECT 1 + abs(hh) % 200 AS p) y
), amounts AS (
    SELECT s.*, t.subtotal, round(t.subtotal * disc_pct / 100, -2) AS discount
    FROM s JOIN (SELECT g, sum(price * qty)::numeric(14, 2) AS subtotal FROM l GROUP BY g) t USING (g)
), ins AS (
    INSERT INTO sales (id, transaction_no, cashier_id, customer_name, notes, order_type,
                       payment_method, subtotal, discount, tax, total, paid_amount,
                       change_amount, occurred_at, created_at)
    SELECT md5('sale' || g)::uuid, 'TRX-' || to_char(day, 'YYYYMMDD') || '-' || lpad(no::text, 4, '0'),
           cashier, cust, notes, otype, pay, subtotal, discount, 0, subtotal - discount, paid,
           paid - (subtotal - discount), at, at
    FROM (SELECT *, CASE WHEN pay = 'cash' THEN ceil((subtotal - discount) / 10000) * 10000
                         ELSE subtotal - discount END AS paid
          FROM amounts) a
)
INSERT INTO sale_lines (id, sale_id, line_no, product_id, product_name, sku, unit_price,
                        unit_cost, quantity, line_total)
SELECT md5('line' || g || '-' || k)::uuid, md5('sale' || g)::uuid, k,
       ('00000000-0000-0000-0000-' || lpad(p::text, 12, '0'))::uuid, 'Produk ' || p,
       'SKU-' || lpad(p::text, 4, '0'), price, cost, qty, price * qty
FROM l";

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

async fn generate(conn: &mut PgConnection, sales: i64, cashiers: &[Uuid], first_day: NaiveDate) {
    let per_day = ((sales + DAYS - 1) / DAYS) as i32;
    sqlx::raw_sql(
        "INSERT INTO products (id, sku, name, price, cost, stock)
         SELECT ('00000000-0000-0000-0000-' || lpad(p::text, 12, '0'))::uuid,
                'SKU-' || lpad(p::text, 4, '0'), 'Produk ' || p,
                1000 * (3 + p % 48), 400 * (3 + p % 48), 1000
         FROM generate_series(1, 200) p",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let started = Instant::now();
    let mut lo = 1;
    while lo <= sales {
        let hi = (lo + BATCH - 1).min(sales);
        sqlx::query(SALES)
            .bind(lo)
            .bind(hi)
            .bind(cashiers)
            .bind(first_day)
            .bind(per_day)
            .execute(&mut *conn)
            .await
            .unwrap();
        lo = hi + 1;
    }
    let inserted = started.elapsed();
    // Each day's first sequence value, as checkout records it, and the
    // sequence past the generated numbers.
    sqlx::query(
        "INSERT INTO sale_days (day, first_seq)
         SELECT $1::date + d::int, d * $2 + 1 FROM generate_series(0, ($3 - 1) / $2) d",
    )
    .bind(first_day)
    .bind(per_day as i64)
    .bind(sales)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("SELECT setval('sale_number_seq', $1)")
        .bind(sales)
        .execute(&mut *conn)
        .await
        .unwrap();
    let t = Instant::now();
    sqlx::raw_sql("VACUUM ANALYZE sales, sale_lines, sale_days")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (lines, size): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sale_lines),
                pg_size_pretty(pg_total_relation_size('sales') + pg_total_relation_size('sale_lines'))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    println!(
        "generated {sales} sales ({per_day}/day over {DAYS} days from {first_day}) and {lines} lines \
         in {:.0} s (batches of {BATCH}), VACUUM ANALYZE {:.0} s; sales + lines with indexes: {size}",
        inserted.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
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
    generate(&mut conn, sales, &cashier_ids, first_day).await;

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
