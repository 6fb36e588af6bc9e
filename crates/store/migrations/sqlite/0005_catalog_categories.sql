-- Categories per connection, as the POS names them (K accounting groups, X product categories,
-- R categories, O menu categories), kept by the catalog stream.
CREATE TABLE catalog_categories (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, external_id)
);
