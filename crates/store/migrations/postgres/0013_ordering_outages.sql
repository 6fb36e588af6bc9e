-- The POS's own id of a menu item (X-Series product id, R-Series itemID) for series whose
-- orders name items by id rather than by SKU.
ALTER TABLE pos_menu_items ADD COLUMN product_id TEXT;

-- Outages seen by the ordering module, per connection: a partner outage (the POS API is
-- failing) or a credentials issue (reconnect needed). At most one is open per connection.
CREATE TABLE ordering_outages (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT,
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX ordering_outages_open ON ordering_outages (merchant_id, connection_id) WHERE ended_at IS NULL;

-- Alert mails, written in the transaction that raises the alert and sent afterwards.
CREATE TABLE outbox_mails (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    PRIMARY KEY (merchant_id, id)
);
CREATE INDEX outbox_mails_due ON outbox_mails (next_attempt_at) WHERE sent_at IS NULL;

-- Webhooks name an order by the POS's id for it (an X sale id, a K account identifier).
CREATE INDEX online_orders_pos_account ON online_orders (merchant_id, connection_id, pos_account);
