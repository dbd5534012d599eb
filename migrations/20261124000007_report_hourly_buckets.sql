-- Report rollups per hour instead of per 15 minutes: a 12-month report
-- then sums ~8,800 buckets instead of ~35,000 (p95 74 ms -> see
-- bench/reports.rs under checkout load). Every store-local midnight of a
-- whole-hour zone (all of Indonesia, most of the world) is still a bucket
-- boundary; for a zone with a :30/:45 offset, reports::sums falls back to
-- the raw rows for periods that do not start on the hour: exact, slower.
-- The triggers all bucket through report_bucket(), so redefining it and
-- rebuilding is the whole change.
CREATE OR REPLACE FUNCTION report_bucket(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('1 hour', at, TIMESTAMPTZ '2000-01-01 00:00:00+00');

SELECT report_rebuild();
