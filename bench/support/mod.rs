//! Shared benchmark plumbing: a fresh database, the release dev server on
//! it, staff tokens, and a bounded load loop that records latencies.
#![allow(dead_code)]

pub mod history;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kasirgo::auth::Role;
use kasirgo::auth::jwt::{self, TokenType};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

/// A database of the benchmark's own, dropped on `drop_now`.
pub struct BenchDb {
    pub admin_url: String,
    pub url: String,
    pub name: String,
}

impl BenchDb {
    pub async fn create(tag: &str) -> BenchDb {
        let server = kasirgo::dev::locate().await.expect("a PostgreSQL server");
        let admin_url = server.admin_url.clone();
        std::mem::forget(server);
        let name = format!("kasirgo_bench_{tag}_{}", std::process::id());
        let url = kasirgo::dev::ensure_database(&admin_url, &name)
            .await
            .expect("create the bench database");
        kasirgo::db::migrate(&url).await.expect("migrate");
        BenchDb {
            admin_url,
            url,
            name,
        }
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect")
    }

    pub async fn drop_now(self) {
        let mut conn = PgConnection::connect(&self.admin_url).await.unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await
            .unwrap();
    }
}

/// The release `kasirgo serve`, killed on drop.
pub struct DevServer {
    child: Child,
    pub base: String,
}

impl DevServer {
    pub fn start(database_url: &str) -> DevServer {
        let exe = release_binary("kasirgo");
        let port = free_port();
        let mut child = Command::new(exe)
            .args(["serve", "--port", &port.to_string()])
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn")
            .env("DB_MAX_CONNECTIONS", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the dev server");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("listening on"), "dev server said {line:?}");
        // Keep reading: `serve` prints more lines after this one (demo
        // login, docs URL) and panics on a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        DevServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl DevServer {
    /// The server process's id (for reading its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn release_binary(name: &str) -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/release")
        .join(name);
    assert!(
        exe.exists(),
        "build it first: cargo build --release --bins ({} missing)",
        exe.display()
    );
    exe
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An account of `role` (inserted directly) and an access token signed
/// with the dev server's secret.
pub async fn staff(conn: &mut PgConnection, role: &str) -> (Uuid, String) {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO users (username, role, password_hash) VALUES ($1, $2, 'unusable') RETURNING id",
    )
    .bind(format!("bench-{role}-{}", Uuid::new_v4().simple()))
    .bind(role)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let config = kasirgo::config::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some("postgres://unused@localhost/x".into()),
        "JWT_SECRET" => Some(JWT_SECRET.into()),
        "ACCESS_TOKEN_TTL" => Some("86400".into()),
        _ => None,
    })
    .unwrap();
    let role: Role = role.parse().unwrap();
    let token = jwt::issue(&config, TokenType::Access, id, role)
        .unwrap()
        .token;
    (id, token)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

/// Latencies and outcomes of one load run.
pub struct Run {
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn pct(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        percentile_ms(&sorted, p)
    }
}

/// The environment variable `name` parsed, else `default` (unset or
/// unparsable).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `clients` concurrent loops of `request` for `duration` (bounded in
/// time; every request also has the client's timeout). `request(i)` sends
/// one request and says whether it succeeded.
pub async fn load<F, Fut>(clients: usize, duration: Duration, request: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                if request(i).await {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
                i += clients;
            }
            (lat, errors)
        }));
    }
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (lat, errors) = t.await.unwrap();
        run.latencies.extend(lat);
        run.errors += errors;
    }
    run.elapsed = start.elapsed();
    run
}
