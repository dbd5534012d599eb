-- Reports count the take-away charge (migration 10): a sale's
-- `takeaway_charge` is part of its total and of the money taken, untaxed,
-- so it is its own figure, `takeaway_charges`, counted like gross sales on
-- the sale's `occurred_at`, and it is part of net sales:
--   net_sales = gross_sales - discounts + takeaway_charges - (refunds - refunded_tax).
-- Refunds already scale with the sale's total (charge included) and their
-- tax share with its tax, so a refunded charge comes back out through
-- `refunds - refunded_tax` and a fully refunded sale nets to zero.
--
-- The same machinery as migrations 5, 7 and 8: the view defines the
-- figure, the insert trigger appends it to `report_pending` (still one
-- INSERT per statement, no lock, no join), the row trigger keeps a repair
-- by hand exact, and `report_rebuild` recomputes it. Columns are appended
-- at the end of the view and of both tables, in the same order, so
-- `SELECT * FROM report_buckets UNION ALL SELECT * FROM report_pending`
-- still lines up.

ALTER TABLE report_buckets ADD COLUMN takeaway_charges numeric NOT NULL DEFAULT 0;
ALTER TABLE report_pending ADD COLUMN takeaway_charges numeric NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW report_facts AS
    SELECT s.occurred_at AS at, 1::bigint AS transactions, 0::bigint AS items_sold,
           s.subtotal AS gross_sales, s.discount AS discounts, s.tax,
           0::numeric AS cost_of_goods, 0::numeric AS refunds, 0::numeric AS refunded_tax,
           0::bigint AS items_refunded, 0::numeric AS restocked_cost,
           s.takeaway_charge::numeric AS takeaway_charges
    FROM sales s
    UNION ALL
    SELECT s.occurred_at, 0, l.quantity, 0, 0, 0, l.unit_cost * l.quantity, 0, 0, 0, 0, 0
    FROM sale_lines l JOIN sales s ON s.id = l.sale_id
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, r.amount, r.tax, 0, 0, 0
    FROM refunds r
    UNION ALL
    SELECT r.created_at, 0, 0, 0, 0, 0, 0, 0, 0, rl.quantity,
           CASE WHEN r.restocked THEN l.unit_cost * rl.quantity ELSE 0 END, 0
    FROM refund_lines rl
    JOIN refunds r ON r.id = rl.refund_id
    JOIN sale_lines l ON l.id = rl.sale_line_id;

-- The hot path: still one delta row per bucket per statement, read from
-- the transition table alone (no lookup to plan).
CREATE OR REPLACE FUNCTION report_sales_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                takeaway_charges)
    SELECT report_bucket(occurred_at), count(*), sum(subtotal), sum(discount), sum(tax),
           sum(takeaway_charge)
    FROM new_rows GROUP BY 1;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION report_sales_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO report_pending (bucket, transactions, gross_sales, discounts, tax,
                                    takeaway_charges, items_sold, cost_of_goods)
        SELECT report_bucket(OLD.occurred_at), -1, -OLD.subtotal, -OLD.discount, -OLD.tax,
               -OLD.takeaway_charge,
               -coalesce(sum(l.quantity), 0), -coalesce(sum(l.unit_cost * l.quantity), 0)
        FROM sale_lines l WHERE l.sale_id = OLD.id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
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
-- The column list gains takeaway_charge, so a repair of the charge alone
-- moves the rollups too.
DROP TRIGGER sales_report_changed ON sales;
CREATE TRIGGER sales_report_changed
    AFTER UPDATE OF id, occurred_at, subtotal, discount, tax, takeaway_charge OR DELETE ON sales
    FOR EACH ROW EXECUTE FUNCTION report_sales_changed();

CREATE OR REPLACE FUNCTION report_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE report_pending, report_buckets IN EXCLUSIVE MODE;
    DELETE FROM report_pending;
    DELETE FROM report_buckets;
    INSERT INTO report_buckets
    SELECT report_bucket(at), sum(transactions), sum(items_sold), sum(gross_sales),
           sum(discounts), sum(tax), sum(cost_of_goods), sum(refunds), sum(refunded_tax),
           sum(items_refunded), sum(restocked_cost), sum(takeaway_charges)
    FROM report_facts GROUP BY 1;
END
$$;

-- Take-away charges recorded before this migration (imports, checkouts
-- between migrations 10 and 12) are in the raw rows but in no bucket.
SELECT report_rebuild();
