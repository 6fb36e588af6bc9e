CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    currency TEXT NOT NULL,
    event_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE locations (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    day_start TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);

CREATE TABLE connections (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    id TEXT NOT NULL,
    series TEXT NOT NULL,
    status TEXT NOT NULL,
    account_id TEXT,
    account_name TEXT,
    currency TEXT,
    scopes TEXT,
    access_token_enc TEXT,
    refresh_token_enc TEXT,
    access_expires_at BIGINT,
    token_version BIGINT NOT NULL DEFAULT 0,
    refresh_lease_owner TEXT,
    refresh_lease_until BIGINT,
    last_error TEXT,
    last_checked_at BIGINT,
    last_refreshed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX connections_account ON connections (merchant_id, series, account_id) WHERE account_id IS NOT NULL;

CREATE TABLE pos_locations (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    timezone TEXT,
    PRIMARY KEY (merchant_id, connection_id, external_id)
);

CREATE TABLE location_links (
    merchant_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, external_id)
);
CREATE UNIQUE INDEX location_links_location ON location_links (merchant_id, location_id, connection_id);

CREATE TABLE oauth_attempts (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    series TEXT NOT NULL,
    connection_id TEXT,
    verifier_enc TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (merchant_id, id)
);

CREATE TABLE orders (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    series TEXT NOT NULL,
    external_id TEXT NOT NULL,
    location_id TEXT,
    external_location_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    original_external_id TEXT,
    status TEXT NOT NULL,
    closed_at BIGINT NOT NULL,
    business_date TEXT,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tip_minor BIGINT NOT NULL,
    covers BIGINT,
    customer_email TEXT,
    content_hash TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX orders_external ON orders (merchant_id, connection_id, external_id);
CREATE INDEX orders_closed ON orders (merchant_id, closed_at);
CREATE INDEX orders_email ON orders (merchant_id, customer_email);

CREATE TABLE order_lines (
    merchant_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    sku TEXT,
    name TEXT NOT NULL,
    category TEXT,
    category_id TEXT,
    quantity_milli BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL,
    voided BOOLEAN NOT NULL,
    PRIMARY KEY (merchant_id, order_id, line_no)
);

CREATE TABLE events (
    merchant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, seq)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    stream_key TEXT NOT NULL,
    state TEXT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    checkpoint TEXT NOT NULL,
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_stream ON jobs (merchant_id, connection_id, kind, stream_key);
CREATE INDEX jobs_due ON jobs (state, run_after);

CREATE TABLE integration_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
CREATE INDEX integration_log_conn ON integration_log (merchant_id, connection_id, id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    merchant_id TEXT,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
