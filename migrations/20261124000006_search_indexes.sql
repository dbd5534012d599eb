-- Transaction search (`GET /api/transactions?q=`) over a million sales,
-- by number (`q` shaped like TRX-YYYYMMDD-NNNN or YYYYMMDD-NNNN, see
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

