-- Endpoints of the embedding app that receive the event log as signed webhooks (Standard
-- Webhooks). merchant_id NULL: the installation's endpoint, for every merchant.
CREATE TABLE outbound_endpoints (
    id TEXT PRIMARY KEY,
    merchant_id TEXT,
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event types (`ordering.order_status`) and prefixes (`loyalty.*`); empty: all.
    event_types TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    previous_secret_enc TEXT,
    previous_valid_until BIGINT,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    -- The first failed attempt since the last success; a long streak disables the endpoint.
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbound_endpoints_merchant ON outbound_endpoints (merchant_id);

-- One event for one endpoint, created in the transaction that consumes the event.
CREATE TABLE outbound_deliveries (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- pending, delivered or failed.
    status TEXT NOT NULL,
    -- Attempts made, ever (the attempt log's numbering).
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Position in the retry schedule; a manual redelivery starts it again.
    schedule_step INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX outbound_deliveries_once ON outbound_deliveries (endpoint_id, merchant_id, event_seq);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (merchant_id, next_attempt_at) WHERE status = 'pending';

CREATE TABLE outbound_attempts (
    merchant_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, delivery_id, attempt)
);
