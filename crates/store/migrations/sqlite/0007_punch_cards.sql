-- Punch cards: the merchant's cards, each member's progress on each card, and the stamps each
-- purchase gave on each card (so a changed purchase posts only the difference).
CREATE TABLE punch_cards (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    reward TEXT NOT NULL,
    rule TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);

CREATE TABLE member_cards (
    merchant_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, member_id, card_id)
);

CREATE TABLE purchase_stamps (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    sale_external_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    business_date TEXT,
    stamps BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, sale_external_id, card_id)
);
CREATE INDEX purchase_stamps_day ON purchase_stamps (merchant_id, member_id, card_id, business_date);
