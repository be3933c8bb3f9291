-- event_push_actions gets one row per notified member of every message, so each of its indexes
-- costs on every send. A stream ordering names one event, so (user_id, room_id, stream_ordering)
-- is as unique as (user_id, event_id) and is what the unread counts read: it becomes the key,
-- and the separate room index goes.
ALTER TABLE event_push_actions DROP CONSTRAINT event_push_actions_pkey;
DROP INDEX event_push_actions_room_idx;
ALTER TABLE event_push_actions ADD PRIMARY KEY (user_id, room_id, stream_ordering);
