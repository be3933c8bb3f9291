-- Pushers (spec: Client-Server API "Push Notifications"): lookups by user (GET /pushers, the
-- sender's start-up and pokes) and by device (deleting a device removes its pushers).
CREATE INDEX pushers_user_idx ON pushers (user_id, device_id);

-- The push gateway sender reads a user's notifications after a pusher's last_stream_ordering,
-- across all rooms: the (user_id, room_id, stream_ordering) index cannot range over that.
CREATE INDEX event_push_actions_user_stream_idx ON event_push_actions (user_id, stream_ordering) WHERE notif;
