-- Scheduled ("delayed") events, MSC4140: kept until sent, cancelled, or restarted.
CREATE TABLE delayed_events (
  delay_id       TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL,
  device_id      TEXT,
  room_id        TEXT NOT NULL,
  event_type     TEXT NOT NULL,
  state_key      TEXT,
  content        JSONB NOT NULL,
  delay_ms       BIGINT NOT NULL,
  -- when the timer (re)started; the event is due at running_since + delay_ms
  running_since  BIGINT NOT NULL
);
CREATE INDEX delayed_events_due_idx ON delayed_events ((running_since + delay_ms));
CREATE INDEX delayed_events_user_idx ON delayed_events (user_id);
