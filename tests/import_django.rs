//! `kasirgo import-django`: Django-shaped databases of both eras (the DDL
//! fixtures in tests/fixtures/) on the test server, with the rows Django
//! allowed and we do not (negative stock, duplicate numbers across cafes,
//! a deleted product that was sold, amounts that do not add up, unpaid
//! sales, roles old and new), imported through the library and through
//! the real binary; every rule, the report's sums, a second run, a dry
//! run, the `--cafe` choice, logins with Django hashes, the numbering of
//! later checkouts and the reports over imported days.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;

use axum::http::StatusCode;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::shop::staff;
use common::{TestApp, TestDb};
use kasirgo::import_django::{self, ImportError, Issue, Options, Report};
use rust_decimal::Decimal;
use serde_json::json;
use sha2::Sha256;
use sqlx::{Executor, PgPool, Row};
use uuid::Uuid;

const SEED_DDL: &str = include_str!("fixtures/django_c81f97b.sql");
const HEAD_DDL: &str = include_str!("fixtures/django_99a5a53.sql");
const WIB: chrono_tz::Tz = chrono_tz::Asia::Jakarta;
const CLOUD: &str = "demo-cloud";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&WIB).date_naive()
}

/// A WIB wall-clock time `days_ago` days back, as an instant.
fn wib(days_ago: i64, hh: u32, mm: u32) -> DateTime<Utc> {
    let local = (today() - Duration::days(days_ago))
        .and_hms_opt(hh, mm, 0)
        .unwrap();
    (local - Duration::hours(7)).and_utc()
}

/// Django's number for the `n`th sale of `at`'s UTC day.
fn django_number(at: DateTime<Utc>, n: u32) -> String {
    format!("TRX-{}-{n:03}", at.format("%Y%m%d"))
}

/// A Django `make_password` hash (pbkdf2_sha256).
fn django_hash(password: &str, iterations: u32) -> String {
    let salt = "s4ltS4ltS4lt";
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(out)
    )
}

/// A Django database of one era, filled through plain SQL as Django left it.
struct Django {
    db: TestDb,
    cafes: bool,
}

struct DjUser<'a> {
    username: &'a str,
    role: &'a str,
    superuser: bool,
    first: &'a str,
    last: &'a str,
    email: &'a str,
    phone: Option<&'a str>,
    active: bool,
    password: String,
    cafe: Option<i64>,
}

impl Default for DjUser<'_> {
    fn default() -> Self {
        DjUser {
            username: "",
            role: "cashier",
            superuser: false,
            first: "",
            last: "",
            email: "",
            phone: None,
            active: true,
            password: django_hash("password123", 1000),
            cafe: None,
        }
    }
}

struct DjProduct<'a> {
    id: i64,
    name: &'a str,
    price: &'a str,
    cost: &'a str,
    stock: i32,
    image: Option<&'a str>,
    available: bool,
    sku: Option<&'a str>,
    category: Option<i64>,
    prep: bool,
    cafe: i64,
}

impl Default for DjProduct<'_> {
    fn default() -> Self {
        DjProduct {
            id: 0,
            name: "",
            price: "0",
            cost: "0",
            stock: 0,
            image: None,
            available: true,
            sku: None,
            category: None,
            prep: true,
            cafe: 1,
        }
    }
}

struct DjSale<'a> {
    id: i64,
    number: String,
    subtotal: &'a str,
    tax: &'a str,
    discount: &'a str,
    total: &'a str,
    method: &'a str,
    paid: &'a str,
    change: &'a str,
    status: &'a str,
    notes: Option<&'a str>,
    at: DateTime<Utc>,
    cashier: Option<Uuid>,
    customer: Option<&'a str>,
    order_type: &'a str,
    takeaway: &'a str,
    cafe: i64,
    /// (product id, name, quantity, price, subtotal)
    items: Vec<(Option<i64>, &'a str, i32, &'a str, &'a str)>,
}

impl Default for DjSale<'_> {
    fn default() -> Self {
        DjSale {
            id: 0,
            number: String::new(),
            subtotal: "0",
            tax: "0",
            discount: "0",
            total: "0",
            method: "cash",
            paid: "0",
            change: "0",
            status: "completed",
            notes: None,
            at: Utc::now() - Duration::hours(1),
            cashier: None,
            customer: None,
            order_type: "dine_in",
            takeaway: "0",
            cafe: 1,
            items: Vec::new(),
        }
    }
}

impl Django {
    async fn new(cafes: bool) -> Django {
        let db = TestDb::empty().await;
        db.pool
            .execute(sqlx::raw_sql(if cafes { HEAD_DDL } else { SEED_DDL }))
            .await
            .expect("Django schema");
        Django { db, cafes }
    }

    fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    async fn cafe(&self, id: i64, name: &str) {
        sqlx::query(
            "INSERT INTO cafes (id, name, address, phone, created_at, updated_at)
             VALUES ($1, $2, 'Jl. Merdeka 1', '0000000000', now(), now())",
        )
        .bind(id)
        .bind(name)
        .execute(self.pool())
        .await
        .unwrap();
    }

