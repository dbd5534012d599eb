//! Checkout throughput through HTTP (the release dev server) against
//! pgbench running the same SQL statements (bench/checkout_*.sql), side by
//! side in one run, at 8 concurrent clients, for a hot cart (the same 3
//! products in every sale) and a spread cart (3 of 1,000 products).
//!
//! `cargo build --release --bins && cargo run --release --example bench-checkout`
//! (`ROUNDS=3` alternating rounds of `BENCH_SECONDS=5` per side by default).

#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::{BenchDb, DevServer, client, env_or, load, percentile_ms, staff};

const CLIENTS: usize = 8;

fn product_id(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rounds: u64 = env_or("ROUNDS", 3);
    let duration = Duration::from_secs(seconds);
    let db = BenchDb::create("checkout").await;
    let mut conn = db.connect().await;
    sqlx::query(
        "INSERT INTO products (id, name, price, cost, stock)
         SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                'Product ' || g, 1000, 400, 100000000
         FROM generate_series(1, 1000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (cashier_id, token) = staff(&mut conn, "cashier").await;
    // Statistics, as a shop whose catalog has been there a while has them
    // (autovacuum analyses new tables within a minute or so; the local
    // server may run with autovacuum off, as this project's CI machine
    // does). Without them the server's pooled connections cache plans made
    // for tables without statistics, such as reading every product to find
    // a cart's three; pgbench, reconnecting every round, suffers less.
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
    let server = DevServer::start(&db.url);
    let pgbench = kasirgo::dev::find_bindir()
        .map(|d| d.join("pgbench"))
        .filter(|p| p.exists())
        .expect("pgbench (installed with the PostgreSQL server)");

    // A response-sized document for pgbench's idempotency rows.
    let sample = client()
        .post(format!("{}/api/transactions", server.base))
        .bearer_auth(&token)
        .json(
            &json!({"items": [{"product_id": product_id(1), "quantity": 1},
                                {"product_id": product_id(2), "quantity": 1},
                                {"product_id": product_id(3), "quantity": 1}],
                      "payment_method": "cash"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sample.status(), 201);
    let response_doc = sample.text().await.unwrap();

    println!(
        "checkout, {CLIENTS} clients, {rounds} alternating rounds of {seconds} s per side, 2-core machine:"
    );
    println!(
        "{:<8} {:<8} {:>10} {:>9} {:>9} {:>7}",
        "cart", "via", "sales/s", "p50 ms", "p99 ms", "errors"
    );
    for cart in ["hot", "spread"] {
        // pgbench and HTTP take turns, so both see the same machine.
        let mut pg_sales = 0.0;
        let mut pg_lat: Vec<Duration> = Vec::new();
        let mut pg_errors = 0;
        let mut http_runs = Vec::new();
        for _ in 0..rounds {
            let pg = run_pgbench(
                &pgbench,
                &db.url,
                cart,
                seconds,
                &cashier_id.to_string(),
                &response_doc,
            );
            pg_sales += pg.tps * seconds as f64;
            pg_lat.extend(pg.latencies_us.iter().map(|us| Duration::from_micros(*us)));
            pg_errors += pg.errors;
            http_runs.push(http_round(&server.base, &token, cart == "hot", duration).await);
        }
        pg_lat.sort_unstable();
        let pg_tps = pg_sales / (seconds * rounds) as f64;
        println!(
            "{:<8} {:<8} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            cart,
            "pgbench",
            pg_tps,
            percentile_ms(&pg_lat, 0.5),
            percentile_ms(&pg_lat, 0.99),
            pg_errors
        );
        let mut run = http_runs.pop().unwrap();
        for r in http_runs {
            run.latencies.extend(r.latencies);
            run.errors += r.errors;
            run.elapsed += r.elapsed;
        }
        println!(
            "{:<8} {:<8} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            cart,
            "HTTP",
            run.rate(),
            run.pct(0.50),
            run.pct(0.99),
            run.errors
        );
        println!("{:<8} HTTP / pgbench = {:.2}", cart, run.rate() / pg_tps);
    }
    let stock: i64 = sqlx::query_scalar("SELECT min(stock)::int8 FROM products")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(stock > 0, "the bench never runs out of stock");
    drop(conn);
    drop(server);
    db.drop_now().await;
}

/// One round of HTTP checkouts: `CLIENTS` tills selling for `duration`.
async fn http_round(base: &str, token: &str, hot: bool, duration: Duration) -> support::Run {
    let base = Arc::new(base.to_string());
    let token = Arc::new(token.to_string());
    let http = client();
    let salt = fastrand(uuid::Uuid::new_v4().as_u128() as u64);
    load(CLIENTS, duration, move |i| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let ids: [u32; 3] = if hot {
                [1, 2, 3]
            } else {
                let r = fastrand(salt ^ i as u64);
                [
                    1 + (r % 333) as u32,
                    334 + ((r >> 16) % 333) as u32,
                    667 + ((r >> 32) % 334) as u32,
                ]
            };
            let body = json!({
                "items": ids.iter().map(|n| json!({"product_id": product_id(*n), "quantity": 1})).collect::<Vec<_>>(),
                "customer_name": "Budi",
                "payment_method": "cash",
                "paid_amount": "5000",
            });
            let res = http
                .post(format!("{base}/api/transactions"))
                .bearer_auth(token.as_str())
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await;
            // Read the body: a response dropped unread closes its connection.
            match res {
                Ok(r) if r.status() == 201 => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

struct PgbenchResult {
    tps: f64,
    latencies_us: Vec<u64>,
    errors: u64,
}

/// Runs pgbench with the cart's script; latencies come from its per-
/// transaction log.
fn run_pgbench(
    exe: &std::path::Path,
    url: &str,
    cart: &str,
    seconds: u64,
    uid: &str,
    response: &str,
) -> PgbenchResult {
    let script = format!("{}/bench/checkout_{cart}.sql", env!("CARGO_MANIFEST_DIR"));
    let logdir = tempfile_dir();
    let out = Command::new(exe)
        .current_dir(&logdir)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
        ])
        .args([
            "-T",
            &seconds.to_string(),
            "-f",
            &script,
            "-l",
            "--log-prefix=pgb",
        ])
        .arg("-D")
        .arg(format!("uid={uid}"))
        .arg("-D")
        .arg(format!("response={response}"))
        .arg(url)
        .output()
        .expect("run pgbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .expect("pgbench tps");
    let errors = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    // Log lines: client_id transaction_no time(us) script_no epoch us
    let mut lat: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(&logdir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lat.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    let _ = std::fs::remove_dir_all(&logdir);
    PgbenchResult {
        tps,
        latencies_us: lat,
        errors,
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kasirgo-pgbench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A cheap deterministic spread of request numbers over products.
fn fastrand(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
