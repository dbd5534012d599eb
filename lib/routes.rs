//! The route table: the single source of truth for which `api/` file serves
//! which paths. Cargo's `[[bin]]` entries, `vercel.json`'s rewrites and the
//! dev server all follow it, and `tests/route_table.rs` keeps them in step.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// One Vercel function: one file under `api/`, one binary, one router.
pub struct Function {
    /// The `[[bin]]` name.
    pub bin: &'static str,
    /// The file Vercel turns into this function.
    pub file: &'static str,
    /// Paths clients use for a route under another name (simplejwt's
    /// `/api/token/` for login, say): rewritten to the canonical path before
    /// routing, and by vercel.json before reaching the function.
    pub aliases: &'static [(&'static str, &'static str)],
    /// Paths outside the file's own route that the router serves as they
    /// are; vercel.json sends them to this function. `:name` is one segment.
    pub extra_paths: &'static [&'static str],
    /// The function's routes, each documented for OpenAPI.
    pub router: fn() -> OpenApiRouter<AppState>,
}

pub static HEALTH: Function = Function {
    bin: "health",
    file: "api/health.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::health::router,
};

pub static DOCS: Function = Function {
    bin: "docs",
    file: "api/docs.rs",
    aliases: &[],
    extra_paths: &["/api/docs/:asset"],
    router: crate::docs::router,
};

pub static AUTH: Function = Function {
    bin: "auth-action",
    file: "api/auth/[action].rs",
    aliases: &[
        ("/api/token", "/api/auth/login"),
        ("/api/token/refresh", "/api/auth/refresh"),
        ("/api/token/verify", "/api/auth/verify"),
    ],
    extra_paths: &[],
    router: crate::auth::router,
};

pub static ME: Function = Function {
    bin: "me",
    file: "api/me.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::users::me::router,
};

pub static USERS: Function = Function {
    bin: "users",
    file: "api/users.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::users::collection::router,
};

pub static USERS_ID: Function = Function {
    bin: "users-id",
    file: "api/users/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::users::item::router,
};

pub static SETTINGS: Function = Function {
    bin: "settings",
    file: "api/settings.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::settings::router,
};

pub static CATEGORIES: Function = Function {
    bin: "categories",
    file: "api/categories.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::catalog::categories::http::collection,
};

pub static CATEGORIES_ID: Function = Function {
    bin: "categories-id",
    file: "api/categories/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::catalog::categories::http::item,
};

pub static PRODUCTS: Function = Function {
    bin: "products",
    file: "api/products.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::catalog::products::http::collection,
};

pub static PRODUCTS_ID: Function = Function {
    bin: "products-id",
    file: "api/products/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::catalog::products::http::item,
};

pub static STOCK: Function = Function {
    bin: "stock",
    file: "api/stock.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::stock::http::router,
};

pub static UPLOADS: Function = Function {
    bin: "uploads",
    file: "api/uploads.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::uploads::router,
};

pub static SYNC: Function = Function {
    bin: "sync",
    file: "api/sync.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::sync::router,
};

pub static TRANSACTIONS: Function = Function {
    bin: "transactions",
    file: "api/transactions.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::sales::http::collection,
};

pub static TRANSACTIONS_ID: Function = Function {
    bin: "transactions-id",
    file: "api/transactions/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::sales::http::item,
};

pub static REFUNDS: Function = Function {
    bin: "refunds",
    file: "api/refunds.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::sales::http::refunds,
};

pub static REPORTS: Function = Function {
    bin: "reports-kind",
    file: "api/reports/[kind].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::reports::http::router,
};

pub static SHIFTS: Function = Function {
    bin: "shifts",
    file: "api/shifts.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::shifts::http::collection,
};

pub static SHIFTS_ID: Function = Function {
    bin: "shifts-id",
    file: "api/shifts/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::shifts::http::item,
};

pub static CUSTOMERS: Function = Function {
    bin: "customers",
    file: "api/customers.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::customers::http::collection,
};

pub static CUSTOMERS_ID: Function = Function {
    bin: "customers-id",
    file: "api/customers/[id].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::customers::http::item,
};

/// The receipt page a share link opens (no login; the token is the key).
pub static RECEIPTS: Function = Function {
    bin: "receipts-token",
    file: "api/receipts/[token].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::receipts::http::page,
};

/// Payment providers' callbacks (`/api/callbacks/duitku`): no login, the
/// provider signs each one.
pub static CALLBACKS: Function = Function {
    bin: "callbacks-provider",
    file: "api/callbacks/[provider].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::payments::http::callbacks,
};

