//! Staff roles, ordered: `cashier` < `manager` < `owner`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Postgres;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use utoipa::ToSchema;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Cashier,
    Manager,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Manager, Role::Cashier];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }

    /// Whether someone with this role may create, see, edit or delete an
    /// account with role `target`: managers look after cashiers; owners
    /// after everyone.
    pub fn manages(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Manager => target == Role::Cashier,
            Role::Cashier => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a valid choice.")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

// Stored as text (with a CHECK), so it decodes from text rather than from a
// Postgres enum type.
impl sqlx::Type<Postgres> for Role {
    fn type_info() -> PgTypeInfo {
        <String as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Role {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        Ok(text.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_management() {
        assert!(Role::Owner > Role::Manager && Role::Manager > Role::Cashier);
        assert!(Role::Manager.manages(Role::Cashier));
        assert!(!Role::Manager.manages(Role::Manager));
        assert!(!Role::Manager.manages(Role::Owner));
        assert!(Role::Owner.manages(Role::Owner));
        assert!(!Role::Cashier.manages(Role::Cashier));
        assert_eq!("owner".parse::<Role>().unwrap(), Role::Owner);
        assert!("Owner".parse::<Role>().is_err());
    }
}
