//! Cold start of a function binary: from exec to its first 200 that touched
//! the database, and the process's peak RSS, as Vercel would start it.
//!
//! `cargo build --release --bins && cargo run --release --example bench-coldstart`
//! (options: `RUNS=50`, `FUNCTION=health`). Uses DATABASE_URL, else the
//! local server the tests use, on a fresh database it creates and drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let function = std::env::var("FUNCTION").unwrap_or_else(|_| "health".into());
    let release = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release");
    let exe = release.join(&function);
    assert!(
        exe.exists(),
        "build it first: cargo build --release --bins ({} missing)",
        exe.display()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (admin_url, db_url, db_name) = rt.block_on(async {
        let server = kasirgo::dev::locate().await.expect("a PostgreSQL server");
        let name = format!("kasirgo_bench_{}", std::process::id());
        let url = kasirgo::dev::ensure_database(&server.admin_url, &name)
            .await
            .unwrap();
        kasirgo::db::migrate(&url).await.unwrap();
        let admin = server.admin_url.clone();
        std::mem::forget(server);
        (admin, url, name)
    });

    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let port = free_port();
        let start = Instant::now();
        let mut child = Command::new(&exe)
            .env_clear()
            .env("VERCEL_DEV_PORT", port.to_string())
            .env("DATABASE_URL", &db_url)
            .env("JWT_SECRET", "bench-secret-bench-secret-bench-secret!!")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("Dev server listening"), "{line}");
        let status = get(port, "/api/health");
        let elapsed = start.elapsed();
        assert_eq!(
            status, 200,
            "the first answer must be a 200 that touched the database"
        );
        times.push(elapsed);
        rss.push(peak_rss_kib(child.id()));
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort();
    rss.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!("cold start of `{function}` over {runs} runs (exec -> first 200 with a DB query):");
    println!(
        "  p50 {:.1} ms   p95 {:.1} ms   max {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.95)),
        ms(*times.last().unwrap())
    );
    println!(
        "  peak RSS: median {:.1} MiB, max {:.1} MiB",
        rss[rss.len() / 2] as f64 / 1024.0,
        *rss.last().unwrap() as f64 / 1024.0
    );
    println!("function binary sizes (release, stripped):");
    let mut sizes: Vec<(String, u64)> = kasirgo::routes::FUNCTIONS
        .iter()
        .filter_map(|f| {
            let meta = std::fs::metadata(release.join(f.bin)).ok()?;
            Some((f.bin.to_string(), meta.len()))
        })
        .collect();
    sizes.sort();
    for (bin, size) in sizes {
        println!("  {bin:<14} {:.2} MB", size as f64 / 1_000_000.0);
    }

    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)");
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await
            .unwrap();
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A minimal HTTP/1.1 GET, so the client adds nothing to the measurement.
fn get(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// VmHWM: the process's peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
