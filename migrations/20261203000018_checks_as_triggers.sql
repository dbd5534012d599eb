-- The CHECKs of the tables a sale writes, as BEFORE triggers (issue 15:
-- checkout at 80% of what Postgres can do).
--
-- Postgres 15 reads a table's CHECK constraints from their stored node
-- trees and plans them again for every statement that writes the table
-- (ExecConstraints -> stringToNode, expression_planner), and checks them
-- all whatever columns the statement sets: a sale's two stock decrements
-- re-read every CHECK of products twice, its insert the 19 of sales. perf
-- put that at 14% of Postgres's time in a checkout. A plpgsql function is
-- compiled once per connection and its plans cached, so the same rules as
-- a trigger cost a fraction of that: Postgres CPU per sale (pgbench
-- running bench/checkout_own.sql, fresh databases, three alternating
-- pairs) 994/926/907 us before, 868/815/834 after.
--
-- Same rules, same answers: a row that breaks one fails with SQLSTATE
-- 23514 (check_violation) naming the same constraint and table, on insert
-- and on update. A CHECK passes when its expression is NULL; so does
-- `IF NOT (...)`. products keeps its stock CHECK (the one rule a sale's
-- UPDATE touches); its other rules fire only on the columns they read.
-- tests/checkout.rs breaks each rule once.

-- A failed check, raised as Postgres raises a CHECK's failure (SQLSTATE
-- 23514, the constraint's name and table), so nothing that reads the error
-- can tell the difference.
CREATE FUNCTION raise_check_violation(tbl text, name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'check_violation', TABLE = tbl, CONSTRAINT = name,
        MESSAGE = format('new row for relation "%s" violates check constraint "%s"', tbl, name);
END
$$;

-- Each trigger tests its rules in the order Postgres tests CHECKs (by
-- name), so a row breaking two is refused naming the same one.

-- products: every CHECK but the stock's, on the columns they read. A sale's
-- stock-only UPDATE does not fire it.
CREATE FUNCTION products_valid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (char_length(NEW.barcode) BETWEEN 1 AND 64) THEN
        PERFORM raise_check_violation('products', 'products_barcode_check'); END IF;
    IF NOT (NEW.cost >= 0) THEN
        PERFORM raise_check_violation('products', 'products_cost_check'); END IF;
    IF NOT (char_length(NEW.description) <= 2000) THEN
        PERFORM raise_check_violation('products', 'products_description_check'); END IF;
    IF NOT (char_length(NEW.image_public_id) BETWEEN 1 AND 255) THEN
        PERFORM raise_check_violation('products', 'products_image_public_id_check'); END IF;
    IF NOT (char_length(NEW.image_url) BETWEEN 1 AND 2048) THEN
        PERFORM raise_check_violation('products', 'products_image_url_check'); END IF;
    IF NOT (NEW.low_stock_threshold >= 0) THEN
        PERFORM raise_check_violation('products', 'products_low_stock_threshold_check'); END IF;
    IF NOT (char_length(btrim(NEW.name)) BETWEEN 1 AND 200) THEN
        PERFORM raise_check_violation('products', 'products_name_check'); END IF;
    IF NOT (NEW.price >= 0) THEN
        PERFORM raise_check_violation('products', 'products_price_check'); END IF;
    IF NOT (char_length(NEW.sku) BETWEEN 1 AND 64) THEN
        PERFORM raise_check_violation('products', 'products_sku_check'); END IF;
    RETURN NEW;
END
$$;
ALTER TABLE products
    DROP CONSTRAINT products_name_check, DROP CONSTRAINT products_sku_check,
    DROP CONSTRAINT products_image_url_check, DROP CONSTRAINT products_description_check,
    DROP CONSTRAINT products_price_check, DROP CONSTRAINT products_cost_check,
    DROP CONSTRAINT products_low_stock_threshold_check,
    DROP CONSTRAINT products_image_public_id_check, DROP CONSTRAINT products_barcode_check;
CREATE TRIGGER products_valid BEFORE INSERT OR UPDATE OF
    name, sku, image_url, description, price, cost, low_stock_threshold, image_public_id, barcode
    ON products FOR EACH ROW EXECUTE FUNCTION products_valid();

CREATE FUNCTION sales_valid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.discount >= 0 AND NEW.discount <= NEW.subtotal) THEN
        PERFORM raise_check_violation('sales', 'sales_check'); END IF;
    IF NOT (NEW.paid_amount >= NEW.total) THEN
        PERFORM raise_check_violation('sales', 'sales_check2'); END IF;
    IF NOT (NEW.change_amount = NEW.paid_amount - NEW.total) THEN
        PERFORM raise_check_violation('sales', 'sales_check3'); END IF;
    IF NOT (NEW.refunded_amount >= 0 AND NEW.refunded_amount <= NEW.total) THEN
        PERFORM raise_check_violation('sales', 'sales_check4'); END IF;
    IF NOT ((NEW.preparation = 'completed') = (NEW.prepared_at IS NOT NULL)) THEN
        PERFORM raise_check_violation('sales', 'sales_check5'); END IF;
    IF NOT (char_length(NEW.customer_name) <= 200) THEN
        PERFORM raise_check_violation('sales', 'sales_customer_name_check'); END IF;
    IF NOT (char_length(NEW.notes) <= 1000) THEN
        PERFORM raise_check_violation('sales', 'sales_notes_check'); END IF;
    IF NOT (NEW.order_type IN ('dine_in', 'take_away', 'delivery')) THEN
        PERFORM raise_check_violation('sales', 'sales_order_type_check'); END IF;
    IF NOT (NEW.payment_method IN ('cash', 'qris', 'card', 'transfer', 'ewallet')) THEN
        PERFORM raise_check_violation('sales', 'sales_payment_method_check'); END IF;
    IF NOT ((NEW.status = 'pending') <= (NEW.settled_at IS NULL)) THEN
        PERFORM raise_check_violation('sales', 'sales_pending_unsettled'); END IF;
    IF NOT (NEW.status <> 'pending' OR NEW.pending_until IS NOT NULL) THEN
        PERFORM raise_check_violation('sales', 'sales_pending_window'); END IF;
    IF NOT (NEW.preparation IN ('processing', 'completed')) THEN
        PERFORM raise_check_violation('sales', 'sales_preparation_check'); END IF;
    IF NOT ((NEW.pending_until IS NULL) <= (NEW.settled_at IS NULL)) THEN
        PERFORM raise_check_violation('sales', 'sales_settled'); END IF;
    IF NOT (NEW.status IN ('pending', 'completed', 'partially_refunded', 'refunded', 'expired', 'cancelled')) THEN
        PERFORM raise_check_violation('sales', 'sales_status_check'); END IF;
    IF NOT (NEW.subtotal >= 0) THEN
        PERFORM raise_check_violation('sales', 'sales_subtotal_check'); END IF;
    IF NOT (NEW.takeaway_charge >= 0) THEN
        PERFORM raise_check_violation('sales', 'sales_takeaway_charge_check'); END IF;
    IF NOT (NEW.tax >= 0) THEN
        PERFORM raise_check_violation('sales', 'sales_tax_check'); END IF;
    IF NOT (NEW.total = NEW.subtotal - NEW.discount + NEW.tax + NEW.takeaway_charge) THEN
        PERFORM raise_check_violation('sales', 'sales_total_check'); END IF;
    IF NOT (NEW.status NOT IN ('pending', 'expired', 'cancelled') OR NEW.refunded_amount = 0) THEN
        PERFORM raise_check_violation('sales', 'sales_unpaid_never_refunded'); END IF;
    RETURN NEW;
