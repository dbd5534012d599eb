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
        add_links(&mut doc);
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

/// One OpenAPI link: from a response of `from` to the operation `to`,
/// with the target's parameters (`path.<name>`) and body taken from that
/// response by runtime expressions.
struct Link {
    from: &'static str,
    status: &'static str,
    to: &'static str,
    parameters: Vec<(&'static str, &'static str)>,
    body: Option<serde_json::Value>,
}

/// Every operation on any sale, by its id in the path. (Its payment and
/// QR code are only a QRIS or transfer sale's: 404 on the others.)
const SALE_OPERATIONS: &[&str] = &[
    "get_sale",
    "edit_sale",
    "get_receipt",
    "create_link",
    "revoke_links",
    "cancel_sale",
    "confirm_sale",
];
/// The same on the app's surface, by the sale's integer id (its payment
/// status is by the payment's id, which only a QRIS checkout answers).
const V0_SALE_OPERATIONS: &[&str] = &[
    "v0_cancel_transaction",
    "v0_edit_transaction",
    "v0_void_transaction",
];

/// What follows from what: a product to a sale of it, a sale to every
/// operation on it and to its refund, a receipt link to its page, and the
/// lists to their first item (the demo café has sales before any is made).
/// A client can walk the API by these, and schemathesis's stateful phase
/// does (`tools/schemathesis.sh`).
fn links() -> Vec<Link> {
    let sell = |product: &str| {
        serde_json::json!({"items": [{"product_id": product, "quantity": 1}],
                           "payment_method": "cash"})
    };
    let mut links = vec![
        Link {
            from: "create_product",
            status: "201",
            to: "create_sale",
            parameters: vec![],
            body: Some(sell("$response.body#/id")),
        },
        Link {
            from: "list_products",
            status: "200",
            to: "create_sale",
            parameters: vec![],
            body: Some(sell("$response.body#/results/0/id")),
        },
        Link {
            from: "create_link",
            status: "201",
            to: "receipt_page",
            parameters: vec![("path.token", "$response.body#/token")],
            body: None,
        },
    ];
    for (from, status, sale) in [
        ("create_sale", "201", "$response.body#/id"),
        ("search_sales", "200", "$response.body#/results/0/id"),
    ] {
        links.extend(SALE_OPERATIONS.iter().map(|to| Link {
            from,
            status,
            to,
            parameters: vec![("path.id", sale)],
            body: None,
        }));
        links.push(Link {
            from,
            status,
            to: "create_refund",
            parameters: vec![],
            body: Some(serde_json::json!({"transaction_id": sale, "reason": "Returned"})),
        });
    }
    links.extend(V0_SALE_OPERATIONS.iter().map(|to| Link {
        from: "v0_list_transactions",
        status: "200",
        to,
        parameters: vec![("path.id", "$response.body#/data/0/id")],
        body: None,
    }));
    links
}

/// Writes [`links`] into the responses they start from.
fn add_links(doc: &mut serde_json::Value) {
    let links = links();
    each_operation(doc, |_, op| {
        let Some(id) = op["operationId"].as_str().map(String::from) else {
            return;
        };
        for link in links.iter().filter(|l| l.from == id) {
            let mut def = serde_json::json!({"operationId": link.to});
            if !link.parameters.is_empty() {
                let params: serde_json::Map<_, _> = link
                    .parameters
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
                    .collect();
                def["parameters"] = params.into();
            }
            if let Some(body) = &link.body {
                def["requestBody"] = body.clone();
            }
            op["responses"][link.status]["links"][link.to] = def;
        }
    });
}

/// Calls `f` with every operation of the document and its path.
fn each_operation(doc: &mut serde_json::Value, mut f: impl FnMut(&str, &mut serde_json::Value)) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if HTTP_METHODS.contains(&method.as_str()) {
                f(path, op);
            }
        }
    }
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
    each_operation(doc, |path, op| {
        let envelope = if path.starts_with("/api/v0/") {
            "V0ErrorBody"
        } else {
            "ErrorBody"
        };
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
        // OpenAPI requires a description on every response; a handler
        // that wrote none gets the status's own name.
        for (status, response) in responses.iter_mut() {
            if response.get("description").is_none_or(|d| d == "") {
                let reason = status
                    .parse::<u16>()
                    .ok()
                    .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("The answer");
                response["description"] = reason.into();
            }
        }
    });
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

    /// Resolves `$ref`s and walks a JSON pointer of a response body
    /// through the schema: `Some(schema)` where the pointer leads, `None`
    /// where the schema has no such field.
    fn walk<'a>(doc: &'a Value, mut schema: &'a Value, pointer: &str) -> Option<&'a Value> {
        let resolve = |mut s: &'a Value| {
            while let Some(r) = s["$ref"].as_str() {
                s = &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")];
            }
            s
        };
        for part in pointer.split('/').skip(1) {
            schema = resolve(schema);
            schema = if part.parse::<usize>().is_ok() {
                schema.get("items")?
            } else {
                schema["properties"].get(part)?
            };
        }
        Some(resolve(schema))
    }

    /// Every link starts from a response its operation lists, names an
    /// operation that exists and only path parameters it has, and reads
    /// fields the source response has (the app's `data` is untyped, so
    /// there only the envelope is checked).
    #[test]
    fn links_lead_from_real_fields_to_real_parameters() {
        let doc = openapi();
        let ops = operations(doc);
        let by_id = |id: &str| {
            ops.iter()
                .find(|(_, _, op)| op["operationId"] == id)
                .unwrap_or_else(|| panic!("no operation {id}"))
        };
        let mut expressions = 0;
        for link in links() {
            let (_, path, source) = by_id(link.from);
            let response = &source["responses"][link.status];
            assert!(
                response["description"].is_string(),
                "{} {}",
                link.from,
                link.status
            );
            assert_eq!(response["links"][link.to]["operationId"], link.to);
            let (_, target_path, _) = by_id(link.to);
            let mut exprs: Vec<String> = Vec::new();
            for (param, expr) in &link.parameters {
                let name = param.strip_prefix("path.").expect("a path parameter");
                assert!(
                    target_path.contains(&format!("{{{name}}}")),
                    "{} has no {name}",
                    link.to
                );
                exprs.push((*expr).to_string());
            }
            if let Some(body) = &link.body {
                fn strings(v: &Value, out: &mut Vec<String>) {
                    match v {
                        Value::String(s) if s.starts_with('$') => out.push(s.clone()),
                        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
                        _ => {}
                    }
                }
                strings(body, &mut exprs);
            }
            assert!(
                !exprs.is_empty(),
                "{} -> {} carries nothing",
                link.from,
                link.to
            );
            let schema = &response["content"]["application/json"]["schema"];
            for expr in exprs {
                let pointer = expr
                    .strip_prefix("$response.body#")
                    .expect("a body expression");
                let pointer = if path.starts_with("/api/v0/") {
                    assert!(pointer.starts_with("/data/"), "{expr}");
                    "/data"
                } else {
                    pointer
                };
                assert!(
                    walk(doc, schema, pointer).is_some(),
                    "{} {}: no {pointer} in its body",
                    link.from,
                    link.status
                );
                expressions += 1;
            }
        }
        assert!(expressions >= 20, "{expressions}");
    }

    /// OpenAPI requires a description on every response.
    #[test]
    fn every_response_has_a_description() {
        for (method, path, op) in operations(openapi()) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let d = response["description"].as_str().unwrap_or("");
                assert!(!d.is_empty(), "{method} {path} {status}");
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
