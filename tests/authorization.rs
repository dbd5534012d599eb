//! Authorization over the whole route table: every documented operation
//! of every function (v1 and the app's /api/v0, aliases and extra paths
//! included) has a row saying who may call it, and is called as anonymous,
//! cashier, manager and owner against real objects. A route without a row,
//! or a row without a route, fails the test.
//!
//! Then object-level checks: a cashier cannot reach another cashier's sale
//! by id, on either surface, and is told nothing about it (the same 404 as
//! for an id that does not exist).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::qris::static_qris;
use common::shop::{staff, stocked};
use common::{Reply, TestApp, assert_error};
use kasirgo::routes::FUNCTIONS;
use serde_json::{Value, json};
use uuid::Uuid;

const CRON_SECRET: &str = "cron-secret-for-the-authorization-test";

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// Anyone, logged in or not (health, docs, the token endpoints).
    Public,
    /// Not behind a login at all but behind a provider's signature
    /// (callbacks) or the cron's shared secret: every caller gets the same
    /// refusal whatever JWT they send, and never a 2xx without it.
    SignedOrSecret,
    /// Any logged-in user (the row's note says where a cashier is limited
    /// to their own objects; that is checked below, per object).
    AnyUser,
    /// Managers and owners.
    ManagerUp,
    /// Owners only.
    OwnerOnly,
}
use Who::*;

