//! Password hashing: argon2id (m = 19 MiB, t = 2, p = 1, OWASP's baseline)
//! for new hashes; Django's `pbkdf2_sha256$<iterations>$<salt>$<hash>` still
//! verifies, so accounts from an existing KasirGo (Django) database can log
//! in, and is replaced by argon2id on the next successful login.
//!
//! Hashing is deliberately slow: call these from `spawn_blocking` (see
//! [`hash_blocking`], [`verify_blocking`]), never on the async executor.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// Django's default for 4.2 is 600,000; anything far above that in a stored
/// hash is not Django's and would let a row pin a CPU.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The prefix of a hash made with today's parameters: anything else is
/// re-hashed after a successful login.
const CURRENT_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> ApiResult<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("hashing a password: {e}")))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    /// The password is right; `rehash` when the stored hash is of an older
    /// kind or weaker parameters.
    Yes {
        rehash: bool,
    },
}

pub fn verify(password: &str, stored: &str) -> Verified {
    let ok = if stored.starts_with("$argon2") {
        PasswordHash::new(stored)
            .is_ok_and(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
    } else if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        verify_django_pbkdf2(password, rest)
    } else {
        false
    };
    if ok {
        Verified::Yes {
            rehash: !stored.starts_with(CURRENT_PREFIX),
        }
    } else {
        Verified::No
    }
}

/// `<iterations>$<salt>$<base64 of the 32-byte PBKDF2-HMAC-SHA256>`.
fn verify_django_pbkdf2(password: &str, rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return false;
    }
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    // Unequal lengths compare unequal; equal ones in constant time.
    derived.ct_eq(expected.as_slice()).into()
}

/// Spends about as long as a real verification, so that an unknown username
/// answers in the same time as a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("kasirgo-dummy-password").unwrap_or_default());
    let _ = verify(password, stored);
}

pub async fn hash_blocking(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(ApiError::internal)?
}

/// Verifies against `stored`, or against a dummy hash when there is none.
pub async fn verify_blocking(password: String, stored: Option<String>) -> ApiResult<Verified> {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify_dummy(&password);
            Verified::No
        }
    })
    .await
    .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with(CURRENT_PREFIX), "{h}");
        assert_eq!(verify("correct horse", &h), Verified::Yes { rehash: false });
        assert_eq!(verify("wrong horse", &h), Verified::No);
    }

    #[test]
    fn django_pbkdf2_verifies_and_asks_for_rehash() {
        // python3: base64.b64encode(hashlib.pbkdf2_hmac('sha256', b'pw', b'salt', 260000))
        let stored = "pbkdf2_sha256$260000$salt$rDObzfOCKxYfuEfNvs2mDRx8EWJCqi9HTfKRwl6579w=";
        assert_eq!(verify("pw", stored), Verified::Yes { rehash: true });
        assert_eq!(verify("pw2", stored), Verified::No);
        assert_eq!(verify("pw", "pbkdf2_sha256$0$salt$xx"), Verified::No);
        assert_eq!(verify("pw", "md5$x$y"), Verified::No);
        assert_eq!(verify("pw", ""), Verified::No);
    }
}
