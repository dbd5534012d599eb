-- Refresh with a grace window. The KasirGo app refreshes from two clients
-- without a lock and resends a refresh that timed out, and any non-200 logs
-- the cashier out. So a refresh token that was just rotated answers again,
-- for REFRESH_GRACE_SECONDS, with the very pair its rotation issued. No
-- token string is stored: the rotated-out row keeps what rebuilds that pair
-- (the successor's jti, the instant and the role it was issued with), and
-- HS256 signs identical claims identically.

-- One login's chain of rotated tokens (the jti of the login's own refresh
-- token). A logout ends the whole chain at once, grace or not. A token
-- issued before this migration is a chain of its own.
ALTER TABLE refresh_tokens ADD COLUMN family uuid;
UPDATE refresh_tokens SET family = jti;
ALTER TABLE refresh_tokens ALTER COLUMN family SET NOT NULL;

ALTER TABLE refresh_tokens
    -- Set when a refresh rotated this token out; `blacklisted_at` is then set too.
    ADD COLUMN successor_jti uuid,
    -- The successor pair's issue instant (whole seconds: its `iat`).
    ADD COLUMN rotated_at timestamptz,
    ADD COLUMN successor_role text CHECK (successor_role IN ('owner', 'manager', 'cashier')),
    -- Set by a logout: this token gets no grace, nor does any of its family.
    ADD COLUMN logged_out_at timestamptz,
    ADD CHECK ((successor_jti IS NULL) = (rotated_at IS NULL)
               AND (successor_jti IS NULL) = (successor_role IS NULL)),
    ADD CHECK (successor_jti IS NULL OR blacklisted_at IS NOT NULL),
    ADD CHECK (logged_out_at IS NULL OR blacklisted_at IS NOT NULL);

-- "Has this family been logged out?", asked by every replay.
CREATE INDEX refresh_tokens_logged_out_family ON refresh_tokens (family)
    WHERE logged_out_at IS NOT NULL;