/// The expectation table: (method, canonical path in OpenAPI syntax, who).
/// A new route needs a row here, deliberately: decide who may call it.
const TABLE: &[(&str, &str, Who)] = &[
    // Health and docs: public by design.
    ("GET", "/api/health", Public),
    ("GET", "/api/openapi.json", Public),
    ("GET", "/api/docs", Public),
    ("GET", "/api/docs/{asset}", Public), // extra path: Swagger UI's assets
    // Tokens (simplejwt): public; logout needs the access token.
    ("POST", "/api/auth/login", Public),
    ("POST", "/api/auth/refresh", Public),
    ("POST", "/api/auth/verify", Public),
    ("POST", "/api/auth/logout", AnyUser), // and only one's own refresh token
    // One's own account.
    ("GET", "/api/me", AnyUser),
    ("PATCH", "/api/me", AnyUser),
    ("POST", "/api/me/password", AnyUser),
    // Staff accounts: managers reach cashiers only (object-level: 403).
    ("GET", "/api/users", ManagerUp),
    ("POST", "/api/users", ManagerUp),
    ("GET", "/api/users/{id}", ManagerUp),
    ("PATCH", "/api/users/{id}", ManagerUp),
    ("DELETE", "/api/users/{id}", ManagerUp),
    // Settings: read by all, changed by the owner.
    ("GET", "/api/settings", AnyUser),
    ("PATCH", "/api/settings", OwnerOnly),
    // Catalog: read by all, written by managers.
    ("GET", "/api/categories", AnyUser),
    ("POST", "/api/categories", ManagerUp),
    ("GET", "/api/categories/{id}", AnyUser),
    ("PATCH", "/api/categories/{id}", ManagerUp),
    ("DELETE", "/api/categories/{id}", ManagerUp),
    ("GET", "/api/products", AnyUser),
    ("POST", "/api/products", ManagerUp),
    ("GET", "/api/products/{id}", AnyUser),
    ("PATCH", "/api/products/{id}", ManagerUp),
    ("DELETE", "/api/products/{id}", ManagerUp),
    ("GET", "/api/stock", ManagerUp),
    ("POST", "/api/stock", ManagerUp),
    ("POST", "/api/uploads/sign", ManagerUp),
    ("POST", "/api/uploads", ManagerUp),
    ("GET", "/api/sync", AnyUser),
    // Sales: everyone sells; a cashier sees and acts on their own only
    // (404 for another's), except the kitchen's queue.
    ("GET", "/api/transactions", AnyUser),
    ("POST", "/api/transactions", AnyUser),
    ("GET", "/api/transactions/{id}", AnyUser),
    ("PATCH", "/api/transactions/{id}", AnyUser),
    ("POST", "/api/transactions/{id}/confirm", AnyUser),
    ("POST", "/api/transactions/{id}/cancel", AnyUser),
    ("GET", "/api/transactions/{id}/payment", AnyUser),
    ("GET", "/api/transactions/{id}/payment/qr.png", AnyUser),
    ("GET", "/api/transactions/{id}/receipt", AnyUser),
    ("POST", "/api/transactions/{id}/receipt/link", AnyUser),
    ("DELETE", "/api/transactions/{id}/receipt/link", AnyUser),
    // The receipt page: anyone holding the link (the token is the key).
    ("GET", "/api/receipts/{token}", Public),
    // Shifts: everyone works their own (404 for another's); managers see,
    // close and reopen any.
    ("GET", "/api/shifts", AnyUser),
    ("POST", "/api/shifts", AnyUser),
    ("GET", "/api/shifts/current", AnyUser),
    ("GET", "/api/shifts/{id}", AnyUser),
    ("POST", "/api/shifts/{id}/cash", AnyUser),
    ("POST", "/api/shifts/{id}/close", AnyUser),
    ("POST", "/api/shifts/{id}/reopen", ManagerUp),
    // Customers: looked up and added at the till, changed by managers.
    ("GET", "/api/customers", AnyUser),
    ("POST", "/api/customers", AnyUser),
    ("GET", "/api/customers/{id}", AnyUser),
    ("PATCH", "/api/customers/{id}", ManagerUp),
    ("DELETE", "/api/customers/{id}", ManagerUp),
    ("GET", "/api/refunds", ManagerUp),
    ("POST", "/api/refunds", ManagerUp),
    ("GET", "/api/reports/daily", ManagerUp),
    ("GET", "/api/reports/monthly", ManagerUp),
    ("GET", "/api/reports/summary", ManagerUp),
    // Machines: Duitku signs its callbacks; Vercel Cron sends CRON_SECRET.
    ("POST", "/api/callbacks/{provider}", SignedOrSecret),
    ("GET", "/api/cron/{job}", SignedOrSecret),
    // The app's surface: as its v1 twins.
    ("POST", "/api/v0/auth/login", Public),
    ("POST", "/api/v0/auth/refresh", Public),
    ("POST", "/api/v0/auth/firebase-token", AnyUser),
    ("GET", "/api/v0/user/{user_id}", AnyUser), // own id only (else 403)
    ("PATCH", "/api/v0/user/{user_id}", AnyUser), // own id only
    ("POST", "/api/v0/user/{user_id}/change-password", AnyUser), // own id only
    ("GET", "/api/v0/categories", AnyUser),
    ("POST", "/api/v0/category/create", ManagerUp),
    ("PATCH", "/api/v0/category/{id}", ManagerUp),
    ("DELETE", "/api/v0/category/{id}", ManagerUp),
    ("GET", "/api/v0/products", AnyUser),
    ("POST", "/api/v0/product/create", ManagerUp),
    ("PATCH", "/api/v0/product/{id}", ManagerUp),
    ("DELETE", "/api/v0/product/{id}", ManagerUp),
    ("GET", "/api/v0/transaction", AnyUser),
    ("POST", "/api/v0/transaction/create", AnyUser),
    ("PATCH", "/api/v0/transaction/{id}", AnyUser), // own sales; kitchen queue
    ("DELETE", "/api/v0/transaction/{id}", ManagerUp), // a void is a refund
    ("POST", "/api/v0/transaction/{id}/cancel", AnyUser), // own sales
    ("GET", "/api/v0/payment/status/{id}", AnyUser), // own sales' payments
];

const METHODS: [&str; 9] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace", "query",
];

