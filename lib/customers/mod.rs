//! Customers: the regulars, by name and phone (unique in its normalised
//! `+62` form), with their sales, visit count, total spent and last visit
//! (paid sales only, net of refunds). Attached to a sale at checkout by id
//! or by phone (a new phone makes a new customer, in the sale's own
//! transaction).

pub mod http;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::money::Money;
use crate::reports::Amount;
use crate::validate::Check;

/// An Indonesian phone number in its `+62` form, from any local way of
/// writing it: `0812-3456-7890`, `812 3456 7890`, `62812...`, `+62 (812)
/// 3456.7890`. Spaces, dashes, dots and parentheses are dropped; the
/// national number (after the 0, 62 or +62) must be 8 to 12 digits and not
/// start with 0. Anything else (letters, another country's code, too short
/// or too long) is refused.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let t = raw.trim();
    let (plus, rest) = match t.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let national = if plus {
        digits.strip_prefix("62")?
    } else if let Some(n) = digits.strip_prefix("62").filter(|n| n.len() >= 9) {
        n
    } else if let Some(n) = digits.strip_prefix('0') {
        n
    } else {
        &digits
    };
    let ok = (8..=12).contains(&national.len()) && !national.starts_with('0');
    ok.then(|| format!("+62{national}"))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    /// `+62...`, or null.
    #[schema(example = "+6281234567890")]
    pub phone: Option<String>,
    pub notes: String,
    /// Paid sales.
    pub visits: i64,
    /// What those sales came to, less refunds.
    #[schema(value_type = String, example = "125000.00")]
    pub total_spent: Amount,
    pub last_visit: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// On the detail view: the customer's sales, newest first (at most 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales: Option<Vec<CustomerSale>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerSale {
    pub id: Uuid,
    pub transaction_no: String,
    pub status: String,
    pub total: Money,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub notes: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 200
    )]
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$",
        max_length = 1000
    )]
    pub notes: Option<String>,
}

fn phone_field(c: &mut Check, raw: &str) -> Option<String> {
    let phone = normalise_phone(raw);
    if phone.is_none() {
        c.add(
            "phone",
            "Must be an Indonesian phone number, such as 0812-3456-7890 or +62 812 3456 7890.",
        );
    }
    phone
}

fn taken(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("customers_phone_key") => {
            ApiError::ConflictWith {
                code: "phone_taken",
                detail: "Another customer has this phone number.".into(),
                extra: Default::default(),
            }
        }
        _ => e.into(),
    }
}

pub async fn create(conn: &mut PgConnection, input: NewCustomer) -> ApiResult<Customer> {
    let mut c = Check::new();
    let name = c.text("name", &input.name, 1, 200);
    let phone = input.phone.as_deref().and_then(|p| phone_field(&mut c, p));
    let notes = c.text("notes", &input.notes, 0, 1000);
    c.finish()?;
    let id = sqlx::query_scalar!(
        "INSERT INTO customers (name, phone, notes) VALUES ($1, $2, $3) RETURNING id",
        name,
        phone,
        notes
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(taken)?;
    detail(conn, id).await
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    patch: CustomerPatch,
) -> ApiResult<Customer> {
    let mut c = Check::new();
    let name = patch.name.as_deref().map(|n| c.text("name", n, 1, 200));
    let phone = patch
        .phone
        .as_ref()
        .map(|p| p.as_deref().and_then(|p| phone_field(&mut c, p)));
    let notes = patch.notes.as_deref().map(|n| c.text("notes", n, 0, 1000));
    c.finish()?;
    let found = sqlx::query_scalar!(
        "UPDATE customers SET name = COALESCE($2, name),
             phone = CASE WHEN $3 THEN $4 ELSE phone END,
             notes = COALESCE($5, notes), updated_at = now()
         WHERE id = $1 RETURNING id",
        id,
        name,
        phone.is_some(),
        phone.flatten(),
        notes
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(taken)?;
    found.ok_or_else(|| ApiError::not_found("Customer"))?;
    detail(conn, id).await
}

/// Deletes the record; its sales stay, without the customer.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> ApiResult<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query!(
        "UPDATE sales SET customer_id = NULL WHERE customer_id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    let gone = sqlx::query!("DELETE FROM customers WHERE id = $1", id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(ApiError::not_found("Customer"));
    }
    tx.commit().await?;
    Ok(())
}

struct Row {
    id: Uuid,
    name: String,
    phone: Option<String>,
    notes: String,
    visits: i64,
    total_spent: rust_decimal::Decimal,
    last_visit: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_customer(self) -> Customer {
        Customer {
            id: self.id,
            name: self.name,
            phone: self.phone,
            notes: self.notes,
            visits: self.visits,
            total_spent: Amount(self.total_spent),
            last_visit: self.last_visit,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sales: None,
        }
    }
}

