//! A shop's history for the benchmarks: past sales written in bulk by
//! `generate_series`, numbered as checkout numbers them, over the last two
//! years (bench/search.rs searches them; bench/checkout.rs sells on top of
//! them).

use std::time::Instant;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

pub const DAYS: i64 = 730;
const BATCH: i64 = 50_000;

/// Sales `$1..=$2` (their `sale_number_seq` values), by the cashiers `$3`,
/// from store-local day `$4` on at `$5` sales a day between 08:00 and
/// 22:00 Asia/Jakarta, with their lines (products 1-200 of the bench's
/// catalog). Deterministic: every choice comes from `hashint8` of `g`.
/// 40% walk-ins without a name; 40% with notes (table numbers, kitchen
/// requests, delivery order numbers, member codes); amounts that satisfy
/// every CHECK (10% discounted; cash paid up to the next 10,000).
pub const SALES: &str = "WITH s AS (
    SELECT g, day, no, nlines, cashier, cust, notes, pay, otype, disc_pct,
           (day + time '08:00' + (no - 1) * (interval '14 hours' / $5)
                + make_interval(secs => h6 % 30000 / 1000.0)) AT TIME ZONE 'Asia/Jakarta' AS at
    FROM (
        SELECT g, h6,
               $4::date + ((g - 1) / $5)::int AS day,
               (g - 1) % $5 + 1 AS no,
               1 + h6 / 30000 % 3 AS nlines,
               ($3::uuid[])[1 + h5 % cardinality($3::uuid[])] AS cashier,
               CASE WHEN h1 % 10 < 4 THEN ''
                    ELSE (ARRAY['Budi', 'Siti', 'Agus', 'Dewi', 'Andi', 'Rina', 'Joko', 'Sri', 'Hendra',
                                'Putri', 'Rudi', 'Ayu', 'Bambang', 'Lestari', 'Eko', 'Indah', 'Fajar',
                                'Wulan', 'Dimas', 'Nur', 'Yusuf', 'Fitri', 'Arif', 'Maya', 'Hadi', 'Ratna',
                                'Teguh', 'Sari', 'Irfan', 'Dian', 'Gilang', 'Intan', 'Rizky', 'Nadia',
                                'Bayu', 'Kartika', 'Wahyu', 'Anisa', 'Yoga', 'Mega', 'Kevin', 'Jessica',
                                'Michael', 'Stefanie', 'Hendrik', 'Cynthia', 'Ferdinand', 'Angelina'])
                         [1 + h2 % 48]
                         || CASE WHEN h3 % 3 = 0 THEN ''
                                 ELSE ' ' || (ARRAY['Santoso', 'Wijaya', 'Saputra', 'Pratama', 'Hidayat',
                                      'Kurniawan', 'Setiawan', 'Nugroho', 'Susanto', 'Gunawan', 'Halim',
                                      'Tanjung', 'Siregar', 'Nasution', 'Harahap', 'Lubis', 'Simanjuntak',
                                      'Sihombing', 'Wibowo', 'Purnomo', 'Hartono', 'Sutanto', 'Rahman',
                                      'Hakim', 'Permana', 'Firmansyah', 'Ramadhan', 'Kusuma', 'Lim',
                                      'Tan'])[1 + h3 / 3 % 30] END
               END AS cust,
               CASE WHEN h4 % 10 < 6 THEN ''
                    ELSE CASE h4 / 10 % 10
                        WHEN 0 THEN 'meja ' || (1 + h4 / 100 % 24)
                        WHEN 1 THEN 'bungkus, sambal dipisah'
                        WHEN 2 THEN 'less sugar'
                        WHEN 3 THEN 'tanpa es'
                        WHEN 4 THEN 'pedas level ' || (1 + h4 / 100 % 5)
                        WHEN 5 THEN 'GoFood order #' || lpad((h4 / 100 % 1000000)::text, 6, '0')
                        WHEN 6 THEN 'GrabFood GF-' || lpad((h4 / 100 % 1000000)::text, 6, '0')
                        WHEN 7 THEN 'member MBR' || lpad((h4 / 100 % 5000)::text, 4, '0')
                        WHEN 8 THEN 'pesanan kantor, minta nota'
                        ELSE 'table ' || (1 + h4 / 100 % 24) || ', extra ice' END
               END AS notes,
               (ARRAY['cash', 'cash', 'cash', 'qris', 'qris', 'card', 'transfer', 'ewallet'])
                   [1 + h1 / 10 % 8] AS pay,
               (ARRAY['dine_in', 'dine_in', 'take_away', 'delivery'])[1 + h1 / 80 % 4] AS otype,
               CASE WHEN h1 / 320 % 10 = 0 THEN 10 ELSE 0 END AS disc_pct
        -- Independent choices: one hash each (a shared hash with
        -- overlapping bit ranges made, e.g., one cashier never serve a
        -- Hendrik).
        FROM (SELECT g, abs(hashint8(g * 8 + 1)::bigint) AS h1, abs(hashint8(g * 8 + 2)::bigint) AS h2,
                     abs(hashint8(g * 8 + 3)::bigint) AS h3, abs(hashint8(g * 8 + 4)::bigint) AS h4,
                     abs(hashint8(g * 8 + 5)::bigint) AS h5, abs(hashint8(g * 8 + 6)::bigint) AS h6
              FROM generate_series($1::bigint, $2::bigint) g) r
    ) x
), l AS (
    SELECT s.g, k, p, 1 + (abs(hh) >> 9) % 3 AS qty,
           1000 * (3 + p % 48) AS price, 400 * (3 + p % 48) AS cost
    FROM s, generate_series(1, s.nlines) k,
         LATERAL (SELECT hashint8(s.g * 4 + k) AS hh) z,
         LATERAL (SELECT 1 + abs(hh) % 200 AS p) y
), amounts AS (
    SELECT s.*, t.subtotal, round(t.subtotal * disc_pct / 100, -2) AS discount
    FROM s JOIN (SELECT g, sum(price * qty)::numeric(14, 2) AS subtotal FROM l GROUP BY g) t USING (g)
), ins AS (
    INSERT INTO sales (id, transaction_no, cashier_id, customer_name, notes, order_type,
                       payment_method, subtotal, discount, tax, total, paid_amount,
                       change_amount, occurred_at, created_at)
    SELECT md5('sale' || g)::uuid, 'TRX-' || to_char(day, 'YYYYMMDD') || '-' || lpad(no::text, 4, '0'),
           cashier, cust, notes, otype, pay, subtotal, discount, 0, subtotal - discount, paid,
           paid - (subtotal - discount), at, at
    FROM (SELECT *, CASE WHEN pay = 'cash' THEN ceil((subtotal - discount) / 10000) * 10000
                         ELSE subtotal - discount END AS paid
          FROM amounts) a
)
INSERT INTO sale_lines (id, sale_id, line_no, product_id, product_name, sku, unit_price,
                        unit_cost, quantity, line_total)
