-- pgbench mirror of one checkout as lib/sales/checkout.rs runs it, for
-- bench/checkout.rs to compare with HTTP (and with the anchor scripts in
-- ../shared/perf). bench/checkout.rs puts the anchor script's own `\set a`
-- and `\set b` lines (the cart: two distinct products, a < b) in front.
-- Variables: uid (the cashier), response (a response-sized JSON document),
-- set with -D; products are numbered 1..1000 with ids 00000000-...-<n>.
\set sid random(1, 9223372036854775806)
BEGIN;
SELECT p.id, p.name, p.sku, p.price, p.cost, p.stock, p.is_active,
       s.tax_rate, s.timezone, u.username,
       EXISTS (SELECT 1 FROM idempotency_keys k
               WHERE k.user_id = :uid::uuid AND k.key = md5(:sid || 'k')::uuid) AS sold
FROM products p
CROSS JOIN store_settings s
CROSS JOIN users u
WHERE p.id = ANY(ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[]) AND p.deleted_at IS NULL AND u.id = :uid::uuid
ORDER BY p.id
FOR NO KEY UPDATE OF p;
WITH taken AS (
    UPDATE products p SET stock = p.stock - w.qty
    FROM unnest(ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[], ARRAY[1, 1]::int[]) AS w(id, qty)
    WHERE p.id = w.id
    RETURNING p.id, p.stock, w.qty
), seq AS (
    SELECT nextval('sale_number_seq') AS n,
           (now() AT TIME ZONE 'Asia/Jakarta'::text)::date AS day
), new_day AS (
    INSERT INTO sale_days (day, first_seq) SELECT day, n FROM seq
    ON CONFLICT (day) DO NOTHING
    RETURNING first_seq
), numbered AS (
    SELECT seq.day,
           seq.n - COALESCE((SELECT first_seq FROM new_day),
                            (SELECT first_seq FROM sale_days d WHERE d.day = seq.day)) + 1
           AS no
    FROM seq
), sale AS (
    INSERT INTO sales (id, transaction_no, cashier_id, customer_name, notes,
                       order_type, payment_method, subtotal, discount, tax, total,
                       paid_amount, change_amount, occurred_at, created_at)
    SELECT md5(:sid::text)::uuid, 'TRX-' || to_char(day, 'YYYYMMDD') || '-'
               || CASE WHEN no < 1 THEN NULL
                       WHEN no < 10000 THEN lpad(no::text, 4, '0')
                       ELSE no::text END,
           :uid::uuid, 'Budi', '', 'dine_in', 'cash', 30000, 0, 0, 30000, 50000, 20000, now(), now()
    FROM numbered
    RETURNING id, transaction_no
), lines AS (
    INSERT INTO sale_lines (id, sale_id, line_no, product_id, product_name, sku,
                            unit_price, unit_cost, quantity, line_total, note)
    SELECT l.id, md5(:sid::text)::uuid, l.no, l.product_id, l.name, l.sku, l.price, l.cost, l.qty,
           l.total, l.note
    FROM unnest(ARRAY[md5(:sid || '-1')::uuid, md5(:sid || '-2')::uuid],
                ARRAY[1, 2]::int[], ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[],
                ARRAY['Product', 'Product']::text[], ARRAY[NULL, NULL]::text[],
                ARRAY[15000, 15000]::numeric[], ARRAY[6000, 6000]::numeric[],
                ARRAY[1, 1]::int[], ARRAY[15000, 15000]::numeric[],
                ARRAY['', '']::text[])
         AS l(id, no, product_id, name, sku, price, cost, qty, total, note)
), ledger AS (
    INSERT INTO stock_movements (product_id, kind, delta, stock_after, reason,
                                 user_id, sale_id)
    SELECT taken.id, 'sale', -taken.qty, taken.stock, sale.transaction_no, :uid::uuid, md5(:sid::text)::uuid
    FROM taken, sale
), remembered AS (
    INSERT INTO idempotency_keys (user_id, key, request_hash, sale_id, response)
    SELECT :uid::uuid, md5(:sid || 'k')::uuid, sha256(:sid::text::bytea), md5(:sid::text)::uuid,
           jsonb_set(:response::jsonb, '{transaction_no}', to_jsonb(sale.transaction_no))
    FROM sale
)
SELECT transaction_no FROM sale;
COMMIT;
