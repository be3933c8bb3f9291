-- Rooms and the event graph.

CREATE TABLE rooms (
  room_id        TEXT PRIMARY KEY,
  room_version   TEXT NOT NULL,
  creator        TEXT,
  created_ts     BIGINT NOT NULL,
  -- published in the room directory (spec: GET/PUT /directory/list/room/{roomId})
  is_public      BOOLEAN NOT NULL DEFAULT false,
  -- the state snapshot after the room's latest event, and that event's depth
  current_state_group BIGINT,
  max_depth      BIGINT NOT NULL DEFAULT 0
);

-- Stream positions of room events. The stream ordering is this server's order of arrival;
-- the topological ordering (depth) is the order of the graph.
CREATE SEQUENCE events_stream_seq;

CREATE TABLE events (
  stream_ordering      BIGINT PRIMARY KEY,
  event_id             TEXT NOT NULL UNIQUE,
  room_id              TEXT NOT NULL,
  type                 TEXT NOT NULL,
  state_key            TEXT,
  sender               TEXT NOT NULL,
  origin_server_ts     BIGINT NOT NULL,
  depth                BIGINT NOT NULL,
  topological_ordering BIGINT NOT NULL,
  -- m.relates_to, for relations, threads and aggregations
  relates_to_id        TEXT,
  relation_type        TEXT,
  -- for m.room.member events: the membership this event sets
  membership           TEXT,
  -- contains_url filter of /sync and /messages
  contains_url         BOOLEAN NOT NULL DEFAULT false,
  -- the event exactly as signed: canonical JSON of the federation (wire) form
  json                 TEXT NOT NULL,
  -- server-computed unsigned data (replaces_state, prev_content, prev_sender)
  unsigned             JSONB,
  -- state snapshots before and after this event (equal for non-state events)
  state_group_before   BIGINT,
  state_group_after    BIGINT,
  rejected_reason      TEXT,
  outlier              BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX events_room_stream_idx ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo_idx ON events (room_id, topological_ordering, stream_ordering);
CREATE INDEX events_relates_idx ON events (relates_to_id, relation_type) WHERE relates_to_id IS NOT NULL;
CREATE INDEX events_room_ts_idx ON events (room_id, origin_server_ts);

-- State snapshots, stored as deltas from a parent snapshot (prev_group). A chain is cut with a full
-- snapshot every so many hops, so a lookup reads a bounded number of groups.
CREATE SEQUENCE state_group_seq;
CREATE TABLE state_groups (
  id           BIGINT PRIMARY KEY,
  room_id      TEXT NOT NULL,
  prev_group   BIGINT REFERENCES state_groups (id),
  -- hops from the nearest full snapshot (0 = this group is full)
  delta_depth  INT NOT NULL
);
CREATE TABLE state_group_entries (
  state_group  BIGINT NOT NULL,
  type         TEXT NOT NULL,
  state_key    TEXT NOT NULL,
  -- NULL: the delta removes this key (after state resolution)
  event_id     TEXT,
  PRIMARY KEY (state_group, type, state_key)
);

-- The room's current state, one row per (type, state_key), with membership for fast member queries.
CREATE TABLE current_state (
  room_id     TEXT NOT NULL,
  type        TEXT NOT NULL,
  state_key   TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  membership  TEXT,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members_idx ON current_state (state_key, membership) WHERE type = 'm.room.member';

CREATE TABLE forward_extremities (
  room_id   TEXT NOT NULL,
  event_id  TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

-- spec: Client-Server API §7.x "Transaction identifiers": per device.
CREATE TABLE event_txn_ids (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  txn_id      TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  created_ts  BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

CREATE TABLE redactions (
  event_id     TEXT NOT NULL,
  redacted_by  TEXT NOT NULL,
  PRIMARY KEY (event_id, redacted_by)
);

-- Rooms a user has forgotten (spec: POST /rooms/{roomId}/forget).
CREATE TABLE room_forgotten (
  user_id  TEXT NOT NULL,
  room_id  TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
);

CREATE TABLE room_aliases (
  room_alias  TEXT PRIMARY KEY,
  room_id     TEXT NOT NULL,
  creator     TEXT NOT NULL
);
CREATE INDEX room_aliases_room_idx ON room_aliases (room_id);

-- Reports of events and rooms, for the admin API.
CREATE TABLE event_reports (
  id          BIGSERIAL PRIMARY KEY,
  received_ts BIGINT NOT NULL,
  room_id     TEXT NOT NULL,
  event_id    TEXT,
  user_id     TEXT NOT NULL,
  reason      TEXT,
  score       INT,
  content     JSONB NOT NULL DEFAULT '{}'
);
