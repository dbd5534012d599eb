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
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&config.jwt_secret),
    )
    .map_err(|e| ApiError::internal(format!("signing a token: {e}")))?;
    Ok(Issued {
        token,
        jti,
        expires_at,
    })
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