    async fn user(&self, u: DjUser<'_>) -> Uuid {
        let id = Uuid::new_v4();
        let cafe_col = if self.cafes { ", cafe_id" } else { "" };
        let cafe_val = if self.cafes { ", $12" } else { "" };
        let sql = format!(
            "INSERT INTO users (password, last_login, is_superuser, username, first_name, last_name,
                                email, is_staff, date_joined, id, role, phone, is_active,
                                created_at, updated_at{cafe_col})
             VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, now() - interval '90 days', $8, $9, $10,
                     $11, now() - interval '90 days', now(){cafe_val})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&u.password)
            .bind(u.superuser)
            .bind(u.username)
            .bind(u.first)
            .bind(u.last)
            .bind(u.email)
            .bind(u.role == "admin" || u.role == "owner")
            .bind(id)
            .bind(u.role)
            .bind(u.phone)
            .bind(u.active);
        if self.cafes {
            q = q.bind(u.cafe);
        }
        q.execute(self.pool()).await.unwrap();
        id
    }

    async fn category(&self, id: i64, name: &str, cafe: i64) {
        let sql = if self.cafes {
            "INSERT INTO category (id, name, description, created_at, updated_at, cafe_id)
             VALUES ($1, $2, 'Django category', now(), now(), $3)"
        } else {
            "INSERT INTO category (id, name, description, created_at, updated_at)
             VALUES ($1, $2, 'Django category', now(), now())"
        };
        let mut q = sqlx::query(sql).bind(id).bind(name);
        if self.cafes {
            q = q.bind(cafe);
        }
        q.execute(self.pool()).await.unwrap();
    }

    async fn product(&self, p: DjProduct<'_>) {
        let (col, val) = if self.cafes {
            (", cafe_id", ", $12")
        } else {
            ("", "")
        };
        let sql = format!(
            "INSERT INTO product (id, name, description, price, cost, stock, image, is_available,
                                  sku, created_at, updated_at, category_id, needs_preparation{col})
             VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7, $8, $9,
                     now() - interval '60 days', now() - interval '1 day', $10, $11{val})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(p.id)
            .bind(p.name)
            .bind(format!("{} dari Django", p.name))
            .bind(p.price)
            .bind(p.cost)
            .bind(p.stock)
            .bind(p.image)
            .bind(p.available)
            .bind(p.sku)
            .bind(p.category)
            .bind(p.prep);
        if self.cafes {
            q = q.bind(p.cafe);
        }
        q.execute(self.pool()).await.unwrap();
    }

    async fn sale(&self, s: DjSale<'_>) {
        let (col, val) = if self.cafes {
            (", cafe_id", ", $17")
        } else {
            ("", "")
        };
        let sql = format!(
            r#"INSERT INTO "transaction" (id, transaction_number, subtotal, tax, discount, total,
                                          payment_method, paid_amount, change_amount, status, notes,
                                          created_at, updated_at, cashier_id, customer_name,
                                          order_type, takeaway_charge{col})
               VALUES ($1, $2, $3::numeric, $4::numeric, $5::numeric, $6::numeric, $7,
                       $8::numeric, $9::numeric, $10, $11, $12, $12, $13, $14, $15,
                       $16::numeric{val})"#
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s.id)
            .bind(&s.number)
            .bind(s.subtotal)
            .bind(s.tax)
            .bind(s.discount)
            .bind(s.total)
            .bind(s.method)
            .bind(s.paid)
            .bind(s.change)
            .bind(s.status)
            .bind(s.notes)
            .bind(s.at)
            .bind(s.cashier)
            .bind(s.customer)
            .bind(s.order_type)
            .bind(s.takeaway);
        if self.cafes {
            q = q.bind(s.cafe);
        }
        q.execute(self.pool()).await.unwrap();
        for (i, (product, name, qty, price, subtotal)) in s.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO transaction_item (id, product_name, quantity, price, subtotal, notes,
                                               created_at, product_id, transaction_id)
                 VALUES ($1, $2, $3, $4::numeric, $5::numeric, '', $6, $7, $8)",
            )
            .bind(s.id * 100 + i as i64)
            .bind(name)
            .bind(qty)
            .bind(price)
            .bind(subtotal)
            .bind(s.at)
            .bind(product)
            .bind(s.id)
            .execute(self.pool())
            .await
            .unwrap();
        }
    }

    async fn payment(&self, sale: i64, status: &str) {
        sqlx::query(
            "INSERT INTO payment (merchant_order_id, payment_method, amount, status, created_at,
                                  updated_at, transaction_id)
             VALUES ($1, 'SP', 5550, $2, now(), now(), $3)",
        )
        .bind(format!("PAY-{sale}"))
        .bind(status)
        .bind(sale)
        .execute(self.pool())
        .await
        .unwrap();
    }

    fn options(&self) -> Options {
        Options {
            from: self.db.url.clone(),
            cafe: None,
            dry_run: false,
            cloudinary_cloud: Some(CLOUD.into()),
        }
    }
}

/// The seed-era shop of most tests, and what it is expected to become.
struct Shop {
    django: Django,
    budi: Uuid,
    kasir: Uuid,
    /// The local days, and the largest imported number of each, of the
    /// sales numbered like ours (see `checkout_after_an_import_*`).
    numbered_days: BTreeMap<NaiveDate, i64>,
}

const BUDI_PASSWORD: &str = "rahasia-django-1";

async fn seed_shop() -> Shop {
    let dj = Django::new(false).await;
    let budi = dj
        .user(DjUser {
            username: "budi",
            role: "admin",
            first: "Budi",
            last: "Santoso",
            email: "budi@example.com",
            phone: Some("0812-1111"),
            // Django 5.2's own iteration count.
            password: django_hash(BUDI_PASSWORD, 1_000_000),
            ..DjUser::default()
        })
        .await;
    let sari = dj
        .user(DjUser {
            username: "sari",
            role: "manager",
            first: "Sari",
            ..DjUser::default()
        })
        .await;
    let kasir = dj
        .user(DjUser {
            username: "kasir1",
            role: "cashier",
            ..DjUser::default()
        })
        .await;
    let dewi = dj
        .user(DjUser {
            username: "dewi",
            role: "barista",
            ..DjUser::default()
        })
        .await;
    dj.user(DjUser {
        username: "root",
        role: "cashier",
        superuser: true,
        ..DjUser::default()
    })
    .await;
    // Already ours (made before the import): matched, not duplicated.
    dj.user(DjUser {
        username: "Owner",
        role: "admin",
        ..DjUser::default()
    })
    .await;
    dj.user(DjUser {
        username: "lama",
        active: false,
        ..DjUser::default()
    })
    .await;

    dj.category(1, "Minuman", 1).await;
    dj.category(2, "Makanan", 1).await;
    dj.category(3, "MINUMAN", 1).await;

    dj.product(DjProduct {
        id: 1,
        name: "Kopi Susu",
        price: "10000",
        cost: "6000",
        stock: 50,
        image: Some("media/products/kopi_a1b2c3"),
        sku: Some("KOPI"),
        category: Some(1),
        ..DjProduct::default()
    })
    .await;
    dj.product(DjProduct {
        id: 2,
        name: "Teh Manis",
        price: "5000",
        cost: "2000",
        stock: -3,
        image: Some("products/teh.jpg"),
        available: false,
        sku: Some("TEH"),
        category: Some(1),
        prep: false,
        ..DjProduct::default()
    })
    .await;
    dj.product(DjProduct {
        id: 3,
        name: "Roti Bakar",
        price: "2500",
        cost: "1000",
        stock: 0,
        available: false,
        category: Some(2),
        ..DjProduct::default()
    })
    .await;
    dj.product(DjProduct {
        id: 4,
        name: "Air Mineral",
        price: "4000",
        cost: "1500",
        stock: 10,
        available: false,
        sku: Some(""),
        prep: false,
        ..DjProduct::default()
    })
    .await;
    dj.product(DjProduct {
        id: 5,
        name: "Kopi Hitam",
        price: "8000",
        cost: "4000",
        stock: 20,
        sku: Some("kopi"),
        category: Some(1),
        ..DjProduct::default()
    })
    .await;

    // Three days ago (WIB): two paid sales, one pending, one cancelled.
    let at = wib(3, 10, 0);
    dj.sale(DjSale {
        id: 101,
        number: django_number(at, 1),
        subtotal: "22500",
        tax: "2475",
        total: "24975",
        paid: "30000",
        change: "5025",
        notes: Some("meja 4"),
        at,
        cashier: Some(kasir),
        customer: Some("Andi"),
        items: vec![
            (Some(1), "Kopi Susu", 2, "10000", "20000"),
            (Some(3), "Roti Bakar", 1, "2500", "2500"),
        ],
        ..DjSale::default()
    })
    .await;
    let at = wib(3, 11, 0);
    dj.sale(DjSale {
        id: 102,
        number: django_number(at, 2),
        subtotal: "10000",
        tax: "1100",
        total: "13100",
        method: "qris",
        paid: "13100",
        status: "processing",
        at,
        cashier: Some(budi),
        customer: Some("Guest"),
        order_type: "take_away",
        takeaway: "2000",
        items: vec![(Some(1), "Kopi Susu", 1, "10000", "10000")],
        ..DjSale::default()
    })
    .await;
    let at = wib(3, 12, 0);
    dj.sale(DjSale {
        id: 103,
        number: django_number(at, 3),
        subtotal: "5000",
        tax: "550",
        total: "5550",
        method: "qris",
        paid: "5550",
        status: "pending",
        at,
        cashier: Some(kasir),
        items: vec![(Some(2), "Teh Manis", 1, "5000", "5000")],
        ..DjSale::default()
    })
    .await;
    dj.payment(103, "pending").await;
    let at = wib(3, 13, 0);
    dj.sale(DjSale {
        id: 104,
        number: django_number(at, 4),
        subtotal: "2500",
        tax: "275",
        total: "2775",
        paid: "2775",
        status: "cancelled",
        at,
        cashier: Some(kasir),
        items: vec![(Some(3), "Roti Bakar", 1, "2500", "2500")],
        ..DjSale::default()
    })
    .await;

    // Two days ago: what Django allowed and we do not.
    let at = wib(2, 9, 0);
    dj.sale(DjSale {
        // No cashier (deleted), a product Django deleted, BCA VA.
        id: 105,
        number: django_number(at, 1),
        subtotal: "22000",
        tax: "2420",
        total: "24420",
        method: "bca va",
        paid: "24420",
        at,
        items: vec![
            (None, "Es Campur", 1, "12000", "12000"),
            (Some(2), "Teh Manis", 2, "5000", "10000"),
        ],
        ..DjSale::default()
    })
    .await;
    let at = wib(2, 10, 0);
    dj.sale(DjSale {
        // The total leaves out the tax; an unknown payment method.
        id: 106,
        number: django_number(at, 2),
        subtotal: "10000",
        tax: "1100",
        total: "10000",
        method: "gopay",
        paid: "10000",
        at,
        cashier: Some(sari),
        items: vec![(Some(1), "Kopi Susu", 1, "10000", "10000")],
        ..DjSale::default()
    })
    .await;
    let at = wib(2, 11, 0);
    dj.sale(DjSale {
        // Paid less than the total.
        id: 107,
        number: django_number(at, 3),
        subtotal: "5000",
        tax: "550",
        total: "5550",
        paid: "5000",
        at,
        cashier: Some(kasir),
        items: vec![(Some(2), "Teh Manis", 1, "5000", "5000")],
        ..DjSale::default()
    })
    .await;
    let at = wib(2, 12, 0);
    dj.sale(DjSale {
        // A line of no units, a line subtotal that is not price x quantity.
        id: 108,
        number: django_number(at, 4),
        subtotal: "16000",
        tax: "1760",
        total: "17760",
        paid: "20000",
        change: "2240",
        at,
        cashier: Some(dewi),
        items: vec![
            (Some(3), "Roti Bakar", 0, "2500", "0"),
            (Some(5), "Kopi Hitam", 2, "8000", "15000"),
        ],
        ..DjSale::default()
    })
    .await;

    // Numbers shaped like ours (Django's 1000th sale of a day and on) on
    // the local days around today, so a checkout lands on one of them.
    let mut numbered_days = BTreeMap::new();
    for (k, offset) in [-1i64, 0, 1].into_iter().enumerate() {
        let day = today() + Duration::days(offset);
        let n = 1000 + k as i64;
        numbered_days.insert(day, n);
        dj.sale(DjSale {
            id: 109 + k as i64,
            number: format!("TRX-{}-{n}", day.format("%Y%m%d")),
            subtotal: "2500",
            tax: "275",
            total: "2775",
            paid: "2775",
            at: Utc::now() - Duration::hours(3 - k as i64),
            cashier: Some(kasir),
            items: vec![(Some(3), "Roti Bakar", 1, "2500", "2500")],
            ..DjSale::default()
        })
        .await;
    }
    Shop {
        django: dj,
        budi,
        kasir,
        numbered_days,
    }
}

