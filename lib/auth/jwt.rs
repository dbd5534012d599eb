//! simplejwt-compatible tokens: HS256 only (pinned, so `alg: none` and every
//! other algorithm is refused before the signature is looked at), zero
//! leeway, and a `token_type` claim so that a refresh token is never taken
//! for an access token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Role;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims simplejwt puts in a token, plus the role so that access checks
/// need no database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    /// `uuid4().hex`, as simplejwt writes it.
    pub jti: String,
    pub user_id: Uuid,
    pub role: Role,
}

impl Claims {
    pub fn jti_uuid(&self) -> Option<Uuid> {
        Uuid::try_parse(&self.jti).ok()
    }
}

pub struct Issued {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub fn issue(config: &Config, kind: TokenType, user_id: Uuid, role: Role) -> ApiResult<Issued> {
    let ttl = match kind {
        TokenType::Access => config.access_token_ttl,
        TokenType::Refresh => config.refresh_token_ttl,
    };
    issue_at(config, kind, user_id, role, Utc::now(), ttl)
}

fn issue_at(
    config: &Config,
    kind: TokenType,
    user_id: Uuid,
    role: Role,
    now: DateTime<Utc>,
    ttl: Duration,
) -> ApiResult<Issued> {
    let jti = Uuid::new_v4();
    let expires_at = now + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let claims = Claims {
        token_type: kind,
        exp: expires_at.timestamp(),
        iat: now.timestamp(),
        jti: jti.simple().to_string(),
        user_id,
        role,
    };
    Ok(Issued {
        token: sign(config, &claims)?,
        jti,
        expires_at,
    })
}

/// HS256 over the claims as serde writes them (field order fixed by
/// [`Claims`]): the same claims always give the same string.
fn sign(config: &Config, claims: &Claims) -> ApiResult<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&config.jwt_secret),
    )
    .map_err(|e| ApiError::internal(format!("signing a token: {e}")))
}

/// The namespace of [`access_jti`]'s name-based UUIDs.
const ACCESS_JTI_NAMESPACE: Uuid = Uuid::from_u128(0x5f0c_4a8e_2d3b_4c71_9e6a_b1d2_c3f4_a5b6);

/// The jti of the access token issued beside refresh token `refresh_jti`:
/// a UUID v5 of it, so a stored refresh jti is enough to rebuild both.
pub fn access_jti(refresh_jti: Uuid) -> Uuid {
    use sha1::{Digest, Sha1};
    let mut hash = Sha1::new();
    hash.update(ACCESS_JTI_NAMESPACE.as_bytes());
    hash.update(refresh_jti.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// What an access/refresh pair is built from. [`PairSpec::sign`] is a pure
/// function of it, which is what lets a rotation be answered again without
/// storing any token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSpec {
    pub user_id: Uuid,
    pub role: Role,
    pub refresh_jti: Uuid,
    /// Both tokens' `iat`, in whole seconds.
    pub issued_at: DateTime<Utc>,
    /// The refresh token's expiry (its row's `expires_at`), whole seconds.
    pub refresh_expires_at: DateTime<Utc>,
}

pub struct SignedPair {
    pub access: String,
    pub refresh: String,
}

impl PairSpec {
    /// A new pair issued now: a fresh refresh jti, `iat` now (whole
    /// seconds), the refresh token living `REFRESH_TOKEN_TTL`.
    pub fn new(config: &Config, user_id: Uuid, role: Role) -> ApiResult<PairSpec> {
        use chrono::SubsecRound;
        let issued_at = Utc::now().trunc_subsecs(0);
        let ttl =
            chrono::Duration::from_std(config.refresh_token_ttl).map_err(ApiError::internal)?;
        Ok(PairSpec {
            user_id,
            role,
            refresh_jti: Uuid::new_v4(),
            issued_at,
            refresh_expires_at: issued_at + ttl,
        })
    }

    /// Signs both tokens. The access token lives `ACCESS_TOKEN_TTL` from
    /// `issued_at`, so an instance with another TTL would sign another one.
    pub fn sign(&self, config: &Config) -> ApiResult<SignedPair> {
        let ttl =
            chrono::Duration::from_std(config.access_token_ttl).map_err(ApiError::internal)?;
        let iat = self.issued_at.timestamp();
        let access = Claims {
            token_type: TokenType::Access,
            exp: (self.issued_at + ttl).timestamp(),
            iat,
            jti: access_jti(self.refresh_jti).simple().to_string(),
            user_id: self.user_id,
            role: self.role,
        };
        let refresh = Claims {
            token_type: TokenType::Refresh,
            exp: self.refresh_expires_at.timestamp(),
            iat,
            jti: self.refresh_jti.simple().to_string(),
            user_id: self.user_id,
            role: self.role,
        };
        Ok(SignedPair {
            access: sign(config, &access)?,
            refresh: sign(config, &refresh)?,
        })
    }
}

/// Why a token was refused; the caller picks the wording its endpoint uses.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidToken;

/// Checks signature, algorithm and expiry; any token type.
pub fn decode(config: &Config, token: &str) -> Result<Claims, InvalidToken> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(&config.jwt_secret),
        &validation,
    )
    .map_err(|_| InvalidToken)?;
    // simplejwt treats `exp == now` as expired; jsonwebtoken does not.
    if data.claims.exp <= Utc::now().timestamp() || data.claims.jti_uuid().is_none() {
        return Err(InvalidToken);
    }
    Ok(data.claims)
}

