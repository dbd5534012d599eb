//! Checkout: the heart of the till. Every line is priced from the
//! database; one statement (`checkout_write`, migration 16) takes the stock
//! of every line (all or none), numbers the sale, writes the ledger, the
//! header, the lines and the idempotency record.
//!
//! Round trips are few on purpose (an unlocked read, then that statement in
//! autocommit): every one costs CPU on both ends, and both ends share the
//! machine with every other checkout. So a retry is recognised by the read
//! itself, not by a lookup of its own before every sale. Product row locks
//! are taken last, inside the statement, so a hot product is held only
//! from its decrement to the commit, not while the server prices the cart.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Cashier, OrderType, PaymentMethod, Preparation, Sale, SaleLine};
use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::payments::{self, Collect};
use crate::validate::Check;

/// Most lines one sale may have.
pub const MAX_LINES: usize = 200;
/// Most units of one line: far above a real basket, far below overflow.
pub const MAX_QUANTITY: i32 = 10_000;
/// How far an offline sale's `occurred_at` may lie in the past / future.
pub const MAX_OFFLINE_AGE: Duration = Duration::days(30);
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct CartLine {
    pub product_id: Uuid,
    #[schema(example = 2)]
    pub quantity: i32,
    #[serde(default)]
    #[schema(example = "less sugar")]
    pub note: String,
}

/// A sale as the till sends it. Prices come from the database; a price in
/// the request is ignored.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct CheckoutRequest {
    /// Lines of one product may repeat (with different notes, say): each
    /// stays its own line, and stock is checked for their sum.
    pub items: Vec<CartLine>,
    #[serde(default)]
    pub customer_name: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub order_type: OrderType,
    /// On the whole sale, before tax.
    pub discount: Option<Money>,
    pub payment_method: PaymentMethod,
    /// Defaults to the total; below the total is refused.
    pub paid_amount: Option<Money>,
    /// When an offline sale happened; defaults to now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A known customer, by id; or `customer_phone`, in any local form
    /// (found, or made with `customer_name`). Not both.
    pub customer_id: Option<Uuid>,
    #[schema(example = "0812-3456-7890")]
    pub customer_phone: Option<String>,
    /// Packaging for a take-away order: added to the total, untaxed.
    /// Only a `take_away` order carries one.
    pub takeaway_charge: Option<Money>,
    /// The tax rate (0..1) the till applied, in place of the store's
    /// `tax_rate` setting. Not on the v1 wire: the v0 adapter sets it from
    /// the app's `tax_percentage`, which the app's total already includes.
    #[serde(skip)]
    pub tax_rate: Option<Decimal>,
    /// The total the till showed the customer: the sale is refused, and
    /// nothing written, unless the catalog's prices come to it (to the
    /// cent: the app sums doubles). Not on the v1 wire, which answers the
    /// total instead.
    #[serde(skip)]
    pub expected_total: Option<Decimal>,
    /// How a QRIS or transfer sale will be paid: decided by
    /// `payments::checkout`, which is the way in for such sales.
    #[serde(skip)]
    pub collect: Option<Collect>,
}

/// The canonical fingerprint of a request body: same JSON (whatever the
/// key order and spacing) gives the same hash.
pub fn request_hash(body: &serde_json::Value) -> Vec<u8> {
    // serde_json's maps are sorted, so this text is canonical.
    Sha256::digest(body.to_string().as_bytes()).to_vec()
}

struct Checked {
    customer_name: String,
    customer_phone: Option<String>,
    notes: String,
    lines: Vec<(Uuid, i32, String)>,
    occurred_at: DateTime<Utc>,
}

impl Checked {
    /// Units wanted per product, in id order: the order a sale takes stock
    /// in, so carts sharing products queue instead of deadlocking.
    fn units_wanted(&self) -> BTreeMap<Uuid, i64> {
        let mut wanted: BTreeMap<Uuid, i64> = BTreeMap::new();
        for (id, qty, _) in &self.lines {
            *wanted.entry(*id).or_default() += i64::from(*qty);
        }
        wanted
    }
}

