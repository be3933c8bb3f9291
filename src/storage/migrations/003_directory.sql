-- The published room directory lists only rooms with is_public; a partial index keeps that scan
-- small when most rooms are private.
CREATE INDEX rooms_public_idx ON rooms (room_id) WHERE is_public;

-- Reports are listed per room and per reporter by the admin API.
CREATE INDEX event_reports_room_idx ON event_reports (room_id, received_ts);
CREATE INDEX event_reports_user_idx ON event_reports (user_id, received_ts);
