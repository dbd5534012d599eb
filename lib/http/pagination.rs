//! Keyset pagination for every list: `?limit=` (default 50, max 200) and an
//! opaque `?cursor=` from the previous page's `next_cursor`.
//!
//! A cursor is the sort key of the last row served, as base64url JSON: the
//! next page is "rows after this key", which stays correct while rows are
//! inserted or deleted and stays fast at any depth (no OFFSET).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
const MAX_CURSOR_LEN: usize = 1024;

/// The query parameters, for the OpenAPI document (`params(PageParams)`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1-200 (default 50).
    #[param(schema_with = limit_schema)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (base64url, as given).
    #[param(pattern = r"^[A-Za-z0-9_-]{0,1024}$")]
    pub cursor: Option<String>,
}

/// `limit`: a whole number from 1 to 200, or `""` for the default.
fn limit_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIMIT)),
        )
        .item(crate::http::choice_or_blank(&[]))
        .build()
        .into()
}

/// A page request, taken from the query string (other parameters are left
/// to the resource's own filter extractor).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    cursor: Option<String>,
}

impl PageRequest {
    pub fn from_params(params: PageParams) -> Result<PageRequest, ApiError> {
        let limit = match params.limit.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::field(
                        "limit",
                        format!("Must be a whole number from 1 to {MAX_LIMIT}."),
                    )
                })?,
        };
        let cursor = params.cursor.filter(|c| !c.is_empty());
        Ok(PageRequest { limit, cursor })
    }

    /// Rows to fetch: one more than a page, to learn whether another follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// The key to continue after, decoded as `K`; `None` on the first page.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let invalid = || {
            ApiError::field(
                "cursor",
                "Invalid cursor: send the next_cursor you were given.",
            )
        };
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| invalid())
    }

    /// Shapes the fetched rows (at most [`fetch_limit`](Self::fetch_limit))
    /// into a page whose cursor is `key` of its last row.
    pub fn page<T, K: Serialize>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last()
                .and_then(|last| serde_json::to_vec(&key(last)).ok())
                .map(|json| URL_SAFE_NO_PAD.encode(json))
        } else {
            None
        };
        Page {
            results: rows,
            next_cursor,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let super::Query(params) =
            super::Query::<PageParams>::from_request_parts(parts, state).await?;
        PageRequest::from_params(params)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub results: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(limit: Option<&str>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
        PageRequest::from_params(PageParams {
            limit: limit.map(String::from),
            cursor: cursor.map(String::from),
        })
    }

    #[test]
    fn limits() {
        assert_eq!(req(None, None).unwrap().limit, 50);
        assert_eq!(req(Some("200"), None).unwrap().limit, 200);
        for bad in ["0", "201", "-1", "ten", "1.5"] {
            assert!(req(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_round_trip() {
        let r = req(Some("2"), None).unwrap();
        let page = r.page(vec![1, 2, 3], |n| (*n, "k"));
        assert_eq!(page.results, vec![1, 2]);
        let next = page.next_cursor.unwrap();
        let r = req(Some("2"), Some(&next)).unwrap();
        assert_eq!(r.after::<(i32, String)>().unwrap(), Some((2, "k".into())));
        assert!(r.page(vec![3], |n| *n).next_cursor.is_none());
        assert!(req(None, Some("!!")).unwrap().after::<i32>().is_err());
    }
}
