//! Writing the Django rows into ours, in the import's one transaction:
//! users, categories, products (with their opening stock), sales and their
//! lines, then the numbering of the imported days, then the read-back that
//! the report compares with Django's figures.
//!
//! Rows are planned in memory (the rules, the notices) and written in
//! batches (`unnest`), so a shop with a hundred thousand sales is a few
//! hundred statements, not half a million round trips to Neon.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::report::{Issue, Measure, Notice, Report};
use super::rules::{self, Status};
use super::source::{Cafe, Data, Era, Schema, Scope};
use super::{ImportError, Options};
use crate::catalog::products::MAX_UNITS;

/// Rows per statement.
const CHUNK: usize = 1000;

/// The notices of one run, and the rows it made up.
#[derive(Default)]
struct Log {
    notices: Vec<Notice>,
    made: Vec<String>,
}

impl Log {
    fn note(&mut self, issue: Issue, subject: impl Into<String>, detail: impl Into<String>) {
        self.notices.push(Notice {
            issue,
            subject: subject.into(),
            detail: detail.into(),
        });
    }

    /// `text` cut to `max` characters, noting the cut.
    fn clip(&mut self, subject: &str, field: &str, text: &str, max: usize) -> String {
        let (kept, cut) = rules::clip(text, max);
        if cut {
            self.note(
                Issue::TextTruncated,
                subject,
                format!(
                    "{field}: {} characters, the first {max} kept",
                    text.chars().count()
                ),
            );
        }
        kept
    }
}

/// A Django figure: everything, what an earlier run took, what the rules
/// left out or changed.
#[derive(Default, Clone, Copy)]
struct Tally {
    django: Decimal,
    earlier: Decimal,
    skipped: Decimal,
    adjusted: Decimal,
}

impl Tally {
    fn measure(self, name: &'static str, ours: Decimal) -> Measure {
        Measure {
            name,
            money: name == "sales total",
            django: self.django,
            earlier: self.earlier,
            skipped: self.skipped,
            adjusted: self.adjusted,
            ours,
        }
    }
}

pub(super) async fn import(
    tx: &mut PgConnection,
    schema: &Schema,
    scope: &Scope,
    cafes: &[Cafe],
    data: &Data,
    options: &Options,
) -> Result<Report, ImportError> {
    // One import at a time: a second waits, then finds the first's rows.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('kasirgo import-django'))")
        .execute(&mut *tx)
        .await?;
    let cafe = scope.cafe_id();
    let mut log = Log::default();

    // Ids we hand out (to rows whose Django id is taken, to placeholders,
    // and from now on to rows made here) come after every Django id.
    for (table, max) in [
        ("categories", data.max_category_id),
        ("products", data.max_product_id),
        ("sales", data.max_sale_id),
    ] {
        move_sequence(tx, table, max).await?;
    }

    let users = import_users(tx, data, cafe, &mut log).await?;
    let categories = import_categories(tx, data, cafe, &mut log).await?;
    let products = import_products(tx, data, cafe, &categories.map, options, &mut log).await?;
    let sales = import_sales(tx, data, cafe, &users.map, &products.info, &mut log).await?;

    scope_notices(schema, scope, cafes, data, &mut log);
    let owner = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users
                          WHERE role = 'owner' AND is_active AND deleted_at IS NULL) AS "any!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !owner {
        log.note(
            Issue::NoOwner,
            "our database",
            "no active owner can log in: make one with `kasirgo create-user --role owner`",
        );
    }

    let ours = sqlx::query!(
        r#"WITH run AS (SELECT kind, target_id FROM django_imports WHERE imported_at = now())
           SELECT
             (SELECT count(*) FROM run JOIN users u ON u.id = run.target_id
              WHERE run.kind = 'user') AS "users!",
             (SELECT count(*) FROM run JOIN categories c ON c.id = run.target_id
              WHERE run.kind = 'category') AS "categories!",
             (SELECT count(*) FROM run JOIN products p ON p.id = run.target_id
              WHERE run.kind = 'product') AS "products!",
             (SELECT count(*) FROM run JOIN sales s ON s.id = run.target_id
              WHERE run.kind = 'sale') AS "sales!",
             (SELECT coalesce(sum(s.total), 0) FROM run JOIN sales s ON s.id = run.target_id
              WHERE run.kind = 'sale') AS "total!",
             (SELECT count(*) FROM run JOIN sale_lines l ON l.sale_id = run.target_id
              WHERE run.kind = 'sale') AS "lines!",
             (SELECT coalesce(sum(l.quantity), 0) FROM run JOIN sale_lines l ON l.sale_id = run.target_id
              WHERE run.kind = 'sale') AS "quantity!",
             (SELECT coalesce(sum(m.delta), 0) FROM run JOIN stock_movements m ON m.product_id = run.target_id
              WHERE run.kind = 'product' AND m.kind = 'opening') AS "stock!""#
    )
    .fetch_one(&mut *tx)
    .await?;

    let measures = vec![
        users.tally.measure("users", ours.users.into()),
        categories
            .tally
            .measure("categories", ours.categories.into()),
        products.tally.measure("products", ours.products.into()),
        sales.count.measure("sales", ours.sales.into()),
        sales.lines.measure("lines", ours.lines.into()),
        sales.total.measure("sales total", ours.total),
        sales
            .quantity
            .measure("quantity sold", ours.quantity.into()),
        products.stock.measure("stock", ours.stock.into()),
    ];
    Ok(Report {
        source: describe(schema, scope),
        dry_run: options.dry_run,
        measures,
        notices: log.notices,
        made: log.made,
    })
}

fn describe(schema: &Schema, scope: &Scope) -> String {
    match (schema.era, scope) {
        (Era::Seed, _) => "a KasirGo Django database from before the cafes (c81f97b era)".into(),
        (Era::Cafes, Scope::All) => {
            "a KasirGo Django database of the cafes era, with no cafe".into()
        }
        (Era::Cafes, Scope::Cafe { id, name }) => {
            format!("a KasirGo Django database of the cafes era (99a5a53): cafe {id} {name:?}")
        }
    }
}

