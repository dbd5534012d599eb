//! Checkout throughput through HTTP (the release dev server, a fresh
//! Idempotency-Key per sale) against two pgbench runs, side by side in one
//! run at 8 concurrent clients, in alternating rounds:
//!
//! - **anchor**: the least SQL a correct checkout needs
//!   (`../shared/perf/anchor_{spread,hot}.sql` on `anchor_schema.sql`: two
//!   conditional stock decrements in id order, a header, its lines);
//! - **own**: the statements our checkout runs (`bench/checkout_own.sql`),
//!   which shows what the HTTP side adds on top of our own SQL;
//! - **floor**: the anchor plus the least that our guarantees add to it (a
//!   read of the cart and the key before the write, the key on the header,
//!   a ledger row per product: `bench/checkout_floor.sql`), the most HTTP ÷
//!   anchor could be if a sale wrote nothing else and HTTP cost nothing.
//!
//! Carts are two distinct products, as the anchor scripts choose them
//! (spread: 2 of 1,000; hot: 2 of 3). The rounds run on a new shop, then
//! again after writing `HISTORY` past sales (default 1,000,000, by
//! bench/search's generator; `HISTORY=0` skips it).
//!
//! The HTTP load comes from wrk (`bench/checkout.lua`, C like pgbench)
//! when it is on the PATH, else (or with `BENCH_CLIENT=reqwest`) from
//! reqwest tills in this process, which cost the 2-core machine about
//! 0.1 ms of CPU per sale that the server then lacks.
//!
//! `cargo run --release --example bench-checkout` (`ROUNDS=3` rounds of
//! `BENCH_SECONDS=5` per side; `KASIRGO_PERF_DIR` if the anchor scripts are
//! not in `../shared/perf`).

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Utc};
use serde_json::json;
use support::{BenchDb, DevServer, Run, client, env_or, history, load, percentile_ms, staff};

const CLIENTS: usize = 8;

fn product_id(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

#[derive(Clone, Copy)]
enum Cart {
    Spread,
    Hot,
}

impl Cart {
    fn name(self) -> &'static str {
        match self {
            Cart::Spread => "spread",
            Cart::Hot => "hot",
        }
    }

    /// How many products the cart is drawn from (products 1..=n).
    fn products(self) -> u64 {
        match self {
            Cart::Spread => 1000,
            Cart::Hot => 3,
        }
    }

    /// Two distinct products, `a < b`, as the anchor script draws them.
    fn draw(self, r: u64) -> (u32, u32) {
        let n = self.products();
        let a = 1 + (r % (n - 1)) as u32;
        let b = a + 1 + ((r >> 20) % (n - a as u64)) as u32;
        (a, b)
    }
}

fn perf_dir() -> PathBuf {
    let dir = std::env::var("KASIRGO_PERF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/perf"));
    assert!(
        dir.join("anchor_schema.sql").exists(),
        "the anchor scripts are not in {} (set KASIRGO_PERF_DIR)",
        dir.display()
    );
    dir
}

/// One side's figures over all rounds.
#[derive(Default)]
struct Side {
    sales: f64,
    seconds: f64,
    latencies: Vec<Duration>,
    errors: u64,
}

impl Side {
    fn rate(&self) -> f64 {
        self.sales / self.seconds
    }

    fn add_pgbench(&mut self, r: PgbenchResult, seconds: u64) {
        self.sales += r.tps * seconds as f64;
        self.seconds += seconds as f64;
        self.latencies
            .extend(r.latencies_us.iter().map(|us| Duration::from_micros(*us)));
        self.errors += r.errors;
    }

    fn add_http(&mut self, r: Run) {
        self.sales += r.latencies.len() as f64;
        self.seconds += r.elapsed.as_secs_f64();
        self.latencies.extend(r.latencies);
        self.errors += r.errors as u64;
    }

