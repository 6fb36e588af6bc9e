-- The installation-wide event stream (`GET /api/v1/events?after=`): events get a stream number
-- when a reader first asks for them, in the order they were appended (`appended`: a merchant's
-- appends are serialised by its counter row, so its events are appended in sequence order),
-- under the one row of event_stream, so numbers only ever grow in commit order and a poller
-- never skips an event.
ALTER TABLE events ADD COLUMN appended BIGSERIAL;
ALTER TABLE events ADD COLUMN stream_seq BIGINT;
CREATE UNIQUE INDEX events_stream ON events (stream_seq);
CREATE INDEX events_merchant_stream ON events (merchant_id, stream_seq);
CREATE INDEX events_unsequenced ON events (appended) WHERE stream_seq IS NULL;
CREATE TABLE event_stream (
    id BIGINT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);
INSERT INTO event_stream (id, last_seq) VALUES (1, 0);
