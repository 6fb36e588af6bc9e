-- Online ordering: the POS's menu items and account profiles per business location (what
-- orders are validated against), online orders with their status history, and the K-Series
-- webhook details the ordering module applies.

CREATE TABLE pos_menu_items (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    pos_location TEXT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT,
    price_minor BIGINT,
    category TEXT,
    -- How many are left; NULL when the POS does not restrict the item.
    available_count BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, pos_location, sku)
);

CREATE TABLE pos_profiles (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    pos_location TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT,
    delivery_mode TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, pos_location, code)
);

ALTER TABLE webhook_deliveries ADD COLUMN detail TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (merchant_id, received_at) WHERE pending = 1;

CREATE TABLE online_orders (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    channel_order_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    pos_location TEXT NOT NULL,
    series TEXT NOT NULL,
    order_type TEXT NOT NULL,
    request TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT,
    pos_account TEXT,
    payment_status TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT,
    last_error TEXT,
    manual INTEGER NOT NULL,
    submitted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX online_orders_channel ON online_orders (merchant_id, channel_order_id);
CREATE INDEX online_orders_due ON online_orders (merchant_id, next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE TABLE online_order_history (
    merchant_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    detail TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, order_id, seq)
);
