//! The KasirGo app's surface (`/api/v0`) against v1, side by side in one
//! run through the release dev server, in alternating rounds so both see
//! the same machine:
//!
//! (a) the whole catalog of 1,000 products: `GET /api/v0/products/` (one
//!     response, the app's envelope) against what a v1 client needs for the
//!     same list (`GET /api/products?limit=200` paged with `next_cursor`
//!     until done), and a single v1 page of 200 for reference;
//! (b) checkout, 8 concurrent tills, 2-item carts spread over the 1,000
//!     products: `POST /api/v0/transaction/create/` with the body the
//!     app's checkout screen builds (doubles, `tax_percentage` 11, integer
//!     product ids, the total computed in floating point as the app does)
//!     against `POST /api/transactions` with a fresh `Idempotency-Key` per
//!     sale, on the same shop (store tax rate 11%, so both sell the same).
//!
//! `cargo build --release --bins && cargo run --release --example bench-v0`
//! Besides rates and latencies, each side reports the server's CPU time
//! per request (the dev server and its Postgres backends, from /proc),
//! which a busy shared machine disturbs less than it does a rate.
//!
//! (`ROUNDS=3` alternating rounds of `BENCH_SECONDS=5` per side,
//! `LIST_CLIENTS=4`, `CHECKOUT_CLIENTS=8`, `WARMUP_SECONDS=1` per side
//! before the first round).

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use support::{BenchDb, DevServer, Run, client, env_or, load, staff};

const PRODUCTS: usize = 1_000;
const V1_PAGE: usize = 200;
const TAX_PERCENT: i64 = 11;

/// Twelve categories, then 1,000 products over them: varied whole-rupiah
/// prices, a SKU each, a description on a third, an image URL on half (a
/// kept absolute URL: the dev server has no Cloudinary to build one from a
/// public id), stock that never runs out during the bench.
const SEED: &str = "
    INSERT INTO categories (name, description)
    SELECT 'Kategori ' || g, CASE WHEN g % 2 = 0 THEN 'Rak ' || g ELSE '' END
    FROM generate_series(1, 12) g;
    INSERT INTO products (sku, name, description, category_id, price, cost, stock, image_url)
    SELECT 'SKU-' || lpad(g::text, 5, '0'),
           'Produk ' || lpad(g::text, 4, '0'),
           CASE WHEN g % 3 = 0 THEN 'Deskripsi produk nomor ' || g ELSE '' END,
           (SELECT id FROM categories ORDER BY int_id OFFSET (g % 12) LIMIT 1),
           500 * (2 + (g * 37) % 60), 350 * (2 + (g * 37) % 60), 100000000,
           CASE WHEN g % 2 = 0
                THEN 'https://res.cloudinary.com/demo/image/upload/kasirgo/products/p' || g END
    FROM generate_series(1, 1000) g;
    UPDATE store_settings SET tax_rate = 0.11;
    ANALYZE;";

/// A product as the till knows it: both ids, and the price as the app
/// holds it (`double.parse` of the price string).
struct Item {
    int_id: i64,
    id: String,
    name: String,
    price: f64,
}

#[derive(Deserialize)]
struct V0List {
    #[allow(dead_code)]
    message: String,
    data: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct V1Page {
    results: Vec<IgnoredAny>,
    next_cursor: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    V0List,
    V1All,
    V1Page,
    V0Checkout,
    V1Checkout,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::V0List => "v0 GET products/ (all 1,000)",
            Side::V1All => "v1 GET products, 5 pages of 200",
            Side::V1Page => "v1 GET products, 1 page of 200",
            Side::V0Checkout => "v0 POST transaction/create/",
            Side::V1Checkout => "v1 POST transactions",
        }
    }
}

struct Ctx {
    base: String,
    token: String,
    items: Vec<Item>,
    http: reqwest::Client,
    salt: u64,
}

/// CPU time of the server side: the dev server and the Postgres backends
/// connected to the bench database (found through `pg_stat_activity`), from
/// `/proc/<pid>/stat`. Per request, it does not depend on how busy the
/// shared machine is, as a rate does.
struct CpuProbe {
    server_pid: u32,
    conn: tokio::sync::Mutex<sqlx::PgConnection>,
    database: String,
}

impl CpuProbe {
    /// Ticks (utime + stime) per process of the server side, now.
    async fn sample(&self) -> HashMap<u32, u64> {
        let mut conn = self.conn.lock().await;
        let backends: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.database)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        std::iter::once(self.server_pid)
            .chain(backends.into_iter().map(|p| p as u32))
            .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
            .collect()
    }
}

