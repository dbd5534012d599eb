-- A day at the till: shifts and the cash drawer, receipts (store details
-- and share links), customers.

-- Shifts (lib/shifts owns these tables). One open shift per cashier;
-- closing is final but for a manager's reopening, which is recorded.
CREATE TABLE shifts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cashier_id    uuid NOT NULL REFERENCES users (id),
    opening_cash  numeric(14, 2) NOT NULL CHECK (opening_cash >= 0),
    opened_at     timestamptz NOT NULL DEFAULT now(),
    note          text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    -- Set together when it closes: what the drawer should hold, what was
    -- counted, who closed it.
    closed_at     timestamptz,
    closed_by     uuid REFERENCES users (id),
    expected_cash numeric(14, 2),
    counted_cash  numeric(14, 2) CHECK (counted_cash >= 0),
    closing_note  text NOT NULL DEFAULT '' CHECK (char_length(closing_note) <= 500),
    CHECK ((closed_at IS NULL) = (counted_cash IS NULL)),
    CHECK ((closed_at IS NULL) = (expected_cash IS NULL))
);
CREATE UNIQUE INDEX shifts_one_open ON shifts (cashier_id) WHERE closed_at IS NULL;
CREATE INDEX shifts_newest ON shifts (opened_at DESC, id DESC);

-- Money into or out of the drawer that is not a sale: change from the
-- bank, ice bought from the till.
CREATE TABLE cash_movements (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    shift_id   uuid NOT NULL REFERENCES shifts (id),
    kind       text NOT NULL CHECK (kind IN ('pay_in', 'pay_out')),
    amount     numeric(14, 2) NOT NULL CHECK (amount > 0),
    reason     text NOT NULL CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500),
    -- A pay-out larger than the drawer held: allowed, flagged.
    flagged    boolean NOT NULL DEFAULT false,
    user_id    uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cash_movements_shift ON cash_movements (shift_id, created_at);

CREATE TABLE shift_reopenings (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    shift_id           uuid NOT NULL REFERENCES shifts (id),
    reason             text NOT NULL CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500),
    user_id            uuid NOT NULL REFERENCES users (id),
    -- The close it undid.
    was_closed_at      timestamptz NOT NULL,
    was_counted_cash   numeric(14, 2) NOT NULL,
    was_expected_cash  numeric(14, 2) NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shift_reopenings_shift ON shift_reopenings (shift_id, created_at);

-- Every sale and refund records the shift it happened in (the cashier's
-- open shift then; NULL when there was none).
ALTER TABLE sales ADD COLUMN shift_id uuid REFERENCES shifts (id);
ALTER TABLE refunds ADD COLUMN shift_id uuid REFERENCES shifts (id);
CREATE INDEX sales_shift ON sales (shift_id) WHERE shift_id IS NOT NULL;
CREATE INDEX refunds_shift ON refunds (shift_id) WHERE shift_id IS NOT NULL;

-- Customers (lib/customers owns the table): the phone in its normalised
-- +62 form, unique.
CREATE TABLE customers (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    phone      text UNIQUE CHECK (phone ~ '^\+62[1-9][0-9]{7,11}$'),
    notes      text NOT NULL DEFAULT '' CHECK (char_length(notes) <= 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_name ON customers USING gin (name gin_trgm_ops);
ALTER TABLE sales ADD COLUMN customer_id uuid REFERENCES customers (id);
CREATE INDEX sales_customer ON sales (customer_id, occurred_at DESC) WHERE customer_id IS NOT NULL;

-- Store details for receipts, and the shift rule.
ALTER TABLE store_settings
    ADD COLUMN store_address text NOT NULL DEFAULT '' CHECK (char_length(store_address) <= 300),
    ADD COLUMN store_phone text NOT NULL DEFAULT '' CHECK (char_length(store_phone) <= 40),
    -- Whether a cashier may sell without an open shift.
    ADD COLUMN sell_without_shift boolean NOT NULL DEFAULT true;

-- Receipt share links: the token carries the link's id and expiry, signed;
-- this row makes it revocable.
CREATE TABLE receipt_links (
    id         uuid PRIMARY KEY,
    sale_id    uuid NOT NULL REFERENCES sales (id),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX receipt_links_sale ON receipt_links (sale_id);