    fn add_wrk(&mut self, r: WrkResult) {
        self.sales += r.sales as f64;
        self.seconds += r.seconds;
        self.latencies.extend(r.latencies);
        self.errors += r.errors;
    }

    fn row(&mut self, shop: &str, cart: Cart, via: &str) {
        self.latencies.sort_unstable();
        println!(
            "{:<10} {:<7} {:<8} {:>9.0} {:>8.2} {:>8.2} {:>7}",
            shop,
            cart.name(),
            via,
            self.rate(),
            percentile_ms(&self.latencies, 0.5),
            percentile_ms(&self.latencies, 0.99),
            self.errors
        );
    }
}

struct Bench {
    pgbench: PathBuf,
    url: String,
    base: String,
    token: String,
    uid: String,
    response: String,
    perf: PathBuf,
    seconds: u64,
    rounds: u64,
    /// wrk, when on the PATH (`BENCH_CLIENT=reqwest` to use the tills in
    /// this process instead).
    wrk: Option<PathBuf>,
}

impl Bench {
    /// A script of ours (`bench/<file>`) with the anchor's cart lines in
    /// front.
    fn with_cart(&self, cart: Cart, file: &str) -> PathBuf {
        let anchor =
            std::fs::read_to_string(self.perf.join(format!("anchor_{}.sql", cart.name()))).unwrap();
        let sets: String = anchor
            .lines()
            .filter(|l| l.starts_with("\\set"))
            .map(|l| format!("{l}\n"))
            .collect();
        let ours = std::fs::read_to_string(format!("{}/bench/{file}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let path = std::env::temp_dir().join(format!(
            "kasirgo-{}-{file}-{}",
            cart.name(),
            std::process::id()
        ));
        std::fs::write(&path, sets + &ours).unwrap();
        path
    }

