-- Spend-based tiers: each member's tier, when it was reached and a manual floor; the tier
-- history; and the day the program last ran its daily tier check.
ALTER TABLE members ADD COLUMN tier_id TEXT;
ALTER TABLE members ADD COLUMN tier_since TEXT;
ALTER TABLE members ADD COLUMN tier_floor TEXT;
ALTER TABLE loyalty_programs ADD COLUMN tiers_checked_on TEXT;

CREATE TABLE tier_history (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    event TEXT NOT NULL,
    from_tier TEXT,
    to_tier TEXT,
    on_date TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
CREATE INDEX tier_history_member ON tier_history (merchant_id, member_id, created_at);
