-- Previews and reservations (预告/预约): when a scheduled room is to go live (Unix seconds, UTC;
-- NULL for a room that went live without a preview), and the shoppers who reserved it.
ALTER TABLE live_rooms ADD COLUMN starts_at INTEGER;

CREATE TABLE live_reservations (
    room_id    TEXT NOT NULL REFERENCES live_rooms(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX live_reservations_by_user ON live_reservations (user_id, room_id);
