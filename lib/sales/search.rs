//! `GET /api/transactions`: newest first, by number, customer name or notes
//! (case-insensitive substring), store-local date range, status, payment
//! method, cashier and total range.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Cashier, OrderType, PaymentMethod, Preparation, Stage};
use crate::catalog::products::like_pattern;
use crate::error::{ApiError, ApiResult};
use crate::money::Money;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaleFilter {
    /// Substring of the transaction number, customer name or notes (at
    /// most 100 characters).
    #[param(pattern = r"^[^\u0000]*$", max_length = 100)]
    pub q: Option<String>,
    /// First store-local date, inclusive (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// Last store-local date, inclusive (YYYY-MM-DD).
    pub to: Option<NaiveDate>,
    /// `pending`, `completed`, `partially_refunded`, `refunded`, `expired`
    /// or `cancelled`.
    #[param(schema_with = sale_status)]
    pub status: Option<String>,
    /// Where the sale stands at the till, one or a comma list of
    /// `pending` (waiting for its payment), `processing` (the kitchen is
    /// preparing it), `completed` and `cancelled` (voided, or expired or
    /// cancelled unpaid). `stage=processing` alone is
    /// the kitchen's queue, which every staff member sees whole, cashiers
    /// included.
    #[param(
        pattern = r"^(pending|processing|completed|cancelled)(,(pending|processing|completed|cancelled))*$"
    )]
    pub stage: Option<String>,
    pub payment_method: Option<PaymentMethod>,
    pub cashier_id: Option<Uuid>,
    #[param(value_type = Option<String>, pattern = r"^\d{1,12}(\.\d{1,2})?$")]
    pub min_total: Option<Money>,
    #[param(value_type = Option<String>, pattern = r"^\d{1,12}(\.\d{1,2})?$")]
    pub max_total: Option<Money>,
}

fn sale_status() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(STATUSES))
        .build()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SaleSummary {
    pub id: Uuid,
    pub int_id: i64,
    pub transaction_no: String,
    pub status: String,
    pub stage: Stage,
    pub preparation: Option<Preparation>,
    pub cashier: Cashier,
    pub customer_name: String,
    pub notes: String,
    pub order_type: OrderType,
    pub payment_method: PaymentMethod,
    pub total: Money,
    pub refunded_amount: Money,
    pub item_count: i64,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Keyset position: the last row's (occurred_at, id).
#[derive(Debug, Serialize, Deserialize)]
pub struct Before {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// The UTC instant a store-local date starts.
pub fn day_start(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone whose clocks skip midnight starts the day at the earliest
    // instant after it.
    tz.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| chrono::TimeZone::from_utc_datetime(&tz, &midnight))
        .with_timezone(&Utc)
}

use chrono::TimeZone;

/// How a `q` is looked up. Each form has its own index (migrations 4, 6
/// and 9); a trigram index over number, name and notes together is slow
/// for words of names and notes, because every number adds trigrams such
/// as "  t" (from "TRX") and digit runs to the candidates.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A number-shaped `q`: a prefix of the numbers (B-tree), or a
    /// substring of the name and notes.
    Number { prefix: String, text: String },
    /// A `q` with a character no number has (a letter other than T, R or
    /// X, a space, ...): a substring of the name and notes only, looked
    /// up by its trigrams time slice by time slice (migration 9), or, with
    /// no trigram to look up (`q` of one or two letters), by the pattern
    /// alone.
    Text {
        pattern: String,
        trigrams: Vec<String>,
    },
    /// Anything else (`0042`, `1124-00`): a substring of the number, the
    /// name or the notes.
    Anywhere(String),
}

impl Lookup {
    /// `None` for a blank `q`.
    pub fn of(q: &str) -> Option<Lookup> {
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        let pattern = like_pattern(q);
        if let Some(prefix) = number_prefix(q) {
            return Some(Lookup::Number {
                prefix,
                text: pattern,
            });
        }
        // Numbers are TRX-YYYYMMDD-NNNN: only these characters (in either
        // case, as ILIKE compares; no other character lowercases to them).
        let in_a_number = |c: char| c.is_ascii_digit() || "-TRXtrx".contains(c);
        Some(if q.chars().all(in_a_number) {
            Lookup::Anywhere(pattern)
        } else {
            Lookup::Text {
                pattern,
                trigrams: trigrams_in(q),
            }
        })
    }
}

