//! Shifts and the cash drawer. A cashier opens a shift with the cash in
//! the drawer, records pay-ins and pay-outs with a reason, and closes it
//! with the cash counted; the close answers what the drawer should hold:
//!
//!   expected = opening + cash sales - cash refunds + pay-ins - pay-outs
//!
//! counting only money taken (sale_counts: a pending or expired QRIS sale
//! is no cash). Every sale and refund records the shift open for its
//! cashier (checkout and refunds read it `FOR SHARE`). Closing takes the
//! shift's row `FOR UPDATE`, so it waits for the sales and refunds in
//! flight on that shift, and computes the figures after that, in new
//! statements that see them; a sale that comes after the close finds no
//! open shift. So the close is exact under concurrent sales. (Share locks
//! do not queue behind a waiting `FOR UPDATE`, so on a till selling
//! without pause the close waits for the first moment with no sale in
//! flight on that shift.)
//!
//! One open shift per cashier (a unique index). Closing is final; a
//! manager can reopen a shift with a reason, recorded with the close it
//! undid.

pub mod http;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::reports::Amount;
use crate::sales::{Cashier, PaymentMethod};
use crate::validate::Check;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shift {
    pub id: Uuid,
    pub cashier: Cashier,
    /// `open` or `closed`.
    #[schema(example = "open")]
    pub status: &'static str,
    pub opening_cash: Money,
    pub opened_at: DateTime<Utc>,
    pub note: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    /// At the close: what the drawer should have held (negative when more
    /// went out than was in it).
    #[schema(value_type = Option<String>, example = "270000.00")]
    pub expected_cash: Option<Amount>,
    pub counted_cash: Option<Money>,
    /// counted - expected: negative when the drawer is short.
    #[schema(value_type = Option<String>, example = "-5000.00")]
    pub difference: Option<Amount>,
    pub closing_note: String,
    /// The figures: up to now for an open shift, as closed for a closed one.
    pub report: ShiftReport,
    pub movements: Vec<CashMovement>,
    pub reopenings: Vec<Reopening>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftReport {
    pub opening_cash: Money,
    // The sums are Amounts, not Money: each sale, refund and movement is
    // bounded by what NUMERIC(14,2) holds, a shift's sums of them are not.
    #[schema(value_type = String, example = "150000.00")]
    pub cash_sales: Amount,
    #[schema(value_type = String, example = "0.00")]
    pub cash_refunds: Amount,
    #[schema(value_type = String, example = "0.00")]
    pub pay_ins: Amount,
    #[schema(value_type = String, example = "0.00")]
    pub pay_outs: Amount,
    /// What the drawer should hold now (open) or at the close.
    #[schema(value_type = String, example = "150000.00")]
    pub expected_cash: Amount,
    /// Paid sales of the shift by payment method (every method listed).
    pub by_payment_method: Vec<MethodTotal>,
    /// Refunds given in the shift (of any shift's sales).
    pub refunds: CountTotal,
    /// Sales of the shift refunded whole since (voided).
    pub voids: CountTotal,
    /// QRIS or transfer sales of the shift that expired or were cancelled
    /// unpaid, and those still waiting.
    pub unpaid_cancelled: CountTotal,
    pub pending: CountTotal,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodTotal {
    pub payment_method: PaymentMethod,
    pub transactions: i64,
    #[schema(value_type = String, example = "150000.00")]
    pub total: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountTotal {
    pub count: i64,
    #[schema(value_type = String, example = "0.00")]
    pub total: Amount,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CashMovement {
    pub id: Uuid,
    /// `pay_in` or `pay_out`.
    pub kind: String,
    pub amount: Money,
    pub reason: String,
    /// A pay-out larger than the drawer held at the time.
    pub flagged: bool,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reopening {
    pub reason: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub was_closed_at: DateTime<Utc>,
    pub was_counted_cash: Money,
    #[schema(value_type = String)]
    pub was_expected_cash: Amount,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenShift {
    /// The cash in the drawer at the start.
    pub opening_cash: Money,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 500
    )]
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseShift {
    /// The cash counted in the drawer.
    pub counted_cash: Money,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 500
    )]
    pub note: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    PayIn,
    PayOut,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMovement {
    pub kind: MovementKind,
    pub amount: Money,
    /// Why: "buying ice", "change from the bank".
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenShift {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
}

/// Who asks: a cashier reaches only their own shifts (others are "not
/// found"); a manager or owner reaches all.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: Uuid,
    pub all_shifts: bool,
}

fn not_found() -> ApiError {
    ApiError::not_found("Shift")
}

pub async fn open(conn: &mut PgConnection, actor: Actor, input: OpenShift) -> ApiResult<Shift> {
    let mut c = Check::new();
    let note = c.text("note", &input.note, 0, 500);
    c.finish()?;
    let id = sqlx::query_scalar!(
        "INSERT INTO shifts (cashier_id, opening_cash, note) VALUES ($1, $2, $3) RETURNING id",
        actor.user_id,
        input.opening_cash.amount(),
        note
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("shifts_one_open") => {
            ApiError::ConflictWith {
                code: "shift_already_open",
                detail: "You already have an open shift: close it before opening another.".into(),
                extra: Default::default(),
            }
        }
        _ => e.into(),
    })?;
    load(conn, id, actor).await
}

/// The caller's open shift.
pub async fn current(conn: &mut PgConnection, actor: Actor) -> ApiResult<Shift> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM shifts WHERE cashier_id = $1 AND closed_at IS NULL",
        actor.user_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::NotFound("You have no open shift.".into()))?;
    load(conn, id, actor).await
}

/// Pay-in or pay-out on an open shift: by its cashier, or a manager.
pub async fn move_cash(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    input: NewMovement,
) -> ApiResult<Shift> {
    let mut c = Check::new();
    let reason = c.text("reason", &input.reason, 1, 500);
    if input.amount == Money::ZERO {
        c.add("amount", "Must be more than zero.");
    }
    c.finish()?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let shift = lock_visible(&mut tx, id, actor, false).await?;
    if shift.closed {
        return Err(closed());
    }
    let drawer = figures(&mut tx, id, shift.opening_cash)
        .await?
        .expected_cash;
    let flagged = input.kind == MovementKind::PayOut && input.amount.amount() > drawer.0;
    sqlx::query!(
        "INSERT INTO cash_movements (shift_id, kind, amount, reason, flagged, user_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        match input.kind {
            MovementKind::PayIn => "pay_in",
            MovementKind::PayOut => "pay_out",
        },
        input.amount.amount(),
        reason,
        flagged,
        actor.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if flagged {
        tracing::warn!(shift_id = %id, amount = %input.amount, "a pay-out larger than the drawer");
    }
    load(conn, id, actor).await
}

fn closed() -> ApiError {
    ApiError::ConflictWith {
        code: "shift_closed",
        detail: "This shift is closed: a manager can reopen it.".into(),
        extra: Default::default(),
    }
}

/// Closes an open shift with the cash counted.
pub async fn close(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    input: CloseShift,
) -> ApiResult<Shift> {
    let mut c = Check::new();
    let note = c.text("note", &input.note, 0, 500);
    c.finish()?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // FOR UPDATE waits for the sales and refunds in flight on this shift.
    let shift = lock_visible(&mut tx, id, actor, true).await?;
    if shift.closed {
        return Err(closed());
    }
    let expected = figures(&mut tx, id, shift.opening_cash)
        .await?
        .expected_cash;
    sqlx::query!(
        "UPDATE shifts SET closed_at = now(), closed_by = $2, expected_cash = $3,
             counted_cash = $4, closing_note = $5
         WHERE id = $1",
        id,
        actor.user_id,
        expected.0,
        input.counted_cash.amount(),
        note
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    load(conn, id, actor).await
}

/// Reopens a closed shift (manager+), recording why and the close undone.
pub async fn reopen(
    conn: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    input: ReopenShift,
) -> ApiResult<Shift> {
    let mut c = Check::new();
    let reason = c.text("reason", &input.reason, 1, 500);
    c.finish()?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let shift = lock_visible(&mut tx, id, actor, true).await?;
    if !shift.closed {
        return Err(ApiError::ConflictWith {
            code: "shift_open",
            detail: "This shift is open.".into(),
            extra: Default::default(),
        });
    }
    sqlx::query!(
        "INSERT INTO shift_reopenings (shift_id, reason, user_id, was_closed_at,
                                       was_counted_cash, was_expected_cash)
         SELECT id, $2, $3, closed_at, counted_cash, expected_cash FROM shifts WHERE id = $1",
        id,
        reason,
        actor.user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE shifts SET closed_at = NULL, closed_by = NULL, expected_cash = NULL,
             counted_cash = NULL, closing_note = ''
         WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("shifts_one_open") => {
            ApiError::ConflictWith {
                code: "shift_already_open",
                detail: "Its cashier has another shift open: close that one first.".into(),
                extra: Default::default(),
            }
        }
        _ => e.into(),
    })?;
    tx.commit().await?;
    load(conn, id, actor).await
}

