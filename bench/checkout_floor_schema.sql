-- The floor of our own guarantees, for bench/checkout.rs: the anchor's
-- tables (../shared/perf/anchor_schema.sql: products, a header, its lines)
-- plus the least more that KasirGo promises a sale: an append-only ledger
-- row per product with the stock after it, and an idempotency key unique
-- per cashier on the header (a retry finds its sale by it). Nothing else:
-- no stored answer, no report rows, no search index, no cashier, no shift,
-- no day number, no CHECKs beyond the anchor's. Run after the anchor's
-- schema, which it builds on.
DROP TABLE IF EXISTS floor_move, floor_item, floor_sale;
CREATE TABLE floor_sale (
    id bigserial PRIMARY KEY,
    no bigint NOT NULL,
    total numeric(14,2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    user_id int NOT NULL,
    key uuid NOT NULL,
    UNIQUE (user_id, key)
);
CREATE INDEX ON floor_sale (created_at);
CREATE TABLE floor_item (
    id bigserial PRIMARY KEY,
    sale_id bigint NOT NULL REFERENCES floor_sale (id),
    product_id int NOT NULL REFERENCES anchor_product (id),
    qty int NOT NULL,
    price numeric(14,2) NOT NULL
);
CREATE INDEX ON floor_item (sale_id);
CREATE TABLE floor_move (
    id bigserial PRIMARY KEY,
    product_id int NOT NULL,
    delta int NOT NULL,
    stock_after int NOT NULL,
    sale_id bigint NOT NULL
);
CREATE INDEX ON floor_move (product_id, id);