/// The `LIKE` prefix of the transaction numbers a number-shaped `q` can
/// match: `TRX-…` (digits and dashes after it) or `YYYYMMDD[-NNNN…]`.
///
/// Numbers are `TRX-YYYYMMDD-NNNN`, made only by checkout, so such a `q`
/// can occur in a number only at its start (`TRX-` once, the 8-digit date
/// right after it): a prefix lookup in a B-tree instead of trigrams that
/// every number shares ("TRX", "202", ...), which make the trigram index
/// read most of its posting lists.
pub fn number_prefix(q: &str) -> Option<String> {
    let q = q.trim().to_ascii_uppercase();
    let digits_and_dashes = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if let Some(rest) = q.strip_prefix("TRX-") {
        return digits_and_dashes(rest).then(|| format!("{q}%"));
    }
    let (date, tail) = q.split_at_checked(8)?;
    let date_ok = date.bytes().all(|b| b.is_ascii_digit());
    let tail_ok = tail.is_empty()
        || tail
            .strip_prefix('-')
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    (date_ok && tail_ok).then(|| format!("TRX-{q}%"))
}

/// Trigrams, as pg_trgm's `show_trgm` writes them, that every text
/// containing `q` (case-insensitively) has: a subset of pg_trgm's own
/// extraction for `LIKE`, so the index never drops a match.
///
/// pg_trgm splits text into words of alphanumerics, lowercases them, and
/// takes the trigrams of "  word ". Only runs of ASCII letters and digits
/// are used here (whether another letter is alphanumeric depends on the
/// database's locale), and a run is padded only where `q` itself shows
/// the word's edge: an ASCII separator (space, punctuation) inside `q`.
/// At the ends of `q`, or next to a non-ASCII character, the text's word
/// may go on.
pub fn trigrams_in(q: &str) -> Vec<String> {
    let chars: Vec<char> = q.chars().collect();
    let mut found = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let mut word = String::new();
        if start > 0 && chars[start - 1].is_ascii() {
            word.push_str("  ");
        }
        word.extend(chars[start..i].iter().map(char::to_ascii_lowercase));
        if chars.get(i).is_some_and(char::is_ascii) {
            word.push(' ');
        }
        for w in word.as_bytes().windows(3) {
            found.insert(String::from_utf8(w.to_vec()).expect("ASCII"));
        }
    }
    found.into_iter().collect()
}

