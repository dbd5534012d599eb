//! The one place roles are enforced: handlers take `Auth<AnyUser>`,
//! `Auth<ManagerUp>` or `Auth<OwnerOnly>` and never look at roles
//! themselves. The access token is checked without the database (the point
//! of JWTs on serverless), so a deactivated user keeps access for at most
//! one access-token lifetime; refresh does check the database.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::jwt::{self, TokenType};
use crate::error::ApiError;
use crate::state::AppState;

/// The least role an endpoint admits.
pub trait MinRole {
    const MIN: Role;
}

/// Any logged-in user.
pub struct AnyUser;
/// Managers and owners.
pub struct ManagerUp;
/// Owners only.
pub struct OwnerOnly;

impl MinRole for AnyUser {
    const MIN: Role = Role::Cashier;
}
impl MinRole for ManagerUp {
    const MIN: Role = Role::Manager;
}
impl MinRole for OwnerOnly {
    const MIN: Role = Role::Owner;
}

/// The caller, as the access token names them.
#[derive(Debug, Clone, Copy)]
pub struct Auth<R> {
    pub user_id: Uuid,
    pub role: Role,
    _min: PhantomData<fn() -> R>,
}

impl<R> Auth<R> {
    /// The caller's id when they reach only their own sales, shifts and
    /// payments (a cashier); `None` for a manager or owner, who reach all.
    pub fn own_only(&self) -> Option<Uuid> {
        (self.role == Role::Cashier).then_some(self.user_id)
    }
}

impl<R: MinRole> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::NotAuthenticated);
        };
        let value = value.to_str().map_err(|_| jwt::invalid_access_token())?;
        let mut words = value.split_ascii_whitespace();
        let (Some(scheme), token, None) = (words.next(), words.next(), words.next()) else {
            return Err(jwt::invalid_access_token());
        };
        // simplejwt ignores other schemes (another authenticator may own
        // them); with none here, that is "no credentials".
        if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(ApiError::NotAuthenticated);
        }
        let token = token.ok_or_else(jwt::invalid_access_token)?;
        let claims = jwt::decode_as(&state.config, token, TokenType::Access)
            .map_err(|_| jwt::invalid_access_token())?;
        if claims.role < R::MIN {
            return Err(ApiError::PermissionDenied(
                "You do not have permission to perform this action.".into(),
            ));
        }
        Ok(Auth {
            user_id: claims.user_id,
            role: claims.role,
            _min: PhantomData,
        })
    }
}
