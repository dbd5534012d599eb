//! Logging in and out: the token pairs, the refresh-token table (rotation
//! and blacklist) and the checks that need the database.

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::jwt::{self, Claims, TokenType};
use crate::auth::password::{self, Verified};
use crate::auth::{Role, throttle};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::users::{self, User};

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Access token (Bearer), short-lived.
    pub access: String,
    /// Refresh token: single use, exchanged at `/api/auth/refresh`.
    pub refresh: String,
}

fn no_active_account(detail: &str) -> ApiError {
    ApiError::AuthenticationFailed {
        code: "no_active_account",
        detail: detail.into(),
    }
}

/// Issues an access token and a recorded refresh token.
async fn issue_pair(
    db: impl PgExecutor<'_>,
    state: &AppState,
    user_id: Uuid,
    role: Role,
) -> ApiResult<TokenPair> {
    let access = jwt::issue(&state.config, TokenType::Access, user_id, role)?;
    let refresh = jwt::issue(&state.config, TokenType::Refresh, user_id, role)?;
    sqlx::query!(
        "INSERT INTO refresh_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3)",
        refresh.jti,
        user_id,
        refresh.expires_at
    )
    .execute(db)
    .await?;
    Ok(TokenPair {
        access: access.token,
        refresh: refresh.token,
    })
}

/// Checks a username and password, within the throttle's budget; an unknown
/// user, a wrong password and an inactive account get the same answer in
/// about the same time.
pub async fn login(
    state: &AppState,
    username: &str,
    password: String,
) -> ApiResult<(User, TokenPair)> {
    let key = throttle::key(username);
    throttle::attempt(&state.db, &key, state.config.login_throttle).await?;

    let found = users::credentials_by_username(&state.db, username).await?;
    let stored = found.as_ref().map(|c| c.password_hash.clone());
    let verified = password::verify_blocking(password.clone(), stored).await?;
    let (Verified::Yes { rehash }, Some(found)) = (verified, found) else {
        return Err(no_active_account(
            "No active account found with the given credentials",
        ));
    };
    if !found.user.is_active {
        return Err(no_active_account(
            "No active account found with the given credentials",
        ));
    }
    throttle::reset(&state.db, &key).await?;

    if rehash {
        let new_hash = password::hash_blocking(password).await?;
        users::replace_password_hash(&state.db, found.user.id, &found.password_hash, &new_hash)
            .await?;
    }
    let pair = issue_pair(&state.db, state, found.user.id, found.user.role).await?;
    sweep_expired(&state.db).await?;
    Ok((found.user, pair))
}

/// Drops refresh-token rows past their expiry: such a token fails its
/// signature check before the table is consulted, so the row is dead
/// weight. Done at login, a little at a time, as there is no cron.
async fn sweep_expired(db: impl PgExecutor<'_>) -> ApiResult<()> {
    sqlx::query!(
        "DELETE FROM refresh_tokens WHERE jti IN (
             SELECT jti FROM refresh_tokens WHERE expires_at < now() LIMIT 100)"
    )
    .execute(db)
    .await?;
    Ok(())
}

fn refresh_claims(state: &AppState, token: &str) -> ApiResult<(Claims, Uuid)> {
    let claims = jwt::decode_as(&state.config, token, TokenType::Refresh)
        .map_err(|_| jwt::invalid_token())?;
    let jti = claims.jti_uuid().ok_or_else(jwt::invalid_token)?;
    Ok((claims, jti))
}

/// Blacklists the refresh token `jti` of `user_id`: the error says whether
/// it was already blacklisted or never ours.
async fn blacklist(conn: &mut PgConnection, jti: Uuid, user_id: Uuid) -> ApiResult<()> {
    let done = sqlx::query!(
        "UPDATE refresh_tokens SET blacklisted_at = now()
         WHERE jti = $1 AND user_id = $2 AND blacklisted_at IS NULL",
        jti,
        user_id
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    Err(if is_blacklisted(conn, jti).await? {
        jwt::blacklisted_token()
    } else {
        jwt::invalid_token()
    })
}

async fn is_blacklisted(db: impl PgExecutor<'_>, jti: Uuid) -> ApiResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM refresh_tokens
                          WHERE jti = $1 AND blacklisted_at IS NOT NULL) AS "exists!""#,
        jti
    )
    .fetch_one(db)
    .await?)
}

/// Rotates a refresh token: the old one is blacklisted (one use only; the
/// row lock makes two concurrent uses of one token end with one winner) and
/// a new pair is issued with the account's current role.
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<TokenPair> {
    let (claims, jti) = refresh_claims(state, token)?;
    let mut tx = state.db.begin().await?;
    blacklist(&mut tx, jti, claims.user_id).await?;
    let role = users::active_role(&mut *tx, claims.user_id)
        .await?
        .ok_or_else(|| no_active_account("No active account found for the given token."))?;
    let pair = issue_pair(&mut *tx, state, claims.user_id, role).await?;
    tx.commit().await?;
    Ok(pair)
}

/// simplejwt's verify: any valid token; a refresh token also must not be
/// blacklisted.
pub async fn verify(state: &AppState, token: &str) -> ApiResult<()> {
    let claims = jwt::decode(&state.config, token).map_err(|_| jwt::invalid_token())?;
    if claims.token_type == TokenType::Refresh {
        let jti = claims.jti_uuid().ok_or_else(jwt::invalid_token)?;
        if is_blacklisted(&state.db, jti).await? {
            return Err(jwt::blacklisted_token());
        }
    }
    Ok(())
}

/// Blacklists the caller's own refresh token.
pub async fn logout(state: &AppState, caller: Uuid, token: &str) -> ApiResult<()> {
    let (claims, jti) = refresh_claims(state, token)?;
    if claims.user_id != caller {
        return Err(ApiError::PermissionDenied(
            "That refresh token belongs to another user.".into(),
        ));
    }
    let mut conn = state.db.acquire().await?;
    blacklist(&mut conn, jti, caller).await
}
