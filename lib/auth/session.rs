//! Logging in and out: the token pairs, the refresh-token table (rotation
//! and blacklist) and the checks that need the database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::jwt::{self, Claims, PairSpec, SignedPair, TokenType};
use crate::auth::password::{self, Verified};
use crate::auth::{Role, throttle};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::users::{self, User};

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Access token (Bearer), short-lived.
    pub access: String,
    /// Refresh token, exchanged at `/api/auth/refresh`: it rotates, with a
    /// short grace window in which it answers again with the same pair.
    pub refresh: String,
}

fn no_active_account(detail: &str) -> ApiError {
    ApiError::AuthenticationFailed {
        code: "no_active_account",
        detail: detail.into(),
    }
}

/// Issues a pair with a new, recorded refresh token heading a new family
/// (at login) or continuing `family` (at a rotation).
async fn issue_pair(
    db: impl PgExecutor<'_>,
    state: &AppState,
    user_id: Uuid,
    role: Role,
    family: Option<Uuid>,
) -> ApiResult<(PairSpec, TokenPair)> {
    let spec = PairSpec::new(&state.config, user_id, role)?;
    sqlx::query!(
        "INSERT INTO refresh_tokens (jti, user_id, expires_at, family) VALUES ($1, $2, $3, $4)",
        spec.refresh_jti,
        user_id,
        spec.refresh_expires_at,
        family.unwrap_or(spec.refresh_jti),
    )
    .execute(db)
    .await?;
    let pair = signed(state, &spec)?;
    Ok((spec, pair))
}

fn signed(state: &AppState, spec: &PairSpec) -> ApiResult<TokenPair> {
    let SignedPair { access, refresh } = spec.sign(&state.config)?;
    Ok(TokenPair { access, refresh })
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
    let (_, pair) = issue_pair(&state.db, state, found.user.id, found.user.role, None).await?;
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

/// A refresh token's row, locked for the rest of the transaction: the lock
/// is what makes concurrent uses of one token take turns.
struct Recorded {
    user_id: Uuid,
    family: Uuid,
    blacklisted: bool,
    logged_out: bool,
    /// Set when a refresh rotated it out.
    rotation: Option<Rotation>,
}

struct Rotation {
    successor_jti: Uuid,
    rotated_at: DateTime<Utc>,
    successor_role: Role,
}

async fn lock_recorded(conn: &mut PgConnection, jti: Uuid) -> ApiResult<Option<Recorded>> {
    let row = sqlx::query!(
        r#"SELECT user_id, family, blacklisted_at IS NOT NULL AS "blacklisted!",
                  logged_out_at IS NOT NULL AS "logged_out!",
                  successor_jti, rotated_at, successor_role AS "successor_role: Role"
           FROM refresh_tokens WHERE jti = $1 FOR UPDATE"#,
        jti
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Recorded {
        user_id: r.user_id,
        family: r.family,
        blacklisted: r.blacklisted,
        logged_out: r.logged_out,
        rotation: match (r.successor_jti, r.rotated_at, r.successor_role) {
            (Some(successor_jti), Some(rotated_at), Some(successor_role)) => Some(Rotation {
                successor_jti,
                rotated_at,
                successor_role,
            }),
            _ => None,
        },
    }))
}

