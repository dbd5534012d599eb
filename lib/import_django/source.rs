//! Reading a KasirGo Django database: which schema it has (the seed era
//! without cafes, or the cafes era), its cafes, and the rows of one scope.
//!
//! These queries are built at run time (`sqlx::query_as`, not `query!`):
//! the Django tables are not ours, so there is no schema to check them
//! against at compile time. The fixtures in tests/fixtures/ are that
//! schema, and tests/import_django.rs runs every query here against both.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::ImportError;

fn read_err(e: sqlx::Error) -> ImportError {
    ImportError::Source(e)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Up to c81f97b: one shop, no `cafes`.
    Seed,
    /// From 2d7fae8 (HEAD 99a5a53): `cafes`, and `cafe_id` on every table.
    Cafes,
}

/// Columns added by Django migrations after 0001, with the value Django's
/// migration gave the rows that existed before it.
const LATER_COLUMNS: [(&str, &str, &str); 4] = [
    ("transaction", "customer_name", "NULL::varchar"),
    ("transaction", "order_type", "'dine_in'::varchar"),
    ("transaction", "takeaway_charge", "0::numeric"),
    ("product", "needs_preparation", "true"),
];

/// Columns every KasirGo Django database has had since its first migration.
const REQUIRED: [(&str, &[&str]); 5] = [
    (
        "users",
        &[
            "id",
            "password",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "phone",
            "is_active",
            "created_at",
        ],
    ),
    (
        "category",
        &["id", "name", "description", "created_at", "updated_at"],
    ),
    (
        "product",
        &[
            "id",
            "name",
            "description",
            "price",
            "cost",
            "stock",
            "image",
            "is_available",
            "sku",
            "created_at",
            "updated_at",
            "category_id",
        ],
    ),
    (
        "transaction",
        &[
            "id",
            "transaction_number",
            "subtotal",
            "tax",
            "discount",
            "total",
            "payment_method",
            "paid_amount",
            "change_amount",
            "status",
            "notes",
            "created_at",
            "cashier_id",
        ],
    ),
    (
        "transaction_item",
        &[
            "id",
            "product_name",
            "quantity",
            "price",
            "subtotal",
            "notes",
            "product_id",
            "transaction_id",
        ],
    ),
];

#[derive(Debug, Clone)]
pub struct Schema {
    pub era: Era,
    columns: HashSet<(String, String)>,
    /// Later columns this database lacks (`transaction.takeaway_charge`).
    pub missing: Vec<String>,
    pub has_payments: bool,
}

impl Schema {
    fn has(&self, table: &str, column: &str) -> bool {
        self.columns
            .contains(&(table.to_string(), column.to_string()))
    }

    /// `column`, or Django's backfill value when this schema predates it.
    fn col(&self, table: &str, column: &str, alias: &str) -> String {
        if self.has(table, column) {
            format!("{alias}.{column}")
        } else {
            let (_, _, default) = LATER_COLUMNS
                .iter()
                .find(|(t, c, _)| *t == table && *c == column)
                .expect("a later column");
            format!("{default} AS {column}")
        }
    }
}

/// Which era `conn`'s database is, refusing anything that is not a
/// KasirGo Django database.
pub async fn detect(conn: &mut PgConnection) -> Result<Schema, ImportError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema()
           AND table_name IN ('users', 'category', 'product', 'transaction',
                              'transaction_item', 'payment', 'cafes')",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(read_err)?;
    let columns: HashSet<(String, String)> = rows.into_iter().collect();
    let has_table = |t: &str| columns.iter().any(|(table, _)| table == t);

    let mut missing_required = Vec::new();
    for (table, cols) in REQUIRED {
        if !has_table(table) {
            missing_required.push(format!("table {table}"));
            continue;
        }
        for c in cols {
            if !columns.contains(&(table.to_string(), c.to_string())) {
                missing_required.push(format!("{table}.{c}"));
            }
        }
    }
    if !missing_required.is_empty() {
        return Err(ImportError::Refused(format!(
            "this is not a KasirGo Django database (missing {})",
            missing_required.join(", ")
        )));
    }

    let with_cafe: Vec<&str> = ["users", "category", "product", "transaction"]
        .into_iter()
        .filter(|t| columns.contains(&(t.to_string(), "cafe_id".to_string())))
        .collect();
    let era = match (has_table("cafes"), with_cafe.len()) {
        (false, 0) => Era::Seed,
        (true, 4) => Era::Cafes,
        _ => {
            return Err(ImportError::Refused(format!(
                "the Django database is half-way between the eras (table cafes {}, cafe_id on: {}); \
                 finish its migrations (manage.py migrate) first",
                if has_table("cafes") {
                    "present"
                } else {
                    "missing"
                },
                if with_cafe.is_empty() {
                    "none".to_string()
                } else {
                    with_cafe.join(", ")
                }
            )));
        }
    };
    let missing = LATER_COLUMNS
        .iter()
        .filter(|(t, c, _)| !columns.contains(&(t.to_string(), c.to_string())))
        .map(|(t, c, d)| format!("{t}.{c} (Django's backfill: {d})"))
        .collect();
    let has_payments = has_table("payment");
    Ok(Schema {
        era,
        columns,
        missing,
        has_payments,
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Cafe {
    pub id: i64,
    pub name: String,
    pub users: i64,
    pub products: i64,
    pub transactions: i64,
}

impl std::fmt::Display for Cafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} ({} users, {} products, {} transactions)",
            self.id, self.name, self.users, self.products, self.transactions
        )
    }
}