/// Scheduled jobs, called by Vercel Cron with `CRON_SECRET`.
pub static CRON: Function = Function {
    bin: "cron-job",
    file: "api/cron/[job].rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::payments::http::cron,
};

/// Vercel Cron Jobs: (path, schedule in UTC). Every five minutes, which
/// needs the Pro plan (a shop runs there anyway: see the README's function
/// count; Hobby allows one run a day). Reads expire what is overdue too,
/// so the cron only sweeps the sales nobody looks at.
pub static CRONS: &[(&str, &str)] = &[("/api/cron/expire-payments", "*/5 * * * *")];

/// vercel.json's `crons`.
pub fn vercel_crons() -> Value {
    Value::Array(
        CRONS
            .iter()
            .map(|(path, schedule)| json!({ "path": path, "schedule": schedule }))
            .collect(),
    )
}

/// The KasirGo app's own surface (`/api/v0/...`, lib/v0): one function
/// for all of it, so the app costs one function, not fifteen. Its routes
/// are rewritten here by vercel.json.
pub static V0: Function = Function {
    bin: "v0",
    file: "api/v0.rs",
    aliases: &[],
    extra_paths: &[],
    router: crate::v0::router,
};

/// Every function, in the order the docs list them.
pub static FUNCTIONS: &[&Function] = &[
    &HEALTH,
    &AUTH,
    &ME,
    &USERS,
    &USERS_ID,
    &SETTINGS,
    &CATEGORIES,
    &CATEGORIES_ID,
    &PRODUCTS,
    &PRODUCTS_ID,
    &STOCK,
    &UPLOADS,
    &SYNC,
    &TRANSACTIONS,
    &TRANSACTIONS_ID,
    &REFUNDS,
    &REPORTS,
    &SHIFTS,
    &SHIFTS_ID,
    &CUSTOMERS,
    &CUSTOMERS_ID,
    &RECEIPTS,
    &CALLBACKS,
    &CRON,
    &V0,
    &DOCS,
];

impl Function {
    /// The path Vercel serves this file at, in Vercel's `:param` syntax:
    /// `api/products/[id].rs` -> `/api/products/:id`.
    pub fn vercel_path(&self) -> String {
        let stem = self.file.strip_suffix(".rs").expect("api files end in .rs");
        let segments: Vec<String> = stem
            .split('/')
            .map(
                |s| match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    Some(param) => format!(":{param}"),
                    None => s.to_string(),
                },
            )
            .collect();
        format!("/{}", segments.join("/"))
    }

    /// The canonical paths this function's router serves (`{id}` written
    /// as `:id`), straight from its OpenAPI registrations.
    pub fn documented_paths(&self) -> Vec<String> {
        let (_, api) = (self.router)().split_for_parts();
        api.paths
            .paths
            .keys()
            .map(|p| to_vercel_syntax(p))
            .collect()
    }
}

/// `/api/products/{id}` -> `/api/products/:id`.
pub fn to_vercel_syntax(path: &str) -> String {
    path.split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => format!(":{param}"),
                None => s.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether `path` (`:param` syntax) is matched by `pattern` (`:param` syntax).
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| a.starts_with(':') || a == b)
}

/// The `rewrites` vercel.json needs so that every path a client may send
/// (aliases, extra paths, trailing-slash forms) reaches its function.
pub fn vercel_rewrites() -> Value {
    let mut seen = BTreeSet::new();
    let mut rewrites = Vec::new();
    let mut add = |source: String, destination: String| {
        if seen.insert(source.clone()) {
            rewrites.push(json!({ "source": source, "destination": destination }));
        }
    };
    for f in FUNCTIONS {
        let own = f.vercel_path();
        let mut served: Vec<(String, String)> = f
            .documented_paths()
            .into_iter()
            .map(|p| {
                let dest = if pattern_matches(&own, &p) {
                    p.clone()
                } else {
                    own.clone()
                };
                (p, dest)
            })
            .collect();
        served.extend(f.extra_paths.iter().map(|p| (p.to_string(), own.clone())));
        served.extend(
            f.aliases
                .iter()
                .map(|(from, to)| (from.to_string(), to_vercel_syntax(to))),
        );
        for (path, dest) in served {
            if !pattern_matches(&own, &path) {
                add(path.clone(), dest.clone());
            }
            add(format!("{path}/"), dest);
        }
    }
    Value::Array(rewrites)
}

/// All aliases of the given functions, for the in-process path rewrite.
pub fn aliases<'a>(functions: &'a [&'a Function]) -> impl Iterator<Item = (&'a str, &'a str)> {
    functions.iter().flat_map(|f| f.aliases.iter().copied())
}
