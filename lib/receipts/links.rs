//! Share links for a receipt (for WhatsApp): no login, so the token is the
//! key. It carries the link's random id and its expiry, signed with a key
//! derived from `JWT_SECRET` (HMAC-SHA-256, 128 bits kept); the link's row
//! makes it revocable. A forged, expired or revoked token is the same 404.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiResult;

/// How long a link works unless asked otherwise.
pub const DEFAULT_DAYS: i64 = 30;
pub const MAX_DAYS: i64 = 365;

const MAC_BYTES: usize = 16;

fn key(jwt_secret: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"kasirgo receipt links\0");
    h.update(jwt_secret);
    h.finalize().to_vec()
}

fn mac(jwt_secret: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(&key(jwt_secret)).expect("any key length");
    m.update(payload);
    m.finalize().into_bytes()[..MAC_BYTES].to_vec()
}

/// `<id and expiry>.<signature>`, URL-safe.
pub fn token(jwt_secret: &[u8], id: Uuid, expires_at: DateTime<Utc>) -> String {
    let mut payload = id.as_bytes().to_vec();
    payload.extend(expires_at.timestamp().to_be_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(mac(jwt_secret, &payload))
    )
}

/// The link id of a well-signed, unexpired token.
pub fn verify(jwt_secret: &[u8], token: &str, now: DateTime<Utc>) -> Option<Uuid> {
    let (payload, sig) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    if payload.len() != 24 || !bool::from(mac(jwt_secret, &payload).ct_eq(&sig)) {
        return None;
    }
    let id = Uuid::from_slice(&payload[..16]).ok()?;
    let expires = i64::from_be_bytes(payload[16..].try_into().ok()?);
    (now.timestamp() < expires).then_some(id)
}

/// A new link for a sale.
pub async fn create(
    conn: &mut PgConnection,
    jwt_secret: &[u8],
    sale_id: Uuid,
    user_id: Uuid,
    days: i64,
) -> ApiResult<(String, DateTime<Utc>)> {
    let id = Uuid::new_v4();
    // Whole seconds: the token carries them.
    let expires_at = DateTime::from_timestamp((Utc::now() + Duration::days(days)).timestamp(), 0)
        .expect("a time within range");
    sqlx::query!(
        "INSERT INTO receipt_links (id, sale_id, created_by, expires_at) VALUES ($1, $2, $3, $4)",
        id,
        sale_id,
        user_id,
        expires_at
    )
    .execute(&mut *conn)
    .await?;
    Ok((token(jwt_secret, id, expires_at), expires_at))
}

/// Revokes every live link of a sale; how many.
pub async fn revoke_all(conn: &mut PgConnection, sale_id: Uuid) -> ApiResult<u64> {
    Ok(sqlx::query!(
        "UPDATE receipt_links SET revoked_at = now() WHERE sale_id = $1 AND revoked_at IS NULL",
        sale_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The sale a token opens, if it is signed, unexpired and not revoked.
pub async fn sale_for(
    conn: &mut PgConnection,
    jwt_secret: &[u8],
    token: &str,
) -> ApiResult<Option<Uuid>> {
    let Some(id) = verify(jwt_secret, token, Utc::now()) else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar!(
        "SELECT sale_id FROM receipt_links
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()",
        id
    )
    .fetch_optional(&mut *conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";

    #[test]
    fn a_token_opens_until_it_expires_and_only_as_signed() {
        let now = Utc::now();
        let id = Uuid::new_v4();
        let t = token(SECRET, id, now + Duration::days(1));
        assert_eq!(verify(SECRET, &t, now), Some(id));
        assert_eq!(verify(SECRET, &t, now + Duration::days(2)), None, "expired");
        assert_eq!(
            verify(b"another-secret-another-secret-0123456", &t, now),
            None
        );
        // Any changed character breaks it.
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            if forged != t {
                assert_eq!(verify(SECRET, &forged, now), None, "{forged}");
            }
        }
        // A later expiry under the same signature does not verify.
        let (payload, sig) = t.split_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(payload).unwrap();
        raw[23] ^= 1;
        let stretched = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(verify(SECRET, &stretched, now), None);
        assert_eq!(verify(SECRET, "garbage", now), None);
        assert_eq!(verify(SECRET, "", now), None);
    }
}