/// Our database, with the one account a fresh install has.
async fn ours() -> TestApp {
    let app = TestApp::new().await;
    sqlx::query("UPDATE store_settings SET tax_rate = 0.11, timezone = 'Asia/Jakarta'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    common::users::create_user(&app, "owner", "owner").await;
    app
}

async fn import(app: &TestApp, options: &Options) -> Report {
    match import_django::run(&app.db.pool, options).await {
        Ok(report) => report,
        Err(e) => panic!("import failed: {e}"),
    }
}

fn dec(row: &sqlx::postgres::PgRow, col: &str) -> Decimal {
    row.get::<Decimal, _>(col)
}

async fn one(pool: &PgPool, sql: &str) -> sqlx::postgres::PgRow {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn subjects(report: &Report, issue: Issue) -> Vec<String> {
    report
        .notices_of(issue)
        .iter()
        .map(|n| format!("{}: {}", n.subject, n.detail))
        .collect()
}

fn has(report: &Report, issue: Issue, needle: &str) {
    let all = subjects(report, issue);
    assert!(
        all.iter().any(|s| s.contains(needle)),
        "no {} notice with {needle:?} in {all:#?}\n{report}",
        issue.as_str()
    );
}

#[tokio::test]
async fn seed_era_import_applies_every_rule_and_adds_up() {
    let shop = seed_shop().await;
    let app = ours().await;
    let report = import(&app, &shop.django.options()).await;
    let pool = &app.db.pool;
    println!("{report}");
    assert!(report.balanced(), "{report}");
    assert!(
        report.source.contains("before the cafes"),
        "{}",
        report.source
    );

    // Both sides, after the listed adjustments.
    let m = |name: &str| {
        let m = report.measure(name);
        (m.django, m.earlier, m.skipped, m.adjusted, m.ours)
    };
    let z = Decimal::ZERO;
    assert_eq!(m("users"), (d("7"), z, z, z, d("7")));
    assert_eq!(m("categories"), (d("3"), z, z, z, d("3")));
    assert_eq!(m("products"), (d("5"), z, z, z, d("5")));
    assert_eq!(m("sales"), (d("11"), z, d("2"), z, d("9")));
    // 14 items: 2 of the unpaid sales, 1 of no units.
    assert_eq!(m("lines"), (d("14"), z, d("3"), z, d("11")));
    assert_eq!(m("quantity sold"), (d("16"), z, d("2"), z, d("14")));
    // 107 paid 5000 of its 5550.
    assert_eq!(
        m("sales total"),
        (d("112455"), z, d("8325"), d("-550"), d("103580"))
    );
    // Teh's -3 raised to 0.
    assert_eq!(m("stock"), (d("77"), z, z, d("3"), d("80")));
    let ours_total = dec(&one(pool, "SELECT sum(total) AS t FROM sales").await, "t");
    assert_eq!(ours_total, d("103580"));

    // Users: the Django hash as is, roles mapped, the existing one matched.
    /// role, full name, email, phone, active, password hash, id
    type U = (String, String, String, String, bool, String, Uuid);
    let users: BTreeMap<String, U> = sqlx::query(
        "SELECT username, role, full_name, email, phone, is_active, password_hash, id
             FROM users",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get::<String, _>(0),
            (
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            ),
        )
    })
    .collect();
    let budi = &users["budi"];
    assert_eq!(
        (&budi.0[..], &budi.1[..], &budi.2[..], &budi.3[..], budi.4),
        (
            "owner",
            "Budi Santoso",
            "budi@example.com",
            "0812-1111",
            true
        )
    );
    assert!(budi.5.starts_with("pbkdf2_sha256$1000000$"), "{}", budi.5);
    assert_eq!(budi.6, shop.budi, "the Django uuid is kept");
    assert_eq!(users["sari"].0, "manager");
    assert_eq!(users["kasir1"].0, "cashier");
    assert_eq!(users["dewi"].0, "cashier");
    assert_eq!(users["root"].0, "owner");
    assert!(!users["lama"].4, "inactive stays inactive");
    assert!(!users.contains_key("Owner"), "matched, not duplicated");
    assert!(
        users["owner"].5.starts_with("$argon2id$"),
        "the matched account keeps its own password"
    );
    has(&report, Issue::RoleUnknown, "\"barista\"");
    has(&report, Issue::RoleSuperuser, "user \"root\"");
    has(
        &report,
        Issue::UserMatched,
        "user \"Owner\": matched to our account \"owner\"",
    );
    // The account for sales without a cashier: inactive, no password.
    let (placeholder, active, hash): (String, bool, String) = sqlx::query_as(
        "SELECT u.username, u.is_active, u.password_hash FROM sales s JOIN users u ON u.id = s.cashier_id
         WHERE s.int_id = 105",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (&placeholder[..], active, &hash[..]),
        ("django-import", false, "!")
    );
    has(&report, Issue::NoCashier, "Django id 105");
    assert!(
        report.made.iter().any(|m| m.contains("django-import")),
        "{report}"
    );

    // Categories: ids kept, a duplicate name numbered.
    let cats: Vec<(i64, String)> =
        sqlx::query_as("SELECT int_id, name FROM categories ORDER BY int_id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        cats,
        vec![
            (1, "Minuman".to_string()),
            (2, "Makanan".to_string()),
            (3, "MINUMAN (2)".to_string())
        ]
    );
    has(&report, Issue::NameDuplicate, "\"MINUMAN (2)\"");

    // Products.
    type P = (
        i64,
        String,
        Decimal,
        Decimal,
        i32,
        bool,
        bool,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let products: Vec<P> = sqlx::query_as(
        "SELECT p.int_id, p.name, p.price, p.cost, p.stock, p.is_active, p.needs_preparation,
                p.sku, p.image_url, c.int_id
         FROM products p LEFT JOIN categories c ON c.id = p.category_id
         WHERE p.deleted_at IS NULL ORDER BY p.int_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let url = |id: &str| {
        Some(format!(
            "https://res.cloudinary.com/{CLOUD}/image/upload/v1/{id}"
        ))
    };
    assert_eq!(
        products,
        vec![
            (
                1,
                "Kopi Susu".into(),
                d("10000"),
                d("6000"),
                50,
                true,
                true,
                Some("KOPI".into()),
                url("media/products/kopi_a1b2c3"),
                Some(1)
            ),
            (
                2,
                "Teh Manis".into(),
                d("5000"),
                d("2000"),
                0,
                true,
                false,
                Some("TEH".into()),
                url("media/products/teh.jpg"),
                Some(1)
            ),
            (
                3,
                "Roti Bakar".into(),
                d("2500"),
                d("1000"),
                0,
                true,
                true,
                None,
                None,
                Some(2)
            ),
            (
                4,
                "Air Mineral".into(),
                d("4000"),
                d("1500"),
                10,
                false,
                false,
                None,
                None,
                None
            ),
            (
                5,
                "Kopi Hitam".into(),
                d("8000"),
                d("4000"),
                20,
                true,
                true,
                Some("kopi-2".into()),
                None,
                Some(1)
            ),
        ]
    );
    has(&report, Issue::StockNegative, "stock -3 -> 0");
    has(&report, Issue::SkuBlank, "Air Mineral");
    has(&report, Issue::SkuDuplicate, "\"kopi-2\"");
    has(&report, Issue::Unavailable, "Air Mineral");
    has(&report, Issue::ImageLegacy, "Teh Manis");
    // Stock as the ledger's opening count.
    let opening: Vec<(i64, i32, i32, String)> = sqlx::query_as(
        "SELECT p.int_id, m.delta, m.stock_after, m.kind FROM stock_movements m
         JOIN products p ON p.id = m.product_id ORDER BY p.int_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        opening,
        vec![
            (1, 50, 50, "opening".into()),
            (2, 0, 0, "opening".into()),
            (3, 0, 0, "opening".into()),
            (4, 10, 10, "opening".into()),
            (5, 20, 20, "opening".into())
        ]
    );

    // Sales: exactly, numbers and ids kept.
    type S = (
        String,
        String,
        String,
        String,
        Decimal,
        Decimal,
        Decimal,
        Decimal,
        Decimal,
        Decimal,
        Decimal,
        Option<String>,
        String,
        String,
        DateTime<Utc>,
    );
    let sales: BTreeMap<i64, S> = sqlx::query(
        "SELECT s.int_id, s.transaction_no, s.status, s.payment_method, s.order_type, s.subtotal,
                s.discount, s.tax, s.takeaway_charge, s.total, s.paid_amount, s.change_amount,
                s.preparation, s.customer_name, s.notes, s.occurred_at
         FROM sales s",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get::<i64, _>(0),
            (
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
                r.get(9),
                r.get(10),
                r.get(11),
                r.get(12),
                r.get(13),
                r.get(14),
                r.get(15),
            ),
        )
    })
    .collect();
    assert_eq!(
        sales.keys().copied().collect::<Vec<_>>(),
        vec![101, 102, 105, 106, 107, 108, 109, 110, 111],
        "pending and cancelled are not sales"
    );
    let s101 = &sales[&101];
    assert_eq!(s101.0, django_number(wib(3, 10, 0), 1));
    assert_eq!(
        (&s101.1[..], &s101.2[..], &s101.3[..]),
        ("completed", "cash", "dine_in")
    );
    assert_eq!(
        (s101.4, s101.5, s101.6, s101.7, s101.8, s101.9, s101.10),
        (
            d("22500"),
            d("0"),
            d("2475"),
            d("0"),
            d("24975"),
            d("30000"),
            d("5025")
        )
    );
    assert_eq!(
        (s101.11.as_deref(), &s101.12[..], &s101.13[..]),
        (None, "Andi", "meja 4")
    );
    assert_eq!(s101.14, wib(3, 10, 0));
    let s102 = &sales[&102];
    assert_eq!((&s102.2[..], &s102.3[..]), ("qris", "take_away"));
    assert_eq!((s102.7, s102.8), (d("2000"), d("13100")));
    assert_eq!(
        s102.11.as_deref(),
        Some("processing"),
        "the kitchen is still on it"
    );
    assert_eq!(sales[&105].2, "transfer", "bca va");
    assert_eq!(sales[&106].2, "cash");
    has(&report, Issue::PaymentUnknown, "\"gopay\"");
    let s106 = &sales[&106];
    assert_eq!(
        (s106.4, s106.5, s106.6, s106.8),
        (d("10000"), d("1100"), d("1100"), d("10000"))
    );
    has(&report, Issue::AmountsAdjusted, "discount 0.00 -> 1100.00");
    let s107 = &sales[&107];
    assert_eq!(
        (s107.5, s107.8, s107.9, s107.10),
        (d("550"), d("5000"), d("5000"), d("0"))
    );
    has(
        &report,
        Issue::AmountsAdjusted,
        "paid 5000.00 is less than the total 5550.00",
    );
    has(&report, Issue::SaleSkipped, "status pending");
    has(&report, Issue::SaleSkipped, "status cancelled");
    has(&report, Issue::PaymentsNotImported, "1 Duitku payment");

    // Lines: product by id, snapshots, price x quantity.
    type L = (
        i64,
        i32,
        String,
        Option<i64>,
        bool,
        Decimal,
        i32,
        Decimal,
        Decimal,
    );
    let lines: Vec<L> =
        sqlx::query_as(
            "SELECT s.int_id, l.line_no, l.product_name, p.int_id, p.deleted_at IS NOT NULL,
                    l.unit_price, l.quantity, l.line_total, l.unit_cost
             FROM sale_lines l JOIN sales s ON s.id = l.sale_id JOIN products p ON p.id = l.product_id
             WHERE s.int_id IN (101, 105, 108) ORDER BY s.int_id, l.line_no",
        )
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(
        (
            &lines[0].2[..],
            lines[0].3,
            lines[0].6,
            lines[0].7,
            lines[0].8
        ),
        ("Kopi Susu", Some(1), 2, d("20000"), d("6000"))
    );
    // The deleted product: a soft-deleted row of ours, never for sale.
    assert_eq!(
        (&lines[2].2[..], lines[2].4, lines[2].7),
        ("Es Campur", true, d("12000"))
    );
    let (name, active): (String, bool) =
        sqlx::query_as("SELECT name, is_active FROM products WHERE deleted_at IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((&name[..], active), ("Es Campur", false));
    has(&report, Issue::LineProductDeleted, "\"Es Campur\"");
    // 108: the line of no units is gone, the other is 2 x 8000.
    assert_eq!(
        (lines[4].1, &lines[4].2[..], lines[4].6, lines[4].7),
        (1, "Kopi Hitam", 2, d("16000"))
    );
    has(&report, Issue::LineDropped, "quantity 0");
    has(
        &report,
        Issue::LineTotalFixed,
        "subtotal 15000.00 -> 16000.00",
    );

    // Ids move on past Django's: our next rows never meet an imported id.
    let next: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT nextval(pg_get_serial_sequence('categories', 'int_id'))),
                (SELECT nextval(pg_get_serial_sequence('sales', 'int_id')))",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(next.0 > 3 && next.1 > 111, "{next:?}");

    // The report says all of it.
    let text = report.to_string();
    assert!(
        text.contains("Negative stock: 0 [stock_negative]: 1"),
        "{text}"
    );
    assert!(!text.contains("MISMATCH"), "{text}");
}