/// One customer with their figures and sales.
pub async fn detail(conn: &mut PgConnection, id: Uuid) -> ApiResult<Customer> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT c.id, c.name, c.phone, c.notes, c.created_at, c.updated_at,
                  count(s.id) FILTER (WHERE sale_counts(s.status)) AS "visits!",
                  coalesce(sum(s.total - s.refunded_amount) FILTER (WHERE sale_counts(s.status)), 0)
                      AS "total_spent!",
                  max(s.occurred_at) FILTER (WHERE sale_counts(s.status)) AS "last_visit"
           FROM customers c LEFT JOIN sales s ON s.customer_id = c.id
           WHERE c.id = $1 GROUP BY c.id"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("Customer"))?;
    let sales = sqlx::query_as!(
        CustomerSale,
        r#"SELECT id, transaction_no, status, total AS "total: Money", occurred_at
           FROM sales WHERE customer_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT 100"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut customer = row.into_customer();
    customer.sales = Some(sales);
    Ok(customer)
}

/// Customers whose name or phone contains `q`, by name; a page after
/// `(name, id)`.
pub async fn search(
    conn: &mut PgConnection,
    q: Option<&str>,
    after: Option<&(String, Uuid)>,
    limit: i64,
) -> ApiResult<Vec<Customer>> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let pattern = q.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    // A phone, or part of one, typed in any local form finds the stored
    // +62 form: its digits after the 0, 62 or +62.
    let digits = q.and_then(phone_digits);
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT c.id, c.name, c.phone, c.notes, c.created_at, c.updated_at,
                  count(s.id) FILTER (WHERE sale_counts(s.status)) AS "visits!",
                  coalesce(sum(s.total - s.refunded_amount) FILTER (WHERE sale_counts(s.status)), 0)
                      AS "total_spent!",
                  max(s.occurred_at) FILTER (WHERE sale_counts(s.status)) AS "last_visit"
           FROM customers c LEFT JOIN sales s ON s.customer_id = c.id
           WHERE ($1::text IS NULL OR c.name ILIKE $1 OR c.phone LIKE '%' || $2 || '%')
             AND ($3::text IS NULL OR (c.name, c.id) > ($3, $4))
           GROUP BY c.id
           ORDER BY c.name, c.id LIMIT $5"#,
        pattern,
        digits,
        after.map(|a| a.0.clone()),
        after.map(|a| a.1),
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Row::into_customer).collect())
}

/// The national digits of a (partial) phone number, if `q` looks like one.
fn phone_digits(q: &str) -> Option<String> {
    if let Some(full) = normalise_phone(q) {
        return Some(full.trim_start_matches("+62").to_string());
    }
    if !q
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()+".contains(c))
    {
        return None;
    }
    let all: String = q.chars().filter(char::is_ascii_digit).collect();
    let national = if q.trim_start().starts_with('+') {
        all.strip_prefix("62")?.to_string()
    } else {
        all.strip_prefix('0').unwrap_or(&all).to_string()
    };
    (national.len() >= 4).then_some(national)
}

/// The customer a checkout names, inside its transaction: by id (must
/// exist), or by phone (found, or made with `name`).
pub async fn for_sale(
    tx: &mut PgConnection,
    id: Option<Uuid>,
    phone: Option<&str>,
    name: &str,
) -> ApiResult<Option<Uuid>> {
    if let Some(id) = id {
        let found = sqlx::query_scalar!("SELECT id FROM customers WHERE id = $1", id)
            .fetch_optional(&mut *tx)
            .await?;
        return found
            .map(Some)
            .ok_or_else(|| ApiError::field("customer_id", "Unknown customer."));
    }
    let Some(phone) = phone else { return Ok(None) };
    let name = match name.trim() {
        "" => "Pelanggan",
        n => n,
    };
    // Twice at most: a concurrent sale may insert the same phone between
    // our insert's conflict and our read.
    for _ in 0..2 {
        let id = sqlx::query_scalar!(
            r#"WITH made AS (
                   INSERT INTO customers (name, phone) VALUES ($1, $2)
                   ON CONFLICT (phone) DO NOTHING RETURNING id
               )
               SELECT id AS "id!" FROM made
               UNION ALL SELECT id FROM customers WHERE phone = $2"#,
            name,
            phone
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            return Ok(Some(id));
        }
    }
    Err(ApiError::internal(
        "a customer by phone neither found nor made",
    ))
}

#[cfg(test)]
mod tests {
    use super::normalise_phone;

    #[test]
    fn every_local_form_of_a_number_is_one_number() {
        for raw in [
            "081234567890",
            "0812-3456-7890",
            "81234567890",
            "812 3456 7890",
            "6281234567890",
            "+6281234567890",
            "+62 812-3456-7890",
            "+62 (812) 3456.7890",
            " 0812 3456 7890 ",
        ] {
            assert_eq!(
                normalise_phone(raw).as_deref(),
                Some("+6281234567890"),
                "{raw}"
            );
        }
        // A Jakarta landline.
        assert_eq!(
            normalise_phone("021-5551234").as_deref(),
            Some("+62215551234")
        );
    }

    #[test]
    fn garbage_is_refused() {
        for raw in [
            "",
            "abc",
            "0812-3456-789O",
            "+1 415 555 0100",
            "+65 8123 4567",
            "0812",
            "08123456789012345",
            "00812345678",
            "+62 0812 3456 7890",
            "0812#3456",
        ] {
            assert_eq!(normalise_phone(raw), None, "{raw}");
        }
    }
}