fn scope_notices(schema: &Schema, scope: &Scope, cafes: &[Cafe], data: &Data, log: &mut Log) {
    for m in &schema.missing {
        log.note(
            Issue::OlderSchema,
            "Django schema",
            format!("no column {m}"),
        );
    }
    if let Scope::Cafe { id, .. } = scope {
        for c in cafes.iter().filter(|c| c.id != *id) {
            log.note(
                Issue::OtherCafe,
                format!("cafe {} {:?}", c.id, c.name),
                format!(
                    "{} users, {} products, {} transactions",
                    c.users, c.products, c.transactions
                ),
            );
        }
    }
    if data.payments > 0 {
        log.note(
            Issue::PaymentsNotImported,
            "payment table",
            format!(
                "{} Duitku payment records of these transactions; each sale is imported by its \
                 own status",
                data.payments
            ),
        );
    }
}

/// Moves `table`'s `int_id` sequence past `max` and every id it holds,
/// never backwards.
async fn move_sequence(tx: &mut PgConnection, table: &str, max: i64) -> Result<(), ImportError> {
    let max_held: i64 = match table {
        "categories" => {
            sqlx::query_scalar!(r#"SELECT coalesce(max(int_id), 0) AS "m!" FROM categories"#)
                .fetch_one(&mut *tx)
                .await?
        }
        "products" => {
            sqlx::query_scalar!(r#"SELECT coalesce(max(int_id), 0) AS "m!" FROM products"#)
                .fetch_one(&mut *tx)
                .await?
        }
        _ => {
            sqlx::query_scalar!(r#"SELECT coalesce(max(int_id), 0) AS "m!" FROM sales"#)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    sqlx::query!(
        r#"SELECT setval(q.seq, GREATEST($2::bigint, $3::bigint,
                                         coalesce(pg_sequence_last_value(q.seq), 0), 1)) AS "v!"
           FROM (SELECT pg_get_serial_sequence($1, 'int_id')::regclass AS seq) q"#,
        table,
        max,
        max_held
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(())
}

/// `n` fresh integer ids for `table`.
async fn fresh_ids(tx: &mut PgConnection, table: &str, n: usize) -> Result<Vec<i64>, ImportError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar!(
        r#"SELECT nextval(pg_get_serial_sequence($1, 'int_id')) AS "id!"
           FROM generate_series(1, $2::int)"#,
        table,
        n as i32
    )
    .fetch_all(&mut *tx)
    .await?)
}

/// Which of `kind`'s Django ids an earlier run imported, and as what.
async fn imported(
    tx: &mut PgConnection,
    kind: &str,
    django_ids: &[String],
) -> Result<HashMap<String, Uuid>, ImportError> {
    let rows = sqlx::query!(
        "SELECT django_id, target_id FROM django_imports WHERE kind = $1 AND django_id = ANY($2)",
        kind,
        django_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.django_id, r.target_id))
        .collect())
}

