CREATE TABLE catalog_products (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    sku TEXT,
    name TEXT,
    category_id TEXT,
    category TEXT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, external_id)
);

CREATE TABLE catalog_customers (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    email TEXT,
    name TEXT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, external_id)
);

CREATE TABLE webhook_deliveries (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, idempotency_key)
);