struct Locked {
    closed: bool,
    opening_cash: Decimal,
}

/// The shift, locked (FOR UPDATE to change its state, else FOR SHARE),
/// if the actor may reach it.
async fn lock_visible(
    tx: &mut PgConnection,
    id: Uuid,
    actor: Actor,
    exclusive: bool,
) -> ApiResult<Locked> {
    let row = if exclusive {
        sqlx::query!(
            "SELECT cashier_id, closed_at, opening_cash FROM shifts WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| (r.cashier_id, r.closed_at, r.opening_cash))
    } else {
        sqlx::query!(
            "SELECT cashier_id, closed_at, opening_cash FROM shifts WHERE id = $1 FOR SHARE",
            id
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| (r.cashier_id, r.closed_at, r.opening_cash))
    };
    match row {
        Some((cashier, closed_at, opening_cash))
            if actor.all_shifts || cashier == actor.user_id =>
        {
            Ok(Locked {
                closed: closed_at.is_some(),
                opening_cash,
            })
        }
        _ => Err(not_found()),
    }
}

/// The shift's figures from the raw rows.
async fn figures(
    conn: &mut PgConnection,
    id: Uuid,
    opening_cash: Decimal,
) -> ApiResult<ShiftReport> {
    let methods = sqlx::query!(
        r#"SELECT m.method AS "method!", coalesce(s.n, 0)::bigint AS "n!",
                  coalesce(s.total, 0) AS "total!"
           FROM unnest(ARRAY['cash', 'qris', 'card', 'transfer', 'ewallet']) WITH ORDINALITY
                AS m(method, i)
           LEFT JOIN (SELECT payment_method, count(*) AS n, sum(total) AS total FROM sales
                      WHERE shift_id = $1 AND sale_counts(status)
                      GROUP BY payment_method) s ON s.payment_method = m.method
           ORDER BY m.i"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let other = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM refunds WHERE shift_id = $1) AS "refunds!",
             (SELECT coalesce(sum(amount), 0) FROM refunds WHERE shift_id = $1) AS "refunded!",
             (SELECT coalesce(sum(r.amount), 0) FROM refunds r JOIN sales s ON s.id = r.sale_id
              WHERE r.shift_id = $1 AND s.payment_method = 'cash') AS "cash_refunds!",
             (SELECT coalesce(sum(amount), 0) FROM cash_movements
              WHERE shift_id = $1 AND kind = 'pay_in') AS "pay_ins!",
             (SELECT coalesce(sum(amount), 0) FROM cash_movements
              WHERE shift_id = $1 AND kind = 'pay_out') AS "pay_outs!",
             (SELECT count(*) FROM sales WHERE shift_id = $1 AND status = 'refunded') AS "voids!",
             (SELECT coalesce(sum(total), 0) FROM sales
              WHERE shift_id = $1 AND status = 'refunded') AS "voided!",
             (SELECT count(*) FROM sales
              WHERE shift_id = $1 AND status IN ('expired', 'cancelled')) AS "unpaid!",
             (SELECT coalesce(sum(total), 0) FROM sales
              WHERE shift_id = $1 AND status IN ('expired', 'cancelled')) AS "unpaid_total!",
             (SELECT count(*) FROM sales WHERE shift_id = $1 AND status = 'pending') AS "pending!",
             (SELECT coalesce(sum(total), 0) FROM sales
              WHERE shift_id = $1 AND status = 'pending') AS "pending_total!""#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    let cash_sales = methods
        .iter()
        .find(|r| r.method == "cash")
        .map(|r| r.total)
        .unwrap_or_default();
    let expected = opening_cash + cash_sales - other.cash_refunds + other.pay_ins - other.pay_outs;
    Ok(ShiftReport {
        opening_cash: Money::new(opening_cash)
            .map_err(|e| ApiError::internal(format!("opening cash: {e}")))?,
        cash_sales: Amount(cash_sales),
        cash_refunds: Amount(other.cash_refunds),
        pay_ins: Amount(other.pay_ins),
        pay_outs: Amount(other.pay_outs),
        expected_cash: Amount(expected),
        by_payment_method: methods
            .iter()
            .map(|r| MethodTotal {
                payment_method: PaymentMethod::parse(&r.method),
                transactions: r.n,
                total: Amount(r.total),
            })
            .collect(),
        refunds: CountTotal {
            count: other.refunds,
            total: Amount(other.refunded),
        },
        voids: CountTotal {
            count: other.voids,
            total: Amount(other.voided),
        },
        unpaid_cancelled: CountTotal {
            count: other.unpaid,
            total: Amount(other.unpaid_total),
        },
        pending: CountTotal {
            count: other.pending,
            total: Amount(other.pending_total),
        },
    })
}

/// A shift with its figures, movements and reopenings.
pub async fn load(conn: &mut PgConnection, id: Uuid, actor: Actor) -> ApiResult<Shift> {
    let row = sqlx::query!(
        r#"SELECT sh.id, sh.cashier_id, u.username, u.full_name, sh.opening_cash, sh.opened_at,
                  sh.note, sh.closed_at, sh.closed_by, sh.expected_cash, sh.counted_cash,
                  sh.closing_note
           FROM shifts sh JOIN users u ON u.id = sh.cashier_id
           WHERE sh.id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .filter(|r| actor.all_shifts || r.cashier_id == actor.user_id)
    .ok_or_else(not_found)?;
    let report = figures(conn, id, row.opening_cash).await?;
    let movements = sqlx::query!(
        "SELECT id, kind, amount, reason, flagged, user_id, created_at FROM cash_movements
         WHERE shift_id = $1 ORDER BY created_at, id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let reopenings = sqlx::query!(
        "SELECT reason, user_id, created_at, was_closed_at, was_counted_cash, was_expected_cash
         FROM shift_reopenings WHERE shift_id = $1 ORDER BY created_at, id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let m = |d: Decimal| Money::new(d).map_err(|e| ApiError::internal(format!("shift: {e}")));
    Ok(Shift {
        id: row.id,
        cashier: Cashier {
            id: row.cashier_id,
            username: row.username,
            full_name: row.full_name,
        },
        status: if row.closed_at.is_some() {
            "closed"
        } else {
            "open"
        },
        opening_cash: m(row.opening_cash)?,
        opened_at: row.opened_at,
        note: row.note,
        closed_at: row.closed_at,
        closed_by: row.closed_by,
        expected_cash: row.expected_cash.map(Amount),
        counted_cash: row.counted_cash.map(m).transpose()?,
        difference: row
            .counted_cash
            .zip(row.expected_cash)
            .map(|(c, e)| Amount(c - e)),
        closing_note: row.closing_note,
        report,
        movements: movements
            .into_iter()
            .map(|r| {
                Ok(CashMovement {
                    id: r.id,
                    kind: r.kind,
                    amount: m(r.amount)?,
                    reason: r.reason,
                    flagged: r.flagged,
                    user_id: r.user_id,
                    created_at: r.created_at,
                })
            })
            .collect::<ApiResult<_>>()?,
        reopenings: reopenings
            .into_iter()
            .map(|r| {
                Ok(Reopening {
                    reason: r.reason,
                    user_id: r.user_id,
                    created_at: r.created_at,
                    was_closed_at: r.was_closed_at,
                    was_counted_cash: m(r.was_counted_cash)?,
                    was_expected_cash: Amount(r.was_expected_cash),
                })
            })
            .collect::<ApiResult<_>>()?,
    })
}

/// A page of shifts, newest first (ids only; the caller loads them).
pub async fn list(
    conn: &mut PgConnection,
    actor: Actor,
    open_only: Option<bool>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> ApiResult<Vec<Shift>> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM shifts
         WHERE ($1::uuid IS NULL OR cashier_id = $1)
           AND ($2::bool IS NULL OR (closed_at IS NULL) = $2)
           AND ($3::timestamptz IS NULL OR (opened_at, id) < ($3, $4))
         ORDER BY opened_at DESC, id DESC LIMIT $5",
        (!actor.all_shifts).then_some(actor.user_id),
        open_only,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load(conn, id, actor).await?);
    }
    Ok(out)
}
