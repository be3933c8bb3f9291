-- Server-side search (spec: Client-Server API §11.x "Server Side Search"): one row per searchable
-- event, with the columns the search filters on and a tsvector that carries both the Russian and
-- the English stemming of the text, so "сообщений" finds "сообщение" and "meetings" finds
-- "meeting". The 'russian' configuration already stems ASCII words with the English stemmer; the
-- 'english' half adds the unstemmed forms of Cyrillic words (and English stop words handling).
CREATE TABLE event_search (
  -- the event's stream ordering: newest-first scans walk this key backwards
  stream_ordering       BIGINT PRIMARY KEY,
  event_id              TEXT NOT NULL UNIQUE,
  room_id               TEXT NOT NULL,
  sender                TEXT NOT NULL,
  type                  TEXT NOT NULL,
  -- which key of the request it answers: content.body, content.name or content.topic
  key                   TEXT NOT NULL,
  topological_ordering  BIGINT NOT NULL,
  origin_server_ts      BIGINT NOT NULL,
  contains_url          BOOLEAN NOT NULL,
  vector                tsvector NOT NULL
);
CREATE INDEX event_search_vector_idx ON event_search USING gin (vector);
CREATE INDEX event_search_room_stream_idx ON event_search (room_id, stream_ordering);

-- The text of an event under its search key (Synapse indexes the same three).
CREATE FUNCTION event_search_text(event_type TEXT, event_json TEXT, OUT search_key TEXT, OUT search_text TEXT)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  content JSONB;
  field TEXT;
BEGIN
  field := CASE event_type WHEN 'm.room.message' THEN 'body' WHEN 'm.room.name' THEN 'name' WHEN 'm.room.topic' THEN 'topic' END;
  IF field IS NULL THEN RETURN; END IF;
  content := event_json::jsonb -> 'content';
  IF jsonb_typeof(content -> field) <> 'string' THEN RETURN; END IF;
  search_key := 'content.' || field;
  search_text := content ->> field;
END $$;

CREATE FUNCTION event_search_vector(search_text TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE AS $$
  SELECT to_tsvector('russian'::regconfig, search_text) || to_tsvector('english'::regconfig, search_text)
$$;

-- Indexing happens in the transaction that stores the event (a trigger), not after commit: a
-- message is searchable as soon as its send returns, and every way an event reaches the events
-- table (local sends, room creation, later federation, bulk imports) is indexed the same way.
CREATE FUNCTION event_search_index() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  found RECORD;
BEGIN
  IF NEW.rejected_reason IS NOT NULL OR NEW.outlier THEN RETURN NULL; END IF;
  -- A redaction can be stored before the event it redacts (federation): such an event is never indexed.
  IF EXISTS (SELECT 1 FROM redactions WHERE event_id = NEW.event_id) THEN RETURN NULL; END IF;
  SELECT * INTO found FROM event_search_text(NEW.type, NEW.json);
  IF found.search_text IS NULL OR found.search_text = '' THEN RETURN NULL; END IF;
  INSERT INTO event_search (event_id, room_id, sender, type, key, stream_ordering, topological_ordering,
                            origin_server_ts, contains_url, vector)
  VALUES (NEW.event_id, NEW.room_id, NEW.sender, NEW.type, found.search_key, NEW.stream_ordering,
          NEW.topological_ordering, NEW.origin_server_ts, NEW.contains_url, event_search_vector(found.search_text))
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER events_search_index AFTER INSERT ON events
  FOR EACH ROW WHEN (NEW.type IN ('m.room.message', 'm.room.name', 'm.room.topic'))
  EXECUTE FUNCTION event_search_index();

-- A redacted event's text is gone: it leaves the index in the redaction's own transaction.
CREATE FUNCTION event_search_redact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM event_search WHERE event_id = NEW.event_id;
  RETURN NULL;
END $$;
CREATE TRIGGER redactions_search_unindex AFTER INSERT ON redactions
  FOR EACH ROW EXECUTE FUNCTION event_search_redact();

-- Events stored before this migration.
INSERT INTO event_search (event_id, room_id, sender, type, key, stream_ordering, topological_ordering,
                          origin_server_ts, contains_url, vector)
SELECT e.event_id, e.room_id, e.sender, e.type, t.search_key, e.stream_ordering, e.topological_ordering,
       e.origin_server_ts, e.contains_url, event_search_vector(t.search_text)
FROM events e CROSS JOIN LATERAL event_search_text(e.type, e.json) t
WHERE e.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
  AND e.rejected_reason IS NULL AND NOT e.outlier AND t.search_text <> ''
  AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.event_id = e.event_id);