/// Like [`decode`], and the token must be of type `kind`.
pub fn decode_as(config: &Config, token: &str, kind: TokenType) -> Result<Claims, InvalidToken> {
    decode(config, token).and_then(|c| {
        if c.token_type == kind {
            Ok(c)
        } else {
            Err(InvalidToken)
        }
    })
}

/// What simplejwt's `JWTAuthentication` answers for a bad Bearer token.
pub fn invalid_access_token() -> ApiError {
    ApiError::TokenNotValid {
        detail: "Given token not valid for any token type".into(),
        messages: vec![json!({
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid or expired",
        })],
    }
}

/// What simplejwt's token views answer for a bad token in the body.
pub fn invalid_token() -> ApiError {
    ApiError::TokenNotValid {
        detail: "Token is invalid or expired".into(),
        messages: vec![],
    }
}

pub fn blacklisted_token() -> ApiError {
    ApiError::TokenNotValid {
        detail: "Token is blacklisted".into(),
        messages: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some("postgres://u@h/db".into()),
            "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn round_trip_and_type_check() {
        let c = config();
        let id = Uuid::new_v4();
        let t = issue(&c, TokenType::Access, id, Role::Manager).unwrap();
        let claims = decode_as(&c, &t.token, TokenType::Access).unwrap();
        assert_eq!(claims.user_id, id);
        assert_eq!(claims.role, Role::Manager);
        assert_eq!(claims.jti.len(), 32);
        assert_eq!(
            decode_as(&c, &t.token, TokenType::Refresh).unwrap_err(),
            InvalidToken
        );
    }

    #[test]
    fn access_jti_is_a_uuid_v5() {
        // The construction is RFC 9562's v5; checked against its DNS example
        // by hashing the same way.
        use sha1::{Digest, Sha1};
        let mut hash = Sha1::new();
        hash.update(Uuid::NAMESPACE_DNS.as_bytes());
        hash.update(b"example.org");
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.finalize()[..16]);
        assert_eq!(
            uuid::Builder::from_sha1_bytes(bytes)
                .into_uuid()
                .to_string(),
            "aad03681-8b63-5304-89e0-8ca8f49461b5"
        );
        let jti = Uuid::new_v4();
        assert_eq!(access_jti(jti), access_jti(jti));
        assert_eq!(access_jti(jti).get_version_num(), 5);
        assert_ne!(access_jti(jti), access_jti(Uuid::new_v4()));
        assert_ne!(access_jti(jti), jti);
    }

    #[test]
    fn a_pair_spec_signs_the_same_pair_every_time() {
        let c = config();
        let spec = PairSpec::new(&c, Uuid::new_v4(), Role::Cashier).unwrap();
        let (one, two) = (spec.sign(&c).unwrap(), spec.sign(&c).unwrap());
        assert_eq!(one.access, two.access);
        assert_eq!(one.refresh, two.refresh);
        let access = decode_as(&c, &one.access, TokenType::Access).unwrap();
        let refresh = decode_as(&c, &one.refresh, TokenType::Refresh).unwrap();
        assert_eq!(refresh.jti_uuid(), Some(spec.refresh_jti));
        assert_eq!(access.jti_uuid(), Some(access_jti(spec.refresh_jti)));
        assert_eq!(access.iat, spec.issued_at.timestamp());
        assert_eq!(access.exp - access.iat, 15 * 60);
        assert_eq!(refresh.exp - refresh.iat, 7 * 24 * 3600);
        // Another role, another jti: another pair.
        let other = PairSpec {
            role: Role::Manager,
            ..spec
        };
        assert_ne!(other.sign(&c).unwrap().access, one.access);
        let other = PairSpec::new(&c, spec.user_id, spec.role).unwrap();
        assert_ne!(other.sign(&c).unwrap().refresh, one.refresh);
    }

    #[test]
    fn expiry_has_no_leeway() {
        let c = config();
        let now = Utc::now();
        let t = issue_at(
            &c,
            TokenType::Access,
            Uuid::new_v4(),
            Role::Cashier,
            now - chrono::Duration::seconds(61),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(decode(&c, &t.token).unwrap_err(), InvalidToken);
    }
}