async fn remember(
    tx: &mut PgConnection,
    kind: &str,
    rows: &[(String, Uuid)],
    cafe: Option<i64>,
) -> Result<(), ImportError> {
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|(d, _)| d.clone()).collect();
        let targets: Vec<Uuid> = chunk.iter().map(|(_, t)| *t).collect();
        sqlx::query!(
            "INSERT INTO django_imports (kind, django_id, target_id, cafe_id)
             SELECT $1, x.django_id, x.target_id, $4
             FROM unnest($2::text[], $3::uuid[]) AS x(django_id, target_id)",
            kind,
            &ids,
            &targets,
            cafe
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn count(n: usize) -> Decimal {
    Decimal::from(n as u64)
}

// ---------------------------------------------------------------- users

struct Users {
    /// Django user id -> ours.
    map: HashMap<Uuid, Uuid>,
    tally: Tally,
}

#[derive(Default)]
struct NewUsers {
    id: Vec<Uuid>,
    username: Vec<String>,
    full_name: Vec<String>,
    phone: Vec<String>,
    email: Vec<String>,
    role: Vec<String>,
    is_active: Vec<bool>,
    password_hash: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
}

async fn import_users(
    tx: &mut PgConnection,
    data: &Data,
    cafe: Option<i64>,
    log: &mut Log,
) -> Result<Users, ImportError> {
    let keys: Vec<String> = data.users.iter().map(|u| u.id.to_string()).collect();
    let earlier = imported(tx, "user", &keys).await?;
    let mut live: HashMap<String, (Uuid, String)> = sqlx::query!(
        r#"SELECT id, username, lower(username) AS "key!" FROM users WHERE deleted_at IS NULL"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.key, (r.id, r.username)))
    .collect();
    let django_ids: Vec<Uuid> = data.users.iter().map(|u| u.id).collect();
    let ids_taken: HashSet<Uuid> =
        sqlx::query_scalar!("SELECT id FROM users WHERE id = ANY($1)", &django_ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();

    let mut map = HashMap::new();
    let mut tally = Tally {
        django: count(data.users.len()),
        ..Tally::default()
    };
    let mut new = NewUsers::default();
    let mut mapping = Vec::new();
    for u in &data.users {
        let key = u.id.to_string();
        if let Some(target) = earlier.get(&key) {
            map.insert(u.id, *target);
            tally.earlier += Decimal::ONE;
            continue;
        }
        let subject = format!("user {:?}", u.username);
        let username = rules::username(&u.username, &u.id.simple().to_string());
        if username != u.username {
            log.note(
                Issue::UsernameChanged,
                &subject,
                format!("username {:?} -> {username:?}", u.username),
            );
        }
        if let Some((ours, ours_name)) = live.get(&username.to_lowercase()) {
            log.note(
                Issue::UserMatched,
                &subject,
                format!(
                    "matched to our account {ours_name:?}; its password, role and profile stay ours"
                ),
            );
            map.insert(u.id, *ours);
            mapping.push((key, *ours));
            continue;
        }
        if let (Some(cafe), Some(theirs)) = (cafe, u.cafe_id)
            && theirs != cafe
        {
            log.note(
                Issue::CashierFromElsewhere,
                &subject,
                format!("of cafe {theirs}, the cashier of some of cafe {cafe}'s sales: imported"),
            );
        }
        let (role, note) = rules::role(&u.role, u.is_superuser);
        if let Some((issue, detail)) = note {
            log.note(issue, &subject, detail);
        }
        let full = format!("{} {}", u.first_name.trim(), u.last_name.trim());
        let full_name = log.clip(&subject, "full name", full.trim(), 150);
        let phone = log.clip(
            &subject,
            "phone",
            u.phone.as_deref().unwrap_or("").trim(),
            32,
        );
        let email = log.clip(&subject, "email", &u.email, 254);
        let password_hash = if u.password.is_empty() {
            log.note(
                Issue::PasswordUnusable,
                &subject,
                "no password hash: cannot log in until given a password",
            );
            "!".to_string()
        } else {
            if !u.password.starts_with("pbkdf2_sha256$") {
                let kind = if u.password.starts_with('!') {
                    "an unusable password".to_string()
                } else {
                    format!(
                        "a {} hash",
                        u.password.split('$').next().unwrap_or("unknown")
                    )
                };
                log.note(
                    Issue::PasswordUnusable,
                    &subject,
                    format!("{kind}: kept, but cannot log in until given a new password"),
                );
            }
            u.password.clone()
        };
        let id = if ids_taken.contains(&u.id) {
            Uuid::new_v4()
        } else {
            u.id
        };
        live.insert(username.to_lowercase(), (id, username.clone()));
        map.insert(u.id, id);
        mapping.push((key, id));
        new.id.push(id);
        new.username.push(username);
        new.full_name.push(full_name);
        new.phone.push(phone);
        new.email.push(email);
        new.role.push(role.to_string());
        new.is_active.push(u.is_active);
        new.password_hash.push(password_hash);
        new.created_at.push(u.created_at);
    }
    for start in (0..new.id.len()).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(new.id.len());
        sqlx::query!(
            "INSERT INTO users (id, username, full_name, phone, email, role, is_active,
                                password_hash, created_at)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::bool[], $8::text[], $9::timestamptz[])",
            &new.id[r.clone()],
            &new.username[r.clone()],
            &new.full_name[r.clone()],
            &new.phone[r.clone()],
            &new.email[r.clone()],
            &new.role[r.clone()],
            &new.is_active[r.clone()],
            &new.password_hash[r.clone()],
            &new.created_at[r],
        )
        .execute(&mut *tx)
        .await?;
    }
    remember(tx, "user", &mapping, cafe).await?;
    Ok(Users { map, tally })
}

