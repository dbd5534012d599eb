-- Sales ("transactions" in the API), their lines, idempotency keys and
-- refunds. Every amount is exact NUMERIC; CHECKs make the arithmetic of a
-- sale impossible to store wrong.

-- Transaction numbers: TRX-YYYYMMDD-NNNN on the store-local date. NNNN is
-- the sale's place in a global sequence counted from the first sequence
-- value of its day. nextval() takes no row lock and is never rolled back,
-- so concurrent checkouts never wait on each other for a number (a per-day
-- counter row would serialise them all until commit); numbers are unique
-- because sequence values are. Gaps come only from a checkout that fails
-- after taking its number (stock is checked before), and from the very
-- first sales of a day when simultaneous: the one that loses the race to
-- create the day's row cannot see it in its snapshot and retries with a
-- new number.
CREATE SEQUENCE sale_number_seq AS bigint;
CREATE TABLE sale_days (
    day       date PRIMARY KEY,
    first_seq bigint NOT NULL
);

CREATE TABLE sales (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    transaction_no  text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'completed'
                    CHECK (status IN ('completed', 'partially_refunded', 'refunded')),
    cashier_id      uuid NOT NULL REFERENCES users (id),
    customer_name   text NOT NULL DEFAULT '' CHECK (char_length(customer_name) <= 200),
    notes           text NOT NULL DEFAULT '' CHECK (char_length(notes) <= 1000),
    order_type      text NOT NULL CHECK (order_type IN ('dine_in', 'take_away', 'delivery')),
    payment_method  text NOT NULL
                    CHECK (payment_method IN ('cash', 'qris', 'card', 'transfer', 'ewallet')),
    subtotal        numeric(14, 2) NOT NULL CHECK (subtotal >= 0),
    discount        numeric(14, 2) NOT NULL DEFAULT 0 CHECK (discount >= 0 AND discount <= subtotal),
    tax             numeric(14, 2) NOT NULL CHECK (tax >= 0),
    total           numeric(14, 2) NOT NULL CHECK (total = subtotal - discount + tax),
    paid_amount     numeric(14, 2) NOT NULL CHECK (paid_amount >= total),
    change_amount   numeric(14, 2) NOT NULL CHECK (change_amount = paid_amount - total),
    refunded_amount numeric(14, 2) NOT NULL DEFAULT 0
                    CHECK (refunded_amount >= 0 AND refunded_amount <= total),
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sales_newest ON sales (occurred_at DESC, id DESC);
CREATE INDEX sales_cashier_newest ON sales (cashier_id, occurred_at DESC, id DESC);
-- `q`: case-insensitive substring of the number, customer name or notes.
CREATE INDEX sales_search ON sales
    USING gin ((transaction_no || ' ' || customer_name || ' ' || notes) gin_trgm_ops);

CREATE TABLE sale_lines (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sale_id           uuid NOT NULL REFERENCES sales (id),
    line_no           integer NOT NULL CHECK (line_no >= 1),
    product_id        uuid NOT NULL REFERENCES products (id),
    -- A snapshot of the product at the time of sale.
    product_name      text NOT NULL,
    sku               text,
    unit_price        numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    unit_cost         numeric(14, 2) NOT NULL CHECK (unit_cost >= 0),
    quantity          integer NOT NULL CHECK (quantity > 0),
    line_total        numeric(14, 2) NOT NULL CHECK (line_total = unit_price * quantity),
    note              text NOT NULL DEFAULT '' CHECK (char_length(note) <= 200),
    refunded_quantity integer NOT NULL DEFAULT 0
                      CHECK (refunded_quantity >= 0 AND refunded_quantity <= quantity),
    UNIQUE (sale_id, line_no)
);
CREATE INDEX sale_lines_product ON sale_lines (product_id);

-- A retried checkout finds its first answer here. Written in the same
-- transaction as the sale, so a key exists exactly when its sale does.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id),
    key          uuid NOT NULL,
    request_hash bytea NOT NULL,
    sale_id      uuid NOT NULL REFERENCES sales (id),
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

CREATE TABLE refunds (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sale_id    uuid NOT NULL REFERENCES sales (id),
    amount     numeric(14, 2) NOT NULL CHECK (amount >= 0),
    reason     text NOT NULL CHECK (char_length(btrim(reason)) BETWEEN 1 AND 500),
    restocked  boolean NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_sale ON refunds (sale_id);
CREATE INDEX refunds_newest ON refunds (created_at DESC, id DESC);

CREATE TABLE refund_lines (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    refund_id    uuid NOT NULL REFERENCES refunds (id),
    sale_line_id uuid NOT NULL REFERENCES sale_lines (id),
    quantity     integer NOT NULL CHECK (quantity > 0),
    amount       numeric(14, 2) NOT NULL CHECK (amount >= 0)
);
CREATE INDEX refund_lines_refund ON refund_lines (refund_id);

ALTER TABLE stock_movements
    ADD FOREIGN KEY (sale_id) REFERENCES sales (id),
    ADD FOREIGN KEY (refund_id) REFERENCES refunds (id);
