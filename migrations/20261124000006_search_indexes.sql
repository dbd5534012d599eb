-- Transaction search (`GET /api/transactions?q=`) over a million sales.
--
-- 1. By number (`q` shaped like TRX-YYYYMMDD-NNNN or YYYYMMDD-NNNN, see
-- sales::search::number_prefix). The trigram index sales_search serves
-- every other `q`, but for a number it is slow: every number shares
-- trigrams ("trx", "202", "025", ...), so a number search reads most of
-- the index's posting lists (10-35 ms over a million sales). A
-- number-shaped q matches a number only at its start, so it is a prefix
-- lookup here, plus the same q in the names and notes, whose trigrams are
-- rare.
CREATE INDEX sales_number_prefix ON sales (transaction_no text_pattern_ops);
CREATE INDEX sales_search_text ON sales
    USING gin ((customer_name || ' ' || notes) gin_trgm_ops);

-- 2. Plan choice for a common name or note. The planner estimates
-- `... ILIKE '%term%'` from the sampled values of sales_search's
-- expression; with the default 100 a term in 1% of sales is often found in
-- none and estimated at 0.01%, so it fetches and sorts all of its ~10,000
-- rows through the trigram index (40 ms) instead of walking newest first
-- and stopping at the page (4 ms). A larger sample makes such estimates
-- right (costs a few seconds per ANALYZE of a million sales and ~1 ms of
-- planning per search).
ALTER INDEX sales_search ALTER COLUMN 1 SET STATISTICS 1000;
