//! Catalog read paths through the release dev server:
//!
//! (a) a full offline sync (`GET /api/sync`, no `since`) of 5,000 products
//!     in 12 categories: latency and response size;
//! (b) `GET /api/products?q=` over 100,000 products with a mix of terms
//!     (common and rare words, a SKU fragment, a barcode fragment, a miss),
//!     side by side with the handler's own query function
//!     (`kasirgo::catalog::products::list`, the same SQL in the same
//!     transaction) on a direct connection, so the HTTP overhead shows as a
//!     ratio. One client (latency), then 4 concurrent clients (rate).
//!
//! `cargo build --release --bins --examples && cargo run --release --example bench-catalog`
//! (`ROUNDS=40` rounds over the terms, `BENCH_SECONDS=10` per concurrent phase).

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kasirgo::catalog::products::{ProductFilter, list};
use serde_json::Value;
use sqlx::PgConnection;
use support::{BenchDb, DevServer, client, env_or, load, percentile_ms, staff};
use tokio::sync::Mutex;

const SYNC_PRODUCTS: i64 = 5_000;
const SEARCH_PRODUCTS: i64 = 100_000;
const SYNC_RUNS: usize = 30;
const CLIENTS: usize = 4;
const PAGE: i64 = 50;

/// Twelve categories; the first six are the product groups below.
const CATEGORIES: &str = "INSERT INTO categories (name, description)
    SELECT name, 'Kategori ' || lower(name)
    FROM unnest(ARRAY['Mie & Makanan Instan', 'Minuman', 'Makanan Ringan', 'Bumbu & Dapur',
                      'Perawatan Diri', 'Kebutuhan Rumah', 'Rokok', 'Frozen Food', 'Buah & Sayur',
                      'Alat Tulis', 'Obat Bebas', 'Promo']) AS c(name)";

