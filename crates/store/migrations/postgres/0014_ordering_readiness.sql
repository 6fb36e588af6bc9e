-- The active tables of a K-Series business location's floor plans: dine-in orders must name
-- one of them.
CREATE TABLE pos_tables (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    pos_location TEXT NOT NULL,
    number TEXT NOT NULL,
    floor_plan TEXT,
    description TEXT,
    seats BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, pos_location, number)
);

-- Online ordering per merchant: whether it is enabled (only after the readiness checks pass)
-- and the payment method per connection (JSON).
CREATE TABLE ordering_settings (
    merchant_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    enabled_at BIGINT,
    updated_at BIGINT NOT NULL
);