/// The inactive account that stands for "no cashier" (Django kept sales
/// whose cashier was deleted; ours needs one).
async fn no_cashier(
    tx: &mut PgConnection,
    cafe: Option<i64>,
    log: &mut Log,
) -> Result<Uuid, ImportError> {
    let key = "no-cashier".to_string();
    if let Some(id) = imported(tx, "placeholder_user", std::slice::from_ref(&key))
        .await?
        .get(&key)
    {
        return Ok(*id);
    }
    let live: HashSet<String> = sqlx::query_scalar!(
        r#"SELECT lower(username) AS "u!" FROM users WHERE deleted_at IS NULL"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let username = rules::free_name("django-import", 150, &live, |k| format!("-{k}"));
    let id = Uuid::now_v7();
    // '!' is no hash at all: this account can never log in.
    sqlx::query!(
        "INSERT INTO users (id, username, full_name, role, is_active, password_hash)
         VALUES ($1, $2, 'Sales without a cashier (imported from Django)', 'cashier', false, '!')",
        id,
        username
    )
    .execute(&mut *tx)
    .await?;
    remember(tx, "placeholder_user", &[(key, id)], cafe).await?;
    log.made.push(format!(
        "the inactive account {username:?}, cashier of the sales that had none in Django"
    ));
    Ok(id)
}

// ----------------------------------------------------------- categories

struct Categories {
    /// Django category id -> ours.
    map: HashMap<i64, Uuid>,
    tally: Tally,
}

async fn import_categories(
    tx: &mut PgConnection,
    data: &Data,
    cafe: Option<i64>,
    log: &mut Log,
) -> Result<Categories, ImportError> {
    let keys: Vec<String> = data.categories.iter().map(|c| c.id.to_string()).collect();
    let earlier = imported(tx, "category", &keys).await?;
    let ids: Vec<i64> = data.categories.iter().map(|c| c.id).collect();
    let ids_taken: HashSet<i64> =
        sqlx::query_scalar!("SELECT int_id FROM categories WHERE int_id = ANY($1)", &ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut names: HashSet<String> = sqlx::query_scalar!(
        r#"SELECT lower(name) AS "n!" FROM categories WHERE deleted_at IS NULL"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let mut map = HashMap::new();
    let mut tally = Tally {
        django: count(data.categories.len()),
        ..Tally::default()
    };
    let (mut id, mut int_id, mut name, mut description, mut created, mut updated) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut need_fresh = Vec::new();
    let mut mapping = Vec::new();
    for c in &data.categories {
        let key = c.id.to_string();
        if let Some(target) = earlier.get(&key) {
            map.insert(c.id, *target);
            tally.earlier += Decimal::ONE;
            continue;
        }
        let subject = format!("category {:?} (Django id {})", c.name, c.id);
        let base = if c.name.trim().is_empty() {
            let replaced = format!("Category {}", c.id);
            log.note(Issue::NameBlank, &subject, format!("named {replaced:?}"));
            replaced
        } else {
            log.clip(&subject, "name", &c.name, 100)
        };
        let free = rules::free_name(&base, 100, &names, |k| format!(" ({k})"));
        if free != base {
            log.note(
                Issue::NameDuplicate,
                &subject,
                format!("{base:?} is taken (Django allowed duplicates): named {free:?}"),
            );
        }
        names.insert(free.to_lowercase());
        let uuid = Uuid::now_v7();
        if ids_taken.contains(&c.id) {
            need_fresh.push((int_id.len(), subject.clone()));
        }
        map.insert(c.id, uuid);
        mapping.push((key, uuid));
        id.push(uuid);
        int_id.push(c.id);
        name.push(free);
        description.push(log.clip(
            &subject,
            "description",
            c.description.as_deref().unwrap_or(""),
            1000,
        ));
        created.push(c.created_at);
        updated.push(c.updated_at);
    }
    let fresh = fresh_ids(tx, "categories", need_fresh.len()).await?;
    for ((at, subject), new_id) in need_fresh.into_iter().zip(fresh) {
        log.note(
            Issue::IntIdTaken,
            subject,
            format!("id {} is one of our categories': id {new_id}", int_id[at]),
        );
        int_id[at] = new_id;
    }
    for start in (0..id.len()).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(id.len());
        sqlx::query!(
            "INSERT INTO categories (id, int_id, name, description, created_at, updated_at)
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[],
                                  $5::timestamptz[], $6::timestamptz[])",
            &id[r.clone()],
            &int_id[r.clone()],
            &name[r.clone()],
            &description[r.clone()],
            &created[r.clone()],
            &updated[r],
        )
        .execute(&mut *tx)
        .await?;
    }
    remember(tx, "category", &mapping, cafe).await?;
    Ok(Categories { map, tally })
}

// ------------------------------------------------------------- products

/// What a sale line needs of its product.
#[derive(Clone)]
struct ProductInfo {
    id: Uuid,
    sku: Option<String>,
    cost: Decimal,
}

struct Products {
    /// Django product id -> ours.
    info: HashMap<i64, ProductInfo>,
    tally: Tally,
    stock: Tally,
}

#[derive(Default)]
struct NewProducts {
    id: Vec<Uuid>,
    int_id: Vec<i64>,
    sku: Vec<Option<String>>,
    name: Vec<String>,
    description: Vec<String>,
    category_id: Vec<Option<Uuid>>,
    price: Vec<Decimal>,
    cost: Vec<Decimal>,
    stock: Vec<i32>,
    is_active: Vec<bool>,
    needs_preparation: Vec<bool>,
    image_url: Vec<Option<String>>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    reason: Vec<String>,
}

async fn import_products(
    tx: &mut PgConnection,
    data: &Data,
    cafe: Option<i64>,
    categories: &HashMap<i64, Uuid>,
    options: &Options,
    log: &mut Log,
) -> Result<Products, ImportError> {
    let keys: Vec<String> = data.products.iter().map(|p| p.id.to_string()).collect();
    let earlier = imported(tx, "product", &keys).await?;
    let ids: Vec<i64> = data.products.iter().map(|p| p.id).collect();
    let ids_taken: HashSet<i64> =
        sqlx::query_scalar!("SELECT int_id FROM products WHERE int_id = ANY($1)", &ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut skus: HashSet<String> = sqlx::query_scalar!(
        r#"SELECT lower(sku) AS "s!" FROM products WHERE deleted_at IS NULL AND sku IS NOT NULL"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let mut info = HashMap::new();
    let mut tally = Tally {
        django: count(data.products.len()),
        ..Tally::default()
    };
    let mut stock_tally = Tally {
        django: data.products.iter().map(|p| Decimal::from(p.stock)).sum(),
        ..Tally::default()
    };
    let mut earlier_targets = Vec::new();
    let mut new = NewProducts::default();
    let mut need_fresh = Vec::new();
    let mut mapping = Vec::new();
    let mut images_dropped = 0usize;
    for p in &data.products {
        let key = p.id.to_string();
        if let Some(target) = earlier.get(&key) {
            earlier_targets.push((p.id, *target));
            tally.earlier += Decimal::ONE;
            stock_tally.earlier += Decimal::from(p.stock);
            continue;
        }
        let subject = format!("product {:?} (Django id {})", p.name, p.id);
        let name = if p.name.trim().is_empty() {
            let replaced = format!("Product {}", p.id);
            log.note(Issue::NameBlank, &subject, format!("named {replaced:?}"));
            replaced
        } else {
            log.clip(&subject, "name", &p.name, 200)
        };
        let description = log.clip(
            &subject,
            "description",
            p.description.as_deref().unwrap_or(""),
            2000,
        );
        let price = money(log, &subject, "price", p.price);
        let cost = money(log, &subject, "cost", p.cost);
        let sku = match p.sku.as_deref() {
            None => None,
            Some("") => {
                log.note(Issue::SkuBlank, &subject, "SKU \"\": no SKU");
                None
            }
            Some(s) => {
                let base = log.clip(&subject, "sku", s, 64);
                let free = rules::free_name(&base, 64, &skus, |k| format!("-{k}"));
                if free != base {
                    log.note(
                        Issue::SkuDuplicate,
                        &subject,
                        format!("SKU {base:?} is taken: {free:?}"),
                    );
                }
                skus.insert(free.to_lowercase());
                Some(free)
            }
        };
        let category_id = match p.category_id {
            None => None,
            Some(c) => match categories.get(&c) {
                Some(ours) => Some(*ours),
                None => {
                    log.note(
                        Issue::CategoryMissing,
                        &subject,
                        format!("category {c} is not in this import: uncategorised"),
                    );
                    None
                }
            },
        };
        let stock = if p.stock < 0 {
            log.note(
                Issue::StockNegative,
                &subject,
                format!("stock {} -> 0", p.stock),
            );
            stock_tally.adjusted -= Decimal::from(p.stock);
            0
        } else if p.stock > MAX_UNITS {
            log.note(
                Issue::StockCapped,
                &subject,
                format!("stock {} -> {MAX_UNITS}", p.stock),
            );
            stock_tally.adjusted -= Decimal::from(p.stock - MAX_UNITS);
            MAX_UNITS
        } else {
            p.stock
        };
        // Django made is_available = stock > 0 on every save: out of stock
        // is not withdrawn. Only a product marked unavailable while in
        // stock was taken off sale on purpose.
        let is_active = p.is_available || p.stock <= 0;
        if !is_active {
            log.note(
                Issue::Unavailable,
                &subject,
                format!("unavailable with {} in stock: not for sale", p.stock),
            );
        }
        let image_url = match p.image.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(image) => match options.cloudinary_cloud.as_deref() {
                Some(cloud) => {
                    let (url, legacy) = rules::image_url(cloud, image);
                    if legacy {
                        log.note(
                            Issue::ImageLegacy,
                            &subject,
                            format!("{image:?} was stored before Cloudinary: {url}"),
                        );
                    }
                    Some(url)
                }
                None => {
                    images_dropped += 1;
                    log.note(
                        Issue::ImageDropped,
                        &subject,
                        format!("image {image:?} not kept"),
                    );
                    None
                }
            },
        };
        let uuid = Uuid::now_v7();
        if ids_taken.contains(&p.id) {
            need_fresh.push((new.id.len(), subject.clone()));
        }
        info.insert(
            p.id,
            ProductInfo {
                id: uuid,
                sku: sku.clone(),
                cost,
            },
        );
        mapping.push((key, uuid));
        new.id.push(uuid);
        new.int_id.push(p.id);
        new.sku.push(sku);
        new.name.push(name);
        new.description.push(description);
        new.category_id.push(category_id);
        new.price.push(price);
        new.cost.push(cost);
        new.stock.push(stock);
        new.is_active.push(is_active);
        new.needs_preparation.push(p.needs_preparation);
        new.image_url.push(image_url);
        new.created_at.push(p.created_at);
        new.updated_at.push(p.updated_at);
        new.reason.push(format!(
            "Opening stock imported from Django (product {})",
            p.id
        ));
    }
    if images_dropped > 0 {
        log.note(
            Issue::ImageDropped,
            "images",
            format!(
                "{images_dropped} product images not kept: give --cloudinary-cloud NAME \
                 (or CLOUDINARY_URL) and run again on a fresh database to keep them"
            ),
        );
    }
    let fresh = fresh_ids(tx, "products", need_fresh.len()).await?;
    for ((at, subject), new_id) in need_fresh.into_iter().zip(fresh) {
        log.note(
            Issue::IntIdTaken,
            subject,
            format!("id {} is one of our products': id {new_id}", new.int_id[at]),
        );
        new.int_id[at] = new_id;
    }
    for start in (0..new.id.len()).step_by(CHUNK) {
        let r = start..(start + CHUNK).min(new.id.len());
        sqlx::query!(
            "INSERT INTO products (id, int_id, sku, name, description, category_id, price, cost,
                                   stock, is_active, needs_preparation, image_url, created_at,
                                   updated_at)
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                                  $6::uuid[], $7::numeric[], $8::numeric[], $9::int[],
                                  $10::bool[], $11::bool[], $12::text[], $13::timestamptz[],
                                  $14::timestamptz[])",
            &new.id[r.clone()],
            &new.int_id[r.clone()],
            &new.sku[r.clone()] as &[Option<String>],
            &new.name[r.clone()],
            &new.description[r.clone()],
            &new.category_id[r.clone()] as &[Option<Uuid>],
            &new.price[r.clone()],
            &new.cost[r.clone()],
            &new.stock[r.clone()],
            &new.is_active[r.clone()],
            &new.needs_preparation[r.clone()],
            &new.image_url[r.clone()] as &[Option<String>],
            &new.created_at[r.clone()],
            &new.updated_at[r.clone()],
        )
        .execute(&mut *tx)
        .await?;
        // The stock Django counted, as the ledger's opening count.
        sqlx::query!(
            "INSERT INTO stock_movements (product_id, kind, delta, stock_after, reason)
             SELECT x.id, 'opening', x.stock, x.stock, x.reason
             FROM unnest($1::uuid[], $2::int[], $3::text[]) AS x(id, stock, reason)",
            &new.id[r.clone()],
            &new.stock[r.clone()],
            &new.reason[r],
        )
        .execute(&mut *tx)
        .await?;
    }
    remember(tx, "product", &mapping, cafe).await?;

    // Products an earlier run imported, as they are now in our database.
    let targets: Vec<Uuid> = earlier_targets.iter().map(|(_, t)| *t).collect();
    let ours: HashMap<Uuid, (Option<String>, Decimal)> = sqlx::query!(
        "SELECT id, sku, cost FROM products WHERE id = ANY($1)",
        &targets
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.id, (r.sku, r.cost)))
    .collect();
    for (django, target) in earlier_targets {
        let (sku, cost) = ours.get(&target).cloned().unwrap_or_default();
        info.insert(
            django,
            ProductInfo {
                id: target,
                sku,
                cost,
            },
        );
    }
    Ok(Products {
        info,
        tally,
        stock: stock_tally,
    })
}

