//! `kasirgo seed-demo`: a small demo store (staff, categories, products,
//! three days of sales and a refund), written through the same domain code
//! the API uses, so the seeded data obeys every rule a real till's does.

use chrono::{Duration, Timelike, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::{categories, products};
use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::sales::checkout::{self, CartLine, CheckoutRequest, Outcome};
use crate::sales::refunds::{self, RefundRequest};
use crate::sales::{OrderType, PaymentMethod};
use crate::users;

pub const OWNER: (&str, &str) = ("owner", "kasirgo-demo");
pub const CASHIER: (&str, &str) = ("kasir", "kasirgo-demo");

/// (name, sku, price, cost, opening stock)
type Item = (&'static str, &'static str, i64, i64, i32);

/// Categories and their products.
const CATALOG: &[(&str, &[Item])] = &[
    (
        "Kopi",
        &[
            ("Kopi Susu Gula Aren", "KOP-001", 18_000, 7_000, 200),
            ("Americano", "KOP-002", 15_000, 5_000, 200),
            ("Cappuccino", "KOP-003", 22_000, 8_000, 150),
            ("Kopi Tubruk", "KOP-004", 10_000, 3_000, 150),
        ],
    ),
    (
        "Teh & Minuman",
        &[
            ("Es Teh Manis", "MIN-001", 6_000, 1_500, 300),
            ("Es Jeruk", "MIN-002", 9_000, 3_000, 200),
            ("Air Mineral 600ml", "MIN-003", 5_000, 2_500, 240),
        ],
    ),
    (
        "Makanan",
        &[
            ("Nasi Goreng Spesial", "MAK-001", 28_000, 12_000, 80),
            ("Mie Goreng", "MAK-002", 24_000, 10_000, 80),
            ("Ayam Geprek", "MAK-003", 25_000, 11_000, 60),
            ("Roti Bakar Cokelat", "MAK-004", 16_000, 6_000, 60),
        ],
    ),
    (
        "Camilan",
        &[
            ("Pisang Goreng", "CAM-001", 12_000, 4_000, 100),
            ("Kentang Goreng", "CAM-002", 15_000, 5_500, 100),
            ("Keripik Singkong", "CAM-003", 8_000, 3_500, 120),
        ],
    ),
];

const CUSTOMERS: &[&str] = &["", "Budi", "Siti", "Andi", "Dewi", "", "Rina", "Agus"];

/// What [`seed`] wrote.
#[derive(Debug, PartialEq, Eq)]
pub struct Seeded {
    pub categories: usize,
    pub products: usize,
    pub sales: usize,
    pub refunds: usize,
}

fn money(rupiah: i64) -> Money {
    Money::new(Decimal::from(rupiah)).expect("a whole, positive rupiah amount")
}

/// Seeds the demo store into an empty catalog; refuses (409) when products
/// exist, so it never mixes demo data into a real shop.
pub async fn seed(pool: &PgPool) -> ApiResult<Seeded> {
    let mut conn = pool.acquire().await?;
    let existing: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM products"#)
        .fetch_one(&mut *conn)
        .await?;
    if existing > 0 {
        return Err(ApiError::Conflict(
            "The catalog is not empty; seed-demo only seeds a new store.".into(),
        ));
    }
    let owner = match users::credentials_by_username(&mut *conn, OWNER.0).await? {
        Some(c) => c.user.id,
        None => {
            users::create_checked(&mut *conn, OWNER.0, OWNER.1, "owner")
                .await?
                .id
        }
    };
    let cashier = match users::credentials_by_username(&mut *conn, CASHIER.0).await? {
        Some(c) => c.user.id,
        None => {
            users::create_checked(&mut *conn, CASHIER.0, CASHIER.1, "cashier")
                .await?
                .id
        }
    };

    let mut ids: Vec<Uuid> = Vec::new();
    for (category, items) in CATALOG {
        let cat = categories::create(
            &mut *conn,
            categories::NewCategory {
                name: category.to_string(),
                description: String::new(),
            },
        )
        .await?;
        for (name, sku, price, cost, stock) in *items {
            let p = products::create(
                &mut conn,
                products::NewProduct {
                    sku: Some(sku.to_string()),
                    barcode: None,
                    name: name.to_string(),
                    description: String::new(),
                    category_id: Some(cat.id),
                    price: money(*price),
                    cost: Some(money(*cost)),
                    stock: *stock,
                    low_stock_threshold: 10,
                    is_active: true,
                    needs_preparation: false,
                    image_public_id: None,
                },
                owner,
            )
            .await?;
            ids.push(p.id);
        }
    }

    // Sales every 37 minutes back over three days, during opening hours
    // (08:00-22:00 in Jakarta), with a deterministic spread of carts.
    let now = Utc::now();
    // No QRIS or transfers: those wait for their money (pending) and are
    // rung up now, never back-dated.
    let methods = [
        PaymentMethod::Cash,
        PaymentMethod::Ewallet,
        PaymentMethod::Cash,
        PaymentMethod::Ewallet,
        PaymentMethod::Card,
    ];
    let mut sales = Vec::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut i = 1;
    while Duration::minutes(37 * i) < Duration::days(3) {
        let at = now - Duration::minutes(37 * i);
        i += 1;
        let local_hour = at.with_timezone(&chrono_tz::Asia::Jakarta).hour();
        if !(8..22).contains(&local_hour) {
            continue;
        }
        let lines = 1 + (next() % 3) as usize;
        let items = (0..lines)
            .map(|_| CartLine {
                product_id: ids[(next() % ids.len() as u64) as usize],
                quantity: 1 + (next() % 2) as i32,
                note: String::new(),
            })
            .collect();
        let n = next();
        let req = CheckoutRequest {
            items,
            customer_name: CUSTOMERS[(n % CUSTOMERS.len() as u64) as usize].to_string(),
            notes: String::new(),
            order_type: if n % 4 == 0 {
                OrderType::TakeAway
            } else {
                OrderType::DineIn
            },
            discount: None,
            payment_method: methods[(n % methods.len() as u64) as usize],
            paid_amount: None,
            occurred_at: Some(at),
            takeaway_charge: None,
            customer_id: None,
            customer_phone: None,
            tax_rate: None,
            expected_total: None,
            collect: None,
        };
        if let Outcome::Created(sale) = checkout::checkout(&mut conn, cashier, req, None).await? {
            sales.push(sale.id);
        }
    }

    let mut refunded = 0;
    if let Some(sale) = sales.get(3) {
        refunds::refund(
            &mut conn,
            RefundRequest {
                transaction_id: *sale,
                items: None,
                reason: "Pelanggan membatalkan pesanan".into(),
                restock: true,
            },
            owner,
        )
        .await?;
        refunded = 1;
    }
    Ok(Seeded {
        categories: CATALOG.len(),
        products: ids.len(),
        sales: sales.len(),
        refunds: refunded,
    })
}