pub async fn search(
    conn: &mut PgConnection,
    filter: &SaleFilter,
    tz: chrono_tz::Tz,
    cashier_only: Option<Uuid>,
    before: Option<&Before>,
    limit: i64,
) -> ApiResult<Vec<SaleSummary>> {
    if let Some(status) = &filter.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::field(
            "status",
            format!("Must be one of {}.", STATUSES.join(", ")),
        ));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(ApiError::field("from", "Must not be after `to`."));
    }
    crate::validate::search_text("q", filter.q.as_deref())?;
    let stages = filter.stage.as_deref().map(stages).transpose()?;
    // The kitchen's queue: read through its partial index (the custom
    // plans below fold `$16` away, leaving the index's own predicate).
    let kitchen = stages.as_deref() == Some(&[Stage::Processing]);
    let stages: Option<Vec<&str>> = stages.map(|s| s.iter().map(|s| s.as_str()).collect());
    let lookup = filter.q.as_deref().and_then(Lookup::of);
    let since = filter.from.map(|d| day_start(tz, d));
    let until = filter
        .to
        .and_then(|d| d.succ_opt())
        .map(|d| day_start(tz, d));
    // A cashier's own sales, whatever cashier_id they ask for; the
    // kitchen's queue is everyone's.
    let cashier = if kitchen {
        filter.cashier_id
    } else {
        cashier_only.or(filter.cashier_id)
    };
    let status = filter.status.as_deref();
    let payment_method = filter.payment_method.map(PaymentMethod::as_str);
    let min_total = filter.min_total.map(Money::amount);
    let max_total = filter.max_total.map(Money::amount);
    let (before_at, before_id) = (before.map(|b| b.at), before.map(|b| b.id));

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let rows = if let Some(Lookup::Text { pattern, trigrams }) = &lookup
        && !trigrams.is_empty()
    {
        // See catalog::products::list: plan each search for its
        // parameters. No JIT: compiling costs more than such a query.
        sqlx::query!(
            r#"SELECT set_config('plan_cache_mode', 'force_custom_plan', true) AS "custom!",
                      set_config('jit', 'off', true) AS "no_jit!""#
        )
        .fetch_one(&mut *tx)
        .await?;
        // Each time slice's newest matches, from the newest slice that can
        // hold one to the oldest, until `limit` rows: the outer LIMIT stops
        // the nested loop, which runs the slices in generate_series' order.
        sqlx::query_as!(
            Row,
            r#"WITH hits AS (
                   SELECT hit.id
                   FROM generate_series(
                            sale_time_slice(least((SELECT max(occurred_at) FROM sales), $9::timestamptz,
                                                  $3::timestamptz - interval '1 microsecond')),
                            sale_time_slice(greatest((SELECT min(occurred_at) FROM sales),
                                                     $2::timestamptz)),
                            -1) AS slice(n)
                   CROSS JOIN LATERAL (
                       SELECT m.id
                       FROM (
                           SELECT s.id, s.occurred_at, s.status, s.payment_method,
                                  s.cashier_id, s.total, s.preparation
                           FROM sales s
                           WHERE sale_search_keys(s.occurred_at, s.customer_name, s.notes)
                                 @> ARRAY(SELECT slice.n || ':' || t FROM unnest($12::text[]) AS t)
                             -- Not spelt as sales_search_text's expression: that
                             -- index would be read whole, to AND with the slice.
                             AND s.customer_name || (' ' || s.notes) ILIKE $1
                           -- Keeps the filters below out of this scan: an
                           -- index on time or cashier would be read for every
                           -- slice, to AND with its few matches.
                           OFFSET 0
                       ) AS m
                       WHERE ($2::timestamptz IS NULL OR m.occurred_at >= $2)
                         AND ($3::timestamptz IS NULL OR m.occurred_at < $3)
                         AND ($4::text IS NULL OR m.status = $4)
                         AND ($5::text IS NULL OR m.payment_method = $5)
                         AND ($6::uuid IS NULL OR m.cashier_id = $6)
                         AND ($7::numeric IS NULL OR m.total >= $7)
                         AND ($8::numeric IS NULL OR m.total <= $8)
                         AND ($9::timestamptz IS NULL OR (m.occurred_at, m.id) < ($9, $10::uuid))
                         AND ($13::text[] IS NULL OR sale_stage(m.status, m.preparation) = ANY($13))
                         AND ($14::bool IS NOT TRUE OR m.preparation = 'processing')
                       ORDER BY m.occurred_at DESC, m.id DESC
                       LIMIT $11
                   ) AS hit
                   LIMIT $11
               )
               SELECT s.id, s.int_id, s.transaction_no, s.status, s.preparation, s.cashier_id,
                      u.username, u.full_name, s.customer_name,
                      s.notes, s.order_type, s.payment_method, s.total AS "total: Money",
                      s.refunded_amount AS "refunded_amount: Money", s.occurred_at, s.created_at,
                      (SELECT count(*) FROM sale_lines l WHERE l.sale_id = s.id) AS "item_count!"
               FROM hits JOIN sales s USING (id) JOIN users u ON u.id = s.cashier_id
               ORDER BY s.occurred_at DESC, s.id DESC"#,
            pattern,
            since,
            until,
            status,
            payment_method,
            cashier,
            min_total,
            max_total,
            before_at,
            before_id,
            limit,
            trigrams,
            stages.as_deref() as Option<&[&str]>,
            kitchen,
        )
        .fetch_all(&mut *tx)
        .await?
    } else {
        let (mut anywhere, mut number, mut number_text, mut text) = (None, None, None, None);
        match &lookup {
            Some(Lookup::Number { prefix, text: t }) => {
                (number, number_text) = (Some(prefix), Some(t))
            }
            Some(Lookup::Text { pattern, .. }) => text = Some(pattern),
            Some(Lookup::Anywhere(t)) => anywhere = Some(t),
            None => {}
        }
        // See catalog::products::list: plan each search for its parameters.
        sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        sqlx::query_as!(
            Row,
            r#"SELECT s.id, s.int_id, s.transaction_no, s.status, s.preparation, s.cashier_id,
                      u.username, u.full_name, s.customer_name,
                      s.notes, s.order_type, s.payment_method, s.total AS "total: Money",
                      s.refunded_amount AS "refunded_amount: Money", s.occurred_at, s.created_at,
                      (SELECT count(*) FROM sale_lines l WHERE l.sale_id = s.id) AS "item_count!"
               FROM sales s JOIN users u ON u.id = s.cashier_id
               WHERE ($1::text IS NULL
                      OR (s.transaction_no || ' ' || s.customer_name || ' ' || s.notes) ILIKE $1)
                 AND ($12::text IS NULL OR s.transaction_no LIKE $12
                      OR (s.customer_name || ' ' || s.notes) ILIKE $13)
                 AND ($14::text IS NULL OR (s.customer_name || ' ' || s.notes) ILIKE $14)
                 AND ($2::timestamptz IS NULL OR s.occurred_at >= $2)
                 AND ($3::timestamptz IS NULL OR s.occurred_at < $3)
                 AND ($4::text IS NULL OR s.status = $4)
                 AND ($5::text IS NULL OR s.payment_method = $5)
                 AND ($6::uuid IS NULL OR s.cashier_id = $6)
                 AND ($7::numeric IS NULL OR s.total >= $7)
                 AND ($8::numeric IS NULL OR s.total <= $8)
                 AND ($9::timestamptz IS NULL OR (s.occurred_at, s.id) < ($9, $10::uuid))
                 AND ($15::text[] IS NULL OR sale_stage(s.status, s.preparation) = ANY($15))
                 AND ($16::bool IS NOT TRUE OR s.preparation = 'processing')
               ORDER BY s.occurred_at DESC, s.id DESC
               LIMIT $11"#,
            anywhere,
            since,
            until,
            status,
            payment_method,
            cashier,
            min_total,
            max_total,
            before_at,
            before_id,
            limit,
            number,
            number_text,
            text,
            stages.as_deref() as Option<&[&str]>,
            kitchen,
        )
        .fetch_all(&mut *tx)
        .await?
    };
    tx.commit().await?;
    Ok(rows.into_iter().map(Row::into_summary).collect())
}