END
$$;
ALTER TABLE sales
    DROP CONSTRAINT sales_order_type_check, DROP CONSTRAINT sales_payment_method_check,
    DROP CONSTRAINT sales_subtotal_check, DROP CONSTRAINT sales_check,
    DROP CONSTRAINT sales_tax_check, DROP CONSTRAINT sales_check2,
    DROP CONSTRAINT sales_check3, DROP CONSTRAINT sales_check4,
    DROP CONSTRAINT sales_notes_check, DROP CONSTRAINT sales_settled,
    DROP CONSTRAINT sales_status_check, DROP CONSTRAINT sales_pending_window,
    DROP CONSTRAINT sales_pending_unsettled, DROP CONSTRAINT sales_unpaid_never_refunded,
    DROP CONSTRAINT sales_customer_name_check, DROP CONSTRAINT sales_preparation_check,
    DROP CONSTRAINT sales_check5, DROP CONSTRAINT sales_takeaway_charge_check,
    DROP CONSTRAINT sales_total_check;
CREATE TRIGGER sales_valid BEFORE INSERT OR UPDATE ON sales
    FOR EACH ROW EXECUTE FUNCTION sales_valid();

CREATE FUNCTION sale_lines_valid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.line_total = NEW.unit_price * NEW.quantity) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_check'); END IF;
    IF NOT (NEW.refunded_quantity >= 0 AND NEW.refunded_quantity <= NEW.quantity) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_check1'); END IF;
    IF NOT (NEW.line_no >= 1) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_line_no_check'); END IF;
    IF NOT (char_length(NEW.note) <= 200) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_note_check'); END IF;
    IF NOT (NEW.quantity > 0) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_quantity_check'); END IF;
    IF NOT (NEW.unit_cost >= 0) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_unit_cost_check'); END IF;
    IF NOT (NEW.unit_price >= 0) THEN
        PERFORM raise_check_violation('sale_lines', 'sale_lines_unit_price_check'); END IF;
    RETURN NEW;
END
$$;
ALTER TABLE sale_lines
    DROP CONSTRAINT sale_lines_line_no_check, DROP CONSTRAINT sale_lines_unit_price_check,
    DROP CONSTRAINT sale_lines_unit_cost_check, DROP CONSTRAINT sale_lines_quantity_check,
    DROP CONSTRAINT sale_lines_check, DROP CONSTRAINT sale_lines_note_check,
    DROP CONSTRAINT sale_lines_check1;
CREATE TRIGGER sale_lines_valid BEFORE INSERT OR UPDATE ON sale_lines
    FOR EACH ROW EXECUTE FUNCTION sale_lines_valid();
