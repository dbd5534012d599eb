//! Test harness: each test gets its own freshly migrated database on the
//! local Postgres (found the same way as the dev server), an in-process app
//! to call with `oneshot`, and helpers to run the real `api/` binaries.
#![allow(dead_code)]

pub mod users;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use kasirgo::config::Config;
use kasirgo::state::AppState;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::OnceCell;
use tower::ServiceExt;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The server tests create their databases on.
pub async fn admin_url() -> &'static str {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let server = kasirgo::dev::locate()
            .await
            .expect("a PostgreSQL server for the tests");
        let url = server.admin_url.clone();
        // A cluster started for the tests keeps running for the next test
        // binary; `kasirgo serve` reuses it too.
        std::mem::forget(server);
        url
    })
    .await
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
    admin_url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let db = TestDb::empty().await;
        kasirgo::db::migrate(&db.url)
            .await
            .expect("migrate test database");
        db
    }

    /// A database with nothing in it, not even the migrations.
    pub async fn empty() -> TestDb {
        let admin_url = admin_url().await.to_string();
        let name = format!("kasirgo_test_{}", uuid::Uuid::new_v4().simple());
        let url = kasirgo::dev::ensure_database(&admin_url, &name)
            .await
            .expect("create test database");
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(&url)
            .await
            .expect("connect test database");
        TestDb {
            name,
            url,
            pool,
            admin_url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside any runtime we may block; use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await;
                }
            });
        })
        .join();
    }
}

/// Configuration for a test against `database_url`; `extra` overrides.
pub fn config(database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("DATABASE_URL".into(), database_url.into());
    vars.insert("JWT_SECRET".into(), JWT_SECRET.into());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration")
}

/// The whole API in-process, on a database of its own.
pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub app: kasirgo::http::App,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body as sent (`text` is it read as UTF-8, lossily).
    pub bytes: Vec<u8>,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(&[]).await
    }

    pub async fn with_config(extra: &[(&str, &str)]) -> TestApp {
        let db = TestDb::new().await;
        let state = AppState::new(config(&db.url, extra)).expect("state");
        let app = kasirgo::serverless::app(kasirgo::routes::FUNCTIONS, state.clone());
        TestApp { db, state, app }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// A JSON request; `token` becomes a Bearer header.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    /// Serves the app over HTTP on `listener` (for callers that must reach
    /// it as a client would: a provider's callbacks, a browser).
    pub fn serve_on(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let router = axum::Router::new().fallback_service(self.app.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        self.call(Method::POST, path, Some(body), token).await
    }
}

/// Asserts the error envelope and returns the body.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.text);
    assert_eq!(reply.body["code"], code, "body: {}", reply.text);
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail missing: {}",
        reply.text
    );
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors are JSON"
    );
}

/// A real function binary, started as Vercel's builder starts it.
pub struct Function {
    child: Child,
    pub port: u16,
    pub base: String,
}

impl Function {
    /// Starts `exe` with `VERCEL_DEV_PORT` and waits for the runtime's
    /// `Dev server listening: N` line.
    pub fn start(exe: &str, env: &[(&str, &str)]) -> Function {
        Function::spawn(exe, env, None)
    }

    /// Like [`Function::start`], with the function's stderr (its logs)
    /// collected in the returned [`Logs`] instead of passed through.
    pub fn start_logged(exe: &str, env: &[(&str, &str)]) -> (Function, Logs) {
        let logs = Logs::default();
        (Function::spawn(exe, env, Some(logs.clone())), logs)
    }

    fn spawn(exe: &str, env: &[(&str, &str)], logs: Option<Logs>) -> Function {
        let port = free_port();
        let mut cmd = Command::new(exe);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        // Under tools/faketime-suite.sh the function shares the test's
        // faked clock, as a function shares its host's clock in production.
        for (k, v) in std::env::vars() {
            if k == "LD_PRELOAD" || k.starts_with("FAKETIME") {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .env("VERCEL_DEV_PORT", port.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if logs.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("spawn function binary");
        if let Some(logs) = logs {
            let stderr = child.stderr.take().expect("stderr");
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut text = logs.text.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
                logs.closed.store(true, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        assert_eq!(
            line.trim(),
            format!("Dev server listening: {port}"),
            "the builder waits for this exact line"
        );
        Function {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// What a started function wrote to stderr.
#[derive(Clone, Default)]
pub struct Logs {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Logs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Everything, once the function has exited (drop it first) and its
    /// stderr is read to the end.
    pub fn all(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the function's stderr stays open"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.text()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Chromium to run headless, if this machine has one.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub mod fake_cloudinary;
pub mod fake_duitku;
pub mod qris;
pub mod shop;