#[tokio::test]
async fn a_second_run_imports_nothing_twice() {
    let shop = seed_shop().await;
    let app = ours().await;
    let first = import(&app, &shop.django.options()).await;
    assert!(!first.nothing_new());
    let counts = "SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM categories) AS c,
                         (SELECT count(*) FROM products) AS p, (SELECT count(*) FROM sales) AS s,
                         (SELECT count(*) FROM sale_lines) AS l,
                         (SELECT count(*) FROM stock_movements) AS m,
                         (SELECT count(*) FROM django_imports) AS i,
                         (SELECT coalesce(sum(transactions), 0) FROM report_pending) AS r";
    let before: Vec<i64> = {
        let r = one(&app.db.pool, counts).await;
        (0..7).map(|i| r.get::<i64, _>(i)).collect()
    };

    let second = import(&app, &shop.django.options()).await;
    println!("{second}");
    assert!(second.balanced(), "{second}");
    assert!(second.nothing_new(), "{second}");
    assert!(second.to_string().contains("Nothing new to import"));
    let users = second.measure("users");
    assert_eq!((users.earlier, users.ours), (d("7"), d("0")));
    let sales = second.measure("sales");
    assert_eq!(
        (sales.earlier, sales.skipped, sales.ours),
        (d("9"), d("2"), d("0"))
    );
    assert_eq!(second.measure("stock").earlier, d("77"));
    let after: Vec<i64> = {
        let r = one(&app.db.pool, counts).await;
        (0..7).map(|i| r.get::<i64, _>(i)).collect()
    };
    assert_eq!(before, after, "nothing written twice");

    // A sale Django made since is picked up by a third run, alone.
    shop.django
        .sale(DjSale {
            id: 200,
            number: "TRX-20990101-001".into(),
            subtotal: "10000",
            tax: "1100",
            total: "11100",
            paid: "11100",
            cashier: Some(shop.kasir),
            items: vec![(Some(1), "Kopi Susu", 1, "10000", "10000")],
            ..DjSale::default()
        })
        .await;
    let third = import(&app, &shop.django.options()).await;
    assert!(third.balanced(), "{third}");
    assert_eq!(third.measure("sales").ours, d("1"));
    assert_eq!(third.measure("sales total").ours, d("11100"));
    assert_eq!(third.measure("products").ours, d("0"));
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_the_same() {
    let shop = seed_shop().await;
    let app = ours().await;
    let dry = import(
        &app,
        &Options {
            dry_run: true,
            ..shop.django.options()
        },
    )
    .await;
    assert!(dry.dry_run && dry.balanced(), "{dry}");
    assert!(dry.to_string().contains("DRY RUN"));
    let r = one(
        &app.db.pool,
        "SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM categories) AS c,
                (SELECT count(*) FROM products) AS p, (SELECT count(*) FROM sales) AS s,
                (SELECT count(*) FROM stock_movements) AS m, (SELECT count(*) FROM django_imports) AS i,
                (SELECT count(*) FROM sale_days) AS d, (SELECT count(*) FROM report_pending) AS r",
    )
    .await;
    let counts: Vec<i64> = (0..8).map(|i| r.get::<i64, _>(i)).collect();
    assert_eq!(counts, vec![1, 0, 0, 0, 0, 0, 0, 0], "only our own owner");

    let real = import(&app, &shop.django.options()).await;
    assert_eq!(dry.measures, real.measures);
    assert_eq!(dry.notices, real.notices);
    assert_eq!(dry.made, real.made);
}

#[tokio::test]
async fn an_imported_user_logs_in_with_the_django_password() {
    let shop = seed_shop().await;
    let app = ours().await;
    import(&app, &shop.django.options()).await;

    let wrong = app
        .post(
            "/api/auth/login",
            json!({"username": "budi", "password": "not-it-at-all"}),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    let body = common::users::login(&app, "budi", BUDI_PASSWORD).await;
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["user"]["id"], shop.budi.to_string());
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'budi'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "re-hashed at login: {hash}");
    // And again, now against the new hash.
    common::users::login(&app, "budi", BUDI_PASSWORD).await;
}