fn check(req: &CheckoutRequest, now: DateTime<Utc>) -> ApiResult<Checked> {
    let mut c = Check::new();
    if req.items.is_empty() {
        c.add("items", "A sale needs at least one line.");
    }
    if req.items.len() > MAX_LINES {
        c.add(
            "items",
            format!("A sale may have at most {MAX_LINES} lines."),
        );
    }
    let mut lines = Vec::with_capacity(req.items.len());
    for (i, line) in req.items.iter().enumerate() {
        if line.quantity < 1 || line.quantity > MAX_QUANTITY {
            c.add(
                &format!("items[{i}].quantity"),
                format!("Must be between 1 and {MAX_QUANTITY}."),
            );
        }
        let note = c.text(&format!("items[{i}].note"), &line.note, 0, 200);
        lines.push((line.product_id, line.quantity, note));
    }
    let customer_name = c.text("customer_name", &req.customer_name, 0, 200);
    let customer_phone = req.customer_phone.as_deref().and_then(|p| {
        let phone = crate::customers::normalise_phone(p);
        if phone.is_none() {
            c.add(
                "customer_phone",
                "Must be an Indonesian phone number, such as 0812-3456-7890.",
            );
        }
        phone
    });
    if req.customer_id.is_some() && req.customer_phone.is_some() {
        c.add(
            "customer_id",
            "Send customer_id or customer_phone, not both.",
        );
    }
    let notes = c.text("notes", &req.notes, 0, 1000);
    if req.takeaway_charge.is_some_and(|c| c != Money::ZERO)
        && req.order_type != OrderType::TakeAway
    {
        c.add(
            "takeaway_charge",
            "Only a take_away order carries a take-away charge.",
        );
    }
    if let Some(rate) = req.tax_rate
        && (rate.is_sign_negative() || rate > Decimal::ONE)
    {
        c.add("tax_rate", "Must be between 0 and 1.");
    }
    if req.collect.is_some() && req.occurred_at.is_some() {
        c.add(
            "occurred_at",
            "A QRIS or transfer sale is paid now: it cannot be recorded for an earlier time.",
        );
    }
    let occurred_at = req.occurred_at.unwrap_or(now);
    if occurred_at > now + MAX_CLOCK_SKEW {
        c.add("occurred_at", "Must not be in the future.");
    } else if occurred_at < now - MAX_OFFLINE_AGE {
        c.add("occurred_at", "Must be within the last 30 days.");
    }
    c.finish()?;
    Ok(Checked {
        customer_name,
        customer_phone,
        notes,
        lines,
        occurred_at,
    })
}

/// Half-up to whole cents, as receipts round.
pub fn round_money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

pub struct Totals {
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub takeaway_charge: Decimal,
    pub total: Decimal,
    pub paid: Decimal,
    pub change: Decimal,
}

/// The sale's arithmetic: tax on (subtotal - discount), half-up to cents,
/// then the (untaxed) take-away charge.
pub fn totals(
    subtotal: Decimal,
    discount: Decimal,
    tax_rate: Decimal,
    takeaway_charge: Decimal,
    paid: Option<Decimal>,
) -> ApiResult<Totals> {
    if discount > subtotal {
        return Err(ApiError::field(
            "discount",
            format!("Must not exceed the subtotal ({subtotal})."),
        ));
    }
    let taxable = subtotal - discount;
    let tax = round_money(taxable * tax_rate);
    let total = taxable + tax + takeaway_charge;
    let paid = paid.unwrap_or(total);
    if paid < total {
        return Err(ApiError::field(
            "paid_amount",
            format!("Must be at least the total ({total})."),
        ));
    }
    if total > Decimal::new(99_999_999_999_999, 2) {
        return Err(ApiError::field("items", "The sale's total is too large."));
    }
    Ok(Totals {
        subtotal,
        discount,
        tax,
        takeaway_charge,
        total,
        paid,
        change: paid - total,
    })
}

/// What an earlier attempt with the same key left.
pub enum Replay {
    /// Same body: answer what was answered then.
    Same(serde_json::Value),
    /// Another body under the same key.
    Mismatch,
}

