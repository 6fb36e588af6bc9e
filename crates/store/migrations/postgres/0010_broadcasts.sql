-- Manual broadcast messages to members: the message, its audience and, resolved when it was
-- sent, who it went to (the embedding app pages through them to deliver it).
CREATE TABLE broadcasts (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT,
    message TEXT NOT NULL,
    audience TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE UNIQUE INDEX broadcasts_idempotency ON broadcasts (merchant_id, idempotency_key);

CREATE TABLE broadcast_recipients (
    merchant_id TEXT NOT NULL,
    broadcast_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (merchant_id, broadcast_id, member_id)
);
