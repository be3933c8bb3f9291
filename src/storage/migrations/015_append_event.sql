-- One-round-trip appends of non-state events (messages, reactions, redactions).
--
-- rooms.head_stream_ordering names the event that last moved the room's head (forward
-- extremities, current state group, depth). A writer that cached the head appends on top of it only
-- if it is still the head: every writer that moves the head bumps this column, so a cached head
-- that another writer (or process) has moved is detected and reloaded.
ALTER TABLE rooms ADD COLUMN head_stream_ordering BIGINT NOT NULL DEFAULT 0;
UPDATE rooms r SET head_stream_ordering = COALESCE((SELECT max(stream_ordering) FROM events e WHERE e.room_id = r.room_id), 0);

-- Appends one non-state event to a room whose head the caller has cached, as part of one
-- statement (one round trip, an implicit transaction). The same steps as the general writer, in
-- the same order: the room's advisory lock (ARCHITECTURE: one writer per room), then — each
-- statement of a PL/pgSQL function reading a fresh snapshot, so after the lock — the
-- transaction-ID check (spec: Client-Server API "Transaction identifiers"), the head check, the
-- stream position (taken under the lock, so a room's stream order is its commit order whichever
-- process writes), then the rows.
--
-- status: 'stored' (stream_ordering is the event's position); 'stale' when the head moved
-- (nothing stored: reload and retry); 'existing' when the transaction ID already made an event
-- (event_id names it; nothing stored).
CREATE FUNCTION append_event(
  p_room_id TEXT, p_expected_head BIGINT, p_event_id TEXT, p_type TEXT, p_sender TEXT, p_origin_server_ts BIGINT, p_depth BIGINT,
  p_relates_to_id TEXT, p_relation_type TEXT, p_contains_url BOOLEAN, p_json TEXT, p_state_group BIGINT,
  p_prev_extremities TEXT[], p_redacts TEXT,
  p_txn_user_id TEXT, p_txn_device_id TEXT, p_txn_id TEXT, p_txn_ts BIGINT,
  OUT status TEXT, OUT stream_ordering BIGINT, OUT event_id TEXT
) LANGUAGE plpgsql AS $$
DECLARE
  head BIGINT;
  p_stream_ordering BIGINT;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_room_id, 0));
  IF p_txn_id IS NOT NULL THEN
    SELECT t.event_id INTO event_id FROM event_txn_ids t
      WHERE t.user_id = p_txn_user_id AND t.device_id = p_txn_device_id AND t.txn_id = p_txn_id;
    IF event_id IS NOT NULL THEN status := 'existing'; RETURN; END IF;
  END IF;
  SELECT r.head_stream_ordering INTO head FROM rooms r WHERE r.room_id = p_room_id;
  IF head IS DISTINCT FROM p_expected_head THEN status := 'stale'; RETURN; END IF;
  p_stream_ordering := nextval('events_stream_seq');

  INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth,
                      topological_ordering, relates_to_id, relation_type, membership, contains_url, json, unsigned,
                      state_group_before, state_group_after)
  VALUES (p_stream_ordering, p_event_id, p_room_id, p_type, NULL, p_sender, p_origin_server_ts, p_depth,
          p_depth, p_relates_to_id, p_relation_type, NULL, p_contains_url, p_json, NULL,
          p_state_group, p_state_group);
  IF p_redacts IS NOT NULL THEN
    INSERT INTO redactions (event_id, redacted_by) VALUES (p_redacts, p_event_id) ON CONFLICT DO NOTHING;
  END IF;
  IF p_txn_id IS NOT NULL THEN
    INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)
      VALUES (p_txn_user_id, p_txn_device_id, p_txn_id, p_event_id, p_txn_ts);
  END IF;
  DELETE FROM forward_extremities f WHERE f.room_id = p_room_id AND f.event_id = ANY (p_prev_extremities);
  INSERT INTO forward_extremities (room_id, event_id) VALUES (p_room_id, p_event_id);
  UPDATE rooms r SET max_depth = GREATEST(r.max_depth, p_depth), head_stream_ordering = p_stream_ordering
    WHERE r.room_id = p_room_id;
  status := 'stored';
  stream_ordering := p_stream_ordering;
  event_id := p_event_id;
END $$;
