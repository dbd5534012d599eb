//! Money in from the app, converted once, here.
//!
//! The app sends amounts as JSON numbers written by Dart's `jsonEncode`
//! from doubles (`15000.0`, `0.0`, and sums with float noise such as
//! `35299.999999999996`), the int `0` for the discount, and strings
//! (`"15000.0"`) in multipart forms. **The rule:** take the number's
//! shortest decimal text (for a double, the digits Dart printed; ryu gives
//! the same shortest form back), then round half-up to whole cents. So
//! `35299.999999999996` is 35300.00, `0.1 + 0.2` is 0.30, and `1e3` is
//! 1000.00. Anything else (a bool, an object, text that is not a number,
//! a negative amount) is refused with the field's name.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::sales::checkout::round_money;

/// An amount as the app sends it, already converted by the rule above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppAmount(pub Decimal);

impl AppAmount {
    /// As our `Money`: non-negative, two places, in range.
    pub fn money(self, field: &str) -> ApiResult<Money> {
        Money::new(self.0).map_err(|e| ApiError::field(field, format!("Amount {e}.")))
    }
}

/// The text of a JSON number or numeric string, as a Decimal rounded
/// half-up to cents; `None` when it is no number.
pub fn parse_amount(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if !plain {
        return None;
    }
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()?;
    let mut cents = round_money(d);
    cents.rescale(2);
    Some(cents)
}

impl<'de> Deserialize<'de> for AppAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AppAmount, D::Error> {
        let value = Value::deserialize(d)?;
        parse_amount(&value)
            .map(AppAmount)
            .ok_or_else(|| serde::de::Error::custom("must be a number such as 15000.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn amount(v: Value) -> Option<String> {
        parse_amount(&v).map(|d| d.to_string())
    }

    #[test]
    fn doubles_round_half_up_to_cents_through_their_shortest_text() {
        assert_eq!(amount(json!(15000.0)).as_deref(), Some("15000.00"));
        assert_eq!(amount(json!(0)).as_deref(), Some("0.00"));
        assert_eq!(
            amount(json!(35300.0_f64.next_down())).as_deref(),
            Some("35300.00")
        );
        assert_eq!(amount(json!(0.1 + 0.2)).as_deref(), Some("0.30"));
        // 2.675 as a double is 2.67499999999999982236431605997495353221893310546875,
        // but its shortest text is 2.675: the app meant 2.675, half-up 2.68.
        assert_eq!(amount(json!(2.675)).as_deref(), Some("2.68"));
        assert_eq!(amount(json!(1e3)).as_deref(), Some("1000.00"));
        assert_eq!(amount(json!("15000.0")).as_deref(), Some("15000.00"));
        assert_eq!(amount(json!(" 12 ")).as_deref(), Some("12.00"));
        assert_eq!(amount(json!(-5.5)).as_deref(), Some("-5.50"));
    }

    #[test]
    fn what_is_no_number_is_refused() {
        for v in [
            json!(true),
            json!(null),
            json!({}),
            json!("12k"),
            json!(""),
            json!("1,5"),
        ] {
            assert_eq!(amount(v.clone()), None, "{v}");
        }
        assert!(AppAmount(Decimal::from(-1)).money("total").is_err());
    }
}
