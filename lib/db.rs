//! The Postgres pool and migrations.
//!
//! On Vercel a warm process serves many requests, so each process keeps one
//! small pool, created lazily (no connection is opened at cold start until a
//! request needs one) and reused afterwards.

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::Config;

/// Migrations, embedded in every binary that calls [`migrate`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection idle longer than this is pinged before use: a frozen Vercel
/// process may wake with sockets that Neon's pooler already closed, but
/// pinging every checkout would cost a round trip on the hot path.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(20);

pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("kasirgo")
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// The process's pool. No connection is made until the first query.
pub fn lazy_pool(config: &Config) -> Result<PgPool, sqlx::Error> {
    Ok(PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(60)))
        .max_lifetime(Some(Duration::from_secs(30 * 60)))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < PING_IF_IDLE_FOR {
                    return Ok(true);
                }
                Ok(sqlx::Connection::ping(conn).await.is_ok())
            })
        })
        .connect_lazy_with(connect_options(&config.database_url)?))
}

/// Applies every pending migration. sqlx takes a session advisory lock, so
/// concurrent callers (Vercel may run the build step once per function) wait
/// for each other and the second finds nothing to do.
pub async fn migrate(url: &str) -> Result<(), sqlx::migrate::MigrateError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(connect_options(url)?)
        .await?;
    let result = MIGRATOR.run(&pool).await;
    pool.close().await;
    result
}

/// True when the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query_scalar!("SELECT 1 AS \"one!\"")
        .fetch_one(pool)
        .await
        .is_ok()
}

/// How many of the embedded migrations `pool`'s database has not applied.
pub async fn pending_migrations(pool: &PgPool) -> sqlx::Result<usize> {
    let exists =
        sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
            .fetch_one(pool)
            .await?;
    let applied: std::collections::HashSet<i64> = if exists {
        // Not a query! macro: the table is sqlx's, made by the migrator.
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect()
    } else {
        Default::default()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .count())
}

/// `host:port/database` of a Postgres URL, without its credentials.
pub fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => "the configured database".into(),
    }
}