SELECT md5('line' || g || '-' || k)::uuid, md5('sale' || g)::uuid, k,
       ('00000000-0000-0000-0000-' || lpad(p::text, 12, '0'))::uuid, 'Produk ' || p,
       'SKU-' || lpad(p::text, 4, '0'), price, cost, qty, price * qty
FROM l";

/// Writes `sales` past sales (see [`SALES`]) from `first_day` on, spread
/// over [`DAYS`] days, with their day numbers, then `VACUUM ANALYZE`s them.
/// Their lines name products 1-200 (ids `00000000-0000-0000-0000-<n>`),
/// which the caller makes first.
pub async fn generate(
    conn: &mut PgConnection,
    sales: i64,
    cashiers: &[Uuid],
    first_day: NaiveDate,
) {
    let per_day = ((sales + DAYS - 1) / DAYS) as i32;
    let started = Instant::now();
    let mut lo = 1;
    while lo <= sales {
        let hi = (lo + BATCH - 1).min(sales);
        sqlx::query(SALES)
            .bind(lo)
            .bind(hi)
            .bind(cashiers)
            .bind(first_day)
            .bind(per_day)
            .execute(&mut *conn)
            .await
            .unwrap();
        lo = hi + 1;
    }
    let inserted = started.elapsed();
    // Each day's first sequence value, as checkout records it, and the
    // sequence past the generated numbers.
    sqlx::query(
        "INSERT INTO sale_days (day, first_seq)
         SELECT $1::date + d::int, d * $2 + 1 FROM generate_series(0, ($3 - 1) / $2) d",
    )
    .bind(first_day)
    .bind(per_day as i64)
    .bind(sales)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("SELECT setval('sale_number_seq', $1)")
        .bind(sales)
        .execute(&mut *conn)
        .await
        .unwrap();
    let t = Instant::now();
    sqlx::raw_sql("VACUUM ANALYZE sales, sale_lines, sale_days")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (lines, size): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sale_lines),
                pg_size_pretty(pg_total_relation_size('sales') + pg_total_relation_size('sale_lines'))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    println!(
        "generated {sales} sales ({per_day}/day over {DAYS} days from {first_day}) and {lines} lines \
         in {:.0} s (batches of {BATCH}), VACUUM ANALYZE {:.0} s; sales + lines with indexes: {size}",
        inserted.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
}
