-- Reports: exact rollups of sales and refunds, so a month's or a year's
-- figures are a few thousand rows away instead of a million.
--
-- What each sale, line, refund and refund line contributes to a report is
-- defined once, in the view `report_facts`, keyed by the instant it counts
-- at (a sale's `occurred_at`, a refund's `created_at`). `report_buckets`
-- holds those facts summed per 15-minute UTC bucket: every real time zone's
-- local midnight falls on a 15-minute boundary, so any store-local day or
-- month is a whole number of buckets, whatever the `timezone` setting is
-- or becomes.
--
-- Writers never touch `report_buckets`: triggers append their deltas to
-- `report_pending` (an INSERT, no row lock, so concurrent checkouts never
-- wait on each other or on reports, and no lock order can deadlock), in
-- the same transaction as the change, so a delta exists exactly when its
-- change is committed. Readers sum buckets and pending deltas in one
-- statement (one snapshot). `reports::compact` folds pending deltas into
-- buckets in one transaction (DELETE ... RETURNING, then upsert): a reader
-- sees the deltas either pending or folded, never both, never neither.

-- The share of a refund's money that was tax: the sale's tax in proportion
-- to the money refunded so far, less what earlier refunds returned, so a
-- fully refunded sale returns exactly its tax. A sale's refunds are
-- serialised by its row lock, so "earlier" is well defined.
ALTER TABLE refunds ADD COLUMN tax numeric(14, 2) NOT NULL DEFAULT 0 CHECK (tax >= 0);

UPDATE refunds r SET tax = x.tax
FROM (
    SELECT r.id,
           CASE WHEN s.total = 0 THEN 0
                ELSE round(s.tax * sum(r.amount) OVER w / s.total, 2)
                     - round(s.tax * (sum(r.amount) OVER w - r.amount) / s.total, 2)
           END AS tax
    FROM refunds r JOIN sales s ON s.id = r.sale_id
    WINDOW w AS (PARTITION BY r.sale_id ORDER BY r.created_at, r.id)
) x
WHERE x.id = r.id;

CREATE FUNCTION refund_tax_share() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sale_tax   numeric;
    sale_total numeric;
    before     numeric;
BEGIN
    SELECT tax, total INTO sale_tax, sale_total FROM sales WHERE id = NEW.sale_id;
    SELECT coalesce(sum(amount), 0) INTO before FROM refunds WHERE sale_id = NEW.sale_id;
    NEW.tax := CASE WHEN coalesce(sale_total, 0) = 0 THEN 0
                    ELSE round(sale_tax * (before + NEW.amount) / sale_total, 2)
                         - round(sale_tax * before / sale_total, 2)
               END;
    RETURN NEW;
END
$$;
CREATE TRIGGER refunds_tax_share BEFORE INSERT ON refunds
    FOR EACH ROW EXECUTE FUNCTION refund_tax_share();

-- Restocked refunds take their goods' cost back out of cost of goods.
CREATE INDEX refund_lines_sale_line ON refund_lines (sale_line_id);

