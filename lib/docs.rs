//! `GET /api/openapi.json` (generated from the handlers' own annotations,
//! collected through the route table) and `GET /api/docs`, a Swagger UI
//! whose assets this API serves itself, so it works with no internet.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, Server};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::routes::FUNCTIONS;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let assets: Router = swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
        uri_prefix: "/api/docs",
        api_definition: swagger_ui_dist::OpenApiSource::Uri("/api/openapi.json"),
        title: Some("KasirGo API"),
    })
    .fallback(|| async { ApiError::NotFound("No such docs asset.".into()) });
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
        .route_service("/api/docs/{*asset}", assets)
}

/// The whole API's OpenAPI 3.1 document as served, built once per process:
/// the handlers' own annotations, completed by [`complete_statuses`].
pub fn openapi() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(build()).expect("the document serialises");
        complete_statuses(&mut doc);
        doc
    })
}

fn build() -> OpenApi {
    let mut doc = OpenApi::new(
        InfoBuilder::new()
            .title("KasirGo API")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some(DESCRIPTION))
            .build(),
        utoipa::openapi::Paths::new(),
    );
    for f in FUNCTIONS {
        let (_, api) = (f.router)().split_for_parts();
        doc.merge(api);
    }
    doc.servers = Some(vec![Server::new("/")]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("An access token from POST /api/auth/login."))
                .build(),
        ),
    );
    doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    doc
}

/// The statuses the shared machinery answers, added to every operation it
/// stands in front of, so no handler's list can forget them: 401 from the
/// bearer check on every operation behind a login, 404 from a path
/// parameter that names nothing (`IdPath` answers 404 for a malformed id
/// too), 400 from a query string or a request header the handler reads
/// (`Query`, `If-Match`, `Idempotency-Key`), and 400 `invalid_json` /
/// `validation_failed`, 413 and 415 from the body extractors (`Json`,
/// `read_body`, multipart). Each is the error envelope of the operation's
/// surface (`/api/v0` has `message` too). Also: `/api/v0` operationIds
/// get a `v0_` prefix (they mirror v1's handler names), and header
/// parameters are never `null`.
fn complete_statuses(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let envelope = if path.starts_with("/api/v0/") {
            "V0ErrorBody"
        } else {
            "ErrorBody"
        };
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            let public = op
                .get("security")
                .and_then(|s| s.as_array())
                .is_some_and(|s| {
                    s.iter()
                        .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
                });
            let params: Vec<String> = op
                .get("parameters")
                .and_then(|p| p.as_array())
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p.get("in").and_then(|i| i.as_str()).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            // The app's surface mirrors v1's handlers' names: its ids get
            // a prefix, so every operationId is unique.
            if path.starts_with("/api/v0/")
                && let Some(id) = op.get("operationId").and_then(|i| i.as_str())
                && !id.starts_with("v0_")
            {
                op["operationId"] = format!("v0_{id}").into();
            }
            // A header is text on the wire: `null` is no value it can take.
            if let Some(ps) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
                for p in ps.iter_mut().filter(|p| p["in"] == "header") {
                    if let Some(types) = p["schema"]["type"].as_array_mut() {
                        types.retain(|t| t != "null");
                        if types.len() == 1 {
                            p["schema"]["type"] = types[0].clone();
                        }
                    }
                }
            }
            let has_body = op.get("requestBody").is_some();
            let mut add = Vec::new();
            if !public {
                add.push(("401", "Not logged in, or the access token is not valid."));
            }
            if params.iter().any(|p| p == "path") {
                add.push(("404", "Nothing with that id (or not one of yours)."));
            }
            if has_body || params.iter().any(|p| p == "query" || p == "header") {
                add.push(("400", "The request is not valid; `fields` names what."));
            }
            if has_body {
                add.push(("413", "The request body is too large."));
                add.push((
                    "415",
                    "The request body is not of a type this operation takes.",
                ));
            }
            let responses = op
                .as_object_mut()
                .expect("an operation is an object")
                .entry("responses")
                .or_insert_with(|| serde_json::json!({}));
            let responses = responses.as_object_mut().expect("responses is an object");
            for (status, description) in add {
                responses
                    .entry(status)
                    .or_insert_with(|| error_response(envelope, description));
            }
        }
    }
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn error_response(envelope: &str, description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{envelope}")}}}
    })
}