pub async fn find_replay(
    conn: &mut PgConnection,
    user_id: Uuid,
    key: Uuid,
    hash: &[u8],
) -> sqlx::Result<Option<Replay>> {
    let row = sqlx::query!(
        "SELECT request_hash, response FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        user_id,
        key
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        if r.request_hash == hash {
            Replay::Same(r.response)
        } else {
            Replay::Mismatch
        }
    }))
}

pub struct Idempotency {
    pub key: Uuid,
    pub hash: Vec<u8>,
}

/// Outcome of [`checkout`]: a new sale, or the stored answer of a retry.
pub enum Outcome {
    Created(Box<Sale>),
    Replayed(serde_json::Value),
}

pub async fn checkout(
    conn: &mut PgConnection,
    user_id: Uuid,
    req: CheckoutRequest,
    idempotency: Option<Idempotency>,
) -> ApiResult<Outcome> {
    let result = sell(conn, user_id, &req, idempotency.as_ref()).await;
    let Some(key) = idempotency else {
        return result
            .map(|sale| Outcome::Created(sale.expect("only a key finds an earlier sale")));
    };
    if let Ok(Some(sale)) = result {
        return Ok(Outcome::Created(sale));
    }
    // A sale under this key committed before this attempt could make one.
    // Or this attempt failed, and may be the retry of a sale that took the
    // last units, or sold a product deleted since: the first answer stands.
    match find_replay(conn, user_id, key.key, &key.hash).await? {
        Some(Replay::Same(response)) => Ok(Outcome::Replayed(response)),
        Some(Replay::Mismatch) => Err(key_reused()),
        None => match result {
            Err(e) => Err(e),
            Ok(_) => Err(ApiError::internal("idempotency key vanished")),
        },
    }
}

/// How many times a sale is priced again when its products changed
/// between the read and the write (a price edit, a sale taking the last
/// units, a shift closed) before the till is told to try again.
const MAX_ATTEMPTS: u32 = 8;

