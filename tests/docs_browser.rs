//! The docs page in a real browser: headless Chromium loads `/api/docs`
//! from the docs function binary and Swagger UI renders our operations,
//! with every asset served by the API itself (Chromium's network is
//! otherwise unused). `.ci/run` installs Chromium, so CI always runs this.

mod common;

use std::process::Command;

use common::{Function, JWT_SECRET, chromium};

#[test]
fn swagger_ui_renders_offline_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium on this machine (`apt-get install chromium`)");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: .ci/run installs chromium"
        );
        return;
    };
    // The docs need no database: the pool is lazy and never touched.
    let f = Function::start(
        env!("CARGO_BIN_EXE_docs"),
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none"),
            ("JWT_SECRET", JWT_SECRET),
        ],
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("{}/api/docs", f.base))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    // Rendered by Swagger UI's JavaScript from /api/openapi.json, not in
    // the static page.
    assert!(
        dom.contains("KasirGo API"),
        "title not rendered:\n{dom:.2000}"
    );
    assert!(
        dom.contains("opblock-summary-path") && dom.contains("/api/health"),
        "operations not rendered:\n{dom:.2000}"
    );
    assert!(dom.contains("OAS 3.1"), "OpenAPI version badge missing");
}