/// A product amount in cents and not negative, noting what changed.
fn money(log: &mut Log, subject: &str, field: &str, value: Decimal) -> Decimal {
    let rounded = crate::sales::checkout::round_money(value);
    if rounded != value {
        log.note(
            Issue::CentsRounded,
            subject,
            format!("{field} {value} -> {rounded}"),
        );
    }
    if rounded.is_sign_negative() && !rounded.is_zero() {
        log.note(
            Issue::NegativeAmount,
            subject,
            format!("{field} {rounded:.2} -> 0.00"),
        );
        return Decimal::ZERO;
    }
    rounded
}

// ---------------------------------------------------------------- sales

struct Sales {
    count: Tally,
    lines: Tally,
    total: Tally,
    quantity: Tally,
}

enum ProductRef {
    Ours(ProductInfo),
    /// A product Django no longer has (or another cafe's), by the name it
    /// was sold under.
    Gone(String),
}

struct PlannedLine {
    product: ProductRef,
    product_name: String,
    unit_price: Decimal,
    quantity: i32,
    total: Decimal,
    note: String,
}

struct PlannedSale {
    django_id: i64,
    int_id: i64,
    number: String,
    cashier: Option<Uuid>,
    customer_name: String,
    notes: String,
    order_type: &'static str,
    payment_method: &'static str,
    amounts: rules::Amounts,
    occurred_at: DateTime<Utc>,
    preparing: bool,
    lines: Vec<PlannedLine>,
}