/// One sale, or `Ok(None)` when a sale under the same idempotency key was
/// committed first: seen by the read (no extra round trip before it), or by
/// the key's primary key when both attempts ran at once.
///
/// Two round trips for a plain sale: an unlocked read of the cart's
/// products, the store and the cashier, then one statement
/// (`checkout_write`, migration 16) that writes the sale in autocommit and
/// takes the stock last, on the condition that nothing it was priced on
/// has changed; if something has (SQLSTATE KG409), it is read and priced
/// again. A sale with a customer or a payment to collect writes those in
/// the same transaction.
async fn sell(
    conn: &mut PgConnection,
    user_id: Uuid,
    req: &CheckoutRequest,
    idempotency: Option<&Idempotency>,
) -> ApiResult<Option<Box<Sale>>> {
    if req.payment_method.waits_for_payment() != req.collect.is_some() {
        return Err(ApiError::internal(
            "a QRIS or transfer sale is checked out through payments::checkout",
        ));
    }
    let now = Utc::now();
    let checked = check(req, now)?;

    let wanted = checked.units_wanted();
    let ids: Vec<Uuid> = wanted.keys().copied().collect();

    let mut attempt = 0;
    let mut expired_once = false;
    loop {
        attempt += 1;
        let rows = sqlx::query_as!(
            ProductRow,
            r#"SELECT p.id, p.name, p.sku, p.price, p.cost, p.stock, p.is_active, p.needs_preparation,
                      s.tax_rate AS "tax_rate!", s.timezone AS "timezone!",
                      s.payment_window_minutes AS "payment_window_minutes!",
                      s.sell_without_shift AS "sell_without_shift!",
                      u.username AS "username!", u.full_name AS "full_name!",
                      EXISTS (SELECT 1 FROM idempotency_keys k
                              WHERE k.user_id = $2 AND k.key = $3) AS "sold!",
                      (SELECT sh.id FROM shifts sh
                       WHERE sh.cashier_id = $2 AND sh.closed_at IS NULL) AS "shift_id?"
               FROM products p
               CROSS JOIN store_settings s
               CROSS JOIN users u
               WHERE p.id = ANY($1) AND p.deleted_at IS NULL AND u.id = $2
               ORDER BY p.id"#,
            &ids,
            user_id,
            idempotency.map(|i| i.key) as Option<Uuid>,
        )
        .fetch_all(&mut *conn)
        .await?;
        if rows.first().is_some_and(|r| r.sold) {
            return Ok(None);
        }
        let found: BTreeMap<Uuid, &ProductRow> = rows.iter().map(|r| (r.id, r)).collect();
        let priced = match price(req, &checked, &wanted, &found) {
            // Stock held by sales whose payment window has closed comes
            // back once they are expired: try once more after that.
            Err(e) if is_short(&e) && !expired_once && req.collect.is_none() => {
                expired_once = true;
                if payments::expire_overdue_on(conn, payments::CATCH_UP_LIMIT).await? > 0 {
                    continue;
                }
                return Err(e);
            }
            other => other?,
        };
        let Priced {
            lines,
            totals: t,
            preparation,
        } = priced;
        let first = rows.first().expect("at least one product was found");
        if !first.sell_without_shift && first.shift_id.is_none() {
            return Err(ApiError::ConflictWith {
                code: "no_open_shift",
                detail: "Open a shift before selling (the shop's settings require one).".into(),
                extra: Default::default(),
            });
        }
        let waiting = req.collect.is_some();
        // A pending sale goes to the kitchen once paid (pending::settle).
        let preparation = if waiting { None } else { preparation };
        let pending_until = req
            .collect
            .as_ref()
            .map(|c| now + Duration::minutes(i64::from(first.payment_window_minutes)) + c.grace());

        let sale_id = Uuid::now_v7();
        let mut sale = Sale {
            id: sale_id,
            int_id: 0,
            transaction_no: String::new(),
            status: if waiting { "pending" } else { "completed" }.into(),
            cashier: Cashier {
                id: user_id,
                username: first.username.clone(),
                full_name: first.full_name.clone(),
            },
            customer_name: checked.customer_name.clone(),
            notes: checked.notes.clone(),
            order_type: req.order_type,
            payment_method: req.payment_method,
            subtotal: money(t.subtotal)?,
            discount: money(t.discount)?,
            tax: money(t.tax)?,
            takeaway_charge: money(t.takeaway_charge)?,
            total: money(t.total)?,
            paid_amount: money(t.paid)?,
            change_amount: money(t.change)?,
            refunded_amount: Money::ZERO,
            preparation,
            prepared_at: None,
            occurred_at: checked.occurred_at,
            created_at: now,
            pending_until,
            settled_at: None,
            customer_id: None,
            shift_id: first.shift_id,
            items: lines,
            refunds: None,
            payment: None,
        };
        let write = Write {
            timezone: &first.timezone,
            wanted: &wanted,
            found: &found,
            // A pending sale's answer includes its payment: remembered
            // once the payment is written.
            idempotency: idempotency.filter(|_| !waiting),
        };
        // A customer or a payment is written with the sale, in one
        // transaction; a plain sale is the one statement.
        let result = if req.customer_id.is_none() && checked.customer_phone.is_none() && !waiting {
            write.run(&mut *conn, &sale).await
        } else {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sale.customer_id = crate::customers::for_sale(
                &mut tx,
                req.customer_id,
                checked.customer_phone.as_deref(),
                &checked.customer_name,
            )
            .await?;
            match write.run(&mut tx, &sale).await {
                Ok(numbered) => {
                    sale.transaction_no = numbered.0.clone();
                    sale.int_id = numbered.1;
                    let mut remembered = Ok(());
                    if let Some(collect) = &req.collect {
                        let expires_at =
                            pending_until.expect("a pending sale has a window") - collect.grace();
                        sale.payment = Some(
                            payments::record(&mut tx, sale_id, collect, t.paid, expires_at).await?,
                        );
                        if let Some(key) = idempotency {
                            remembered = remember(&mut tx, user_id, key, sale_id, &sale).await;
                        }
                    }
                    match remembered {
                        Ok(()) => tx.commit().await.map(|()| numbered),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        };
        match result {
            Ok((transaction_no, int_id)) => {
                sale.transaction_no = transaction_no;
                sale.int_id = int_id;
                return Ok(Some(Box::new(sale)));
            }
            // A concurrent attempt with the same key committed first: this
            // one is rolled back whole, and answers as a retry.
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("idempotency_keys_pkey") => {
                return Ok(None);
            }
            // Something the sale was priced on changed since the read:
            // nothing was written; read and price it again.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(CATALOG_CHANGED) => {
                if attempt < MAX_ATTEMPTS {
                    continue;
                }
                return Err(ApiError::ConflictWith {
                    code: "catalog_changed",
                    detail: "The products of this sale kept changing while it was rung up; nothing was sold. Try again.".into(),
                    extra: Default::default(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The SQLSTATE `checkout_write` raises when the cart's products (price,
/// cost, for sale, stock) or the cashier's open shift changed since the
/// read.
const CATALOG_CHANGED: &str = "KG409";

/// One call of `checkout_write` (migration 16): a sale, its lines, its
/// idempotency record, the stock taken and the ledger, in one statement.
#[derive(Clone, Copy)]
struct Write<'a> {
    timezone: &'a str,
    wanted: &'a BTreeMap<Uuid, i64>,
    found: &'a BTreeMap<Uuid, &'a ProductRow>,
    idempotency: Option<&'a Idempotency>,
}

impl Write<'_> {
    /// The sale's number and int_id.
    async fn run(self, conn: &mut PgConnection, sale: &Sale) -> sqlx::Result<(String, i64)> {
        let items = &sale.items;
        let products: Vec<&ProductRow> = self.wanted.keys().map(|id| self.found[id]).collect();
        let row = sqlx::query!(
            r#"SELECT transaction_no AS "transaction_no!", int_id AS "int_id!"
               FROM checkout_write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                   $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
                                   $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37)"#,
            sale.id,
            sale.cashier.id,
            self.timezone,
            sale.customer_name,
            sale.notes,
            sale.order_type.as_str(),
            sale.payment_method.as_str(),
            sale.subtotal.amount(),
            sale.discount.amount(),
            sale.tax.amount(),
            sale.total.amount(),
            sale.paid_amount.amount(),
            sale.change_amount.amount(),
            sale.occurred_at,
            sale.created_at,
            sale.takeaway_charge.amount(),
            sale.preparation.map(Preparation::as_str),
            sale.status,
            sale.pending_until,
            sale.customer_id,
            sale.shift_id,
            &items.iter().map(|l| l.id).collect::<Vec<_>>(),
            &items.iter().map(|l| l.product_id).collect::<Vec<_>>(),
            &items
                .iter()
                .map(|l| l.product_name.clone())
                .collect::<Vec<_>>(),
            &items
                .iter()
                .map(|l| l.sku.clone())
                .collect::<Vec<Option<String>>>() as &[Option<String>],
            &items
                .iter()
                .map(|l| l.unit_price.amount())
                .collect::<Vec<_>>(),
            &items
                .iter()
                .map(|l| self.found[&l.product_id].cost)
                .collect::<Vec<_>>(),
            &items.iter().map(|l| l.quantity).collect::<Vec<_>>(),
            &items
                .iter()
                .map(|l| l.line_total.amount())
                .collect::<Vec<_>>(),
            &items.iter().map(|l| l.note.clone()).collect::<Vec<_>>(),
            &self.wanted.keys().copied().collect::<Vec<_>>(),
            &self.wanted.values().map(|q| *q as i32).collect::<Vec<_>>(),
            &products.iter().map(|p| p.price).collect::<Vec<_>>(),
            &products.iter().map(|p| p.cost).collect::<Vec<_>>(),
            self.idempotency.map(|i| i.key),
            self.idempotency.map(|i| i.hash.clone()),
            // The answer a retry replays, written straight from the sale.
            sqlx::types::Json(sale) as _,
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok((row.transaction_no, row.int_id))
    }
}

/// The read's row: a product of the cart, with what the sale
/// needs of the store and the cashier.
struct ProductRow {
    id: Uuid,
    name: String,
    sku: Option<String>,
    price: Decimal,
    cost: Decimal,
    stock: i32,
    is_active: bool,
    needs_preparation: bool,
    tax_rate: Decimal,
    timezone: String,
    payment_window_minutes: i32,
    sell_without_shift: bool,
    username: String,
    full_name: String,
    sold: bool,
    shift_id: Option<Uuid>,
}

struct Priced {
    lines: Vec<SaleLine>,
    totals: Totals,
    preparation: Option<Preparation>,
}

/// Prices the cart from the products read: unknown, inactive or short
/// products refuse the sale.
fn price(
    req: &CheckoutRequest,
    checked: &Checked,
    wanted: &BTreeMap<Uuid, i64>,
    found: &BTreeMap<Uuid, &ProductRow>,
) -> ApiResult<Priced> {
    let mut c = Check::new();
    for (i, (id, _, _)) in checked.lines.iter().enumerate() {
        match found.get(id) {
            None => c.add(&format!("items[{i}].product_id"), "Unknown product."),
            Some(p) if !p.is_active => c.add(
                &format!("items[{i}].product_id"),
                "This product is not for sale.",
            ),
            Some(_) => {}
        }
    }
    c.finish()?;
    let short: Vec<serde_json::Value> = wanted
        .iter()
        .filter_map(|(id, want)| {
            let p = found[id];
            (i64::from(p.stock) < *want).then(
                || serde_json::json!({"product_id": id, "requested": want, "available": p.stock}),
            )
        })
        .collect();
    if !short.is_empty() {
        let mut extra = serde_json::Map::new();
        extra.insert("items".into(), serde_json::Value::Array(short));
        return Err(ApiError::ConflictWith {
            code: INSUFFICIENT_STOCK,
            detail: "Not enough stock for some items; nothing was sold.".into(),
            extra,
        });
    }
    let first = found
        .values()
        .next()
        .expect("at least one product was found");
    let mut lines = Vec::with_capacity(checked.lines.len());
    for (id, qty, note) in &checked.lines {
        let p = found[id];
        lines.push(SaleLine {
            id: Uuid::now_v7(),
            product_id: *id,
            product_name: p.name.clone(),
            sku: p.sku.clone(),
            quantity: *qty,
            unit_price: money(p.price)?,
            line_total: Money::new(p.price * Decimal::from(*qty))
                .map_err(|_| ApiError::field("items", "A line total is too large."))?,
            note: note.clone(),
            refunded_quantity: 0,
        });
    }
    let subtotal: Decimal = lines.iter().map(|l| l.line_total.amount()).sum();
    let waiting = req.collect.is_some();
    let mut t = totals(
        subtotal,
        req.discount.map(Money::amount).unwrap_or_default(),
        req.tax_rate.unwrap_or(first.tax_rate),
        req.takeaway_charge.map(Money::amount).unwrap_or_default(),
        if waiting {
            None
        } else {
            req.paid_amount.map(Money::amount)
        },
    )?;
    if waiting {
        // QRIS and transfers charge whole rupiah (payments' rule).
        t.paid = payments::charge_for(t.total);
        t.change = t.paid - t.total;
    }
    if let Some(shown) = req.expected_total
        && (shown - t.total).abs() > Decimal::new(1, 2)
    {
        return Err(ApiError::field(
            "total",
            format!(
                "The total {shown} does not match the current prices ({}); refresh the products and ring the sale up again.",
                t.total
            ),
        ));
    }
    // Made to order: the kitchen has it until it marks the sale done.
    let preparation = found
        .values()
        .any(|p| p.needs_preparation)
        .then_some(Preparation::Processing);
    Ok(Priced {
        lines,
        totals: t,
        preparation,
    })
}

const INSUFFICIENT_STOCK: &str = "insufficient_stock";

fn is_short(e: &ApiError) -> bool {
    matches!(e, ApiError::ConflictWith { code, .. } if *code == INSUFFICIENT_STOCK)
}

/// What the cart would cost now, without taking anything: a provider's
/// invoice is opened for it before the sale is written (which then checks
/// that it still costs that).
pub async fn quote(conn: &mut PgConnection, req: &CheckoutRequest) -> ApiResult<Decimal> {
    let now = Utc::now();
    let checked = check(req, now)?;
    let wanted = checked.units_wanted();
    let ids: Vec<Uuid> = wanted.keys().copied().collect();
    let rows = sqlx::query_as!(
        ProductRow,
        r#"SELECT p.id, p.name, p.sku, p.price, p.cost, p.stock, p.is_active, p.needs_preparation,
                  s.tax_rate AS "tax_rate!", s.timezone AS "timezone!",
                  s.payment_window_minutes AS "payment_window_minutes!",
                  true AS "sell_without_shift!",
                  '' AS "username!", '' AS "full_name!", false AS "sold!",
                  NULL::uuid AS "shift_id?"
           FROM products p CROSS JOIN store_settings s
           WHERE p.id = ANY($1) AND p.deleted_at IS NULL
           ORDER BY p.id"#,
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let found: BTreeMap<Uuid, &ProductRow> = rows.iter().map(|r| (r.id, r)).collect();
    let priced = price(req, &checked, &wanted, &found)?;
    Ok(priced.totals.total)
}

/// A pending sale's idempotency record, written once its payment is (the
/// replay answers the payment too). A concurrent attempt under the same
/// key that committed first shows as the key's primary key.
async fn remember(
    tx: &mut PgConnection,
    user_id: Uuid,
    key: &Idempotency,
    sale_id: Uuid,
    sale: &Sale,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, sale_id, response)
         VALUES ($1, $2, $3, $4, $5)",
        user_id,
        key.key,
        key.hash,
        sale_id,
        sqlx::types::Json(sale) as _,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn money(d: Decimal) -> ApiResult<Money> {
    Money::new(d).map_err(|e| ApiError::internal(format!("sale arithmetic: {e}")))
}

pub fn key_reused() -> ApiError {
    ApiError::UnprocessableIdempotencyKey(
        "This Idempotency-Key was used for a different request. Use a new key for a new sale."
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn tax_is_on_subtotal_minus_discount_half_up() {
        let t = totals(d("10000"), d("5000"), d("0.11"), d("0"), None).unwrap();
        assert_eq!(t.tax, d("550.00"));
        assert_eq!(t.total, d("5550.00"));
        // 0.125 rounds up to 0.13
        let t = totals(d("1.25"), d("0"), d("0.1"), d("0"), None).unwrap();
        assert_eq!(t.tax, d("0.13"));
        let t = totals(d("100"), d("0"), d("0"), d("0"), Some(d("150"))).unwrap();
        assert_eq!((t.total, t.change), (d("100"), d("50")));
    }

    #[test]
    fn the_takeaway_charge_is_added_untaxed() {
        // The app: total = subtotal + subtotal * 11% + takeaway.
        let t = totals(d("30000"), d("0"), d("0.11"), d("2000"), Some(d("50000"))).unwrap();
        assert_eq!(t.tax, d("3300.00"));
        assert_eq!(t.total, d("35300.00"));
        assert_eq!(t.change, d("14700.00"));
        assert!(
            totals(
                d("30000"),
                d("0"),
                d("0.11"),
                d("2000"),
                Some(d("35299.99"))
            )
            .is_err()
        );
    }

    #[test]
    fn refuses_bad_payment_and_discount() {
        assert!(totals(d("100"), d("100.01"), d("0"), d("0"), None).is_err());
        assert!(totals(d("100"), d("0"), d("0.11"), d("0"), Some(d("110.99"))).is_err());
        assert!(
            totals(d("100"), d("100"), d("0.11"), d("0"), None).is_ok(),
            "free sale"
        );
    }

    #[test]
    fn request_hash_ignores_key_order_and_spacing() {
        let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "b": [1, 2], "a": 1 }"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"a":2,"b":[1,2]}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(request_hash(&a), request_hash(&c));
    }
}
