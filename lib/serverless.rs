//! The glue between a route-table entry and the Vercel runtime, so that an
//! `api/` file is one call: `kasirgo::serverless::run(&kasirgo::routes::X)`.

use std::process::ExitCode;

use tower::ServiceBuilder;
use vercel_runtime::axum::VercelLayer;

use crate::config::Config;
use crate::routes::{self, Function};
use crate::state::AppState;

/// The app (router, path normalisation, JSON fallbacks) serving `functions`.
pub fn app(functions: &[&Function], state: AppState) -> crate::http::App {
    let router = functions
        .iter()
        .fold(axum::Router::new(), |router, f| {
            let (r, _) = (f.router)().split_for_parts();
            router.merge(r)
        })
        .with_state(state);
    crate::http::App::new(router, routes::aliases(functions))
}

/// Logs go to stderr: the runtime owns stdout (the builder waits there for
/// `Dev server listening: N`).
pub fn init_tracing(ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// The `main` of every function binary. Configuration errors stop the
/// function at start, naming the variable, rather than failing per request.
pub fn run(function: &'static Function) -> ExitCode {
    init_tracing(false);
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{}: {e}", function.bin);
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", function.bin);
            return ExitCode::FAILURE;
        }
    };
    // The pool's maintenance task needs the runtime to exist.
    let _entered = runtime.enter();
    let state = match AppState::new(config) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("{}: configuration error: DATABASE_URL: {e}", function.bin);
            return ExitCode::FAILURE;
        }
    };
    let service = ServiceBuilder::new()
        .layer(VercelLayer::new())
        .service(app(&[function], state));
    match runtime.block_on(vercel_runtime::run(service)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", function.bin);
            ExitCode::FAILURE
        }
    }
}
