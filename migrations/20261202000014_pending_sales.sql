-- Pending sales and their payments (QRIS, bank transfer, a provider).
--
-- A sale paid by QRIS or transfer is rung up `pending`: it has its number
-- and holds its stock like any sale, but counts in no report. It leaves
-- `pending` once, under its row lock (lib/sales/pending.rs): `completed`
-- when paid, `expired` when its window passed (`pending_until`), or
-- `cancelled` by the till or a failed payment; the last two return the
-- stock in the ledger (kind `release`).

ALTER TABLE sales DROP CONSTRAINT sales_status_check;
ALTER TABLE sales ADD CONSTRAINT sales_status_check
    CHECK (status IN ('pending', 'completed', 'partially_refunded', 'refunded',
                      'expired', 'cancelled'));
ALTER TABLE sales
    -- The end of the payment window; NULL for a sale that was never pending.
    ADD COLUMN pending_until timestamptz,
    -- When it left `pending`, and who did that by hand (a confirmation or
    -- a cancel; NULL for the provider's word or the window's end).
    ADD COLUMN settled_at timestamptz,
    ADD COLUMN settled_by uuid REFERENCES users (id),
    ADD CONSTRAINT sales_pending_window CHECK (status <> 'pending' OR pending_until IS NOT NULL),
    ADD CONSTRAINT sales_settled CHECK ((pending_until IS NULL) <= (settled_at IS NULL)),
    ADD CONSTRAINT sales_pending_unsettled CHECK ((status = 'pending') <= (settled_at IS NULL)),
    ADD CONSTRAINT sales_unpaid_never_refunded
        CHECK (status NOT IN ('pending', 'expired', 'cancelled') OR refunded_amount = 0);
-- What expiry looks for: pending sales by the end of their window.
CREATE INDEX sales_pending ON sales (pending_until) WHERE status = 'pending';

-- Whether a sale with this status is money the shop took: the one rule
-- reports follow (Rust: Sale::counts).
CREATE FUNCTION sale_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN status IN ('completed', 'partially_refunded', 'refunded');

-- The stage the app shows (lib/sales Stage::of is its twin).
CREATE OR REPLACE FUNCTION sale_stage(status text, preparation text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN status = 'pending' THEN 'pending'
                WHEN status IN ('refunded', 'expired', 'cancelled') THEN 'cancelled'
                WHEN preparation = 'processing' THEN 'processing'
                ELSE 'completed' END;

-- Stock a pending sale held, given back when it expired or was cancelled.
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind_check;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind_check
    CHECK (kind IN ('opening', 'adjustment', 'count', 'sale', 'refund', 'release'));

-- Store settings: the shop's own static QRIS (validated by
-- lib/payments/qris.rs on save) and the payment window.
ALTER TABLE store_settings
    ADD COLUMN qris_payload text CHECK (char_length(qris_payload) BETWEEN 1 AND 512),
    ADD COLUMN payment_window_minutes integer NOT NULL DEFAULT 15
        CHECK (payment_window_minutes BETWEEN 1 AND 1440);

-- One payment per pending sale (lib/payments owns this table). `id` is the
-- app's `payment_id`; `order_id` is what the provider knows it by.
CREATE TABLE payments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sale_id      uuid NOT NULL UNIQUE REFERENCES sales (id),
    -- `qris_static`: the shop's own QRIS made dynamic, confirmed by hand;
    -- `manual`: a transfer confirmed by hand; else the provider's name.
    provider     text NOT NULL CHECK (provider IN ('qris_static', 'manual', 'duitku')),
    channel      text NOT NULL CHECK (channel IN ('qris', 'virtual_account', 'transfer')),
    method_code  text,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'success', 'failed', 'expired', 'cancelled')),
    amount       numeric(14, 2) NOT NULL CHECK (amount > 0),
    order_id     text NOT NULL UNIQUE CHECK (char_length(order_id) BETWEEN 1 AND 50),
    reference    text,
    qr_string    text,
    va_number    text,
    payment_url  text,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    settled_at   timestamptz,
    confirmed_by uuid REFERENCES users (id),
    -- The provider said "paid" after the sale had expired or been
    -- cancelled: the customer's money is to be returned by hand.
    late_paid_at timestamptz,
    -- When the provider was last asked for the status (polling).
    checked_at   timestamptz,
    -- Every provider notice as received (signature removed), oldest first.
    notices      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(notices) = 'array'),
    CHECK ((status = 'pending') = (settled_at IS NULL))
);

