//! Login throttling in Postgres, since serverless instances share nothing in
//! memory: at most `LOGIN_THROTTLE` attempts per username (lowercased) are
//! checked in a window that starts at the first failure and lasts
//! [`WINDOW`]; once they are spent, every attempt is refused with 429, even
//! one with the right password, until the window passes. A success resets
//! the count.
//!
//! An attempt is counted *before* the password is checked, in one atomic
//! upsert, so a burst of parallel guesses cannot slip past the limit while
//! the slow hash runs; a success then deletes the row.
//!
//! Keyed by username only (not username + IP): a distributed guesser gains
//! nothing from more addresses. The price is that anyone can lock a user
//! out for 15 minutes by failing on purpose.

use std::time::Duration;

use sqlx::PgExecutor;

use crate::error::{ApiError, ApiResult};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// Counts an attempt for `key`; `Err(Throttled)` when the window's budget of
/// `limit` attempts was already spent.
pub async fn attempt(db: impl PgExecutor<'_>, key: &str, limit: u32) -> ApiResult<()> {
    let window_secs = WINDOW.as_secs_f64();
    let row = sqlx::query!(
        r#"INSERT INTO login_throttle AS t (username_key, attempts, window_start)
           VALUES ($1, 1, now())
           ON CONFLICT (username_key) DO UPDATE SET
               attempts = CASE WHEN t.window_start <= now() - make_interval(secs => $2)
                               THEN 1 ELSE t.attempts + 1 END,
               window_start = CASE WHEN t.window_start <= now() - make_interval(secs => $2)
                                   THEN now() ELSE t.window_start END
           RETURNING attempts,
                     extract(epoch FROM t.window_start + make_interval(secs => $2) - now())::float8
                         AS "retry_after!""#,
        key,
        window_secs,
    )
    .fetch_one(db)
    .await?;
    if row.attempts > i32::try_from(limit).unwrap_or(i32::MAX) {
        return Err(ApiError::Throttled {
            retry_after: row.retry_after.ceil().max(1.0) as u64,
        });
    }
    Ok(())
}

/// Forgets the failures of `key` after a successful login, and sweeps
/// windows that have passed so the table stays small.
pub async fn reset(db: impl PgExecutor<'_>, key: &str) -> ApiResult<()> {
    sqlx::query!(
        "DELETE FROM login_throttle
         WHERE username_key = $1 OR window_start <= now() - make_interval(secs => $2)",
        key,
        WINDOW.as_secs_f64(),
    )
    .execute(db)
    .await?;
    Ok(())
}