/// Products `$1..=$2`, deterministic: a brand and an item of the same group
/// (six groups of 7 brands and 10 items), a variant, a size; SKU
/// `BRA-000123` (unique), a 13-digit 899… barcode on 95%, a description on
/// a quarter, varied prices and stock, 2% inactive.
const PRODUCTS: &str = "INSERT INTO products (sku, barcode, name, description, category_id, price, cost,
                          stock, low_stock_threshold, is_active)
    SELECT upper(left(replace(brand, ' ', ''), 3)) || '-' || lpad(g::text, 6, '0'),
           CASE WHEN abs(h) % 20 = 0 THEN NULL
                ELSE '899' || lpad((abs(hashint8(g * 13 + 5)) % 10000000000)::text, 10, '0') END,
           brand || ' ' || item || CASE WHEN variant = '' THEN '' ELSE ' ' || variant END || ' ' || size,
           CASE WHEN abs(h) % 4 = 0 THEN brand || ' ' || lower(item) || ', stok gudang utama.' ELSE '' END,
           CASE WHEN (abs(h) >> 27) % 10 = 0 THEN cats[7 + (abs(h) >> 3) % 6] ELSE cats[1 + grp] END,
           500 * (2 + (abs(h) >> 9) % 200), 350 * (2 + (abs(h) >> 9) % 200),
           (abs(h) >> 4) % 300, 10, (abs(h) >> 2) % 50 <> 0
    FROM (
        SELECT g, h, grp,
               (ARRAY['Indomie', 'Sedaap', 'Supermi', 'Sarimi', 'ABC', 'Bango', 'Pop Mie',
                      'Sosro', 'Aqua', 'Le Minerale', 'Kapal Api', 'Good Day', 'Ultra', 'Frisian Flag',
                      'Chitato', 'Qtela', 'Tango', 'Oreo', 'Roma', 'Khong Guan', 'Sari Roti',
                      'Bimoli', 'Filma', 'Rose Brand', 'Gulaku', 'Royco', 'Masako', 'Sasa',
                      'Lifebuoy', 'Pepsodent', 'Sunsilk', 'Clear', 'Nuvo', 'Paseo', 'Cap Lang',
                      'Rinso', 'Sunlight', 'Molto', 'Baygon', 'Wipol', 'Stella', 'ABC Alkaline'])
                   [1 + grp * 7 + (abs(h) >> 6) % 7] AS brand,
               (ARRAY['Mie Goreng', 'Mie Kuah Soto', 'Mie Kuah Ayam Bawang', 'Bihun Instan', 'Mie Cup',
                      'Kwetiau Instan', 'Sarden', 'Kornet Sapi', 'Sambal Terasi', 'Kecap Manis',
                      'Teh Botol', 'Teh Hijau', 'Air Mineral', 'Jus Jeruk', 'Minuman Isotonik',
                      'Kopi Susu', 'Kopi Hitam', 'Cappuccino', 'Susu UHT', 'Susu Kental Manis',
                      'Keripik Kentang', 'Wafer', 'Biskuit', 'Kerupuk Udang', 'Kacang Atom',
                      'Permen Mint', 'Cokelat Batang', 'Roti Sobek', 'Roti Tawar', 'Kue Lapis',
                      'Minyak Goreng', 'Gula Pasir', 'Beras Premium', 'Tepung Terigu', 'Kaldu Ayam',
                      'Kaldu Sapi', 'Penyedap Rasa', 'Mentega', 'Santan Kelapa', 'Bumbu Rendang',
                      'Sabun Mandi', 'Pasta Gigi', 'Sampo', 'Sampo Anti Ketombe', 'Sikat Gigi',
                      'Deodoran', 'Tisu Wajah', 'Popok Bayi', 'Pembalut', 'Minyak Kayu Putih',
                      'Deterjen', 'Sabun Cuci Piring', 'Pelembut Pakaian', 'Pewangi Ruangan',
                      'Obat Nyamuk', 'Pembersih Lantai', 'Kantong Plastik', 'Lilin', 'Baterai AA',
                      'Korek Api'])[1 + grp * 10 + (abs(h) >> 12) % 10] AS item,
               (ARRAY['', '', '', '', '', 'Original', 'Pedas', 'Extra Pedas', 'Rendang', 'Ayam Bawang',
                      'Jeruk Nipis', 'Vanila', 'Stroberi', 'Cokelat', 'Keju', 'Balado', 'BBQ',
                      'Rumput Laut', 'Lemon', 'Mocca', 'Gold', 'Premium', 'Lite', 'Jumbo',
                      'Family Pack'])[1 + (abs(h) >> 16) % 25] AS variant,
               (ARRAY['50g', '75g', '85g', '100g', '125g', '200g', '250g', '500g', '1kg', '2kg',
                      '5kg', '110ml', '200ml', '250ml', '330ml', '600ml', '1L', '1.5L', 'isi 6',
                      'isi 12'])[1 + (abs(h) >> 21) % 20] AS size,
               (SELECT array_agg(id ORDER BY created_at, name) FROM categories) AS cats
        FROM (SELECT g, hashint8(g * 7 + 3) AS h, abs(hashint8(g * 7 + 3)) % 6 AS grp
              FROM generate_series($1::bigint, $2::bigint) g) r
    ) x";

fn stats(mut lat: Vec<Duration>) -> (f64, f64, f64) {
    lat.sort();
    (
        percentile_ms(&lat, 0.50),
        percentile_ms(&lat, 0.95),
        percentile_ms(&lat, 0.99),
    )
}