CREATE FUNCTION report_bucket(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00');

-- Every figure a report sums, one row per sale, line, refund, refund line.
CREATE VIEW report_facts AS
    SELECT s.occurred_at AS at, 1::bigint AS transactions, 0::bigint AS items_sold,
           s.subtotal AS gross_sales, s.discount AS discounts, s.tax,
           0::numeric AS cost_of_goods, 0::numeric AS refunds, 0::numeric AS refunded_tax,
           0::bigint AS items_refunded, 0::numeric AS restocked_cost
    FROM sales s
    UNION ALL
    SELECT s.occurred_at, 0, l.quantity, 0, 0, 0, l.unit_cost * l.quantity, 0, 0, 0, 0
    FROM sale_lines l JOIN sales s ON s.id = l.sale_id
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, r.amount, r.tax, 0, 0
    FROM refunds r
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, 0, 0, rl.quantity,
           CASE WHEN r.restocked THEN l.unit_cost * rl.quantity ELSE 0 END
    FROM refund_lines rl
    JOIN refunds r ON r.id = rl.refund_id
    JOIN sale_lines l ON l.id = rl.sale_line_id;

CREATE TABLE report_buckets (
    bucket         timestamptz PRIMARY KEY,
    transactions   bigint  NOT NULL DEFAULT 0,
    items_sold     bigint  NOT NULL DEFAULT 0,
    gross_sales    numeric NOT NULL DEFAULT 0,
    discounts      numeric NOT NULL DEFAULT 0,
    tax            numeric NOT NULL DEFAULT 0,
    cost_of_goods  numeric NOT NULL DEFAULT 0,
    refunds        numeric NOT NULL DEFAULT 0,
    refunded_tax   numeric NOT NULL DEFAULT 0,
    items_refunded bigint  NOT NULL DEFAULT 0,
    restocked_cost numeric NOT NULL DEFAULT 0
);

CREATE TABLE report_pending (LIKE report_buckets INCLUDING DEFAULTS);
CREATE INDEX report_pending_bucket ON report_pending (bucket);

-- Inserts, the hot path: one delta row per bucket per statement.
CREATE FUNCTION report_sales_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax)
    SELECT report_bucket(occurred_at), count(*), sum(subtotal), sum(discount), sum(tax)
    FROM new_rows GROUP BY 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER sales_report AFTER INSERT ON sales
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_sales_inserted();

CREATE FUNCTION report_sale_lines_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
    SELECT report_bucket(s.occurred_at), sum(l.quantity), sum(l.unit_cost * l.quantity)
    FROM new_rows l JOIN sales s ON s.id = l.sale_id GROUP BY 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER sale_lines_report AFTER INSERT ON sale_lines
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_sale_lines_inserted();

CREATE FUNCTION report_refunds_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, refunds, refunded_tax)
    SELECT report_bucket(created_at), sum(amount), sum(tax)
    FROM new_rows GROUP BY 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER refunds_report AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_refunds_inserted();

CREATE FUNCTION report_refund_lines_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, items_refunded, restocked_cost)
    SELECT report_bucket(r.created_at), sum(rl.quantity),
           sum(CASE WHEN r.restocked THEN l.unit_cost * rl.quantity ELSE 0 END)
    FROM new_rows rl
    JOIN refunds r ON r.id = rl.refund_id
    JOIN sale_lines l ON l.id = rl.sale_line_id
    GROUP BY 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER refund_lines_report AFTER INSERT ON refund_lines
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_refund_lines_inserted();

-- Updates of reported columns and deletes: the application makes none
-- (a sale's figures never change; refunds are new rows), but a repair by
-- hand must not leave the rollups wrong. Row by row: old contribution out,
-- new one in, including what other rows derive from this one.
CREATE FUNCTION report_sales_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                    items_sold, cost_of_goods)
        SELECT report_bucket(OLD.occurred_at), -1, -OLD.subtotal, -OLD.discount, -OLD.tax,
               -coalesce(sum(l.quantity), 0), -coalesce(sum(l.unit_cost * l.quantity), 0)
        FROM sale_lines l WHERE l.sale_id = OLD.id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                    items_sold, cost_of_goods)
        SELECT report_bucket(NEW.occurred_at), 1, NEW.subtotal, NEW.discount, NEW.tax,
               coalesce(sum(l.quantity), 0), coalesce(sum(l.unit_cost * l.quantity), 0)
        FROM sale_lines l WHERE l.sale_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sales_report_changed
    AFTER UPDATE OF id, occurred_at, subtotal, discount, tax OR DELETE ON sales
    FOR EACH ROW EXECUTE FUNCTION report_sales_changed();

CREATE FUNCTION report_sale_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
        SELECT report_bucket(s.occurred_at), -OLD.quantity, -(OLD.unit_cost * OLD.quantity)
        FROM sales s WHERE s.id = OLD.sale_id;
        INSERT INTO report_pending (bucket, restocked_cost)
        SELECT report_bucket(r.created_at), -sum(OLD.unit_cost * rl.quantity)
        FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.sale_line_id = OLD.id AND r.restocked GROUP BY 1;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO report_pending (bucket, items_sold, cost_of_goods)
        SELECT report_bucket(s.occurred_at), NEW.quantity, NEW.unit_cost * NEW.quantity
        FROM sales s WHERE s.id = NEW.sale_id;
        INSERT INTO report_pending (bucket, restocked_cost)
        SELECT report_bucket(r.created_at), sum(NEW.unit_cost * rl.quantity)
        FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.sale_line_id = NEW.id AND r.restocked GROUP BY 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sale_lines_report_changed
    AFTER UPDATE OF id, sale_id, quantity, unit_cost OR DELETE ON sale_lines
    FOR EACH ROW EXECUTE FUNCTION report_sale_lines_changed();

