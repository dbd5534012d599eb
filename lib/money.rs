//! Money: a non-negative decimal amount with at most two places, exact
//! (rust_decimal, NUMERIC in Postgres). In JSON it is a string with exactly
//! two places (`"15000.00"`); inputs may be a string or an integer, never a
//! float (a float cannot say 0.10 exactly).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct Money(Decimal);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("must be a decimal number such as \"15000\" or \"15000.50\"")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most 2 decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn new(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if value > max() {
            return Err(MoneyError::TooLarge);
        }
        let mut value = value.normalize();
        value.rescale(2);
        Ok(Money(value))
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

/// 999,999,999,999.99: what NUMERIC(14,2) holds.
fn max() -> Decimal {
    Decimal::new(99_999_999_999_999, 2)
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let s = s.trim();
        // Plain notation only: digits, one optional point, optional sign.
        let plain = !s.is_empty()
            && s.trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            && s.chars().filter(|&c| c == '.').count() <= 1
            && s.chars().any(|c| c.is_ascii_digit());
        if !plain {
            return Err(MoneyError::NotANumber);
        }
        let value = Decimal::from_str_exact(s).map_err(|_| {
            if s.len() > 20 {
                MoneyError::TooLarge
            } else {
                MoneyError::NotANumber
            }
        })?;
        Money::new(value)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = self.0;
        v.rescale(2);
        write!(f, "{v}")
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        struct MoneyVisitor;
        impl Visitor<'_> for MoneyVisitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount as a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Money, E> {
                Err(E::custom(
                    "must be sent as a string (\"15000.50\") or an integer, not a float",
                ))
            }
        }
        d.deserialize_any(MoneyVisitor)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^\d{1,12}(\.\d{1,2})?$")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(999_999_999_999i64)),
            )
            .description(Some(
                "Decimal amount as a string with two places; inputs also accept an integer.",
            ))
            .examples(["15000.00"])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, MoneyError> {
        s.parse::<Money>().map(|m| m.to_string())
    }

    #[test]
    fn parses_and_prints_two_places() {
        assert_eq!(parse("15000").unwrap(), "15000.00");
        assert_eq!(parse("15000.5").unwrap(), "15000.50");
        assert_eq!(parse(" 0.10 ").unwrap(), "0.10");
        assert_eq!(
            parse("1.230").unwrap(),
            "1.23",
            "trailing zeros are not precision"
        );
        assert_eq!(parse("0").unwrap(), "0.00");
        assert_eq!(parse("-0").unwrap(), "0.00");
        assert_eq!(parse("999999999999.99").unwrap(), "999999999999.99");
    }

    #[test]
    fn refuses_what_is_not_money() {
        assert_eq!(parse("-1"), Err(MoneyError::Negative));
        assert_eq!(parse("1.005"), Err(MoneyError::TooPrecise));
        assert_eq!(parse("1e3"), Err(MoneyError::NotANumber));
        assert_eq!(parse("abc"), Err(MoneyError::NotANumber));
        assert_eq!(parse(""), Err(MoneyError::NotANumber));
        assert_eq!(parse("."), Err(MoneyError::NotANumber));
        assert_eq!(parse("1.2.3"), Err(MoneyError::NotANumber));
        assert_eq!(parse("NaN"), Err(MoneyError::NotANumber));
        assert_eq!(parse("1000000000000"), Err(MoneyError::TooLarge));
        assert_eq!(parse(&"9".repeat(40)), Err(MoneyError::TooLarge));
    }

    #[test]
    fn json_accepts_strings_and_integers_not_floats() {
        let m: Money = serde_json::from_str("\"2500.5\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"2500.50\"");
        let m: Money = serde_json::from_str("2500").unwrap();
        assert_eq!(m.to_string(), "2500.00");
        assert!(serde_json::from_str::<Money>("2500.5").is_err());
        assert!(serde_json::from_str::<Money>("-5").is_err());
        assert!(serde_json::from_str::<Money>("true").is_err());
    }
}
