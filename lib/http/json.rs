//! JSON in: the body extractor every endpoint uses, so that bad input always
//! gets the envelope and the right status (415, 413, 400 `invalid_json`,
//! 400 `validation_failed` with the offending field).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldErrors};

/// The largest JSON body accepted.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// Like `axum::Json`, but every rejection is an [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType(
                "Send the body as JSON with Content-Type: application/json.".into(),
            ));
        }
        let bytes = read_body(req, JSON_BODY_LIMIT).await?;
        parse(&bytes).map(Json)
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        json_response(&self.0)
    }
}

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Serialises `value` as the body of a 200 with the contract's content type.
pub fn json_response<T: serde::Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response(),
        Err(e) => ApiError::internal(format!("serialising a response: {e}")).into_response(),
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5 && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Reads a whole body, answering 413 past `limit` bytes.
pub async fn read_body(req: Request, limit: usize) -> Result<bytes::Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::InvalidJson(format!("Could not read the request body: {e}"))
            }
        })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Parses JSON text into `T`: syntax errors are `invalid_json`; a valid
/// document of the wrong shape is `validation_failed`, naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidJson(format!(
            "JSON parse error: {e}. Send a JSON document as the body."
        ))
    })?;
    from_value(integral_floats_as_integers(value))
}

/// JSON Schema counts `2.0` as an integer, so a number with a zero fraction
/// is taken where an integer is expected (and `15000.0` as money): such
/// numbers become integers before the document is read. Past 2^53 a float
/// is no longer an exact count of anything, and stays a float (refused).
fn integral_floats_as_integers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(integral_floats_as_integers).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Deserializes an already-parsed document, naming the field at fault.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let (field, message) = describe(&path, &message);
        let mut fields = FieldErrors::new();
        fields.insert(field, vec![message]);
        ApiError::Validation(fields)
    })
}

/// Turns serde's message into DRF's wording where one exists.
pub(crate) fn describe(path: &str, message: &str) -> (String, String) {
    let prefix = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.strip_suffix('`')
    {
        let field = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        return (field, "This field is required.".into());
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.find('`')
    {
        let name = &rest[..end];
        // The path already ends at the unknown key.
        let field = if prefix.is_empty() {
            name.to_string()
        } else {
            prefix.to_string()
        };
        return (field, "Unknown field.".into());
    }
    let field = if prefix.is_empty() {
        "non_field_errors".to_string()
    } else {
        prefix.to_string()
    };
    // serde appends " at line 1 column 9" only for text input; values have none.
    (field, capitalise(message))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
        lines: Option<Vec<Line>>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Line {
        quantity: i32,
    }

    fn fields(err: ApiError) -> FieldErrors {
        match err {
            ApiError::Validation(f) => f,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_float_is_an_integer() {
        #[derive(serde::Deserialize)]
        struct Line {
            quantity: i32,
            amounts: Vec<crate::money::Money>,
        }
        let line: Line = parse(br#"{"quantity": 2.0, "amounts": [15000.0, -0.0]}"#).unwrap();
        assert_eq!(line.quantity, 2);
        assert_eq!(line.amounts[0].to_string(), "15000.00");
        assert_eq!(line.amounts[1].to_string(), "0.00");
        assert!(matches!(
            parse::<Line>(br#"{"quantity": 2.5, "amounts": []}"#),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            parse::<Line>(br#"{"quantity": 1, "amounts": [15000.5]}"#),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        assert!(matches!(
            parse::<Login>(b"{\"username\": "),
            Err(ApiError::InvalidJson(_))
        ));
    }

    #[test]
    fn shape_errors_name_the_field() {
        let f = fields(parse::<Login>(br#"{"username": "a"}"#).unwrap_err());
        assert_eq!(f["password"], vec!["This field is required."]);
        let f = fields(parse::<Login>(br#"{"username": 5, "password": "x"}"#).unwrap_err());
        assert!(f["username"][0].starts_with("Invalid type"), "{f:?}");
        let f = fields(
            parse::<Login>(br#"{"username":"a","password":"b","lines":[{"quantity":"x"}]}"#)
                .unwrap_err(),
        );
        assert!(f.contains_key("lines[0].quantity"), "{f:?}");
        let f = fields(parse::<Login>(br#"{"username":"a","password":"b","x":1}"#).unwrap_err());
        assert_eq!(
            f.get("x"),
            Some(&vec!["Unknown field.".to_string()]),
            "{f:?}"
        );
        let f = fields(parse::<Login>(b"[]").unwrap_err());
        assert!(f.contains_key("non_field_errors"), "{f:?}");
    }

    #[test]
    fn content_types() {
        let v = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("application/json; charset=utf-8"))));
        assert!(is_json(Some(&v("application/merge-patch+json"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(None));
    }
}