CREATE FUNCTION report_refunds_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, refunds, refunded_tax, items_refunded, restocked_cost)
        SELECT report_bucket(OLD.created_at), -OLD.amount, -OLD.tax,
               -coalesce(sum(rl.quantity), 0),
               -coalesce(sum(CASE WHEN OLD.restocked THEN l.unit_cost * rl.quantity ELSE 0 END), 0)
        FROM refund_lines rl JOIN sale_lines l ON l.id = rl.sale_line_id
        WHERE rl.refund_id = OLD.id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO report_pending (bucket, refunds, refunded_tax, items_refunded, restocked_cost)
        SELECT report_bucket(NEW.created_at), NEW.amount, NEW.tax,
               coalesce(sum(rl.quantity), 0),
               coalesce(sum(CASE WHEN NEW.restocked THEN l.unit_cost * rl.quantity ELSE 0 END), 0)
        FROM refund_lines rl JOIN sale_lines l ON l.id = rl.sale_line_id
        WHERE rl.refund_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER refunds_report_changed
    AFTER UPDATE OF id, amount, tax, created_at, restocked OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION report_refunds_changed();

CREATE FUNCTION report_refund_lines_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, items_refunded, restocked_cost)
        SELECT report_bucket(r.created_at), -OLD.quantity,
               -(CASE WHEN r.restocked THEN l.unit_cost * OLD.quantity ELSE 0 END)
        FROM refunds r, sale_lines l WHERE r.id = OLD.refund_id AND l.id = OLD.sale_line_id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO report_pending (bucket, items_refunded, restocked_cost)
        SELECT report_bucket(r.created_at), NEW.quantity,
               CASE WHEN r.restocked THEN l.unit_cost * NEW.quantity ELSE 0 END
        FROM refunds r, sale_lines l WHERE r.id = NEW.refund_id AND l.id = NEW.sale_line_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER refund_lines_report_changed
    AFTER UPDATE OF id, refund_id, sale_line_id, quantity OR DELETE ON refund_lines
    FOR EACH ROW EXECUTE FUNCTION report_refund_lines_changed();

-- Recomputes every bucket from the raw rows. The EXCLUSIVE locks wait for
-- writers holding uncommitted deltas and hold new ones off until this
-- commits, so nothing is counted twice or lost.
CREATE FUNCTION report_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE report_pending, report_buckets IN EXCLUSIVE MODE;
    DELETE FROM report_pending;
    DELETE FROM report_buckets;
    INSERT INTO report_buckets
    SELECT report_bucket(at), sum(transactions), sum(items_sold), sum(gross_sales),
           sum(discounts), sum(tax), sum(cost_of_goods), sum(refunds), sum(refunded_tax),
           sum(items_refunded), sum(restocked_cost)
    FROM report_facts GROUP BY 1;
END
$$;

CREATE FUNCTION report_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM report_rebuild();
    RETURN NULL;
END
$$;
CREATE TRIGGER sales_report_truncated AFTER TRUNCATE ON sales
    FOR EACH STATEMENT EXECUTE FUNCTION report_truncated();
CREATE TRIGGER sale_lines_report_truncated AFTER TRUNCATE ON sale_lines
    FOR EACH STATEMENT EXECUTE FUNCTION report_truncated();
CREATE TRIGGER refunds_report_truncated AFTER TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION report_truncated();
CREATE TRIGGER refund_lines_report_truncated AFTER TRUNCATE ON refund_lines
    FOR EACH STATEMENT EXECUTE FUNCTION report_truncated();

-- Sales made before this migration.
SELECT report_rebuild();