async fn seed(conn: &mut PgConnection, from: i64, to: i64) {
    sqlx::query(PRODUCTS)
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::main]
async fn main() {
    let rounds: usize = env_or("ROUNDS", 40);
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let db = BenchDb::create("catalog").await;
    let mut conn = db.connect().await;
    let (_, token) = staff(&mut conn, "cashier").await;
    let server = DevServer::start(&db.url);
    let http = client();

    // (a) Full sync of 5,000 products.
    sqlx::raw_sql(CATEGORIES).execute(&mut conn).await.unwrap();
    let t = Instant::now();
    seed(&mut conn, 1, SYNC_PRODUCTS).await;
    sqlx::raw_sql("VACUUM ANALYZE products, categories")
        .execute(&mut conn)
        .await
        .unwrap();
    println!(
        "seeded {SYNC_PRODUCTS} products, 12 categories in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let url = format!("{}/api/sync", server.base);
    let mut lat = Vec::new();
    let mut size = 0;
    for i in 0..SYNC_RUNS + 3 {
        let t = Instant::now();
        let res = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.unwrap();
        let elapsed = t.elapsed();
        if i == 0 {
            let doc: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                doc["products"].as_array().unwrap().len() as i64,
                SYNC_PRODUCTS
            );
            assert_eq!(doc["categories"].as_array().unwrap().len(), 12);
        }
        size = body.len();
        // The first three warm the pool, the plan and the page cache.
        if i >= 3 {
            lat.push(elapsed);
        }
    }
    let (p50, p95, _) = stats(lat.clone());
    println!(
        "GET /api/sync (full, {SYNC_PRODUCTS} products): {SYNC_RUNS} sequential, p50 {p50:.1} ms, \
         p95 {p95:.1} ms, max {:.1} ms, response {:.2} MB ({} bytes, uncompressed, {:.0} B/product)",
        lat.iter().max().unwrap().as_secs_f64() * 1000.0,
        size as f64 / 1e6,
        size,
        size as f64 / SYNC_PRODUCTS as f64,
    );

    // (b) q search over 100,000 products.
    let t = Instant::now();
    seed(&mut conn, SYNC_PRODUCTS + 1, SEARCH_PRODUCTS).await;
    sqlx::raw_sql("VACUUM ANALYZE products")
        .execute(&mut conn)
        .await
        .unwrap();
    println!(
        "seeded to {SEARCH_PRODUCTS} products in {:.1} s (+ VACUUM ANALYZE)",
        t.elapsed().as_secs_f64()
    );
    // Real fragments of one product's SKU and barcode.
    let (sku, barcode): (String, String) = sqlx::query_as(
        "SELECT sku, barcode FROM products WHERE barcode IS NOT NULL ORDER BY sku LIMIT 1 OFFSET 4321",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let terms: Vec<(&str, String)> = vec![
        ("common word", "kopi".into()),
        ("common word", "goreng".into()),
        ("brand", "sosro".into()),
        ("two words", "kaldu sapi".into()),
        ("rare phrase", "kaldu sapi balado".into()),
        ("rare phrase", "cokelat batang stroberi".into()),
        ("short", "ab".into()),
        ("sku fragment", sku[..sku.len() - 2].to_string()),
        ("barcode frag.", barcode[4..11].to_string()),
        ("no match", "kopii".into()),
    ];
    let terms = Arc::new(terms);

    // One client: HTTP and the handler's query function interleaved, so
    // both see the same machine.
    let mut per_term: Vec<(Vec<Duration>, Vec<Duration>, usize)> =
        vec![(Vec::new(), Vec::new(), 0); terms.len()];
    let mut all_http = Vec::new();
    let mut all_sql = Vec::new();
    let started = Instant::now();
    let mut http_time = Duration::ZERO;
    let mut sql_time = Duration::ZERO;
    for round in 0..rounds + 1 {
        for (i, (_, term)) in terms.iter().enumerate() {
            let t = Instant::now();
            let res = http
                .get(format!(
                    "{}/api/products?{}",
                    server.base,
                    serde_urlencoded::to_string([("q", term)]).unwrap()
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "q={term}");
            let body = res.bytes().await.unwrap();
            let h = t.elapsed();
            let doc: Value = serde_json::from_slice(&body).unwrap();
            let n = doc["results"].as_array().unwrap().len();

            let filter = ProductFilter {
                q: Some(term.clone()),
                ..Default::default()
            };
            let t = Instant::now();
            let rows = list(&mut conn, &filter, None, PAGE + 1).await.unwrap();
            let s = t.elapsed();
            assert_eq!(rows.len().min(PAGE as usize), n, "q={term}");
            // Round 0 warms up.
            if round > 0 {
                per_term[i].0.push(h);
                per_term[i].1.push(s);
                per_term[i].2 = n;
                all_http.push(h);
                all_sql.push(s);
                http_time += h;
                sql_time += s;
            }
        }
    }
    let wall = started.elapsed();
    println!();
    println!(
        "GET /api/products?q= over {SEARCH_PRODUCTS} products, 1 client, {rounds} rounds of {} terms \
         ({:.1} s), page of {PAGE}:",
        terms.len(),
        wall.as_secs_f64()
    );
    println!(
        "{:<14} {:<24} {:>5} {:>10} {:>10} {:>10} {:>7}",
        "term", "q", "rows", "HTTP p50", "HTTP p95", "SQL p50", "ratio"
    );
    for ((kind, term), (h, s, n)) in terms.iter().zip(per_term) {
        let (hp50, hp95, _) = stats(h);
        let (sp50, _, _) = stats(s);
        println!(
            "{:<14} {:<24} {:>5} {:>10.2} {:>10.2} {:>10.2} {:>7.2}",
            kind,
            term,
            n,
            hp50,
            hp95,
            sp50,
            hp50 / sp50
        );
    }
    let n = all_http.len() as f64;
    let (hp50, hp95, hp99) = stats(all_http);
    let (sp50, sp95, sp99) = stats(all_sql);
    println!(
        "{:<37} p50 {hp50:.2} ms, p95 {hp95:.2} ms, p99 {hp99:.2} ms, {:.0} req/s (sequential)",
        "all terms, HTTP:",
        n / http_time.as_secs_f64()
    );
    println!(
        "{:<37} p50 {sp50:.2} ms, p95 {sp95:.2} ms, p99 {sp99:.2} ms, {:.0} q/s (sequential)",
        "all terms, products::list direct:",
        n / sql_time.as_secs_f64()
    );
    println!(
        "HTTP / direct: p50 x{:.2}, p95 x{:.2}",
        hp50 / sp50,
        hp95 / sp95
    );

    // CLIENTS concurrent closed loops: HTTP, then the direct query on
    // CLIENTS connections, for the rate.
    let duration = Duration::from_secs(seconds);
    let base = Arc::new(server.base.clone());
    let token = Arc::new(token);
    let run = {
        let (terms, http) = (terms.clone(), http.clone());
        load(CLIENTS, duration, move |i| {
            let (terms, http, base, token) =
                (terms.clone(), http.clone(), base.clone(), token.clone());
            async move {
                let term = &terms[i % terms.len()].1;
                let res = http
                    .get(format!(
                        "{base}/api/products?{}",
                        serde_urlencoded::to_string([("q", term)]).unwrap()
                    ))
                    .bearer_auth(token.as_str())
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await
    };
    let mut conns = Vec::new();
    for _ in 0..CLIENTS {
        conns.push(Arc::new(Mutex::new(db.connect().await)));
    }
    let conns = Arc::new(conns);
    let direct = {
        let terms = terms.clone();
        load(CLIENTS, duration, move |i| {
            let (terms, conns) = (terms.clone(), conns.clone());
            async move {
                let filter = ProductFilter {
                    q: Some(terms[i % terms.len()].1.clone()),
                    ..Default::default()
                };
                let mut conn = conns[i % CLIENTS].lock().await;
                list(&mut conn, &filter, None, PAGE + 1).await.is_ok()
            }
        })
        .await
    };
    println!();
    println!("{CLIENTS} concurrent clients, {seconds} s each, same term mix:");
    for (via, r) in [("HTTP", &run), ("products::list direct", &direct)] {
        println!(
            "{:<22} {:>6.0} req/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, errors {}",
            via,
            r.rate(),
            r.pct(0.50),
            r.pct(0.95),
            r.pct(0.99),
            r.errors
        );
    }
    println!("HTTP / direct rate: {:.2}", run.rate() / direct.rate());

    drop(conn);
    drop(server);
    db.drop_now().await;
}
