-- Transaction search by words of the customer name and notes
-- (`GET /api/transactions?q=`, sales::search), newest first.
--
-- A trigram index finds every match of a word at once but cannot give them
-- newest first: Postgres either fetches and sorts every match or walks the
-- sales newest first until a page is full, and it guesses which from a
-- statistics sample. A word in 0.05-1% of a million sales is slow either
-- way (20-70 ms), and the guess flips between runs of ANALYZE.
--
-- This index keys each trigram by the sale's 30-day time slice
-- ("692:bud"): the sales of one slice holding every trigram of `q` are a
-- small posting list, so the search looks at the newest slice first, then
-- the one before, and stops when the page is full.

-- A slice is 2,592,000 seconds of Unix time (UTC; slices need not be
-- calendar months), numbered from the epoch.
CREATE FUNCTION sale_time_slice(at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN floor(extract(epoch FROM at - timestamptz '1970-01-01 00:00+00') / 2592000);

-- Every checkout computes this for its sale, so it is one expression that
-- Postgres inlines (a subquery here would start an executor per row and
-- cost checkout ~20% of its throughput in pgbench; this costs ~9%, most of
-- it the index insert). Trigrams hold no "|" (alphanumerics, spaces, or
-- 0x... for other letters). An empty name and notes give one key "N:"
-- that no search asks for.
CREATE FUNCTION sale_search_keys(occurred_at timestamptz, customer_name text, notes text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN string_to_array(
    sale_time_slice(occurred_at) || ':'
        || array_to_string(show_trgm(customer_name || ' ' || notes),
                           '|' || sale_time_slice(occurred_at) || ':'),
    '|');

CREATE INDEX sales_search_slices ON sales
    USING gin (sale_search_keys(occurred_at, customer_name, notes));