/// Server-side CPU between two samples (a backend that started in between
/// counts from zero).
fn cpu_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> Duration {
    let ticks: u64 = after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum();
    // SAFETY: sysconf only reads a constant of the running system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / hz)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses: state is the
    // first, utime the 12th, stime the 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    Some(f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?)
}

#[tokio::main]
async fn main() {
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rounds: usize = env_or("ROUNDS", 3);
    let warmup: u64 = env_or("WARMUP_SECONDS", 1);
    let list_clients: usize = env_or("LIST_CLIENTS", 4);
    let checkout_clients: usize = env_or("CHECKOUT_CLIENTS", 8);
    let duration = Duration::from_secs(seconds);

    let db = BenchDb::create("v0").await;
    let mut conn = db.connect().await;
    let (_, token) = staff(&mut conn, "cashier").await;
    // Statistics, as autovacuum would have them in a running shop (the
    // local server runs with autovacuum off).
    sqlx::raw_sql(SEED).execute(&mut conn).await.unwrap();
    let rows: Vec<(i64, uuid::Uuid, String, String)> = sqlx::query_as(
        "SELECT int_id, id, name, price::text FROM products WHERE deleted_at IS NULL ORDER BY int_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), PRODUCTS);
    let items = rows
        .into_iter()
        .map(|(int_id, id, name, price)| Item {
            int_id,
            id: id.to_string(),
            name,
            price: price.parse().unwrap(),
        })
        .collect();
    let server = DevServer::start(&db.url);
    let probe = CpuProbe {
        server_pid: server.pid(),
        conn: tokio::sync::Mutex::new(db.connect().await),
        database: db.name.clone(),
    };
    let ctx = Arc::new(Ctx {
        base: server.base.clone(),
        token,
        items,
        http: client(),
        salt: uuid::Uuid::new_v4().as_u128() as u64,
    });

    // The answers are what each client expects, and their sizes.
    let v0_bytes = check_v0_list(&ctx).await;
    let (v1_all_bytes, v1_page_bytes) = check_v1_list(&ctx).await;
    check_checkouts(&ctx).await;

    let list_sides = [Side::V0List, Side::V1All, Side::V1Page];
    let checkout_sides = [Side::V0Checkout, Side::V1Checkout];
    if warmup > 0 {
        for side in list_sides.iter().chain(&checkout_sides) {
            let clients = if list_sides.contains(side) {
                list_clients
            } else {
                checkout_clients
            };
            run_side(&ctx, *side, clients, Duration::from_secs(warmup)).await;
        }
    }

    let mut runs: Vec<(Side, Vec<Run>)> = list_sides
        .iter()
        .chain(&checkout_sides)
        .map(|s| (*s, Vec::new()))
        .collect();
    let mut cpu: HashMap<usize, Duration> = HashMap::new();
    for round in 0..rounds {
        // Each round alternates which side goes first.
        for group in [&list_sides[..], &checkout_sides[..]] {
            let clients = if group.len() == 3 {
                list_clients
            } else {
                checkout_clients
            };
            let mut order: Vec<Side> = group.to_vec();
            if round % 2 == 1 {
                order.reverse();
            }
            for side in order {
                let before = probe.sample().await;
                let run = run_side(&ctx, side, clients, duration).await;
                let used = cpu_between(&before, &probe.sample().await);
                *cpu.entry(side as usize).or_default() += used;
                println!(
                    "round {}: {:<32} {:>7.0}/s, server CPU {:.2} ms/req, errors {}",
                    round + 1,
                    side.label(),
                    run.rate(),
                    used.as_secs_f64() * 1000.0 / run.latencies.len().max(1) as f64,
                    run.errors
                );
                runs.iter_mut()
                    .find(|(s, _)| *s == side)
                    .unwrap()
                    .1
                    .push(run);
            }
        }
    }
    let merged: Vec<(Side, Run)> = runs
        .into_iter()
        .map(|(side, rs)| (side, merge(rs)))
        .collect();
    let get = |side: Side| &merged.iter().find(|(s, _)| *s == side).unwrap().1;
    // Server CPU (dev server + its Postgres backends) per answered request.
    let cpu_per = |side: Side| {
        cpu[&(side as usize)].as_secs_f64() * 1000.0 / get(side).latencies.len().max(1) as f64
    };

    println!();
    println!(
        "catalog of {PRODUCTS} products, {list_clients} clients, {rounds} alternating rounds of \
         {seconds} s per side:"
    );
    println!(
        "{:<34} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>7}",
        "what", "req/s", "p50 ms", "p95 ms", "p99 ms", "bytes", "CPU ms", "errors"
    );
    for (side, bytes) in [
        (Side::V0List, v0_bytes),
        (Side::V1All, v1_all_bytes),
        (Side::V1Page, v1_page_bytes),
    ] {
        let r = get(side);
        println!(
            "{:<34} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>7.2} {:>7}",
            side.label(),
            r.rate(),
            r.pct(0.50),
            r.pct(0.95),
            r.pct(0.99),
            bytes,
            cpu_per(side),
            r.errors
        );
    }
    let list_ratio = get(Side::V0List).rate() / get(Side::V1All).rate();
    println!(
        "full catalog v0 / v1 = {list_ratio:.2} (server CPU per catalog v0 / v1 = {:.2})",
        cpu_per(Side::V0List) / cpu_per(Side::V1All)
    );

    println!();
    println!(
        "checkout, 2-item carts over {PRODUCTS} products, {checkout_clients} clients, {rounds} \
         alternating rounds of {seconds} s per side:"
    );
    println!(
        "{:<34} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "what", "sales/s", "p50 ms", "p99 ms", "CPU ms", "errors"
    );
    for side in checkout_sides {
        let r = get(side);
        println!(
            "{:<34} {:>9.0} {:>8.2} {:>8.2} {:>7.2} {:>7}",
            side.label(),
            r.rate(),
            r.pct(0.50),
            r.pct(0.99),
            cpu_per(side),
            r.errors
        );
    }
    let checkout_ratio = get(Side::V0Checkout).rate() / get(Side::V1Checkout).rate();
    println!(
        "checkout v0 / v1 = {checkout_ratio:.2} (goal: at least 0.9) {}; server CPU per sale \
         v0 / v1 = {:.2}",
        if checkout_ratio >= 0.9 {
            "met"
        } else {
            "MISSED"
        },
        cpu_per(Side::V0Checkout) / cpu_per(Side::V1Checkout)
    );
    let errors: usize = merged.iter().map(|(_, r)| r.errors).sum();

    drop(conn);
    drop(probe);
    drop(server);
    db.drop_now().await;
    if errors > 0 {
        eprintln!("{errors} requests failed; every one should have succeeded");
        std::process::exit(1);
    }
}

fn merge(mut runs: Vec<Run>) -> Run {
    let mut run = runs.pop().expect("at least one round");
    for r in runs {
        run.latencies.extend(r.latencies);
        run.errors += r.errors;
        run.elapsed += r.elapsed;
    }
    run
}

async fn run_side(ctx: &Arc<Ctx>, side: Side, clients: usize, duration: Duration) -> Run {
    let ctx = ctx.clone();
    load(clients, duration, move |i| {
        let ctx = ctx.clone();
        async move {
            match side {
                Side::V0List => v0_list(&ctx).await.is_some(),
                Side::V1All => v1_list(&ctx, false).await.is_some(),
                Side::V1Page => v1_list(&ctx, true).await.is_some(),
                Side::V0Checkout => v0_checkout(&ctx, i).await.is_some(),
                Side::V1Checkout => v1_checkout(&ctx, i).await.is_some(),
            }
        }
    })
    .await
}

/// The whole catalog as the app reads it; its size in bytes.
async fn v0_list(ctx: &Ctx) -> Option<usize> {
    let res = ctx
        .http
        .get(format!("{}/api/v0/products/", ctx.base))
        .bearer_auth(&ctx.token)
        .header("Content-Type", "application/json")
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    let body = res.bytes().await.ok()?;
    let doc: V0List = serde_json::from_slice(&body).ok()?;
    (doc.data.len() == PRODUCTS).then_some(body.len())
}

/// Every product through v1's pages (or just the first page); the bytes
/// of all pages read.
async fn v1_list(ctx: &Ctx, first_page_only: bool) -> Option<usize> {
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    let mut bytes = 0;
    loop {
        let mut query = vec![("limit", V1_PAGE.to_string())];
        if let Some(c) = cursor.take() {
            query.push(("cursor", c));
        }
        let res = ctx
            .http
            .get(format!(
                "{}/api/products?{}",
                ctx.base,
                serde_urlencoded::to_string(&query).unwrap()
            ))
            .bearer_auth(&ctx.token)
            .send()
            .await
            .ok()?;
        if res.status() != 200 {
            return None;
        }
        let body = res.bytes().await.ok()?;
        bytes += body.len();
        let page: V1Page = serde_json::from_slice(&body).ok()?;
        seen += page.results.len();
        if first_page_only {
            return (seen == V1_PAGE).then_some(bytes);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (seen == PRODUCTS).then_some(bytes),
        }
    }
}

/// Two products, one from each half of the catalog.
fn cart(ctx: &Ctx, i: usize) -> [&Item; 2] {
    let r = fastrand(ctx.salt ^ i as u64);
    let half = PRODUCTS / 2;
    [
        &ctx.items[(r % half as u64) as usize],
        &ctx.items[half + ((r >> 24) % half as u64) as usize],
    ]
}

/// The checkout screen's body: doubles for amounts, the total as the app
/// computes it (subtotal + subtotal * tax% / 100), cash rounded up to the
/// next thousand.
fn v0_body(lines: &[&Item]) -> (Value, f64, f64) {
    let subtotal: f64 = lines.iter().map(|l| l.price).sum();
    let total = subtotal + subtotal * (TAX_PERCENT as f64 / 100.0);
    let paid = (total / 1000.0).ceil() * 1000.0;
    let body = json!({
        "customer_name": "Guest",
        "order_type": "dine_in",
        "payment_method": "cash",
        "payment_method_code": null,
        "status": "completed",
        "paid_amount": paid,
        "subtotal": subtotal,
        "total": total,
        "change_amount": paid - total,
        "tax_percentage": TAX_PERCENT,
        "discount": 0,
        "takeaway_charge": 0.0,
        "notes": "",
        "items": lines.iter().map(|l| json!({
            "product": l.int_id,
            "product_name": l.name,
            "quantity": 1,
            "price": l.price,
            "subtotal": l.price,
            "notes": "",
        })).collect::<Vec<_>>(),
    });
    (body, total, paid)
}

async fn v0_checkout(ctx: &Ctx, i: usize) -> Option<Value> {
    let (body, _, _) = v0_body(&cart(ctx, i));
    let res = ctx
        .http
        .post(format!("{}/api/v0/transaction/create/", ctx.base))
        .bearer_auth(&ctx.token)
        .json(&body)
        .send()
        .await
        .ok()?;
    if res.status() != 201 {
        return None;
    }
    serde_json::from_slice(&res.bytes().await.ok()?).ok()
}

async fn v1_checkout(ctx: &Ctx, i: usize) -> Option<Value> {
    let lines = cart(ctx, i);
    let (_, _, paid) = v0_body(&lines);
    let body = json!({
        "items": lines.iter().map(|l| json!({"product_id": l.id, "quantity": 1})).collect::<Vec<_>>(),
        "customer_name": "Guest",
        "payment_method": "cash",
        "paid_amount": format!("{paid:.0}"),
    });
    let res = ctx
        .http
        .post(format!("{}/api/transactions", ctx.base))
        .bearer_auth(&ctx.token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .ok()?;
    if res.status() != 201 {
        return None;
    }
    serde_json::from_slice(&res.bytes().await.ok()?).ok()
}

async fn check_v0_list(ctx: &Ctx) -> usize {
    let res = ctx
        .http
        .get(format!("{}/api/v0/products/", ctx.base))
        .bearer_auth(&ctx.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    let data = doc["data"].as_array().unwrap();
    assert_eq!(data.len(), PRODUCTS);
    let mut ids: Vec<i64> = data.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    let mut want: Vec<i64> = ctx.items.iter().map(|i| i.int_id).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "v0 lists every product once");
    assert!(data.iter().all(|p| p["price"].is_string()));
    let images = data.iter().filter(|p| p["image"].is_string()).count();
    assert_eq!(images, PRODUCTS / 2, "half the products show an image");
    v0_list(ctx).await.expect("v0 list")
}

async fn check_v1_list(ctx: &Ctx) -> (usize, usize) {
    let all = v1_list(ctx, false).await.expect("v1 full list");
    let page = v1_list(ctx, true).await.expect("v1 page");
    (all, page)
}

async fn check_checkouts(ctx: &Ctx) {
    let lines = cart(ctx, 12345);
    let (_, total, _) = v0_body(&lines);
    let sale = v0_checkout(ctx, 12345).await.expect("a v0 checkout");
    assert!(sale.get("payment").is_none(), "cash: no payment key");
    assert!(sale["data"]["transaction_number"].is_string());
    let want = format!("{:.2}", (total * 100.0).round() / 100.0);
    assert_eq!(sale["data"]["total"], want.as_str());
    let sale = v1_checkout(ctx, 12345).await.expect("a v1 checkout");
    assert_eq!(
        sale["total"],
        want.as_str(),
        "v1 sells the same cart for the same"
    );
}

/// A cheap deterministic spread of request numbers over products.
fn fastrand(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
