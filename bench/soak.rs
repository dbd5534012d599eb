//! A bounded soak: 16 clients for 5 minutes through the release dev server,
//! a mix of what a shop does all day (browsing the catalog, v1 and v0
//! checkouts, transaction search, reports, the app's history and product
//! list, sync), reporting throughput, p50/p99 per kind, errors (goal 0),
//! and the server's memory over time (goal: flat).
//!
//! `cargo build --release --bin kasirgo && cargo run --release --example bench-soak`
//! (`SOAK_SECONDS=300`, `SOAK_CLIENTS=16`, `SAMPLE_SECONDS=15`).

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BenchDb, DevServer, client, env_or, percentile_ms, staff};
use tokio::sync::Mutex;

const KINDS: [&str; 10] = [
    "browse products",
    "browse products",
    "search products",
    "checkout v1",
    "checkout v1",
    "checkout v0",
    "search transactions",
    "daily report",
    "v0 history",
    "sync",
];

const SEED: &str = "
    INSERT INTO categories (name) SELECT 'Kategori ' || g FROM generate_series(1, 10) g;
    INSERT INTO products (sku, name, category_id, price, cost, stock)
    SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Produk ' || lpad(g::text, 4, '0'),
           (SELECT id FROM categories ORDER BY int_id OFFSET (g % 10) LIMIT 1),
           500 * (2 + (g * 37) % 60), 300 * (2 + (g * 37) % 60), 100000000
    FROM generate_series(1, 500) g;
    UPDATE store_settings SET tax_rate = 0.11;
    ANALYZE;";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("SOAK_SECONDS", 300);
    let clients: usize = env_or("SOAK_CLIENTS", 16);
    let sample: u64 = env_or("SAMPLE_SECONDS", 15);

    let db = BenchDb::create("soak").await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(SEED).execute(&mut conn).await.unwrap();
    let (_, manager) = staff(&mut conn, "manager").await;
    let (_, cashier) = staff(&mut conn, "cashier").await;
    let products: Vec<(String, i64, f64)> =
        sqlx::query_as::<_, (uuid::Uuid, i64, rust_decimal::Decimal)>(
            "SELECT id, int_id, price FROM products ORDER BY int_id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, int_id, price)| (id.to_string(), int_id, price.to_string().parse().unwrap()))
        .collect();
    drop(conn);

    let server = DevServer::start(&db.url);
    let base = Arc::new(server.base.clone());
    let http = client();
    let products = Arc::new(products);
    let stop = Arc::new(AtomicBool::new(false));
    let results: Arc<Mutex<Vec<Vec<Duration>>>> =
        Arc::new(Mutex::new(vec![Vec::new(); KINDS.len()]));
    let errors: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(vec![0; KINDS.len()]));

    // Memory, sampled while the load runs.
    let pid = server.pid();
    let memory = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let mut samples = vec![(0u64, rss_kib(pid))];
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(sample)).await;
                samples.push((start.elapsed().as_secs(), rss_kib(pid)));
            }
            samples
        })
    };

    println!("soak: {clients} clients for {seconds} s against {base}");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, base, products, results, errors) = (
            http.clone(),
            base.clone(),
            products.clone(),
            results.clone(),
            errors.clone(),
        );
        let (manager, cashier) = (manager.clone(), cashier.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
            let mut err = vec![0usize; KINDS.len()];
            let mut i = c * 7;
            while Instant::now() < deadline {
                let kind = i % KINDS.len();
                let p = &products[(i * 31) % products.len()];
                let q = &products[(i * 17 + 5) % products.len()];
                let t = Instant::now();
                let req = match kind {
                    0 | 1 => http
                        .get(format!("{base}/api/products?limit=50"))
                        .bearer_auth(&cashier),
                    2 => http
                        .get(format!("{base}/api/products?q=Produk%20{:02}", i % 100))
                        .bearer_auth(&cashier),
                    3 | 4 => http
                        .post(format!("{base}/api/transactions"))
                        .bearer_auth(&cashier)
                        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                        .json(&json!({"items": [{"product_id": p.0, "quantity": 1},
                                                 {"product_id": q.0, "quantity": 2}],
                                       "payment_method": "cash"})),
                    5 => {
                        let subtotal = p.2 + q.2;
                        let total = subtotal + subtotal * 11.0 / 100.0;
                        http.post(format!("{base}/api/v0/transaction/create/"))
                            .bearer_auth(&cashier)
                            .json(&json!({"customer_name": "", "order_type": "dine_in",
                                "payment_method": "cash", "payment_method_code": Value::Null,
                                "status": "completed", "paid_amount": total, "subtotal": subtotal,
                                "total": total, "change_amount": 0.0, "tax_percentage": 11,
                                "discount": 0, "takeaway_charge": 0.0, "notes": "",
                                "items": [{"product": p.1, "product_name": "x", "quantity": 1,
                                           "price": p.2, "subtotal": p.2, "notes": ""},
                                          {"product": q.1, "product_name": "y", "quantity": 1,
                                           "price": q.2, "subtotal": q.2, "notes": ""}]}))
                    }
                    6 => http
                        .get(format!("{base}/api/transactions?q=TRX&limit=20"))
                        .bearer_auth(&manager),
                    7 => http
                        .get(format!("{base}/api/reports/daily"))
                        .bearer_auth(&manager),
                    8 => http
                        .get(format!("{base}/api/v0/transaction/?page=1&page_size=10"))
                        .bearer_auth(&cashier),
                    _ => http.get(format!("{base}/api/sync")).bearer_auth(&cashier),
                };
                match req.send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        lat[kind].push(t.elapsed());
                    }
                    Ok(res) => {
                        err[kind] += 1;
                        if err[kind] <= 3 {
                            eprintln!(
                                "{}: {} {}",
                                KINDS[kind],
                                res.status(),
                                res.text().await.unwrap_or_default()
                            );
                        }
                    }
                    Err(e) => {
                        err[kind] += 1;
                        eprintln!("{}: {e}", KINDS[kind]);
                    }
                }
                i += 1;
            }
            let mut r = results.lock().await;
            let mut e = errors.lock().await;
            for k in 0..KINDS.len() {
                r[k].append(&mut lat[k]);
                e[k] += err[k];
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let samples = memory.await.unwrap();

    let results = results.lock().await;
    let errors = errors.lock().await;
    let mut all: Vec<Duration> = results.iter().flatten().copied().collect();
    all.sort();
    let total_errors: usize = errors.iter().sum();
    println!(
        "\nall: {} requests in {:.0} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, errors {total_errors}",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile_ms(&all, 0.50),
        percentile_ms(&all, 0.99)
    );
    println!("| kind | requests | p50 ms | p99 ms | errors |\n|---|---|---|---|---|");
    let mut seen = std::collections::BTreeMap::new();
    for (k, name) in KINDS.iter().enumerate() {
        let e = seen.entry(*name).or_insert((Vec::new(), 0usize));
        e.0.extend(results[k].iter().copied());
        e.1 += errors[k];
    }
    for (name, (mut lat, err)) in seen {
        lat.sort();
        println!(
            "| {name} | {} | {:.1} | {:.1} | {err} |",
            lat.len(),
            percentile_ms(&lat, 0.50),
            percentile_ms(&lat, 0.99)
        );
    }
    println!("\nserver RSS over time (s: MiB):");
    let line: Vec<String> = samples
        .iter()
        .map(|(s, kib)| format!("{s}: {:.1}", *kib as f64 / 1024.0))
        .collect();
    println!("  {}", line.join(", "));
    let after_warmup: Vec<u64> = samples.iter().skip(2).map(|s| s.1).collect();
    if let (Some(min), Some(max)) = (after_warmup.iter().min(), after_warmup.iter().max()) {
        println!(
            "  after the first {} s: min {:.1} MiB, max {:.1} MiB",
            2 * sample,
            *min as f64 / 1024.0,
            *max as f64 / 1024.0
        );
    }
    drop(server);
    db.drop_now().await;
    if total_errors > 0 {
        std::process::exit(1);
    }
}
