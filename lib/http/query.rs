//! Query strings and path ids, with every rejection as the JSON envelope
//! (axum's own rejections are plain text).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{ApiError, FieldErrors};

/// Like `axum::extract::Query`, but a bad parameter is 400
/// `validation_failed` naming it. Unknown parameters are ignored (Vercel
/// itself appends `?id=` to dynamic routes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let (field, message) = super::json::describe(&path, &e.inner().to_string());
        let mut fields = FieldErrors::new();
        fields.insert(field, vec![message]);
        ApiError::Validation(fields)
    })
}

/// A `{id}` path segment that must be a UUID: anything else is a 404 (no
/// such resource), never a plain-text 400.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError::NotFound("Not found.".into());
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        Uuid::try_parse(&raw).map(IdPath).map_err(|_| not_found())
    }
}

/// The schema of a query parameter that takes one of `values`, or nothing
/// (`""` is the default, as an absent parameter is).
pub fn choice_or_blank(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(std::iter::once("").chain(values.iter().copied())))
        .build()
}

/// A store-local date (`YYYY-MM-DD`), or `""` for the default.
pub fn date_or_blank() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .item(choice_or_blank(&[]))
        .build()
        .into()
}

/// A month (`YYYY-MM`), or `""` for the default.
pub fn month_or_blank() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(r"^(\d{4}-(0[1-9]|1[0-2]))?$"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Filter {
        limit: Option<i64>,
        in_stock: Option<bool>,
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let f: Filter = parse_query("limit=5&in_stock=true&other=x").unwrap();
        assert_eq!((f.limit, f.in_stock), (Some(5), Some(true)));
        let Err(ApiError::Validation(fields)) = parse_query::<Filter>("limit=lots") else {
            panic!("expected a validation error")
        };
        assert!(fields.contains_key("limit"), "{fields:?}");
    }
}
