//! `kasirgo serve` and `kasirgo migrate` as a newcomer runs them.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestDb, free_port, http_client};

const KASIRGO: &str = env!("CARGO_BIN_EXE_kasirgo");

/// With no DATABASE_URL and no server answering, `serve` initialises a
/// project-local cluster, serves on it, and stops it on Ctrl-C.
#[tokio::test]
async fn serve_starts_a_local_cluster_when_no_server_answers() {
    if kasirgo::dev::find_bindir().is_none() {
        panic!("this test needs the PostgreSQL server binaries installed");
    }
    let home = tempfile::tempdir().unwrap();
    // The cluster may run as an unprivileged account, which must reach it.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let mut child = Command::new(KASIRGO)
        .args(["serve", "--port", &port.to_string()])
        .env_remove("DATABASE_URL")
        .env("KASIRGO_HOME", home.path())
        .env(
            "KASIRGO_PG_PROBE",
            format!("postgres://postgres@127.0.0.1:{}/postgres", free_port()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    if line.is_empty() {
        let out = child.wait_with_output().unwrap();
        panic!("serve exited: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(line.trim(), format!("listening on http://127.0.0.1:{port}"));

    let res = http_client()
        .get(format!("http://127.0.0.1:{port}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pid_file = home.path().join("pg/data/postmaster.pid");
    assert!(pid_file.exists(), "the cluster runs under KASIRGO_HOME");
    assert!(
        home.path().join("jwt_secret").exists(),
        "a dev secret is kept"
    );

    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    assert!(status.success(), "serve exits cleanly on Ctrl-C");
    assert!(!pid_file.exists(), "the cluster was stopped");
}

fn wait_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_says_what_to_install_without_postgres() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(KASIRGO)
        .args(["serve", "--port", &free_port().to_string()])
        .env_remove("DATABASE_URL")
        .env("KASIRGO_HOME", home.path())
        .env("KASIRGO_PG_BINDIR", home.path())
        .env(
            "KASIRGO_PG_PROBE",
            format!("postgres://postgres@127.0.0.1:{}/postgres", free_port()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No PostgreSQL found"), "{stderr}");
    assert!(stderr.contains("install"), "{stderr}");
}

#[tokio::test]
async fn migrate_is_idempotent_and_names_missing_configuration() {
    let db = TestDb::new().await;
    for _ in 0..2 {
        let out = Command::new(KASIRGO)
            .arg("migrate")
            .env_remove("DATABASE_URL")
            .env("DATABASE_URL_UNPOOLED", &db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(KASIRGO)
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_UNPOOLED")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

/// build.sh, as Vercel runs it: skips without a database, migrates once
/// with one, and fails the deploy when migration fails.
#[tokio::test]
async fn build_script_migrates_idempotently() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/build.sh");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .env_remove("DATABASE_URL")
            .env_remove("DATABASE_URL_UNPOOLED")
            .env("KASIRGO_BIN", KASIRGO)
            .env(
                "KASIRGO_MIGRATE_MARKER_DIR",
                tempfile::tempdir().unwrap().keep(),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipping migrations"));

    let db = TestDb::empty().await;
    for _ in 0..2 {
        let out = run(&[("DATABASE_URL_UNPOOLED", &db.url)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM store_settings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    let dead = format!("postgres://postgres@127.0.0.1:{}/x", free_port());
    let out = run(&[("DATABASE_URL_UNPOOLED", &dead)]);
    assert!(!out.status.success(), "a failed migration fails the deploy");
    assert!(String::from_utf8_lossy(&out.stderr).contains("migration failed"));
}