async fn import_sales(
    tx: &mut PgConnection,
    data: &Data,
    cafe: Option<i64>,
    users: &HashMap<Uuid, Uuid>,
    products: &HashMap<i64, ProductInfo>,
    log: &mut Log,
) -> Result<Sales, ImportError> {
    let keys: Vec<String> = data.sales.iter().map(|s| s.id.to_string()).collect();
    let earlier = imported(tx, "sale", &keys).await?;
    let ids: Vec<i64> = data.sales.iter().map(|s| s.id).collect();
    let ids_taken: HashSet<i64> =
        sqlx::query_scalar!("SELECT int_id FROM sales WHERE int_id = ANY($1)", &ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let numbers: Vec<String> = data
        .sales
        .iter()
        .map(|s| s.transaction_number.trim().to_string())
        .collect();
    let mut numbers_taken: HashSet<String> = sqlx::query_scalar!(
        "SELECT transaction_no FROM sales WHERE transaction_no = ANY($1)",
        &numbers
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let mut items: HashMap<i64, Vec<&super::source::Item>> = HashMap::new();
    for item in &data.items {
        items.entry(item.transaction_id).or_default().push(item);
    }
    let mut t = Sales {
        count: Tally::default(),
        lines: Tally::default(),
        total: Tally::default(),
        quantity: Tally::default(),
    };
    let mut planned: Vec<PlannedSale> = Vec::new();
    let mut need_fresh = Vec::new();
    for s in &data.sales {
        let lines: &[&super::source::Item] = items.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
        let qty: Decimal = lines.iter().map(|l| Decimal::from(l.quantity)).sum();
        t.count.django += Decimal::ONE;
        t.total.django += s.total;
        t.lines.django += count(lines.len());
        t.quantity.django += qty;
        let skip = |t: &mut Sales| {
            t.count.skipped += Decimal::ONE;
            t.total.skipped += s.total;
            t.lines.skipped += count(lines.len());
            t.quantity.skipped += qty;
        };
        if earlier.contains_key(&s.id.to_string()) {
            t.count.earlier += Decimal::ONE;
            t.total.earlier += s.total;
            t.lines.earlier += count(lines.len());
            t.quantity.earlier += qty;
            continue;
        }
        let subject = format!("sale {} (Django id {})", s.transaction_number, s.id);
        let preparing = match rules::status(&s.status) {
            Status::Paid { preparing } => preparing,
            Status::Unpaid => {
                log.note(
                    Issue::SaleSkipped,
                    &subject,
                    format!("status {}, total {:.2}", s.status, s.total),
                );
                skip(&mut t);
                continue;
            }
            Status::Unknown => {
                log.note(
                    Issue::StatusUnknown,
                    &subject,
                    format!("status {:?}, total {:.2}: not imported", s.status, s.total),
                );
                skip(&mut t);
                continue;
            }
        };

        let cashier = match s.cashier_id {
            Some(c) => match users.get(&c) {
                Some(ours) => Some(*ours),
                None => {
                    log.note(
                        Issue::NoCashier,
                        &subject,
                        format!("cashier {c} is not among the users read"),
                    );
                    None
                }
            },
            None => {
                log.note(Issue::NoCashier, &subject, "no cashier in Django");
                None
            }
        };

        let base = match s.transaction_number.trim() {
            "" => format!("TRX-DJANGO-{}", s.id),
            n => n.to_string(),
        };
        if numbers_taken.contains(&base) {
            // The rare case: read what suffixed forms are taken too.
            let more = sqlx::query_scalar!(
                "SELECT transaction_no FROM sales WHERE starts_with(transaction_no, $1)",
                format!("{base}-")
            )
            .fetch_all(&mut *tx)
            .await?;
            numbers_taken.extend(more);
        }
        let suffix = match cafe {
            Some(c) => format!("-C{c}"),
            None => format!("-D{}", s.id),
        };
        let number = rules::free_number(&base, &suffix, &|n| numbers_taken.contains(n));
        if number != s.transaction_number {
            log.note(
                Issue::NumberChanged,
                &subject,
                if s.transaction_number.trim().is_empty() {
                    format!("no number in Django: {number}")
                } else {
                    format!("{} is already ours: {number}", s.transaction_number)
                },
            );
        }
        numbers_taken.insert(number.clone());

        let payment_method = rules::payment_method(&s.payment_method).unwrap_or_else(|| {
            log.note(
                Issue::PaymentUnknown,
                &subject,
                format!("payment method {:?}: cash", s.payment_method),
            );
            "cash"
        });
        let order_type = rules::order_type(&s.order_type).unwrap_or_else(|| {
            log.note(
                Issue::OrderTypeUnknown,
                &subject,
                format!("order type {:?}: dine_in", s.order_type),
            );
            "dine_in"
        });

        let r = rules::amounts(&rules::Amounts {
            subtotal: s.subtotal,
            discount: s.discount,
            tax: s.tax,
            takeaway: s.takeaway_charge,
            total: s.total,
            paid: s.paid_amount,
            change: s.change_amount,
        });
        if !r.rounded.is_empty() {
            log.note(Issue::CentsRounded, &subject, r.rounded.join("; "));
        }
        if !r.adjusted.is_empty() {
            log.note(Issue::AmountsAdjusted, &subject, r.adjusted.join("; "));
        }
        t.total.adjusted += r.amounts.total - s.total;

        let mut kept = Vec::with_capacity(lines.len());
        for item in lines {
            let line_subject =
                format!("{subject}, line {:?} (item {})", item.product_name, item.id);
            let amounts = match rules::line(item.quantity, item.price, item.subtotal) {
                Ok(a) => a,
                Err(why) => {
                    log.note(Issue::LineDropped, &line_subject, why);
                    t.lines.skipped += Decimal::ONE;
                    t.quantity.skipped += Decimal::from(item.quantity);
                    continue;
                }
            };
            for (issue, detail) in amounts.notes {
                log.note(issue, &line_subject, detail);
            }
            let product = match item.product_id {
                Some(p) => match products.get(&p) {
                    Some(info) => ProductRef::Ours(info.clone()),
                    None => {
                        log.note(
                            Issue::LineProductElsewhere,
                            &line_subject,
                            format!("product {p} is not in this import: a deleted product of ours"),
                        );
                        ProductRef::Gone(item.product_name.clone())
                    }
                },
                None => {
                    log.note(
                        Issue::LineProductDeleted,
                        &line_subject,
                        "deleted in Django: a deleted product of ours",
                    );
                    ProductRef::Gone(item.product_name.clone())
                }
            };
            kept.push(PlannedLine {
                product,
                product_name: item.product_name.clone(),
                unit_price: amounts.unit_price,
                quantity: item.quantity,
                total: amounts.total,
                note: log.clip(
                    &line_subject,
                    "notes",
                    item.notes.as_deref().unwrap_or(""),
                    200,
                ),
            });
        }
        if kept.is_empty() {
            log.note(
                Issue::SaleWithoutLines,
                &subject,
                format!(
                    "imported with its total {:.2} and no lines",
                    r.amounts.total
                ),
            );
        } else {
            let sum: Decimal = kept.iter().map(|l| l.total).sum();
            if sum != r.amounts.subtotal {
                log.note(
                    Issue::LinesMismatch,
                    &subject,
                    format!(
                        "lines add up to {sum:.2}, subtotal {:.2}",
                        r.amounts.subtotal
                    ),
                );
            }
        }
        if ids_taken.contains(&s.id) {
            need_fresh.push((planned.len(), subject.clone()));
        }
        planned.push(PlannedSale {
            django_id: s.id,
            int_id: s.id,
            number,
            cashier,
            customer_name: log.clip(
                &subject,
                "customer name",
                s.customer_name.as_deref().unwrap_or(""),
                200,
            ),
            notes: log.clip(&subject, "notes", s.notes.as_deref().unwrap_or(""), 1000),
            order_type,
            payment_method,
            amounts: r.amounts,
            occurred_at: s.created_at,
            preparing,
            lines: kept,
        });
    }

    let fresh = fresh_ids(tx, "sales", need_fresh.len()).await?;
    for ((at, subject), new_id) in need_fresh.into_iter().zip(fresh) {
        log.note(
            Issue::IntIdTaken,
            subject,
            format!(
                "id {} is one of our sales': id {new_id}",
                planned[at].int_id
            ),
        );
        planned[at].int_id = new_id;
    }
    let placeholder_cashier = if planned.iter().any(|s| s.cashier.is_none()) {
        Some(no_cashier(tx, cafe, log).await?)
    } else {
        None
    };
    let gone = gone_products(tx, &planned, cafe, log).await?;
    write_sales(tx, &planned, placeholder_cashier, &gone, cafe).await?;
    number_days(tx, &planned).await?;
    Ok(t)
}

/// One deleted product of ours per name that lines of products Django no
/// longer has were sold under, made once (a later run reuses it): it
/// carries those lines (ours need a product) and is never for sale.
async fn gone_products(
    tx: &mut PgConnection,
    planned: &[PlannedSale],
    cafe: Option<i64>,
    log: &mut Log,
) -> Result<HashMap<String, Uuid>, ImportError> {
    // The name, and the last price it was sold at.
    let mut wanted: Vec<(String, Decimal)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for line in planned.iter().flat_map(|s| &s.lines) {
        if let ProductRef::Gone(name) = &line.product {
            match at.get(name) {
                Some(i) => wanted[*i].1 = line.unit_price,
                None => {
                    at.insert(name.clone(), wanted.len());
                    wanted.push((name.clone(), line.unit_price));
                }
            }
        }
    }
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let mut map = imported(tx, "placeholder_product", &names).await?;
    let missing: Vec<(String, Decimal)> = wanted
        .into_iter()
        .filter(|(n, _)| !map.contains_key(n))
        .collect();
    let int_ids = fresh_ids(tx, "products", missing.len()).await?;
    let mut mapping = Vec::new();
    for ((name, price), int_id) in missing.into_iter().zip(int_ids) {
        let id = Uuid::now_v7();
        let shown = if name.trim().is_empty() {
            "Deleted product".to_string()
        } else {
            rules::clip(&name, 200).0
        };
        sqlx::query!(
            "INSERT INTO products (id, int_id, name, description, price, cost, stock, is_active,
                                   deleted_at)
             VALUES ($1, $2, $3, 'Deleted in Django; kept for the imported sales that sold it.',
                     $4, 0, 0, false, now())",
            id,
            int_id,
            shown,
            price
        )
        .execute(&mut *tx)
        .await?;
        log.made.push(format!(
            "a deleted product {shown:?} for the lines sold under that name whose product \
             Django no longer has"
        ));
        mapping.push((name.clone(), id));
        map.insert(name, id);
    }
    remember(tx, "placeholder_product", &mapping, cafe).await?;
    Ok(map)
}

async fn write_sales(
    tx: &mut PgConnection,
    planned: &[PlannedSale],
    placeholder_cashier: Option<Uuid>,
    gone: &HashMap<String, Uuid>,
    cafe: Option<i64>,
) -> Result<(), ImportError> {
    let mut mapping = Vec::with_capacity(planned.len());
    for chunk in planned.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let cashier = |s: &PlannedSale| {
            s.cashier
                .or(placeholder_cashier)
                .expect("a placeholder cashier for sales without one")
        };
        sqlx::query!(
            "INSERT INTO sales (id, int_id, transaction_no, cashier_id, customer_name, notes,
                                order_type, payment_method, subtotal, discount, tax,
                                takeaway_charge, total, paid_amount, change_amount, occurred_at,
                                created_at, preparation)
             SELECT x.id, x.int_id, x.no, x.cashier, x.customer, x.notes, x.order_type,
                    x.payment, x.subtotal, x.discount, x.tax, x.takeaway, x.total, x.paid,
                    x.change, x.at, x.at, CASE WHEN x.preparing THEN 'processing' END
             FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::numeric[], $10::numeric[], $11::numeric[],
                         $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[],
                         $16::timestamptz[], $17::bool[])
                  AS x(id, int_id, no, cashier, customer, notes, order_type, payment, subtotal,
                       discount, tax, takeaway, total, paid, change, at, preparing)",
            &ids,
            &chunk.iter().map(|s| s.int_id).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.number.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(cashier).collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|s| s.customer_name.clone())
                .collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.notes.clone()).collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|s| s.order_type.to_string())
                .collect::<Vec<_>>(),
            &chunk
                .iter()
                .map(|s| s.payment_method.to_string())
                .collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.subtotal).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.discount).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.tax).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.takeaway).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.total).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.paid).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.amounts.change).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.occurred_at).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.preparing).collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;

        let mut l = LineColumns::default();
        for (sale, sale_id) in chunk.iter().zip(&ids) {
            for (i, line) in sale.lines.iter().enumerate() {
                let (product, sku, cost) = match &line.product {
                    ProductRef::Ours(p) => (p.id, p.sku.clone(), p.cost),
                    ProductRef::Gone(name) => (gone[name], None, Decimal::ZERO),
                };
                l.id.push(Uuid::now_v7());
                l.sale_id.push(*sale_id);
                l.line_no.push(i as i32 + 1);
                l.product_id.push(product);
                l.product_name.push(line.product_name.clone());
                l.sku.push(sku);
                l.unit_price.push(line.unit_price);
                l.unit_cost.push(cost);
                l.quantity.push(line.quantity);
                l.total.push(line.total);
                l.note.push(line.note.clone());
            }
            mapping.push((sale.django_id.to_string(), *sale_id));
        }
        for start in (0..l.id.len()).step_by(CHUNK) {
            let r = start..(start + CHUNK).min(l.id.len());
            sqlx::query!(
                "INSERT INTO sale_lines (id, sale_id, line_no, product_id, product_name, sku,
                                         unit_price, unit_cost, quantity, line_total, note)
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[], $5::text[],
                                      $6::text[], $7::numeric[], $8::numeric[], $9::int[],
                                      $10::numeric[], $11::text[])",
                &l.id[r.clone()],
                &l.sale_id[r.clone()],
                &l.line_no[r.clone()],
                &l.product_id[r.clone()],
                &l.product_name[r.clone()],
                &l.sku[r.clone()] as &[Option<String>],
                &l.unit_price[r.clone()],
                &l.unit_cost[r.clone()],
                &l.quantity[r.clone()],
                &l.total[r.clone()],
                &l.note[r],
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    remember(tx, "sale", &mapping, cafe).await?;
    Ok(())
}

