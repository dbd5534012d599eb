-- pgbench mirror of one checkout as lib/sales/checkout.rs runs it (an
-- unlocked read, then checkout_write() in autocommit: migration 16), for
-- bench/checkout.rs to compare with HTTP (and with the anchor scripts in
-- ../shared/perf). bench/checkout.rs puts the anchor script's own `\set a`
-- and `\set b` lines (the cart: two distinct products, a < b) in front.
-- Variables: uid (the cashier), response (a response-sized JSON document),
-- set with -D; products are numbered 1..1000 with ids 00000000-...-<n>.
\set sid random(1, 9223372036854775806)
SELECT p.id, p.name, p.sku, p.price, p.cost, p.stock, p.is_active, p.needs_preparation,
       s.tax_rate, s.timezone, s.payment_window_minutes, s.sell_without_shift,
       u.username, u.full_name,
       EXISTS (SELECT 1 FROM idempotency_keys k
               WHERE k.user_id = :uid::uuid AND k.key = md5(:sid || 'k')::uuid) AS sold,
       (SELECT sh.id FROM shifts sh
        WHERE sh.cashier_id = :uid::uuid AND sh.closed_at IS NULL) AS shift_id
FROM products p
CROSS JOIN store_settings s
CROSS JOIN users u
WHERE p.id = ANY(ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[]) AND p.deleted_at IS NULL AND u.id = :uid::uuid
ORDER BY p.id;
SELECT transaction_no, int_id FROM checkout_write(
    md5(:sid::text)::uuid, :uid::uuid, 'Asia/Jakarta', 'Budi', '', 'dine_in', 'cash',
    30000, 0, 0, 30000, 50000, 20000, now(), now(), 0, NULL, 'completed', NULL, NULL, NULL,
    ARRAY[md5(:sid || '-1')::uuid, md5(:sid || '-2')::uuid],
    ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[],
    ARRAY['Produk ' || :a, 'Produk ' || :b]::text[],
    ARRAY['SKU-' || lpad(:a::text, 4, '0'), 'SKU-' || lpad(:b::text, 4, '0')]::text[],
    ARRAY[15000, 15000]::numeric[], ARRAY[6000, 6000]::numeric[],
    ARRAY[1, 1]::int[], ARRAY[15000, 15000]::numeric[], ARRAY['', '']::text[],
    ARRAY[('00000000-0000-0000-0000-' || lpad(:a::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-' || lpad(:b::text, 12, '0'))::uuid]::uuid[],
    ARRAY[1, 1]::int[], ARRAY[15000, 15000]::numeric[], ARRAY[6000, 6000]::numeric[],
    md5(:sid || 'k')::uuid, sha256(:sid::text::bytea), :response::jsonb);
