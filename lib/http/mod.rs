//! HTTP plumbing shared by every function: JSON extraction, path
//! normalisation (trailing slashes, aliases), JSON 404/405/500.

mod json;
pub mod pagination;
mod query;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use tower::Service;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use json::{
    JSON_BODY_LIMIT, JSON_CONTENT_TYPE, Json, from_value, json_response, parse, read_body,
};
pub use pagination::{Page, PageParams, PageRequest};
pub use query::{IdPath, Query, choice_or_blank, date_or_blank, month_or_blank, parse_query};

use crate::error::ApiError;

/// A router wrapped so that, before routing, a trailing slash is dropped and
/// alias paths become their canonical path. Vercel hands a function the
/// original path even after a rewrite, so the function itself must accept
/// every form a client may send.
#[derive(Clone)]
pub struct App {
    router: Router,
    aliases: Arc<HashMap<String, String>>,
}

impl App {
    /// `router` must already have its state; `aliases` maps a path a client
    /// may use to the canonical path the router serves.
    pub fn new<'a>(router: Router, aliases: impl IntoIterator<Item = (&'a str, &'a str)>) -> App {
        let router = router
            .fallback(|| async { ApiError::NotFound("No such endpoint.".into()) })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(CatchPanicLayer::custom(
                |_: Box<dyn std::any::Any + Send>| {
                    ApiError::internal("handler panicked").into_response()
                },
            ))
            .layer(TraceLayer::new_for_http());
        App {
            router,
            aliases: Arc::new(
                aliases
                    .into_iter()
                    .map(|(from, to)| (from.to_string(), to.to_string()))
                    .collect(),
            ),
        }
    }

    fn rewrite(&self, uri: &Uri) -> Option<Uri> {
        let path = canonical_path(uri.path(), &self.aliases)?;
        let path_and_query = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(path_and_query.parse().ok()?);
        Uri::from_parts(parts).ok()
    }
}

/// The path the router should see for `path`, or `None` when it is already
/// canonical.
pub fn canonical_path(path: &str, aliases: &HashMap<String, String>) -> Option<String> {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    match aliases.get(trimmed) {
        Some(to) => Some(to.clone()),
        None if trimmed.len() != path.len() => Some(trimmed.to_string()),
        None => None,
    }
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = <Router as Service<Request>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as Service<Request>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if let Some(uri) = self.rewrite(req.uri()) {
            *req.uri_mut() = uri;
        }
        self.router.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_and_aliases() {
        let aliases: HashMap<String, String> =
            [("/api/token".to_string(), "/api/auth/login".to_string())].into();
        assert_eq!(canonical_path("/api/products", &aliases), None);
        assert_eq!(
            canonical_path("/api/products/", &aliases).as_deref(),
            Some("/api/products")
        );
        assert_eq!(
            canonical_path("/api/token/", &aliases).as_deref(),
            Some("/api/auth/login")
        );
        assert_eq!(
            canonical_path("/api/token", &aliases).as_deref(),
            Some("/api/auth/login")
        );
        assert_eq!(canonical_path("/", &aliases), None);
    }
}
