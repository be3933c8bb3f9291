-- Sync: filters, receipts, to-device messages, presence, device-list changes, push actions.

CREATE SEQUENCE user_filters_seq;
CREATE TABLE user_filters (
  user_id    TEXT NOT NULL,
  filter_id  BIGINT NOT NULL,
  filter     JSONB NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);

CREATE SEQUENCE receipts_stream_seq;
-- The latest receipt per (room, type, user, thread) (spec: Client-Server API §11.x "Receipts").
CREATE TABLE receipts (
  room_id       TEXT NOT NULL,
  receipt_type  TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  -- '' for unthreaded receipts; 'main' or a thread root ID for threaded ones
  thread_id     TEXT NOT NULL DEFAULT '',
  event_id      TEXT NOT NULL,
  -- the receipt's event position, so unread counts compare stream positions
  event_stream_ordering BIGINT,
  data          JSONB NOT NULL,
  stream_id     BIGINT NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_stream_idx ON receipts (stream_id);

CREATE SEQUENCE to_device_stream_seq;
-- spec: Client-Server API §11.x "Send-to-Device messaging": kept until the device acknowledges
-- them with a later since token.
CREATE TABLE device_inbox (
  user_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  stream_id  BIGINT NOT NULL,
  message    JSONB NOT NULL
);
CREATE INDEX device_inbox_idx ON device_inbox (user_id, device_id, stream_id);

-- Sender-side deduplication of PUT /sendToDevice/{eventType}/{txnId}.
CREATE TABLE to_device_txns (
  user_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  txn_id     TEXT NOT NULL,
  created_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

CREATE SEQUENCE presence_stream_seq;
CREATE TABLE presence (
  user_id           TEXT PRIMARY KEY,
  state             TEXT NOT NULL,
  status_msg        TEXT,
  last_active_ts    BIGINT NOT NULL,
  currently_active  BOOLEAN NOT NULL DEFAULT false,
  stream_id         BIGINT NOT NULL
);
CREATE INDEX presence_stream_idx ON presence (stream_id);

CREATE SEQUENCE device_lists_stream_seq;
-- A user's device list changed at stream_id (keys, devices): sync tells the users who share a room.
CREATE TABLE device_lists_changes (
  user_id    TEXT NOT NULL,
  stream_id  BIGINT NOT NULL
);
CREATE INDEX device_lists_changes_idx ON device_lists_changes (stream_id);

-- Notifications: one row per (event, notified user), as the push rules decided when the event
-- was persisted (spec: Client-Server API §11.x "Push Notifications").
CREATE TABLE event_push_actions (
  room_id          TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  stream_ordering  BIGINT NOT NULL,
  -- 'main' for the main timeline, else the thread root
  thread_id        TEXT NOT NULL DEFAULT 'main',
  actions          JSONB NOT NULL,
  notif            BOOLEAN NOT NULL,
  highlight        BOOLEAN NOT NULL,
  PRIMARY KEY (user_id, event_id)
);
CREATE INDEX event_push_actions_room_idx ON event_push_actions (user_id, room_id, stream_ordering);
