-- The dashboard's first-run steps per merchant: each step done or skipped, by whom and when.
CREATE TABLE dashboard_onboarding (
    merchant_id TEXT NOT NULL,
    step TEXT NOT NULL,
    -- `done` or `skipped`.
    state TEXT NOT NULL,
    user_email TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, step)
);

-- Failed sign-ins per e-mail (known or not) since its last success, to slow password guessing.
CREATE TABLE dashboard_sign_in_failures (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL
);
