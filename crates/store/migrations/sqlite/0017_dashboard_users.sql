-- People who sign in to the dashboard. merchant_id NULL: an installation administrator, who
-- sees every merchant; otherwise the user sees that merchant only.
CREATE TABLE dashboard_users (
    id TEXT PRIMARY KEY,
    merchant_id TEXT,
    -- Trimmed and lower-cased.
    email TEXT NOT NULL UNIQUE,
    -- An Argon2id PHC string (salt and parameters included).
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_sign_in_at BIGINT
);
CREATE INDEX dashboard_users_merchant ON dashboard_users (merchant_id);

-- Signed-in browsers. The cookie carries the token; only its SHA-256 is stored.
CREATE TABLE dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);
