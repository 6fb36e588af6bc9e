-- RFM segments and replays: each member's current segment and scores, a row per member on the days their
-- segment changed (the day-by-day snapshot, stored as changes), and each day's run with its
-- distribution and movement between segments.
ALTER TABLE members ADD COLUMN segment TEXT;
ALTER TABLE members ADD COLUMN rfm_scores TEXT;

CREATE TABLE segment_history (
    merchant_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    on_date TEXT NOT NULL,
    from_segment TEXT,
    to_segment TEXT NOT NULL,
    PRIMARY KEY (merchant_id, member_id, on_date)
);

CREATE TABLE rfm_runs (
    merchant_id TEXT NOT NULL,
    on_date TEXT NOT NULL,
    members BIGINT NOT NULL,
    distribution TEXT NOT NULL,
    movement TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, on_date)
);

-- A replay of the loyalty consumer: events up to until_seq were announced before and are
-- applied again without notifications.
CREATE TABLE loyalty_replays (
    merchant_id TEXT PRIMARY KEY,
    until_seq BIGINT NOT NULL,
    started_at BIGINT NOT NULL
);