#[derive(Default)]
struct LineColumns {
    id: Vec<Uuid>,
    sale_id: Vec<Uuid>,
    line_no: Vec<i32>,
    product_id: Vec<Uuid>,
    product_name: Vec<String>,
    sku: Vec<Option<String>>,
    unit_price: Vec<Decimal>,
    unit_cost: Vec<Decimal>,
    quantity: Vec<i32>,
    total: Vec<Decimal>,
    note: Vec<String>,
}

/// Our checkout numbers a day's sales `TRX-<day>-<n>` with n counted from
/// the day's `sale_days.first_seq` (see sales::checkout). For every day
/// with an imported number, move that base back so that the next number
/// of the day comes after the largest imported one: numbers never meet.
async fn number_days(tx: &mut PgConnection, planned: &[PlannedSale]) -> Result<(), ImportError> {
    let mut max: HashMap<NaiveDate, i64> = HashMap::new();
    for s in planned {
        if let Some((day, n)) = rules::parse_number(&s.number) {
            let m = max.entry(day).or_default();
            *m = (*m).max(n);
        }
    }
    if max.is_empty() {
        return Ok(());
    }
    let (days, last): (Vec<NaiveDate>, Vec<i64>) = max.into_iter().unzip();
    // Every later nextval() is above n0, so the day's next number is at
    // least n0 + 1 - first_seq + 1 = last + 1.
    sqlx::query!(
        "WITH n AS (SELECT nextval('sale_number_seq') AS n0)
         INSERT INTO sale_days (day, first_seq)
         SELECT d.day, n.n0 + 1 - d.last FROM unnest($1::date[], $2::bigint[]) AS d(day, last), n
         ON CONFLICT (day) DO UPDATE SET first_seq = LEAST(sale_days.first_seq, EXCLUDED.first_seq)",
        &days,
        &last
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