/// Figures of the paid Django sales of a WIB day, as Django's rows say.
async fn django_day(dj: &Django, day: NaiveDate) -> (i64, i64, Decimal, Decimal, Decimal, Decimal) {
    let r = sqlx::query(
        r#"SELECT count(*) AS n, coalesce(sum(subtotal), 0) AS gross,
                  coalesce(sum(discount), 0) AS discounts, coalesce(sum(tax), 0) AS tax,
                  (SELECT coalesce(sum(i.quantity), 0) FROM transaction_item i
                   JOIN "transaction" t2 ON t2.id = i.transaction_id
                   WHERE t2.status IN ('completed', 'processing')
                     AND (t2.created_at AT TIME ZONE 'Asia/Jakarta')::date = $1) AS items,
                  (SELECT coalesce(sum(i.quantity * p.cost), 0) FROM transaction_item i
                   JOIN "transaction" t2 ON t2.id = i.transaction_id
                   JOIN product p ON p.id = i.product_id
                   WHERE t2.status IN ('completed', 'processing')
                     AND (t2.created_at AT TIME ZONE 'Asia/Jakarta')::date = $1) AS cost
           FROM "transaction" t
           WHERE t.status IN ('completed', 'processing')
             AND (t.created_at AT TIME ZONE 'Asia/Jakarta')::date = $1"#,
    )
    .bind(day)
    .fetch_one(dj.pool())
    .await
    .unwrap();
    (
        r.get("n"),
        r.get("items"),
        r.get("gross"),
        r.get("discounts"),
        r.get("tax"),
        r.get("cost"),
    )
}