/// The pair that rotating `row` issued, when the token may still answer
/// with it: rotated (not logged out) within `REFRESH_GRACE_SECONDS`, its
/// family never logged out, and the successor still on record. Runs after
/// [`lock_recorded`], so it sees a rotation that committed while it waited.
async fn grace_pair(
    conn: &mut PgConnection,
    state: &AppState,
    row: &Recorded,
) -> ApiResult<Option<PairSpec>> {
    let Some(rotation) = &row.rotation else {
        return Ok(None);
    };
    let grace =
        chrono::Duration::from_std(state.config.refresh_grace).map_err(ApiError::internal)?;
    if row.logged_out || grace.is_zero() || Utc::now() - rotation.rotated_at > grace {
        return Ok(None);
    }
    let successor = sqlx::query!(
        r#"SELECT s.expires_at,
                  EXISTS (SELECT 1 FROM refresh_tokens
                          WHERE family = $2 AND logged_out_at IS NOT NULL) AS "family_logged_out!"
           FROM refresh_tokens s WHERE s.jti = $1"#,
        rotation.successor_jti,
        row.family
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match successor {
        Some(s) if !s.family_logged_out => Some(PairSpec {
            user_id: row.user_id,
            role: rotation.successor_role,
            refresh_jti: rotation.successor_jti,
            issued_at: rotation.rotated_at,
            refresh_expires_at: s.expires_at,
        }),
        _ => None,
    })
}

/// The refresh token `jti` of `user_id`, locked: 401 when it is not ours.
async fn recorded_for(conn: &mut PgConnection, jti: Uuid, user_id: Uuid) -> ApiResult<Recorded> {
    match lock_recorded(conn, jti).await? {
        Some(row) if row.user_id == user_id => Ok(row),
        _ => Err(jwt::invalid_token()),
    }
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

/// Exchanges a refresh token for a new pair. A live token is rotated: it is
/// blacklisted, and a new pair is issued with the account's current role,
/// its refresh token continuing the token's family. A token rotated at most
/// `REFRESH_GRACE_SECONDS` ago answers again with the very pair its
/// rotation issued (so concurrent refreshes of one token, which the row
/// lock takes in turn, all get one pair), unless it or its family was
/// logged out. Any other reuse is 401 `Token is blacklisted`. Deactivated
/// and deleted accounts get 401 `no_active_account` either way.
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<TokenPair> {
    let (claims, jti) = refresh_claims(state, token)?;
    let mut tx = state.db.begin().await?;
    let row = recorded_for(&mut tx, jti, claims.user_id).await?;
    let no_account = || no_active_account("No active account found for the given token.");
    if row.blacklisted {
        let spec = grace_pair(&mut tx, state, &row)
            .await?
            .ok_or_else(jwt::blacklisted_token)?;
        users::active_role(&mut *tx, claims.user_id)
            .await?
            .ok_or_else(no_account)?;
        tx.commit().await?;
        return signed(state, &spec);
    }
    let role = users::active_role(&mut *tx, claims.user_id)
        .await?
        .ok_or_else(no_account)?;
    let (spec, pair) = issue_pair(&mut *tx, state, claims.user_id, role, Some(row.family)).await?;
    sqlx::query!(
        "UPDATE refresh_tokens
         SET blacklisted_at = now(), successor_jti = $2, rotated_at = $3, successor_role = $4
         WHERE jti = $1",
        jti,
        spec.refresh_jti,
        spec.issued_at,
        spec.role.as_str(),
    )
    .execute(&mut *tx)
    .await?;
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

/// Logs out the session of the caller's refresh token: a token refresh
/// would still accept (live, or rotated within the grace window) is marked
/// logged out, and so is its family's live token, so no token of that login
/// answers again, grace or not. Any other token is 401 as at refresh.
pub async fn logout(state: &AppState, caller: Uuid, token: &str) -> ApiResult<()> {
    let (claims, jti) = refresh_claims(state, token)?;
    if claims.user_id != caller {
        return Err(ApiError::PermissionDenied(
            "That refresh token belongs to another user.".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    let row = recorded_for(&mut tx, jti, caller).await?;
    if row.blacklisted && grace_pair(&mut tx, state, &row).await?.is_none() {
        return Err(jwt::blacklisted_token());
    }
    sqlx::query!(
        "UPDATE refresh_tokens
         SET blacklisted_at = coalesce(blacklisted_at, now()), logged_out_at = now()
         WHERE jti = $1
            OR (user_id = $2 AND family = $3 AND blacklisted_at IS NULL)",
        jti,
        caller,
        row.family
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
