-- A shift's expected cash is a sum of sales, refunds and cash movements:
-- each of those is bounded by NUMERIC(14,2), their sum is not. Two cash
-- sales over half the maximum each made the shift's report, and its
-- close, fail. The figures stay exact to the cent; NUMERIC(26,2) is as
-- wide as a Rust Decimal holds with two places (a trillion maximal sales).
-- (Widening a numeric's precision needs no table rewrite.)
ALTER TABLE shifts ALTER COLUMN expected_cash TYPE numeric(26, 2);
ALTER TABLE shift_reopenings ALTER COLUMN was_expected_cash TYPE numeric(26, 2);