pub async fn cafes(conn: &mut PgConnection) -> Result<Vec<Cafe>, ImportError> {
    sqlx::query_as(
        r#"SELECT c.id, c.name::text,
                  (SELECT count(*) FROM users u WHERE u.cafe_id = c.id) AS users,
                  (SELECT count(*) FROM product p WHERE p.cafe_id = c.id) AS products,
                  (SELECT count(*) FROM "transaction" t WHERE t.cafe_id = c.id) AS transactions
           FROM cafes c ORDER BY c.id"#,
    )
    .fetch_all(conn)
    .await
    .map_err(read_err)
}

/// What one import reads: a whole seed-era database, or one cafe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every row (the seed era; or the cafes era with no cafe at all).
    All,
    Cafe {
        id: i64,
        name: String,
    },
}

impl Scope {
    pub fn cafe_id(&self) -> Option<i64> {
        match self {
            Scope::All => None,
            Scope::Cafe { id, .. } => Some(*id),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub password: String,
    pub is_superuser: bool,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub phone: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub cafe_id: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Category {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    pub cost: Decimal,
    pub stock: i32,
    pub image: Option<String>,
    pub is_available: bool,
    pub sku: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub category_id: Option<i64>,
    pub needs_preparation: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sale {
    pub id: i64,
    pub transaction_number: String,
    pub subtotal: Decimal,
    pub tax: Decimal,
    pub discount: Decimal,
    pub total: Decimal,
    pub payment_method: String,
    pub paid_amount: Decimal,
    pub change_amount: Decimal,
    pub status: String,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub cashier_id: Option<Uuid>,
    pub customer_name: Option<String>,
    pub order_type: String,
    pub takeaway_charge: Decimal,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub transaction_id: i64,
    pub product_id: Option<i64>,
    pub product_name: String,
    pub quantity: i32,
    pub price: Decimal,
    pub subtotal: Decimal,
    pub notes: Option<String>,
}

/// Everything one import reads, in Django id order (users by creation).
#[derive(Debug, Clone)]
pub struct Data {
    pub users: Vec<User>,
    pub categories: Vec<Category>,
    pub products: Vec<Product>,
    pub sales: Vec<Sale>,
    /// Ordered by transaction, then id.
    pub items: Vec<Item>,
    pub payments: i64,
    /// The largest ids in the whole Django database (every cafe), so that
    /// ids we hand out never meet a Django id a later run imports.
    pub max_category_id: i64,
    pub max_product_id: i64,
    pub max_sale_id: i64,
}

/// Reads `scope`'s rows. Users of a cafe are its staff, the users with no
/// cafe (superusers), and whoever is the cashier of one of its sales.
pub async fn load(
    conn: &mut PgConnection,
    schema: &Schema,
    scope: &Scope,
) -> Result<Data, ImportError> {
    let cafe = scope.cafe_id();
    // `$1` is the cafe; unused (and unbound) for the whole database.
    let of = |alias: &str| match cafe {
        Some(_) => format!("{alias}.cafe_id = $1"),
        None => "true".to_string(),
    };
    let user_cafe = if schema.era == Era::Cafes {
        "u.cafe_id"
    } else {
        "NULL::bigint AS cafe_id"
    };
    let user_filter = match cafe {
        Some(_) => r#"u.cafe_id = $1 OR u.cafe_id IS NULL
                      OR u.id IN (SELECT t.cashier_id FROM "transaction" t WHERE t.cafe_id = $1)"#
            .to_string(),
        None => "true".to_string(),
    };

    let users = fetch::<User>(
        conn,
        format!(
            "SELECT u.id, u.password::text, u.is_superuser, u.username::text, u.first_name::text,
                    u.last_name::text, u.email::text, u.role::text, u.phone::text, u.is_active,
                    u.created_at, {user_cafe}
             FROM users u WHERE {user_filter} ORDER BY u.created_at, u.id"
        ),
        cafe,
    )
    .await?;
    let categories = fetch::<Category>(
        conn,
        format!(
            "SELECT c.id, c.name::text, c.description, c.created_at, c.updated_at
             FROM category c WHERE {} ORDER BY c.id",
            of("c")
        ),
        cafe,
    )
    .await?;
    let products = fetch::<Product>(
        conn,
        format!(
            "SELECT p.id, p.name::text, p.description, p.price, p.cost, p.stock, p.image::text,
                    p.is_available, p.sku::text, p.created_at, p.updated_at, p.category_id, {}
             FROM product p WHERE {} ORDER BY p.id",
            schema.col("product", "needs_preparation", "p"),
            of("p")
        ),
        cafe,
    )
    .await?;
    let sales = fetch::<Sale>(
        conn,
        format!(
            r#"SELECT t.id, t.transaction_number::text, t.subtotal, t.tax, t.discount, t.total,
                      t.payment_method::text, t.paid_amount, t.change_amount, t.status::text,
                      t.notes, t.created_at, t.cashier_id,
                      {}::text AS customer_name, {}::text AS order_type,
                      {}::numeric AS takeaway_charge
               FROM "transaction" t WHERE {} ORDER BY t.id"#,
            bare(schema, "customer_name"),
            bare(schema, "order_type"),
            bare(schema, "takeaway_charge"),
            of("t")
        ),
        cafe,
    )
    .await?;
    let items = fetch::<Item>(
        conn,
        format!(
            r#"SELECT i.id, i.transaction_id, i.product_id, i.product_name::text, i.quantity,
                      i.price, i.subtotal, i.notes
               FROM transaction_item i JOIN "transaction" t ON t.id = i.transaction_id
               WHERE {} ORDER BY i.transaction_id, i.id"#,
            of("t")
        ),
        cafe,
    )
    .await?;
    let payments = if schema.has_payments {
        fetch_one::<i64>(
            conn,
            format!(
                r#"SELECT count(*) FROM payment p JOIN "transaction" t ON t.id = p.transaction_id
                   WHERE {}"#,
                of("t")
            ),
            cafe,
        )
        .await?
    } else {
        0
    };
    let (max_category_id, max_product_id, max_sale_id): (i64, i64, i64) = sqlx::query_as(
        r#"SELECT (SELECT coalesce(max(id), 0) FROM category),
                  (SELECT coalesce(max(id), 0) FROM product),
                  (SELECT coalesce(max(id), 0) FROM "transaction")"#,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(read_err)?;
    Ok(Data {
        users,
        categories,
        products,
        sales,
        items,
        payments,
        max_category_id,
        max_product_id,
        max_sale_id,
    })
}

/// A later `transaction` column as a bare expression (no alias).
fn bare(schema: &Schema, column: &str) -> String {
    if schema.has("transaction", column) {
        format!("t.{column}")
    } else {
        let (_, _, default) = LATER_COLUMNS
            .iter()
            .find(|(t, c, _)| *t == "transaction" && *c == column)
            .expect("a later column");
        format!("({default})")
    }
}

async fn fetch<T>(
    conn: &mut PgConnection,
    sql: String,
    cafe: Option<i64>,
) -> Result<Vec<T>, ImportError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut q = sqlx::query_as::<_, T>(AssertSqlSafe(sql));
    if let Some(cafe) = cafe {
        q = q.bind(cafe);
    }
    q.fetch_all(conn).await.map_err(read_err)
}

async fn fetch_one<T>(
    conn: &mut PgConnection,
    sql: String,
    cafe: Option<i64>,
) -> Result<T, ImportError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut q = sqlx::query_scalar::<_, T>(AssertSqlSafe(sql));
    if let Some(cafe) = cafe {
        q = q.bind(cafe);
    }
    q.fetch_one(conn).await.map_err(read_err)
}
