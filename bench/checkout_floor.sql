-- The floor of our own guarantees (bench/checkout_floor_schema.sql), for
-- bench/checkout.rs: the anchor's sale (../shared/perf/anchor_*.sql) with
-- what a KasirGo sale cannot do without, a read of the cart and the key
-- before the write (the server prices the cart), the key on the header,
-- and a ledger row per product with the stock after it. bench/checkout.rs
-- puts the anchor script's `\set a` and `\set b` lines in front.
\set k random(1, 9223372036854775806)
SELECT p.id, p.price, p.stock,
       EXISTS (SELECT 1 FROM floor_sale s WHERE s.user_id = 1 AND s.key = md5(:k::text)::uuid)
FROM anchor_product p WHERE p.id IN (:a, :b);
BEGIN;
UPDATE anchor_product SET stock = stock - 1 WHERE id = :a AND stock >= 1 RETURNING stock \gset sa_
UPDATE anchor_product SET stock = stock - 1 WHERE id = :b AND stock >= 1 RETURNING stock \gset sb_
INSERT INTO floor_sale (no, total, user_id, key)
    VALUES (nextval('anchor_no'), 30000, 1, md5(:k::text)::uuid) RETURNING id \gset s_
INSERT INTO floor_item (sale_id, product_id, qty, price)
    VALUES (:s_id, :a, 1, 15000), (:s_id, :b, 1, 15000);
INSERT INTO floor_move (product_id, delta, stock_after, sale_id)
    VALUES (:a, -1, :sa_stock, :s_id), (:b, -1, :sb_stock, :s_id);
COMMIT;