/// `:name` (route-table syntax) -> `{name}` (OpenAPI syntax).
fn openapi_syntax(path: &str) -> String {
    path.split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(p) => format!("{{{p}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every operation the route table serves: (method, canonical path) ->
/// the paths a client may send it to (the canonical one, aliases).
fn served_operations() -> BTreeMap<(String, String), Vec<String>> {
    let mut ops: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in FUNCTIONS {
        let (_, api) = (f.router)().split_for_parts();
        for (path, item) in &api.paths.paths {
            let item = serde_json::to_value(item).unwrap();
            for m in METHODS {
                if item.get(m).is_some() {
                    let key = (m.to_uppercase(), path.clone());
                    let entry = ops.entry(key).or_default();
                    entry.push(path.clone());
                    for (from, to) in f.aliases {
                        if *to == path {
                            entry.push(from.to_string());
                        }
                    }
                }
            }
        }
        // Paths a router serves outside its OpenAPI document.
        for extra in f.extra_paths {
            let path = openapi_syntax(extra);
            ops.entry(("GET".into(), path.clone()))
                .or_default()
                .push(path);
        }
    }
    ops
}

/// The served document lists what the login and role checks answer: 401
/// on every operation behind a login, 403 on every operation a role
/// shuts some logged-in callers out of. Derived from the table above, so
/// a new row for a manager-only route fails until its document says 403.
#[test]
fn the_document_lists_401_and_403_where_the_table_says_they_happen() {
    let doc = kasirgo::docs::openapi();
    let mut missing = Vec::new();
    for (method, path, who) in TABLE {
        let Some(op) = doc["paths"][path].get(method.to_lowercase()) else {
            continue; // extra paths (Swagger UI's assets) are not documented
        };
        let statuses = &op["responses"];
        let needs: &[&str] = match who {
            Public => &[],
            SignedOrSecret => &["401"],
            AnyUser => &["401"],
            ManagerUp | OwnerOnly => &["401", "403"],
        };
        for status in needs {
            if statuses.get(*status).is_none() {
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

#[test]
fn every_route_has_exactly_one_row_and_every_row_a_route() {
    let served: BTreeSet<(String, String)> = served_operations().into_keys().collect();
    let mut rows = BTreeSet::new();
    for (method, path, _) in TABLE {
        assert!(
            rows.insert((method.to_string(), path.to_string())),
            "{method} {path} has two rows"
        );
    }
    let missing: Vec<_> = served.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in tests/authorization.rs's TABLE (decide who may call them): {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows in TABLE for routes that no longer exist: {stale:?}"
    );
}

/// Objects one caller's allowed calls act on; each caller has its own, so
/// one caller's DELETE does not leave the next with a missing object.
struct Objects {
    category: Value,
    product: Value,
    /// A cashier account (what a manager may manage).
    user: Uuid,
    /// A pending QRIS sale by the shop's cashier.
    sale: Value,
    /// The caller's own open shift.
    shift: Value,
    customer: Value,
    /// A share link's token for the sale's receipt.
    receipt_token: String,
}

async fn objects(app: &TestApp, manager: &str, cashier: &str, opener: &str, tag: &str) -> Objects {
    let r = app
        .post(
            "/api/categories",
            json!({"name": format!("Minuman {tag}")}),
            Some(manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let category = r.body;
    let product = stocked(app, manager, "15000", 100).await;
    let (user, _) = staff(app, "cashier").await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": product["id"], "quantity": 1}],
                   "payment_method": "qris"}),
            Some(cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    let sale = r.body;
    let r = app
        .post("/api/shifts", json!({"opening_cash": "0"}), Some(opener))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let shift = r.body;
    let r = app
        .post(
            "/api/customers",
            json!({"name": format!("Pelanggan {tag}")}),
            Some(cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let customer = r.body;
    let r = app
        .post(
            &format!(
                "/api/transactions/{}/receipt/link",
                sale["id"].as_str().unwrap()
            ),
            json!({}),
            Some(cashier),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let receipt_token = r.body["token"].as_str().unwrap().to_string();
    Objects {
        category,
        product,
        user,
        sale,
        shift,
        customer,
        receipt_token,
    }
}

/// `path` with its parameters filled for a caller whose own account is
/// `me` and whose objects are `o`.
fn fill(path: &str, o: &Objects, me: Uuid) -> String {
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let int = |v: &Value| v["int_id"].as_i64().unwrap().to_string();
    if !path.contains('{') {
        return path.to_string();
    }
    let value = if path.starts_with("/api/users/") {
        o.user.to_string()
    } else if path.starts_with("/api/categories/") {
        id(&o.category)
    } else if path.starts_with("/api/products/") {
        id(&o.product)
    } else if path.starts_with("/api/transactions/") {
        id(&o.sale)
    } else if path.starts_with("/api/shifts/") {
        id(&o.shift)
    } else if path.starts_with("/api/customers/") {
        id(&o.customer)
    } else if path.starts_with("/api/receipts/") {
        o.receipt_token.clone()
    } else if path.starts_with("/api/v0/category/") {
        int(&o.category)
    } else if path.starts_with("/api/v0/product/") {
        int(&o.product)
    } else if path.starts_with("/api/v0/transaction/") {
        int(&o.sale)
    } else if path.starts_with("/api/v0/payment/status/") {
        o.sale["payment"]["id"].to_string()
    } else if path.starts_with("/api/v0/user/") {
        me.to_string()
    } else if path.starts_with("/api/callbacks/") {
        "duitku".into()
    } else if path.starts_with("/api/cron/") {
        "expire-payments".into()
    } else if path.starts_with("/api/docs/") {
        "swagger-ui.css".into()
    } else {
        panic!("no value to fill {path} with");
    };
    let start = path.find('{').expect("a parameter");
    let end = path.find('}').unwrap();
    format!("{}{value}{}", &path[..start], &path[end + 1..])
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Reply {
    let method: Method = method.parse().unwrap();
    // Minimal bodies: `{}` where a body is taken. A 400 from an allowed
    // caller is fine: it got past authorization.
    let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
    app.call(method, path, body, token).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Cashier,
    Manager,
    Owner,
}

fn allowed(who: Who, caller: Caller) -> bool {
    match who {
        Public | SignedOrSecret => true,
        AnyUser => caller != Caller::Anonymous,
        ManagerUp => matches!(caller, Caller::Manager | Caller::Owner),
        OwnerOnly => caller == Caller::Owner,
    }
}

#[tokio::test]
async fn every_operation_admits_exactly_the_roles_its_row_names() {
    let app = TestApp::with_config(&[("CRON_SECRET", CRON_SECRET)]).await;
    let (owner_id, owner) = staff(&app, "owner").await;
    let (manager_id, manager) = staff(&app, "manager").await;
    let (cashier_id, cashier) = staff(&app, "cashier").await;
    // The shop's own QRIS, so a QRIS sale has a payment and a QR.
    let r = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"qris_payload": static_qris("Warung Bu Sri")})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let for_cashier = objects(&app, &manager, &cashier, &cashier, "c").await;
    let for_manager = objects(&app, &manager, &cashier, &manager, "m").await;
    let for_owner = objects(&app, &manager, &cashier, &owner, "o").await;
    let callers = [
        (Caller::Anonymous, None, cashier_id, &for_cashier),
        (
            Caller::Cashier,
            Some(cashier.as_str()),
            cashier_id,
            &for_cashier,
        ),
        (
            Caller::Manager,
            Some(manager.as_str()),
            manager_id,
            &for_manager,
        ),
        (Caller::Owner, Some(owner.as_str()), owner_id, &for_owner),
    ];

    let who: BTreeMap<(String, String), Who> = TABLE
        .iter()
        .map(|(m, p, w)| ((m.to_string(), p.to_string()), *w))
        .collect();
    let mut ops: Vec<((String, String), Vec<String>)> = served_operations().into_iter().collect();
    // Deletes last, so every other call meets its object alive.
    ops.sort_by_key(|((m, p), _)| (m == "DELETE", p.clone(), m.clone()));

    let mut checked = 0;
    for ((method, canonical), paths) in &ops {
        let row = who[&(method.clone(), canonical.clone())];
        let mut answers = Vec::new();
        for (caller, token, me, objects) in &callers {
            for path in paths {
                let path = fill(path, objects, *me);
                let r = call(&app, method, &path, *token).await;
                let what = format!(
                    "{caller:?} {method} {path} ({row:?}): {} {}",
                    r.status, r.text
                );
                assert!(
                    r.status != StatusCode::METHOD_NOT_ALLOWED
                        && r.body["detail"] != "No such endpoint.",
                    "the call did not reach its route: {what}"
                );
                match (row, caller) {
                    (SignedOrSecret, _) => {
                        assert!(!r.status.is_success(), "{what}");
                        assert_ne!(r.status, StatusCode::FORBIDDEN, "{what}");
                        answers.push((r.status, r.body["code"].clone()));
                    }
                    (_, _) if allowed(row, *caller) => {
                        assert!(
                            r.status != StatusCode::UNAUTHORIZED
                                && r.status != StatusCode::FORBIDDEN,
                            "an allowed caller was refused: {what}"
                        );
                    }
                    (_, Caller::Anonymous) => {
                        assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
                    }
                    (_, _) => {
                        assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
                    }
                }
                checked += 1;
            }
        }
        if row == SignedOrSecret {
            // A login changes nothing: the same refusal for all four.
            answers.dedup();
            assert_eq!(answers.len(), 1, "{method} {canonical}: {answers:?}");
        }
    }
    assert!(checked >= 4 * TABLE.len(), "{checked} calls");

    // The machines' own credentials do open their doors.
    let r = app
        .send(
            Request::get("/api/cron/expire-payments")
                .header(header::AUTHORIZATION, format!("Bearer {CRON_SECRET}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A user's JWT is not the cron's secret, whatever the role.
    for token in [&cashier, &manager, &owner] {
        let r = app.get("/api/cron/expire-payments", Some(token)).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "not_authenticated");
    }
}

#[tokio::test]
async fn a_token_that_is_not_a_valid_access_token_is_401_everywhere() {
    let app = TestApp::new().await;
    let (id, _) = staff(&app, "owner").await;
    let refresh = kasirgo::auth::jwt::issue(
        &app.state.config,
        kasirgo::auth::jwt::TokenType::Refresh,
        id,
        kasirgo::auth::Role::Owner,
    )
    .unwrap()
    .token;
    let other_secret = common::config(&app.db.url, &[("JWT_SECRET", &"x".repeat(40))]);
    let forged = kasirgo::auth::jwt::issue(
        &other_secret,
        kasirgo::auth::jwt::TokenType::Access,
        id,
        kasirgo::auth::Role::Owner,
    )
    .unwrap()
    .token;
    // alg: none, claiming to be the owner.
    let none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(
            json!({"token_type": "access", "exp": 4102444800i64, "iat": 0,
                   "jti": Uuid::new_v4().simple().to_string(), "user_id": id, "role": "owner"})
            .to_string(),
        );
        format!("{header}.{claims}.")
    };
    for token in [refresh.as_str(), forged.as_str(), none.as_str(), "garbage"] {
        for path in [
            "/api/me",
            "/api/settings",
            "/api/reports/daily",
            "/api/v0/products",
        ] {
            let r = app.get(path, Some(token)).await;
            assert_error(&r, StatusCode::UNAUTHORIZED, "token_not_valid");
        }
    }
}

// ---- object level ----

/// The same answer, byte for byte, as for an id that does not exist: no
/// hint that the sale is there.
fn hidden(r: &Reply, nobody: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}: {}", r.text);
    assert_eq!(r.body["code"], "not_found", "{what}");
    assert_eq!(r.text, nobody.text, "{what}: a hint that it exists");
}

async fn sell(app: &TestApp, token: &str, product: &Value, method: &str) -> Value {
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": product["id"], "quantity": 1}],
                   "payment_method": method, "customer_name": "Dewi"}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_cashier_cannot_reach_another_cashiers_sale_on_v1() {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, alice) = staff(&app, "cashier").await;
    let (_, bob) = staff(&app, "cashier").await;
    let r = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"qris_payload": static_qris("Warung Bu Sri")})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = stocked(&app, &manager, "15000", 100).await;
    let pending = sell(&app, &alice, &p, "qris").await;
    let paid = sell(&app, &alice, &p, "cash").await;
    let nobody = Uuid::new_v4();

    for (method, tail, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"notes": "mine now"}))),
        ("PATCH", "", Some(json!({"customer_name": "x"}))),
        // Not in the kitchen: marking it prepared does not reveal it either.
        ("PATCH", "", Some(json!({"preparation": "completed"}))),
        ("POST", "/confirm", None),
        ("POST", "/cancel", None),
        ("GET", "/payment", None),
        ("GET", "/payment/qr.png", None),
        ("GET", "/receipt", None),
        ("GET", "/receipt?format=escpos", None),
        ("POST", "/receipt/link", Some(json!({}))),
        ("DELETE", "/receipt/link", None),
    ] {
        for sale in [&pending, &paid] {
            let id = sale["id"].as_str().unwrap();
            let m: Method = method.parse().unwrap();
            let r = app
                .call(
                    m.clone(),
                    &format!("/api/transactions/{id}{tail}"),
                    body.clone(),
                    Some(&bob),
                )
                .await;
            let none = app
                .call(
                    m,
                    &format!("/api/transactions/{nobody}{tail}"),
                    body.clone(),
                    Some(&bob),
                )
                .await;
            hidden(&r, &none, &format!("{method} {tail} {body:?}"));
        }
    }
    // Nothing changed: still pending, still Dewi's, no notes.
    let id = pending["id"].as_str().unwrap();
    let r = app
        .get(&format!("/api/transactions/{id}"), Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["notes"], "");
    assert_eq!(r.body["customer_name"], "Dewi");
    // Nor does the search show them, whatever cashier_id Bob asks for.
    let alice_id = pending["cashier"]["id"].as_str().unwrap();
    for q in [
        String::new(),
        format!("cashier_id={alice_id}"),
        "q=Dewi".into(),
        "status=pending".into(),
    ] {
        let r = app.get(&format!("/api/transactions?{q}"), Some(&bob)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["results"], json!([]), "{q}");
    }
    // The seller and a manager do reach them.
    for token in [&alice, &manager] {
        let r = app
            .get(&format!("/api/transactions/{id}/payment"), Some(token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app
            .get(
                &format!("/api/transactions/{id}/payment/qr.png"),
                Some(token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

#[tokio::test]
async fn the_kitchen_queue_opens_a_sale_to_every_cashier_only_while_it_is_there() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (_, alice) = staff(&app, "cashier").await;
    let (_, kitchen) = staff(&app, "cashier").await;
    let (_, bob) = staff(&app, "cashier").await;
    let kopi = common::shop::product(
        &app,
        &manager,
        json!({"name": "Kopi", "price": "15000", "stock": 50, "needs_preparation": true}),
    )
    .await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": kopi["id"], "quantity": 1}], "payment_method": "cash"}),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sale = r.body;
    let path = format!("/api/transactions/{}", sale["id"].as_str().unwrap());
    let v0 = format!("/api/v0/transaction/{}/", sale["int_id"]);
    let ready = json!({"preparation": "completed"});

    // In the queue: the kitchen (another cashier) marks it ready.
    let r = app
        .call(Method::PATCH, &path, Some(ready.clone()), Some(&kitchen))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Just taken out of it: a second screen's tap is still fine.
    let r = app
        .call(Method::PATCH, &path, Some(ready.clone()), Some(&bob))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Long after, the kitchen's door no longer opens someone else's sale
    // (v0's ids are small integers: walking them must show nothing).
    sqlx::query("UPDATE sales SET prepared_at = now() - interval '2 hours' WHERE id = $1::uuid")
        .bind(sale["id"].as_str().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let nobody = app
        .call(
            Method::PATCH,
            &format!("/api/transactions/{}", Uuid::new_v4()),
            Some(ready.clone()),
            Some(&bob),
        )
        .await;
    let r = app
        .call(Method::PATCH, &path, Some(ready.clone()), Some(&bob))
        .await;
    hidden(&r, &nobody, "v1, an old kitchen sale");
    let nobody = app
        .call(
            Method::PATCH,
            "/api/v0/transaction/999999/",
            Some(json!({"status": "completed"})),
            Some(&bob),
        )
        .await;
    let r = app
        .call(
            Method::PATCH,
            &v0,
            Some(json!({"status": "completed"})),
            Some(&bob),
        )
        .await;
    hidden(&r, &nobody, "v0, an old kitchen sale");
    // The one who prepared it, the seller and a manager still may.
    for token in [&kitchen, &alice, &manager] {
        let r = app
            .call(Method::PATCH, &path, Some(ready.clone()), Some(token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

#[tokio::test]
async fn a_cashier_cannot_reach_another_cashiers_sale_on_v0() {
    let app = TestApp::new().await;
    let (_, owner) = staff(&app, "owner").await;
    let (_, manager) = staff(&app, "manager").await;
    let (alice_id, alice) = staff(&app, "cashier").await;
    let (_, bob) = staff(&app, "cashier").await;
    let r = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"qris_payload": static_qris("Warung Bu Sri")})),
            Some(&owner),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = stocked(&app, &manager, "15000", 100).await;
    let r = app
        .post(
            "/api/transactions",
            json!({"items": [{"product_id": p["id"], "quantity": 1}], "payment_method": "qris"}),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sale = r.body;
    let int_id = sale["int_id"].as_i64().unwrap();
    let payment_id = sale["payment"]["id"].as_i64().unwrap();
    let (missing_sale, missing_payment) = (int_id + 1000, payment_id + 1000);

    for (method, path, missing, body) in [
        (
            Method::PATCH,
            format!("/api/v0/transaction/{int_id}/"),
            format!("/api/v0/transaction/{missing_sale}/"),
            Some(json!({"notes": "x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v0/transaction/{int_id}/"),
            format!("/api/v0/transaction/{missing_sale}/"),
            Some(json!({"status": "completed"})),
        ),
        (
            Method::POST,
            format!("/api/v0/transaction/{int_id}/cancel/"),
            format!("/api/v0/transaction/{missing_sale}/cancel/"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v0/payment/status/{payment_id}/"),
            format!("/api/v0/payment/status/{missing_payment}/"),
            None,
        ),
    ] {
        let r = app
            .call(method.clone(), &path, body.clone(), Some(&bob))
            .await;
        let none = app.call(method, &missing, body, Some(&bob)).await;
        hidden(&r, &none, &path);
        assert!(r.body["message"].is_string(), "v0 errors carry a message");
    }
    // Bob's history holds none of Alice's sales.
    let r = app
        .get("/api/v0/transaction/?page=1&page_size=100", Some(&bob))
        .await;
    assert_eq!(r.body["data"], json!([]), "{}", r.text);
    // Nor may Bob see or change Alice's profile (403, never 401).
    for (method, tail, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"first_name": "Bob"}))),
        (
            Method::POST,
            "change-password/",
            Some(json!({"old_password": "x", "new_password": "12345678x"})),
        ),
    ] {
        let r = app
            .call(
                method,
                &format!("/api/v0/user/{alice_id}/{tail}"),
                body,
                Some(&bob),
            )
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    }
    // Still pending; Alice reaches it.
    let r = app
        .get(
            &format!("/api/v0/payment/status/{payment_id}/"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"]["status"], "pending");
}

#[tokio::test]
async fn managers_reach_cashiers_accounts_only() {
    let app = TestApp::new().await;
    let (_, manager) = staff(&app, "manager").await;
    let (other_manager, _) = staff(&app, "manager").await;
    let (owner, _) = staff(&app, "owner").await;
    let (cashier, _) = staff(&app, "cashier").await;
    for id in [other_manager, owner] {
        let path = format!("/api/users/{id}");
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"full_name": "x"}))),
            (Method::DELETE, None),
        ] {
            let r = app.call(method, &path, body, Some(&manager)).await;
            assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
        }
    }
    // Nor may a manager make anyone (themselves included) a manager.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/users/{cashier}"),
            Some(json!({"role": "manager"})),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = app
        .post(
            "/api/users",
            json!({"username": "boss2", "password": "long-enough-1", "role": "owner"}),
            Some(&manager),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "permission_denied");
    let r = app.get("/api/users?limit=200", Some(&manager)).await;
    let roles: BTreeSet<&str> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, BTreeSet::from(["cashier"]));
}