const DESCRIPTION: &str = "Point-of-sale backend for KasirGo terminals.\n\n\
Money is a decimal string with two places (`\"15000.00\"`); inputs accept a string or an integer. \
Timestamps are RFC 3339 UTC. Every error, on every endpoint, is \
`{\"detail\": \"...\", \"code\": \"...\", \"fields\": {...}}` (`fields` only on `validation_failed`). \
A trailing slash is accepted on every path.\n\n\
The operations tagged `v0 (KasirGo app)` are the KasirGo Flutter app's own surface under `/api/v0`, \
in the Django backend's wire format: every 2xx body is `{\"message\", \"data\"}`, ids of categories, \
products and sales are integers, money goes out as decimal strings and comes in as JSON numbers \
(rounded half-up to cents), and every error body also has `message`.";

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "docs",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| openapi().to_string());
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.as_str(),
    )
        .into_response()
}

/// Interactive API documentation (Swagger UI).
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "docs",
    security(()),
    responses((status = 200, description = "Swagger UI page", content_type = "text/html"))
)]
async fn docs_page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>KasirGo API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css" />
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script>
  window.onload = () => {
    window.ui = SwaggerUIBundle({
      url: "/api/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      validatorUrl: null,
    });
  };
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if HTTP_METHODS.contains(&method.as_str()) {
                    ops.push((method.to_uppercase(), path.clone(), op));
                }
            }
        }
        ops
    }

    /// What the shared extractors answer is listed on every operation they
    /// stand in front of, judged from the operation's own shape.
    #[test]
    fn every_operation_lists_the_statuses_its_extractors_answer() {
        let doc = openapi();
        let mut missing = Vec::new();
        for (method, path, op) in operations(doc) {
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
            });
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["in"].as_str()).collect())
                .unwrap_or_default();
            let body = op.get("requestBody").is_some();
            let mut needs = Vec::new();
            if !public {
                needs.push("401");
            }
            if params.contains(&"path") {
                needs.push("404");
            }
            if body || params.iter().any(|p| *p == "query" || *p == "header") {
                needs.push("400");
            }
            if body {
                needs.extend(["413", "415"]);
            }
            for status in needs {
                if op["responses"].get(status).is_none() {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not documented:\n{}",
            missing.join("\n")
        );
    }

    /// Every error answer documents the error envelope of its surface.
    #[test]
    fn every_error_is_the_envelope_of_its_surface() {
        let doc = openapi();
        for (method, path, op) in operations(doc) {
            let envelope = if path.starts_with("/api/v0/") {
                "#/components/schemas/V0ErrorBody"
            } else {
                "#/components/schemas/ErrorBody"
            };
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') {
                    continue;
                }
                // The one page for a phone (a receipt link) is HTML, its
                // "no such receipt" too; every JSON error is the envelope.
                if path == "/api/receipts/{token}" {
                    assert!(response["content"].get("text/html").is_some());
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, envelope, "{method} {path} {status}");
            }
        }
        let schema = &doc["components"]["schemas"]["ErrorBody"];
        assert_eq!(schema["required"], serde_json::json!(["detail", "code"]));
        for field in ["detail", "code", "fields"] {
            assert!(schema["properties"].get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = openapi();
        let mut seen = std::collections::BTreeMap::new();
        for (method, path, op) in operations(doc) {
            if let Some(id) = op["operationId"].as_str()
                && let Some(other) = seen.insert(id.to_string(), format!("{method} {path}"))
            {
                panic!("operationId {id} on {other} and {method} {path}");
            }
        }
    }

    /// A header is text on the wire, never `null`.
    #[test]
    fn no_header_parameter_is_nullable() {
        for (method, path, op) in operations(openapi()) {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "header" {
                    let t = &p["schema"]["type"];
                    assert!(
                        t.as_array().is_none_or(|t| !t.contains(&"null".into())),
                        "{method} {path} {}",
                        p["name"]
                    );
                }
            }
        }
    }
}
