-- Loyalty: the program's configuration, members, purchases (a sale with its refunds and voids)
-- and the credit ledger.
CREATE TABLE loyalty_programs (
    merchant_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE members (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    phone TEXT,
    joined_at BIGINT NOT NULL,
    balance_minor BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX members_email ON members (merchant_id, email);

CREATE TABLE loyalty_purchases (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    sale_external_id TEXT NOT NULL,
    member_id TEXT,
    customer_email TEXT,
    sale_date TEXT,
    closed_at BIGINT NOT NULL,
    rule TEXT,
    net_eligible_minor BIGINT NOT NULL,
    accounted_minor BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, sale_external_id)
);
CREATE INDEX loyalty_purchases_member ON loyalty_purchases (merchant_id, member_id);
CREATE INDEX loyalty_purchases_email ON loyalty_purchases (merchant_id, customer_email, closed_at);

CREATE TABLE credit_ledger (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    member_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    written_off_minor BIGINT NOT NULL DEFAULT 0,
    balance_after_minor BIGINT NOT NULL,
    connection_id TEXT,
    sale_external_id TEXT,
    order_id TEXT,
    order_version BIGINT,
    reason TEXT,
    message TEXT,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX credit_ledger_idempotency ON credit_ledger (merchant_id, idempotency_key);
CREATE INDEX credit_ledger_member ON credit_ledger (merchant_id, member_id, seq);

-- Refunds and voids by the sale they reverse. Partial, so that lookups by provider id never
-- consider it (with it as a full index PostgreSQL planned the sync's upserts badly).
CREATE INDEX orders_original ON orders (merchant_id, connection_id, original_external_id)
    WHERE original_external_id IS NOT NULL;
