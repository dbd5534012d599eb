-- Checkout's write in one statement (issue 15: checkout at 80% of what
-- Postgres can do).
--
-- Before: BEGIN, a read that locked every product of the cart (FOR NO KEY
-- UPDATE) and the cashier's open shift (FOR SHARE), one CTE writing the
-- sale, COMMIT: four round trips, and a hot product's row lock held across
-- three of them while the server priced the cart. Now lib/sales/checkout.rs
-- reads without locking, prices the cart, and calls checkout_write() once,
-- in autocommit for a plain sale. The function writes the header, the
-- idempotency record, and only then takes the stock, in product id order
-- (carts sharing products queue instead of deadlocking), with a condition
-- that the product is still live, for sale, at the price and cost the cart
-- was priced at, and has the units. If any of that changed since the read
-- (or the cashier's open shift did), it raises KG409 and the whole
-- statement rolls back: checkout reads again and retries. So a row lock is
-- held from the decrement to the commit, and nothing a sale writes is ever
-- half-written.

-- A sale changes stock only; with no index on a column it changes, the
-- update is HOT (no index entries), given room on the page. products_change
-- served no query: sync's filter is a CASE over a snapshot, a scan of the
-- shop's products either way.
DROP INDEX products_change;
ALTER TABLE products SET (fillfactor = 80);

-- The search keys of a sale (migration 9), the same keys, in plpgsql. As
-- an SQL function it could not be inlined (array_to_string and text ||
-- bigint are only stable), so every insert into sales started the SQL
-- function executor for the index expression, parsing its body again:
-- 6% of Postgres's time in a checkout (perf). A plpgsql function is
-- compiled once per connection. Same results, so the index stays valid.
CREATE OR REPLACE FUNCTION sale_search_keys(occurred_at timestamptz, customer_name text, notes text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN string_to_array(
        sale_time_slice(occurred_at) || ':'
            || array_to_string(show_trgm(customer_name || ' ' || notes),
                               '|' || sale_time_slice(occurred_at) || ':'),
        '|');
END
$$;

CREATE FUNCTION checkout_write(
    p_sale_id uuid, p_cashier uuid, p_timezone text,
    p_customer_name text, p_notes text, p_order_type text, p_payment_method text,
    p_subtotal numeric, p_discount numeric, p_tax numeric, p_total numeric,
    p_paid numeric, p_change numeric, p_occurred_at timestamptz, p_created_at timestamptz,
    p_takeaway_charge numeric, p_preparation text, p_status text,
    p_pending_until timestamptz, p_customer_id uuid, p_shift_id uuid,
    -- The lines, in order.
    l_id uuid[], l_product uuid[], l_name text[], l_sku text[], l_price numeric[],
    l_cost numeric[], l_qty int[], l_total numeric[], l_note text[],
    -- Per product of the cart, in id order: units taken, and the price and
    -- cost the cart was priced at.
    w_id uuid[], w_qty int[], w_price numeric[], w_cost numeric[],
    -- The idempotency record (none when k_key is null).
    k_key uuid, k_hash bytea, k_response jsonb,
    OUT transaction_no text, OUT int_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
    v_day date;
    v_first bigint;
    v_no bigint;
    v_shift uuid;
    v_after int[] := '{}';
    v_stock int;
BEGIN
    -- Held against a close until this sale commits (lib/shifts).
    SELECT id INTO v_shift FROM shifts
    WHERE cashier_id = p_cashier AND closed_at IS NULL FOR SHARE;
    IF v_shift IS DISTINCT FROM p_shift_id THEN
        RAISE EXCEPTION USING ERRCODE = 'KG409', MESSAGE = 'shift_changed';
    END IF;

    -- The day's number: the sequence's value less the day's first.
    v_day := (now() AT TIME ZONE p_timezone)::date;
    LOOP
        v_n := nextval('sale_number_seq');
        SELECT d.first_seq INTO v_first FROM sale_days d WHERE d.day = v_day;
        IF v_first IS NULL THEN
            -- The day's first sale (or one of the first, at once).
            INSERT INTO sale_days (day, first_seq) VALUES (v_day, v_n)
            ON CONFLICT (day) DO NOTHING RETURNING first_seq INTO v_first;
            IF v_first IS NULL THEN
                SELECT d.first_seq INTO v_first FROM sale_days d WHERE d.day = v_day;
            END IF;
        END IF;
        v_no := v_n - v_first + 1;
        -- Below 1: this sale drew its value before another, which then
        -- started the day. Draw again.
        EXIT WHEN v_no >= 1;
    END LOOP;
    transaction_no := 'TRX-' || to_char(v_day, 'YYYYMMDD') || '-'
        || CASE WHEN v_no < 10000 THEN lpad(v_no::text, 4, '0') ELSE v_no::text END;

    INSERT INTO sales (id, transaction_no, cashier_id, customer_name, notes,
                       order_type, payment_method, subtotal, discount, tax, total,
                       paid_amount, change_amount, occurred_at, created_at,
                       takeaway_charge, preparation, status, pending_until,
                       customer_id, shift_id)
    VALUES (p_sale_id, transaction_no, p_cashier, p_customer_name, p_notes,
            p_order_type, p_payment_method, p_subtotal, p_discount, p_tax, p_total,
            p_paid, p_change, p_occurred_at, p_created_at,
            p_takeaway_charge, p_preparation, p_status, p_pending_until,
            p_customer_id, p_shift_id)
    RETURNING sales.int_id INTO int_id;

    -- A concurrent attempt under the same key that committed first fails
    -- this on idempotency_keys_pkey, before any stock is taken.
    IF k_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_hash, sale_id, response)
        VALUES (p_cashier, k_key, k_hash, p_sale_id,
                jsonb_set(jsonb_set(k_response, '{transaction_no}', to_jsonb(transaction_no)),
                          '{int_id}', to_jsonb(int_id)));
    END IF;

    -- The stock, last: row locks held only from here to the commit.
    FOR i IN 1 .. cardinality(w_id) LOOP
        UPDATE products p SET stock = p.stock - w_qty[i]
        WHERE p.id = w_id[i] AND p.deleted_at IS NULL AND p.is_active
          AND p.price = w_price[i] AND p.cost = w_cost[i] AND p.stock >= w_qty[i]
        RETURNING p.stock INTO v_stock;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'KG409', MESSAGE = 'catalog_changed';
        END IF;
        v_after := v_after || v_stock;
    END LOOP;

    INSERT INTO sale_lines (id, sale_id, line_no, product_id, product_name, sku,
                            unit_price, unit_cost, quantity, line_total, note)
    SELECT l.id, p_sale_id, l.no, l.product_id, l.name, l.sku, l.price, l.cost, l.qty,
           l.total, l.note
    FROM unnest(l_id, l_product, l_name, l_sku, l_price, l_cost, l_qty, l_total, l_note)
         WITH ORDINALITY AS l(id, product_id, name, sku, price, cost, qty, total, note, no);

    INSERT INTO stock_movements (product_id, kind, delta, stock_after, reason, user_id, sale_id)
    SELECT w.id, 'sale', -w.qty, w.after, transaction_no, p_cashier, p_sale_id
    FROM unnest(w_id, w_qty, v_after) AS w(id, qty, after);
END
$$;