#[tokio::test]
async fn reports_over_imported_days_equal_the_django_sums() {
    let shop = seed_shop().await;
    let app = ours().await;
    let report = import(&app, &shop.django.options()).await;
    let (_, manager) = staff(&app, "manager").await;
    let day3 = today() - Duration::days(3);
    let day2 = today() - Duration::days(2);
    let r = app
        .get(
            &format!("/api/reports/daily?from={day3}&to={day2}"),
            Some(&manager),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = |i: usize, k: &str| {
        let f = &r.body["results"][i];
        d(f[k].as_str().unwrap_or_else(|| panic!("{k} in {f}")))
    };
    let row = |i: usize| -> (i64, i64, Decimal, Decimal, Decimal, Decimal) {
        let f = &r.body["results"][i];
        let m = |k: &str| m(i, k);
        (
            f["transactions"].as_i64().unwrap(),
            f["items_sold"].as_i64().unwrap(),
            m("gross_sales"),
            m("discounts"),
            m("tax"),
            m("cost_of_goods"),
        )
    };

    // Three days ago: only the two paid sales count, exactly as in Django.
    let django3 = django_day(&shop.django, day3).await;
    assert_eq!(django3, (2, 4, d("32500"), d("0"), d("3575"), d("19000")));
    assert_eq!(row(0), django3);
    // 102's take-away charge, counted since migration 12.
    assert_eq!(m(0, "takeaway_charges"), d("2000"));

    // Two days ago: Django's figures plus the adjustments the report lists
    // (106's and 107's totals were short by their tax: more discount), and
    // less the line of no units and the deleted product's unknown cost.
    let django2 = django_day(&shop.django, day2).await;
    let adjusted_discounts: Decimal = [("106", "1100"), ("107", "550")]
        .iter()
        .map(|(id, v)| {
            has(&report, Issue::AmountsAdjusted, &format!("Django id {id}"));
            d(v)
        })
        .sum();
    let ours2 = row(1);
    assert_eq!(ours2.0, django2.0);
    assert_eq!(ours2.1, django2.1, "the line of no units had 0 of them");
    assert_eq!(ours2.2, django2.2);
    assert_eq!(ours2.3, django2.3 + adjusted_discounts);
    assert_eq!(ours2.4, django2.4);
    // Django's cost sum skips the deleted product (no row): so does ours (0).
    assert_eq!(ours2.5, django2.5);
}

#[tokio::test]
async fn a_checkout_after_an_import_continues_the_imported_numbers() {
    let shop = seed_shop().await;
    let app = ours().await;
    import(&app, &shop.django.options()).await;
    let (_, cashier) = staff(&app, "cashier").await;
    let kopi: Uuid = sqlx::query_scalar("SELECT id FROM products WHERE int_id = 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let imported: Vec<String> = sqlx::query_scalar("SELECT transaction_no FROM sales")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();

    let mut last: Option<(NaiveDate, i64)> = None;
    for _ in 0..2 {
        let r = app
            .post(
                "/api/transactions",
                json!({"items": [{"product_id": kopi, "quantity": 1}], "payment_method": "cash"}),
                Some(&cashier),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let number = r.body["transaction_no"].as_str().unwrap().to_string();
        assert!(!imported.contains(&number), "{number} collides");
        let (day, n) = import_django::rules::parse_number(&number).expect("our format");
        // Whichever local day the checkout fell on (one around today),
        // its numbers come after the largest imported one of that day.
        let imported_max = shop.numbered_days[&day];
        match last {
            Some((d0, n0)) if d0 == day => assert_eq!(n, n0 + 1, "{number}"),
            _ => assert_eq!(n, imported_max + 1, "{number}"),
        }
        assert_eq!(number, format!("TRX-{}-{n:04}", day.format("%Y%m%d")));
        last = Some((day, n));
    }
}

/// A Django database of the cafes era with two cafes that share a
/// transaction number, a SKU and a category name.
async fn two_cafes() -> (Django, DateTime<Utc>) {
    let dj = Django::new(true).await;
    dj.cafe(1, "KasirGo HQ").await;
    dj.cafe(2, "Cabang Dua").await;
    let hq_owner = dj
        .user(DjUser {
            username: "hq_owner",
            role: "owner",
            cafe: Some(1),
            ..DjUser::default()
        })
        .await;
    let hq_staff = dj
        .user(DjUser {
            username: "hq_staff",
            role: "staff",
            cafe: Some(1),
            ..DjUser::default()
        })
        .await;
    dj.user(DjUser {
        username: "c2_owner",
        role: "owner",
        cafe: Some(2),
        ..DjUser::default()
    })
    .await;
    let c2_staff = dj
        .user(DjUser {
            username: "c2_staff",
            role: "staff",
            cafe: Some(2),
            ..DjUser::default()
        })
        .await;
    dj.user(DjUser {
        username: "super",
        role: "admin",
        superuser: true,
        ..DjUser::default()
    })
    .await;
    dj.category(1, "Minuman", 1).await;
    dj.category(2, "Minuman", 2).await;
    for (id, cafe) in [(1, 1), (2, 2)] {
        dj.product(DjProduct {
            id,
            name: "Kopi",
            price: "10000",
            cost: "5000",
            stock: 10,
            sku: Some("KOPI"),
            category: Some(id),
            cafe,
            ..DjProduct::default()
        })
        .await;
    }
    let at = wib(1, 9, 0);
    let sale = |id: i64, n: u32, cafe: i64, cashier: Uuid| DjSale {
        id,
        number: django_number(at, n),
        subtotal: "10000",
        tax: "1100",
        total: "11100",
        paid: "11100",
        at: at + Duration::minutes(id),
        cashier: Some(cashier),
        cafe,
        items: vec![(Some(cafe), "Kopi", 1, "10000", "10000")],
        ..DjSale::default()
    };
    dj.sale(sale(1, 1, 1, hq_staff)).await;
    dj.sale(sale(2, 1, 2, c2_staff)).await;
    // A cashier of cafe 2 who sold in cafe 1.
    dj.sale(sale(3, 2, 1, c2_staff)).await;
    dj.sale(sale(4, 2, 2, hq_owner)).await;
    (dj, at)
}

#[tokio::test]
async fn the_cafes_era_needs_a_cafe_and_suffixes_numbers_shared_across_cafes() {
    let (dj, at) = two_cafes().await;
    let app = ours().await;

    let refused = import_django::run(&app.db.pool, &dj.options()).await;
    match refused {
        Err(ImportError::Refused(msg)) => {
            assert!(msg.contains("2 cafes"), "{msg}");
            assert!(msg.contains("--cafe 1 \"KasirGo HQ\""), "{msg}");
            assert!(msg.contains("--cafe 2 \"Cabang Dua\""), "{msg}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match import_django::run(
        &app.db.pool,
        &Options {
            cafe: Some(3),
            ..dj.options()
        },
    )
    .await
    {
        Err(ImportError::Refused(msg)) => assert!(msg.contains("no cafe 3"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "a refusal writes nothing");

    let hq = import(
        &app,
        &Options {
            cafe: Some(1),
            ..dj.options()
        },
    )
    .await;
    println!("{hq}");
    assert!(hq.balanced(), "{hq}");
    assert!(hq.source.contains("cafe 1 \"KasirGo HQ\""), "{}", hq.source);
    // Its staff, the superuser (no cafe), and cafe 2's cashier of sale 3.
    assert_eq!(hq.measure("users").ours, d("4"));
    assert_eq!(hq.measure("sales").ours, d("2"));
    has(&hq, Issue::CashierFromElsewhere, "c2_staff");
    has(&hq, Issue::OtherCafe, "cafe 2 \"Cabang Dua\"");

    let c2 = import(
        &app,
        &Options {
            cafe: Some(2),
            ..dj.options()
        },
    )
    .await;
    println!("{c2}");
    assert!(c2.balanced(), "{c2}");
    let users = c2.measure("users");
    assert_eq!(
        (users.django, users.earlier, users.ours),
        (d("4"), d("3"), d("1"))
    );
    has(&c2, Issue::NameDuplicate, "\"Minuman (2)\"");
    has(&c2, Issue::SkuDuplicate, "\"KOPI-2\"");
    let first = django_number(at, 1);
    has(
        &c2,
        Issue::NumberChanged,
        &format!("{first} is already ours: {first}-C2"),
    );

    let numbers: Vec<(i64, String)> =
        sqlx::query_as("SELECT int_id, transaction_no FROM sales ORDER BY int_id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let second = django_number(at, 2);
    assert_eq!(
        numbers,
        vec![
            (1, first.clone()),
            (2, format!("{first}-C2")),
            (3, second.clone()),
            (4, format!("{second}-C2")),
        ]
    );
    let roles: BTreeMap<String, String> = sqlx::query_as("SELECT username, role FROM users")
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(roles["hq_owner"], "owner");
    assert_eq!(roles["hq_staff"], "cashier");
    assert_eq!(roles["c2_staff"], "cashier");
    assert_eq!(roles["super"], "owner");
    // Both cafes' products sell under their own ids.
    let skus: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT int_id, sku FROM products ORDER BY int_id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        skus,
        vec![(1, Some("KOPI".into())), (2, Some("KOPI-2".into()))]
    );
}

#[tokio::test]
async fn the_only_cafe_is_used_without_asking() {
    let dj = Django::new(true).await;
    dj.cafe(1, "KasirGo HQ").await;
    dj.category(1, "Makanan", 1).await;
    let app = ours().await;
    let report = import(&app, &dj.options()).await;
    assert!(report.source.contains("cafe 1"), "{}", report.source);
    assert_eq!(report.measure("categories").ours, d("1"));

    // And --cafe on a database without cafes is refused.
    let seed = Django::new(false).await;
    match import_django::run(
        &app.db.pool,
        &Options {
            cafe: Some(1),
            ..seed.options()
        },
    )
    .await
    {
        Err(ImportError::Refused(msg)) => assert!(msg.contains("no cafes"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn not_a_django_database_is_refused() {
    let app = ours().await;
    let other = TestDb::new().await;
    match import_django::run(
        &app.db.pool,
        &Options {
            from: other.url.clone(),
            ..Options::default()
        },
    )
    .await
    {
        Err(ImportError::Refused(msg)) => {
            assert!(msg.contains("not a KasirGo Django database"), "{msg}");
            assert!(msg.contains("table category"), "{msg}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn fractions_of_cents_are_rounded_half_up_and_listed() {
    let dj = Django::new(false).await;
    // A database whose money columns someone widened by hand.
    dj.pool()
        .execute(
            r#"ALTER TABLE "transaction" ALTER COLUMN tax TYPE numeric,
                                          ALTER COLUMN total TYPE numeric;
               ALTER TABLE product ALTER COLUMN price TYPE numeric"#,
        )
        .await
        .unwrap();
    dj.product(DjProduct {
        id: 1,
        name: "Kopi",
        price: "10000.005",
        stock: 5,
        ..DjProduct::default()
    })
    .await;
    dj.sale(DjSale {
        id: 1,
        number: "TRX-20251230-001".into(),
        subtotal: "10000",
        tax: "1100.005",
        total: "11100.005",
        paid: "11100.01",
        items: vec![(Some(1), "Kopi", 1, "10000", "10000")],
        ..DjSale::default()
    })
    .await;
    let app = ours().await;
    let report = import(&app, &dj.options()).await;
    assert!(report.balanced(), "{report}");
    has(&report, Issue::CentsRounded, "tax 1100.005 -> 1100.01");
    has(&report, Issue::CentsRounded, "price 10000.005 -> 10000.01");
    let total = report.measure("sales total");
    assert_eq!(
        (total.django, total.adjusted, total.ours),
        (d("11100.005"), d("0.005"), d("11100.01"))
    );
    let (tax, t, change): (Decimal, Decimal, Decimal) =
        sqlx::query_as("SELECT tax, total, change_amount FROM sales")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!((tax, t, change), (d("1100.01"), d("11100.01"), d("0")));
    // A cashier-less sale: the placeholder account.
    has(&report, Issue::NoCashier, "Django id 1");
}

#[tokio::test]
async fn an_older_django_schema_takes_djangos_backfill_values() {
    let dj = Django::new(false).await;
    dj.pool()
        .execute(
            r#"ALTER TABLE "transaction" DROP COLUMN customer_name, DROP COLUMN order_type,
                                         DROP COLUMN takeaway_charge;
               ALTER TABLE product DROP COLUMN needs_preparation"#,
        )
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO product (id, name, price, cost, stock, is_available, created_at, updated_at)
         VALUES (7, 'Kopi', 10000, 5000, 3, true, now(), now())",
    )
    .execute(dj.pool())
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO "transaction" (id, transaction_number, subtotal, tax, discount, total,
                                      payment_method, paid_amount, change_amount, status,
                                      created_at, updated_at)
           VALUES (1, 'TRX-20251201-001', 10000, 0, 0, 10000, 'ewallet', 10000, 0, 'completed',
                   now() - interval '1 day', now())"#,
    )
    .execute(dj.pool())
    .await
    .unwrap();
    let app = ours().await;
    let report = import(&app, &dj.options()).await;
    assert!(report.balanced(), "{report}");
    assert_eq!(report.notices_of(Issue::OlderSchema).len(), 4, "{report}");
    let (prep,): (bool,) = sqlx::query_as("SELECT needs_preparation FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(prep, "Django's 0008 backfilled True");
    let (order, takeaway, method): (String, Decimal, String) =
        sqlx::query_as("SELECT order_type, takeaway_charge, payment_method FROM sales")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (&order[..], takeaway, &method[..]),
        ("dine_in", d("0"), "ewallet")
    );
    has(&report, Issue::SaleWithoutLines, "Django id 1");
}

#[tokio::test]
async fn ids_already_used_by_our_rows_get_new_ones() {
    let dj = Django::new(false).await;
    dj.category(1, "Minuman", 1).await;
    dj.category(5, "Snack", 1).await;
    let app = ours().await;
    // A category of ours made before the import holds int_id 1.
    let (ours_id,): (i64,) =
        sqlx::query_as("INSERT INTO categories (name) VALUES ('Minuman') RETURNING int_id")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(ours_id, 1);
    let report = import(&app, &dj.options()).await;
    assert!(report.balanced(), "{report}");
    has(&report, Issue::IntIdTaken, "id 1 is one of our categories'");
    has(&report, Issue::NameDuplicate, "\"Minuman (2)\"");
    let cats: Vec<(i64, String)> =
        sqlx::query_as("SELECT int_id, name FROM categories ORDER BY int_id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(cats[0], (1, "Minuman".to_string()), "ours is untouched");
    assert_eq!(cats[1], (5, "Snack".to_string()));
    assert!(cats[2].0 > 5 && cats[2].1 == "Minuman (2)", "{cats:?}");
    // The second run does not take our own category 1 for Django's.
    let again = import(&app, &dj.options()).await;
    assert!(again.nothing_new(), "{again}");
}

#[tokio::test]
async fn images_are_not_kept_without_a_cloud_name() {
    let dj = Django::new(false).await;
    dj.product(DjProduct {
        id: 1,
        name: "Kopi",
        price: "10000",
        image: Some("media/products/kopi_a1b2c3"),
        ..DjProduct::default()
    })
    .await;
    let app = ours().await;
    let report = import(
        &app,
        &Options {
            cloudinary_cloud: None,
            ..dj.options()
        },
    )
    .await;
    has(&report, Issue::ImageDropped, "--cloudinary-cloud");
    has(&report, Issue::ImageDropped, "media/products/kopi_a1b2c3");
    let url: Option<String> = sqlx::query_scalar("SELECT image_url FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(url, None);
}

fn kasirgo(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kasirgo"))
        .arg("import-django")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("DATABASE_URL_UNPOOLED")
        .env_remove("CLOUDINARY_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kasirgo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_imports_and_prints_both_sides() {
    let (dj, _) = two_cafes().await;
    let app = ours().await;
    let target = app.db.url.clone();
    let from = dj.db.url.clone();

    let (ok, _, err) = kasirgo(&target, &["--from", &from]);
    assert!(!ok, "several cafes need --cafe");
    assert!(
        err.contains("--cafe 1 \"KasirGo HQ\"") && err.contains("--cafe 2"),
        "{err}"
    );

    let (ok, out, err) = kasirgo(&target, &["--from", &from, "--cafe", "1", "--dry-run"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("DRY RUN"), "{out}");
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sales, 0, "the dry run wrote nothing");

    let (ok, out, err) = kasirgo(
        &target,
        &["--from", &from, "--cafe", "1", "--cloudinary-cloud", CLOUD],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("kasirgo import-django: into "), "{out}");
    assert!(
        !out.contains(&from),
        "no credentials or source URL echoed: {out}"
    );
    for measure in [
        "users",
        "categories",
        "products",
        "sales",
        "lines",
        "sales total",
        "quantity sold",
        "stock",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(measure) && l.ends_with("ok"))
            .unwrap_or_else(|| panic!("no ok line for {measure} in\n{out}"));
        assert!(!line.contains("MISMATCH"), "{line}");
    }
    let sales_line = out.lines().find(|l| l.starts_with("sales ")).unwrap();
    assert!(
        sales_line.split_whitespace().collect::<Vec<_>>()[1..]
            == ["2", "0", "0", "0", "2", "2", "ok"],
        "{sales_line}"
    );
    let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM sales")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(sales, 2);

    let (ok, out, _) = kasirgo(&target, &["--from", &from, "--cafe", "1"]);
    assert!(ok && out.contains("Nothing new to import"), "{out}");
}

#[tokio::test]
async fn the_app_sees_the_imported_shop_as_django_served_it() {
    let shop = seed_shop().await;
    let app = ours().await;
    import(&app, &shop.django.options()).await;
    let (_, cashier) = staff(&app, "cashier").await;
    // History: a manager sees every sale (a cashier only their own).
    let (_, manager) = staff(&app, "manager").await;

    let r = app.get("/api/v0/products/", Some(&cashier)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let products: BTreeMap<i64, serde_json::Value> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p.clone()))
        .collect();
    assert_eq!(
        products.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5],
        "Django's ids; the deleted product is not listed"
    );
    let kopi = &products[&1];
    assert_eq!(kopi["price"], "10000.00");
    assert_eq!(kopi["category"], 1);
    assert_eq!(kopi["is_available"], true);
    assert_eq!(
        kopi["image"],
        format!("https://res.cloudinary.com/{CLOUD}/image/upload/v1/media/products/kopi_a1b2c3")
    );
    assert_eq!(
        products[&2]["is_available"], false,
        "out of stock, as in Django"
    );
    assert_eq!(products[&4]["is_available"], false, "withdrawn");

    let r = app
        .get("/api/v0/transaction/?page=1&page_size=50", Some(&manager))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sales: BTreeMap<i64, serde_json::Value> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_i64().unwrap(), s.clone()))
        .collect();
    assert_eq!(sales.len(), 9, "{}", r.text);
    let s102 = &sales[&102];
    assert_eq!(s102["transaction_number"], django_number(wib(3, 11, 0), 2));
    assert_eq!(s102["status"], "processing");
    assert_eq!(s102["total"], "13100.00");
    assert_eq!(s102["cashier_name"], "Budi Santoso");
    assert_eq!(s102["order_type"], "take_away");
    let s101 = &sales[&101];
    assert_eq!(s101["status"], "completed");
    assert_eq!(s101["customer_name"], "Andi");
    assert_eq!(s101["items"].as_array().unwrap().len(), 2);
    assert_eq!(s101["items"][0]["product_name"], "Kopi Susu");
    assert_eq!(s101["items"][0]["quantity"], 2);

    // The kitchen's list: the imported sale still being prepared.
    let r = app
        .get(
            "/api/v0/transaction/?page=1&page_size=50&status=processing",
            Some(&manager),
        )
        .await;
    let ids: Vec<i64> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![102], "{}", r.text);
}

#[tokio::test]
async fn an_unreachable_django_database_is_one_sentence_and_a_failure() {
    let app = ours().await;
    let dead = format!(
        "postgres://postgres@127.0.0.1:{}/kasirgo",
        common::free_port()
    );
    let (ok, out, err) = kasirgo(&app.db.url, &["--from", &dead]);
    assert!(!ok, "{out}");
    let text = err.trim();
    assert!(!text.is_empty() && text.lines().count() <= 2, "{err}");
    assert!(
        text.contains("127.0.0.1"),
        "names what it could not reach: {err}"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "nothing written beside our own owner");
}
