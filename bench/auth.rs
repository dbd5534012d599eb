//! Auth benchmark: login latency (the argon2id cost) and the rate of
//! authenticated `GET /api/me` through the release dev server.
//!
//! `cargo run --release --example bench-auth` (it builds
//! `target/release/kasirgo` first). Uses a fresh database on
//! `BENCH_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped at the end.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};

const LOGINS: usize = 30;
const CLIENTS: usize = 8;
const RUN_FOR: Duration = Duration::from_secs(10);
const USERNAME: &str = "bench-owner";
const PASSWORD: &str = "bench-password-1";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kasirgo_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "kasirgo"])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release --bin kasirgo failed"
    );
    root.join("target/release/kasirgo")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() {
    let exe = kasirgo_binary();
    let admin = std::env::var("BENCH_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("kasirgo_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to BENCH_ADMIN_URL");
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name}"
    ))))
    .await
    .expect("create bench database");
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let url = url.to_string();

    let result = run(&exe, &url).await;

    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    ))))
    .await
    .expect("drop bench database");
    if let Err(e) = result {
        eprintln!("bench-auth: {e}");
        std::process::exit(1);
    }
}

async fn run(exe: &PathBuf, url: &str) -> Result<(), String> {
    let out = Command::new(exe)
        .args([
            "create-user",
            "--username",
            USERNAME,
            "--password",
            PASSWORD,
            "--role",
            "owner",
        ])
        .env("DATABASE_URL", url)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "create-user: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let port = free_port();
    let mut child = Command::new(exe)
        .args(["serve", "--port", &port.to_string()])
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret-01")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening on") => break,
            Some(Ok(_)) => {}
            _ => return Err("the dev server stopped before listening".into()),
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Login latency: sequential, so each number is one request's cost.
    let mut times = Vec::with_capacity(LOGINS);
    let mut access = String::new();
    for _ in 0..LOGINS + 2 {
        let started = Instant::now();
        let res = client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": USERNAME, "password": PASSWORD}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        if !res.status().is_success() {
            return Err(format!("login answered {}", res.status()));
        }
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        access = body["access"].as_str().unwrap_or_default().to_string();
        times.push(elapsed);
    }
    // The first two warm the pool and the connection.
    let mut times = times.split_off(2);
    times.sort();
    println!(
        "login: {LOGINS} sequential, p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.95)),
        ms(*times.last().unwrap())
    );

    // GET /api/me: CLIENTS closed loops (at most CLIENTS requests in flight).
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, stop, access) = (client.clone(), stop.clone(), access.clone());
        let url = format!("{base}/api/me");
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut lat) = (0u64, 0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match client.get(&url).bearer_auth(&access).send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        ok += 1;
                        lat.push(t.elapsed());
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed, lat)
        }));
    }
    tokio::time::sleep(RUN_FOR).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, f, l) = t.await.unwrap();
        ok += o;
        failed += f;
        lat.extend(l);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    if lat.is_empty() {
        return Err("no GET /api/me succeeded".into());
    }
    println!(
        "GET /api/me: {CLIENTS} clients for {:.1} s: {ok} ok, {failed} failed, {:.0} req/s, p50 {:.2} ms, p95 {:.2} ms",
        secs,
        ok as f64 / secs,
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.95)),
    );
    if failed > 0 {
        return Err(format!("{failed} requests failed"));
    }
    Ok(())
}