    async fn cart(&self, shop: &str, cart: Cart) -> (f64, f64) {
        let anchor_script = self.perf.join(format!("anchor_{}.sql", cart.name()));
        let own_script = self.with_cart(cart, "checkout_own.sql");
        let floor_script = self.with_cart(cart, "checkout_floor.sql");
        let mut sides: [Side; 4] = Default::default();
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
            .await
            .unwrap();
        // A warm-up round first, of 2 s per side, not counted: each side's
        // tables hold sales before any measured connection plans on them
        // (a first round on empty tables ran the anchor at 1,812 sales/s
        // and our SQL at 665, against 3,900 and 1,700 later).
        let mut warm_up: [Side; 4] = Default::default();
        for round in 0..=self.rounds {
            let (seconds, [anchor, floor, own, http]) = if round == 0 {
                (2, warm_up.each_mut())
            } else {
                (self.seconds, sides.each_mut())
            };
            // Statistics as the tables now are, as autovacuum keeps them
            // on a real server (this machine's runs with it off). Without
            // this, connections plan on the statistics of a new shop's
            // empty tables and keep those plans while ten thousand sales a
            // round arrive: pgbench running our SQL from a database whose
            // sales were analysed empty managed 659 sales/s against 2,014
            // planned with its 9,000 sales known: sequential scans under the
            // foreign-key checks and the read's key lookup (perf,
            // 2026-12-03). ANALYZE also invalidates the plans the server's
            // connections cached on these tables.
            sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
            // The four take turns, so all see the same machine.
            let r = run_pgbench(&self.pgbench, &self.url, &anchor_script, seconds, &[]);
            anchor.add_pgbench(r, seconds);
            let r = run_pgbench(&self.pgbench, &self.url, &floor_script, seconds, &[]);
            floor.add_pgbench(r, seconds);
            let vars = [
                ("uid", self.uid.as_str()),
                ("response", self.response.as_str()),
            ];
            let r = run_pgbench(&self.pgbench, &self.url, &own_script, seconds, &vars);
            own.add_pgbench(r, seconds);
            match &self.wrk {
                Some(wrk) => http.add_wrk(wrk_round(wrk, &self.base, &self.token, cart, seconds)),
                None => http.add_http(
                    http_round(&self.base, &self.token, cart, Duration::from_secs(seconds)).await,
                ),
            }
        }
        let _ = std::fs::remove_file(own_script);
        let _ = std::fs::remove_file(floor_script);
        let [anchor, floor, own, http] = &mut sides;
        anchor.row(shop, cart, "anchor");
        floor.row(shop, cart, "floor");
        own.row(shop, cart, "own SQL");
        http.row(shop, cart, "HTTP");
        let ratios = (http.rate() / anchor.rate(), http.rate() / own.rate());
        println!(
            "{:<10} {:<7} HTTP / anchor = {:.2}, HTTP / own SQL = {:.2}, floor / anchor = {:.2}",
            shop,
            cart.name(),
            ratios.0,
            ratios.1,
            floor.rate() / anchor.rate()
        );
        ratios
    }
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rounds: u64 = env_or("ROUNDS", 3);
    let past: i64 = env_or("HISTORY", 1_000_000);
    let perf = perf_dir();
    let db = BenchDb::create("checkout").await;
    let mut conn = db.connect().await;
    sqlx::query(
        "INSERT INTO products (id, sku, name, price, cost, stock)
         SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,
                'SKU-' || lpad(g::text, 4, '0'), 'Produk ' || g, 15000, 6000, 100000000
         FROM generate_series(1, 1000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let schema = std::fs::read_to_string(perf.join("anchor_schema.sql")).unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
        .execute(&mut conn)
        .await
        .unwrap();
    let floor = std::fs::read_to_string(format!(
        "{}/bench/checkout_floor_schema.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(floor))
        .execute(&mut conn)
        .await
        .unwrap();
    let (cashier_id, token) = staff(&mut conn, "cashier").await;
    // Statistics, as a shop whose catalog has been there a while has them
    // (autovacuum analyses new tables within a minute or so; the local
    // server may run with autovacuum off, as this project's CI machine
    // does). Without them the server's pooled connections cache plans made
    // for tables without statistics; pgbench, reconnecting every round,
    // suffers less.
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
                                {"product_id": product_id(2), "quantity": 1}],
                      "payment_method": "cash"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(sample.status(), 201);
    let bench = Bench {
        pgbench,
        url: db.url.clone(),
        base: server.base.clone(),
        token,
        uid: cashier_id.to_string(),
        response: sample.text().await.unwrap(),
        perf,
        seconds,
        rounds,
        wrk: find_wrk(),
    };

    println!(
        "checkout, {CLIENTS} clients, 2-item carts, {rounds} alternating rounds of {seconds} s per side, 2-core machine; HTTP load from {}:",
        match &bench.wrk {
            Some(_) => "wrk (bench/checkout.lua)",
            None => "reqwest tills in this process",
        }
    );
    println!(
        "{:<10} {:<7} {:<8} {:>9} {:>8} {:>8} {:>7}",
        "shop", "cart", "via", "sales/s", "p50 ms", "p99 ms", "errors"
    );
    let mut worst = f64::MAX;
    for cart in [Cart::Spread, Cart::Hot] {
        worst = worst.min(bench.cart("new", cart).await.0);
    }
    if past > 0 {
        let cashiers: Vec<uuid::Uuid> = vec![cashier_id];
        let today = Utc::now()
            .with_timezone(&chrono_tz::Asia::Jakarta)
            .date_naive();
        // The history ends the day before yesterday, clear of today's numbers.
        let first_day = today - Days::new(history::DAYS as u64 + 2);
        history::generate(&mut conn, past, &cashiers, first_day).await;
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await.unwrap();
        let shop = format!("{}k past", past / 1000);
        let mut worst_past = f64::MAX;
        for cart in [Cart::Spread, Cart::Hot] {
            worst_past = worst_past.min(bench.cart(&shop, cart).await.0);
        }
        println!(
            "lowest HTTP / anchor: {worst:.2} new shop, {worst_past:.2} with {past} past sales"
        );
    } else {
        println!("lowest HTTP / anchor: {worst:.2}");
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
async fn http_round(base: &str, token: &str, cart: Cart, duration: Duration) -> Run {
    let base = Arc::new(base.to_string());
    let token = Arc::new(token.to_string());
    let http = client();
    let salt = fastrand(uuid::Uuid::new_v4().as_u128() as u64);
    load(CLIENTS, duration, move |i| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let (a, b) = cart.draw(fastrand(salt ^ i as u64));
            let body = json!({
                "items": [{"product_id": product_id(a), "quantity": 1},
                          {"product_id": product_id(b), "quantity": 1}],
                "customer_name": "Budi",
                "payment_method": "cash",
                "paid_amount": "50000",
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

struct WrkResult {
    sales: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    errors: u64,
}

/// wrk on PATH, unless `BENCH_CLIENT=reqwest`.
fn find_wrk() -> Option<PathBuf> {
    if std::env::var("BENCH_CLIENT").as_deref() == Ok("reqwest") {
        return None;
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("wrk"))
            .find(|p| p.is_file())
    })
}

/// One round of HTTP checkouts by wrk (`bench/checkout.lua`): `CLIENTS`
/// connections on 2 threads, as pgbench runs (`-c 8 -j 2`).
fn wrk_round(wrk: &Path, base: &str, token: &str, cart: Cart, seconds: u64) -> WrkResult {
    let out = Command::new(wrk)
        .args(["-t", "2", "-c", &CLIENTS.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(format!("{}/bench/checkout.lua", env!("CARGO_MANIFEST_DIR")))
        .arg(base)
        .env("KASIRGO_TOKEN", token)
        .env("KASIRGO_PRODUCTS", cart.products().to_string())
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut requests, mut errors, mut micros) = (None, None, None);
    let mut latencies = Vec::new();
    for line in stdout.lines().filter_map(|l| l.strip_prefix("KASIRGO ")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["errors", e, "requests", r, "duration_us", d] => {
                errors = e.parse::<u64>().ok();
                requests = r.parse::<u64>().ok();
                micros = d.parse::<u64>().ok();
            }
            ["quantile", us] => latencies.push(Duration::from_micros(us.parse().unwrap())),
            _ => panic!("unexpected wrk output: {line}"),
        }
    }
    let (requests, errors, micros) = (
        requests.expect("wrk's summary"),
        errors.expect("wrk's summary"),
        micros.expect("wrk's summary"),
    );
    assert_eq!(latencies.len(), 400, "wrk's quantiles");
    // Each quantile stands for a 400th of the round's answers, so rounds
    // pool by their weight.
    let latencies = latencies
        .iter()
        .flat_map(|l| std::iter::repeat_n(*l, (requests as usize).div_ceil(400)))
        .collect();
    WrkResult {
        sales: requests.saturating_sub(errors),
        seconds: micros as f64 / 1e6,
        latencies,
        errors,
    }
}

struct PgbenchResult {
    tps: f64,
    latencies_us: Vec<u64>,
    errors: u64,
}

/// Runs pgbench with a script; latencies come from its per-transaction log.
fn run_pgbench(
    exe: &Path,
    url: &str,
    script: &Path,
    seconds: u64,
    vars: &[(&str, &str)],
) -> PgbenchResult {
    let logdir = tempfile_dir();
    let mut cmd = Command::new(exe);
    cmd.current_dir(&logdir)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &CLIENTS.to_string(),
            "-j",
            "2",
        ])
        .args(["-T", &seconds.to_string(), "-l", "--log-prefix=pgb"])
        .arg("-f")
        .arg(script);
    for (k, v) in vars {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    let out = cmd.arg(url).output().expect("run pgbench");
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

fn tempfile_dir() -> PathBuf {
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
