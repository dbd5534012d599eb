//! Partial updates: a PATCH field may be absent (leave it), `null` (clear
//! it, where that is allowed) or a value; and optimistic concurrency through
//! `If-Match` or a `version` member.

use axum::http::{HeaderMap, header};
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// For `Option<Option<T>>` PATCH fields: absent -> `None`, `null` ->
/// `Some(None)`, a value -> `Some(Some(v))`. Use with `#[serde(default)]`.
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The version the client expects to overwrite: `If-Match` (a bare integer;
/// quotes and a weak `W/` prefix tolerated) or the body's `version`. They
/// must agree when both are sent. `None`: last write wins.
pub fn expected_version(
    headers: &HeaderMap,
    body_version: Option<i32>,
) -> Result<Option<i32>, ApiError> {
    let header_version = match headers.get(header::IF_MATCH) {
        None => None,
        Some(raw) => {
            let text = raw.to_str().unwrap_or("").trim();
            let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
            Some(
                text.parse::<i32>()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| {
                        ApiError::field("If-Match", "must be the resource's integer version")
                    })?,
            )
        }
    };
    match (header_version, body_version) {
        (Some(h), Some(b)) if h != b => Err(ApiError::field(
            "version",
            "does not match the If-Match header",
        )),
        (Some(v), _) | (None, Some(v)) => Ok(Some(v)),
        (None, None) => Ok(None),
    }
}

pub fn version_mismatch(what: &str) -> ApiError {
    ApiError::VersionMismatch(format!(
        "The {what} was changed by someone else. Reload it and try again."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_if_match(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(expected_version(&HeaderMap::new(), None).unwrap(), None);
        assert_eq!(
            expected_version(&with_if_match("3"), None).unwrap(),
            Some(3)
        );
        assert_eq!(
            expected_version(&with_if_match("\"3\""), None).unwrap(),
            Some(3)
        );
        assert_eq!(
            expected_version(&with_if_match("W/\"3\""), None).unwrap(),
            Some(3)
        );
        assert_eq!(
            expected_version(&HeaderMap::new(), Some(4)).unwrap(),
            Some(4)
        );
        assert!(expected_version(&with_if_match("abc"), None).is_err());
        assert!(expected_version(&with_if_match("3"), Some(4)).is_err());
        assert_eq!(
            expected_version(&with_if_match("3"), Some(3)).unwrap(),
            Some(3)
        );
    }

    #[test]
    fn nullable_fields() {
        #[derive(Deserialize)]
        struct P {
            #[serde(default, deserialize_with = "nullable")]
            sku: Option<Option<String>>,
        }
        let p: P = serde_json::from_str("{}").unwrap();
        assert_eq!(p.sku, None);
        let p: P = serde_json::from_str(r#"{"sku": null}"#).unwrap();
        assert_eq!(p.sku, Some(None));
        let p: P = serde_json::from_str(r#"{"sku": "A1"}"#).unwrap();
        assert_eq!(p.sku, Some(Some("A1".into())));
    }
}