/// Every sale status.
pub const STATUSES: [&str; 6] = [
    "pending",
    "completed",
    "partially_refunded",
    "refunded",
    "expired",
    "cancelled",
];

/// `processing,completed`: the stages asked for, each once.
fn stages(list: &str) -> ApiResult<Vec<Stage>> {
    let mut stages = Vec::new();
    for word in list.split(',') {
        let stage = Stage::parse(word.trim()).ok_or_else(|| {
            ApiError::field(
                "stage",
                "Must be pending, processing, completed or cancelled, or a comma list of them.",
            )
        })?;
        if !stages.contains(&stage) {
            stages.push(stage);
        }
    }
    Ok(stages)
}

/// A search result row.
struct Row {
    id: Uuid,
    int_id: i64,
    transaction_no: String,
    status: String,
    preparation: Option<String>,
    cashier_id: Uuid,
    username: String,
    full_name: String,
    customer_name: String,
    notes: String,
    order_type: String,
    payment_method: String,
    total: Money,
    refunded_amount: Money,
    item_count: i64,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl Row {
    fn into_summary(self) -> SaleSummary {
        let preparation = self.preparation.as_deref().and_then(Preparation::parse);
        SaleSummary {
            id: self.id,
            int_id: self.int_id,
            transaction_no: self.transaction_no,
            stage: Stage::of(&self.status, preparation),
            status: self.status,
            preparation,
            cashier: Cashier {
                id: self.cashier_id,
                username: self.username,
                full_name: self.full_name,
            },
            customer_name: self.customer_name,
            notes: self.notes,
            order_type: OrderType::parse(&self.order_type),
            payment_method: PaymentMethod::parse(&self.payment_method),
            total: self.total,
            refunded_amount: self.refunded_amount,
            item_count: self.item_count,
            occurred_at: self.occurred_at,
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, number_prefix};

    #[test]
    fn each_q_goes_to_the_index_that_can_hold_it() {
        let text = |p: &str, trigrams: &[&str]| {
            Some(Lookup::Text {
                pattern: p.into(),
                trigrams: trigrams.iter().map(|t| t.to_string()).collect(),
            })
        };
        let anywhere = |p: &str| Some(Lookup::Anywhere(p.into()));
        assert_eq!(Lookup::of("  "), None);
        assert_eq!(
            Lookup::of("20261124-0042"),
            Some(Lookup::Number {
                prefix: "TRX-20261124-0042%".into(),
                text: "%20261124-0042%".into()
            })
        );
        assert_eq!(Lookup::of("budi"), text("%budi%", &["bud", "udi"]));
        assert_eq!(
            Lookup::of(" Meja 12 "),
            text("%Meja 12%", &["  1", " 12", "eja", "ja ", "mej"])
        );
        assert_eq!(Lookup::of("50%"), text("%50\\%%", &["50 "]));
        assert_eq!(Lookup::of("ab"), text("%ab%", &[]));
        assert_eq!(
            Lookup::of("0042 budi"),
            text(
                "%0042 budi%",
                &["  b", " bu", "004", "042", "42 ", "bud", "udi"]
            )
        );
        assert_eq!(Lookup::of("0042"), anywhere("%0042%"));
        assert_eq!(Lookup::of("trx"), anywhere("%trx%"));
        assert_eq!(Lookup::of("1124-00"), anywhere("%1124-00%"));
        assert_eq!(Lookup::of("x-2"), anywhere("%x-2%"));
    }

    #[test]
    fn trigrams_are_those_every_match_has() {
        let t = |q: &str| super::trigrams_in(q);
        // "meja" may go on to the left ("Promeja"); "12" may go on to the
        // right ("123"), but a word starts there.
        assert_eq!(t("Meja 12"), ["  1", " 12", "eja", "ja ", "mej"]);
        assert_eq!(
            t("angelina tan"),
            [
                "  t", " ta", "ang", "eli", "gel", "ina", "lin", "na ", "nge", "tan"
            ]
        );
        assert_eq!(t("MBR0042"), ["004", "042", "br0", "mbr", "r00"]);
        // Too short for a trigram, unless q shows the word's edge.
        assert!(t("ab").is_empty());
        assert_eq!(t("x b"), ["  b"]);
        // Punctuation is an edge; a non-ASCII letter is not known to be one.
        assert_eq!(t("#0042"), ["  0", " 00", "004", "042"]);
        assert_eq!(t("caféx"), ["caf"]);
        assert_eq!(t("éabc"), ["abc"]);
        assert!(t("é é").is_empty());
    }

    #[test]
    fn number_shaped_queries_become_prefixes() {
        let p = number_prefix;
        assert_eq!(
            p("TRX-20261124-0042").as_deref(),
            Some("TRX-20261124-0042%")
        );
        assert_eq!(p(" trx-2026 ").as_deref(), Some("TRX-2026%"));
        assert_eq!(p("TRX-").as_deref(), Some("TRX-%"));
        assert_eq!(p("20261124").as_deref(), Some("TRX-20261124%"));
        assert_eq!(p("20261124-004").as_deref(), Some("TRX-20261124-004%"));
        assert_eq!(p("20261124-").as_deref(), Some("TRX-20261124-%"));
        for other in [
            "0042",
            "1124-0042",
            "2026112",
            "20261124x",
            "20261124-00a",
            "TRX-2026 budi",
            "TRX",
            "budi",
            "trx-20261124_1",
            "",
        ] {
            assert_eq!(p(other), None, "{other}");
        }
    }
}
