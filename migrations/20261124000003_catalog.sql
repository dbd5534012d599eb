-- Catalog: categories, products, the stock ledger, and change tracking for
-- offline sync.
--
-- Sync tokens are snapshots, not timestamps or sequence values: both of
-- those are taken before commit, so a slow transaction can commit a change
-- "older" than one a sync has already passed. Each row records the id of
-- the transaction that last wrote it (change_xid); a sync's token is the
-- snapshot it read from, and the next sync returns the rows whose
-- change_xid that snapshot could not see (pg_visible_in_snapshot), using
-- change_xid >= the snapshot's xmin for the index range.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION touch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_xid := pg_current_xact_id();
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

ALTER TABLE store_settings
    ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE TRIGGER store_settings_touch BEFORE UPDATE ON store_settings
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE categories (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE UNIQUE INDEX categories_live_name ON categories (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX categories_change ON categories (change_xid);
CREATE TRIGGER categories_touch BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE TABLE products (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku                 text CHECK (char_length(sku) BETWEEN 1 AND 64),
    barcode             text CHECK (char_length(barcode) BETWEEN 1 AND 64),
    name                text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    description         text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    category_id         uuid REFERENCES categories (id),
    price               numeric(14, 2) NOT NULL CHECK (price >= 0),
    cost                numeric(14, 2) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    -- Changed only by sales, refunds and the stock ledger, never by PATCH.
    stock               integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    low_stock_threshold integer NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    is_active           boolean NOT NULL DEFAULT true,
    image_public_id     text CHECK (char_length(image_public_id) BETWEEN 1 AND 255),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz,
    change_xid          xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE UNIQUE INDEX products_live_sku ON products (lower(sku)) WHERE deleted_at IS NULL;
CREATE INDEX products_live_name ON products (name, id) WHERE deleted_at IS NULL;
CREATE INDEX products_category ON products (category_id) WHERE deleted_at IS NULL;
CREATE INDEX products_barcode ON products (barcode) WHERE deleted_at IS NULL;
CREATE INDEX products_change ON products (change_xid);
-- Substring search over name, SKU and barcode (`q`).
CREATE INDEX products_search ON products
    USING gin ((name || ' ' || coalesce(sku, '') || ' ' || coalesce(barcode, '')) gin_trgm_ops)
    WHERE deleted_at IS NULL;
CREATE TRIGGER products_touch BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION touch_row();

-- The append-only stock ledger: every change to a product's stock, with who,
-- why and the stock after it. Sales and refunds write here too.
CREATE TABLE stock_movements (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  uuid NOT NULL REFERENCES products (id),
    kind        text NOT NULL CHECK (kind IN ('opening', 'adjustment', 'count', 'sale', 'refund')),
    delta       integer NOT NULL,
    stock_after integer NOT NULL CHECK (stock_after >= 0),
    reason      text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    user_id     uuid REFERENCES users (id),
    -- The sale or refund that moved the stock (foreign keys come with
    -- their tables).
    sale_id     uuid,
    refund_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, id DESC);

CREATE FUNCTION stock_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_movements is append-only';
END
$$;
CREATE TRIGGER stock_movements_no_rewrite BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only();
