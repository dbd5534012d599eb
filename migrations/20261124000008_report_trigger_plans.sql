-- The insert triggers' lookups must use the primary keys whatever the
-- tables' sizes were when a session first planned them. PL/pgSQL caches a
-- trigger's plans per connection, and a pooled connection that first
-- planned `new_rows JOIN sales` while `sales` was small kept a sequential
-- scan of `sales` (bench/checkout.rs measured it: a third more Postgres CPU
-- per checkout on long-lived connections than on fresh ones, growing with
-- the table). With sequential scans priced out inside these functions the
-- plans are index lookups from the first call on; the transition tables
-- (`new_rows`) have no index and are still read in full, as they must be.
ALTER FUNCTION report_sale_lines_inserted() SET enable_seqscan = off;
ALTER FUNCTION report_refund_lines_inserted() SET enable_seqscan = off;
ALTER FUNCTION refund_tax_share() SET enable_seqscan = off;
