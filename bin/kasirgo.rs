//! The `kasirgo` command: the local dev server (default) and admin tasks.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kasirgo::config::Config;
use kasirgo::error::ApiError;
use kasirgo::{db, demo, dev, import_django, routes, serverless, state::AppState, users};

#[derive(Parser)]
#[command(name = "kasirgo", version, about = "KasirGo point-of-sale backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the dev server with every route (the default command).
    Serve {
        /// Port on 127.0.0.1.
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
    },
    /// Apply pending migrations to DATABASE_URL_UNPOOLED, else DATABASE_URL.
    Migrate,
    /// Create a staff account in DATABASE_URL's database.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// owner, manager or cashier.
        #[arg(long)]
        role: String,
    },
    /// Seed a demo store (staff, categories, products, three days of sales)
    /// into the dev server's database (DATABASE_URL if set), which must
    /// have no products yet.
    SeedDemo,
    /// Copy a KasirGo Django database into ours (DATABASE_URL_UNPOOLED, else
    /// DATABASE_URL, else the dev server's database), in one transaction,
    /// and print both sides' counts and totals and every row that was not
    /// copied as it was. A second run imports nothing twice.
    ImportDjango {
        /// The Django database's URL (postgres://user:password@host/db).
        #[arg(long = "from", value_name = "URL")]
        from: String,
        /// The cafe to import (cafes era); required when there are several.
        #[arg(long, value_name = "ID")]
        cafe: Option<i64>,
        /// Do everything and print the report, then roll back.
        #[arg(long)]
        dry_run: bool,
        /// The Cloudinary cloud name Django's images live in; default: the
        /// cloud of CLOUDINARY_URL. Without either, images are not kept.
        #[arg(long = "cloudinary-cloud", value_name = "NAME")]
        cloudinary_cloud: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    serverless::init_tracing(true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Cmd::Serve {
            port: default_port(),
        }) {
            Cmd::Serve { port } => serve(port).await,
            Cmd::Migrate => migrate().await,
            Cmd::CreateUser {
                username,
                password,
                role,
            } => create_user(&username, &password, &role).await,
            Cmd::SeedDemo => seed_demo().await,
            Cmd::ImportDjango {
                from,
                cafe,
                dry_run,
                cloudinary_cloud,
            } => {
                import_django(import_django::Options {
                    from,
                    cafe,
                    dry_run,
                    cloudinary_cloud,
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kasirgo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn default_port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

async fn migrate() -> Result<(), String> {
    let url = std::env::var("DATABASE_URL_UNPOOLED")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
        .ok_or("configuration error: DATABASE_URL_UNPOOLED (or DATABASE_URL) is not set")?;
    migrate_to(&url).await?;
    eprintln!("kasirgo: migrations applied");
    Ok(())
}

/// Applies the pending migrations to `url`.
async fn migrate_to(url: &str) -> Result<(), String> {
    db::migrate(url)
        .await
        .map_err(|e| format!("migration failed: {e}"))
}

/// A pool on `url` for an admin command; `name` says where the URL came from.
async fn admin_pool(url: &str, name: &str) -> Result<sqlx::PgPool, String> {
    sqlx::PgPool::connect_with(db::connect_options(url).map_err(|e| format!("{name}: {e}"))?)
        .await
        .map_err(|e| format!("cannot connect to {name}: {e}"))
}

async fn create_user(username: &str, password: &str, role: &str) -> Result<(), String> {
    migrate().await?;
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or("configuration error: DATABASE_URL is not set")?;
    let pool = admin_pool(&url, "DATABASE_URL").await?;
    let user = users::create_checked(&pool, username, password, role)
        .await
        .map_err(describe)?;
    println!("created {} {} ({})", user.role, user.username, user.id);
    Ok(())
}

async fn seed_demo() -> Result<(), String> {
    // The dev server's database unless DATABASE_URL names another.
    let (server, url) = dev_database().await?;
    migrate_to(&url).await?;
    let pool = admin_pool(&url, &url).await?;
    let seeded = demo::seed(&pool).await.map_err(describe);
    pool.close().await;
    drop(server);
    let seeded = seeded?;
    println!(
        "seeded {} categories, {} products, {} sales, {} refund",
        seeded.categories, seeded.products, seeded.sales, seeded.refunds
    );
    println!(
        "logins: {} / {} (owner), {} / {} (cashier)",
        demo::OWNER.0,
        demo::OWNER.1,
        demo::CASHIER.0,
        demo::CASHIER.1
    );
    Ok(())
}

async fn import_django(mut options: import_django::Options) -> Result<(), String> {
    if options.cloudinary_cloud.is_none() {
        options.cloudinary_cloud = match std::env::var("CLOUDINARY_URL") {
            Ok(raw) if !raw.is_empty() => Some(
                kasirgo::config::parse_cloudinary_url(&raw)
                    .map_err(|e| e.to_string())?
                    .cloud_name,
            ),
            _ => None,
        };
    }
    // Ours: the direct URL when there is one (one long transaction), else
    // the dev server's database, found as `seed-demo` finds it.
    let unpooled = std::env::var("DATABASE_URL_UNPOOLED")
        .ok()
        .filter(|u| !u.is_empty());
    let (server, url) = match unpooled {
        Some(url) => (None, url),
        None => {
            let (server, url) = dev_database().await?;
            (Some(server), url)
        }
    };
    if options.dry_run {
        // A dry run writes nothing, migrations included.
        let pool = admin_pool(&url, "our database").await?;
        let pending = db::pending_migrations(&pool)
            .await
            .map_err(|e| format!("cannot read our database: {e}"))?;
        pool.close().await;
        if pending > 0 {
            return Err(format!(
                "our database lacks {pending} migration(s); a dry run changes nothing, \
                 so run `kasirgo migrate` first"
            ));
        }
    } else {
        migrate_to(&url).await?;
    }
    let pool = admin_pool(&url, "our database").await?;
    println!("kasirgo import-django: into {}", db::describe_url(&url));
    let result = import_django::run(&pool, &options).await;
    pool.close().await;
    drop(server);
    match result {
        Ok(report) => {
            print!("{report}");
            Ok(())
        }
        Err(import_django::ImportError::Unbalanced(report)) => {
            print!("{report}");
            Err("the counts and totals above do not match; nothing was written".into())
        }
        Err(import_django::ImportError::Source(e)) => Err(format!(
            "cannot read the Django database at {}: {e}",
            db::describe_url(&options.from)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A fresh install gets an owner to log in with; an install that has ever
/// had an account is left alone. True when the owner was created.
async fn ensure_demo_owner(pool: &sqlx::PgPool) -> Result<bool, String> {
    if users::any_exist(pool).await.map_err(|e| e.to_string())? {
        return Ok(false);
    }
    users::create_checked(pool, DEMO_USERNAME, DEMO_PASSWORD, "owner")
        .await
        .map_err(describe)?;
    Ok(true)
}

const DEMO_USERNAME: &str = demo::OWNER.0;
const DEMO_PASSWORD: &str = demo::OWNER.1;

/// An API error as a line for the terminal, fields included.
fn describe(err: ApiError) -> String {
    match err {
        ApiError::Validation(fields) => fields
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
            .collect::<Vec<_>>()
            .join("; "),
        ApiError::Conflict(detail) => detail,
        other => format!("{other}"),
    }
}

/// The dev database: `DATABASE_URL`, else `kasirgo_dev` on the server
/// [`dev::locate`] finds or starts (kept running while the value lives).
async fn dev_database() -> Result<(dev::LocalServer, String), String> {
    let server = dev::locate().await.map_err(|e| e.to_string())?;
    let url = if std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        server.admin_url.clone()
    } else {
        dev::ensure_database(&server.admin_url, "kasirgo_dev")
            .await
            .map_err(|e| e.to_string())?
    };
    Ok((server, url))
}

async fn serve(port: u16) -> Result<(), String> {
    // Holds the local cluster, if one was started, until the server stops.
    let (server, database_url) = dev_database().await?;
    let jwt_secret = dev_jwt_secret().map_err(|e| format!("cannot keep a dev JWT secret: {e}"))?;
    let config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        "JWT_SECRET" => std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| Some(jwt_secret.clone())),
        _ => std::env::var(name).ok().filter(|v| !v.is_empty()),
    })
    .map_err(|e| e.to_string())?;

    migrate_to(config.migration_url()).await?;
    let state = AppState::new(config).map_err(|e| e.to_string())?;
    let demo_created = ensure_demo_owner(&state.db).await?;

    let app = serverless::app(routes::FUNCTIONS, state);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Scripts and tests wait for the first line; the docs line comes last.
    println!("listening on http://{addr}");
    if demo_created {
        println!("demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}");
    }
    println!("API docs:   http://{addr}/api/docs");
    let result = axum::serve(listener, axum::ServiceExt::into_make_service(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"));
    drop(server);
    result
}

/// The dev server's JWT secret: kept under `.kasirgo/` so tokens survive a
/// restart. Only the dev server does this; deployed functions refuse to
/// start without a real `JWT_SECRET`.
fn dev_jwt_secret() -> std::io::Result<String> {
    let path = dev::home().join("jwt_secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_string();
        if secret.len() >= kasirgo::config::MIN_JWT_SECRET_BYTES {
            return Ok(secret);
        }
    }
    std::fs::create_dir_all(dev::home())?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, &secret)?;
    Ok(secret)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    eprintln!("kasirgo: shutting down");
}
