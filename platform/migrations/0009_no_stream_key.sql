-- RTMP stream keys are no longer stored: the media gateway makes a random key each time a room's
-- RTMP listener starts, checks it, and gives it to the room's host only (`POST /media/rtmp/{room}`).
-- The fixed `demo-<room>` keys stored here were never the ones checked.
ALTER TABLE live_rooms DROP COLUMN stream_key;
