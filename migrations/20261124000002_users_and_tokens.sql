-- Staff accounts, refresh-token bookkeeping and login throttling.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Django's rule (letters, digits and @.+-_), checked in the API; the
    -- database keeps the length and refuses whitespace.
    username      text NOT NULL CHECK (char_length(username) BETWEEN 1 AND 150
                                       AND username !~ '[[:space:]]'),
    full_name     text NOT NULL DEFAULT '' CHECK (char_length(full_name) <= 150),
    phone         text NOT NULL DEFAULT '' CHECK (char_length(phone) <= 32),
    role          text NOT NULL CHECK (role IN ('owner', 'manager', 'cashier')),
    is_active     boolean NOT NULL DEFAULT true,
    -- argon2id PHC string, or a Django pbkdf2_sha256 hash until its next login.
    password_hash text NOT NULL CHECK (char_length(password_hash) BETWEEN 1 AND 512),
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    -- A deleted account is never active, so "active" alone means "can log in".
    CHECK (deleted_at IS NULL OR NOT is_active)
);
CREATE UNIQUE INDEX users_live_username ON users (lower(username)) WHERE deleted_at IS NULL;
-- Keyset pagination of the staff list.
CREATE INDEX users_live_order ON users (created_at, id) WHERE deleted_at IS NULL;
-- The last-active-owner check locks exactly these rows.
CREATE INDEX users_active_owners ON users (id) WHERE role = 'owner' AND is_active AND deleted_at IS NULL;

-- Every refresh token issued: rotation and logout blacklist it by jti.
-- Access tokens are never stored (they are checked without the database).
CREATE TABLE refresh_tokens (
    jti            uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    blacklisted_at timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE blacklisted_at IS NULL;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Failed logins per username (lowercased), in a fixed window that starts at
-- the first failure. In Postgres because serverless instances share nothing.
CREATE TABLE login_throttle (
    username_key text PRIMARY KEY CHECK (char_length(username_key) <= 1024),
    attempts     integer NOT NULL CHECK (attempts >= 1),
    window_start timestamptz NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle (window_start);