-- Reports count only sales that are money taken. The view defines the
-- figures; the insert triggers skip what does not count; the row trigger
-- moves a sale in or out when its status crosses the line (pending ->
-- completed), as it already does for a repair by hand.
CREATE OR REPLACE VIEW report_facts AS
    SELECT s.occurred_at AS at, 1::bigint AS transactions, 0::bigint AS items_sold,
           s.subtotal AS gross_sales, s.discount AS discounts, s.tax,
           0::numeric AS cost_of_goods, 0::numeric AS refunds, 0::numeric AS refunded_tax,
           0::bigint AS items_refunded, 0::numeric AS restocked_cost,
           s.takeaway_charge::numeric AS takeaway_charges
    FROM sales s
    WHERE sale_counts(s.status)
    UNION ALL
    SELECT s.occurred_at, 0, l.quantity, 0, 0, 0, l.unit_cost * l.quantity, 0, 0, 0, 0, 0
    FROM sale_lines l JOIN sales s ON s.id = l.sale_id
    WHERE sale_counts(s.status)
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, r.amount, r.tax, 0, 0, 0
    FROM refunds r
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, 0, 0, rl.quantity,
           CASE WHEN r.restocked THEN l.unit_cost * rl.quantity ELSE 0 END, 0
    FROM refund_lines rl
    JOIN refunds r ON r.id = rl.refund_id
    JOIN sale_lines l ON l.id = rl.sale_line_id;

CREATE OR REPLACE FUNCTION report_sales_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                takeaway_charges)
    SELECT report_bucket(occurred_at), count(*), sum(subtotal), sum(discount), sum(tax),
           sum(takeaway_charge)
    FROM new_rows WHERE sale_counts(status) GROUP BY 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION report_sale_lines_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
    SELECT report_bucket(s.occurred_at), sum(l.quantity), sum(l.unit_cost * l.quantity)
    FROM new_rows l JOIN sales s ON s.id = l.sale_id
    WHERE sale_counts(s.status) GROUP BY 1;
    RETURN NULL;
END
$$;
-- (CREATE OR REPLACE dropped migration 8's setting.)
ALTER FUNCTION report_sale_lines_inserted() SET enable_seqscan = off;

-- Row by row: the old contribution out if it counted, the new one in if it
-- counts. A refund changes only `status` between counted values and
-- `refunded_amount`: nothing moves, and nothing is written.
CREATE OR REPLACE FUNCTION report_sales_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND sale_counts(OLD.status) = sale_counts(NEW.status)
       AND (NOT sale_counts(NEW.status)
            OR (OLD.id, OLD.occurred_at, OLD.subtotal, OLD.discount, OLD.tax, OLD.takeaway_charge)
               IS NOT DISTINCT FROM
               (NEW.id, NEW.occurred_at, NEW.subtotal, NEW.discount, NEW.tax, NEW.takeaway_charge))
    THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND sale_counts(OLD.status) THEN
        INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                    takeaway_charges, items_sold, cost_of_goods)
        SELECT report_bucket(OLD.occurred_at), -1, -OLD.subtotal, -OLD.discount, -OLD.tax,
               -OLD.takeaway_charge,
               -coalesce(sum(l.quantity), 0), -coalesce(sum(l.unit_cost * l.quantity), 0)
        FROM sale_lines l WHERE l.sale_id = OLD.id;
    END IF;
    IF TG_OP = 'UPDATE' AND sale_counts(NEW.status) THEN
        INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                    takeaway_charges, items_sold, cost_of_goods)
        SELECT report_bucket(NEW.occurred_at), 1, NEW.subtotal, NEW.discount, NEW.tax,
               NEW.takeaway_charge,
               coalesce(sum(l.quantity), 0), coalesce(sum(l.unit_cost * l.quantity), 0)
        FROM sale_lines l WHERE l.sale_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION report_sales_changed() SET enable_seqscan = off;
DROP TRIGGER sales_report_changed ON sales;
CREATE TRIGGER sales_report_changed
    AFTER UPDATE OF id, occurred_at, subtotal, discount, tax, takeaway_charge, status
    OR DELETE ON sales
    FOR EACH ROW EXECUTE FUNCTION report_sales_changed();

-- A line of a sale that does not count moves nothing when repaired.
CREATE OR REPLACE FUNCTION report_sale_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
        SELECT report_bucket(s.occurred_at), -OLD.quantity, -(OLD.unit_cost * OLD.quantity)
        FROM sales s WHERE s.id = OLD.sale_id AND sale_counts(s.status);
        INSERT INTO report_pending (bucket, restocked_cost)
        SELECT report_bucket(r.created_at), -sum(OLD.unit_cost * rl.quantity)
        FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.sale_line_id = OLD.id AND r.restocked GROUP BY 1;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
        SELECT report_bucket(s.occurred_at), NEW.quantity, NEW.unit_cost * NEW.quantity
        FROM sales s WHERE s.id = NEW.sale_id AND sale_counts(s.status);
        INSERT INTO report_pending (bucket, restocked_cost)
        SELECT report_bucket(r.created_at), sum(NEW.unit_cost * rl.quantity)
        FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.sale_line_id = NEW.id AND r.restocked GROUP BY 1;
    END IF;
    RETURN NULL;
END
$$;

SELECT report_rebuild();
