-- Replays (回放). `wall_ms`: the wall-clock instant an event was logged (Unix milliseconds). The
-- recording's segments carry the wall clock (EXT-X-PROGRAM-DATE-TIME), while `at` is the shop's
-- clock, which a demo or a test may fix; a replay lines its events up with the video by this one.
ALTER TABLE event_log ADD COLUMN wall_ms INTEGER;
UPDATE event_log SET wall_ms = at * 1000 WHERE log = 'room';

-- When the room went live (wall clock, Unix milliseconds): the replay's time base.
ALTER TABLE live_rooms ADD COLUMN live_since_ms INTEGER;
UPDATE live_rooms SET live_since_ms = updated_at * 1000 WHERE status <> 'scheduled';

-- A buy from a replay: at the store's own price, outside the room's cap (so nothing goes back to
-- the cap when it is released).
ALTER TABLE live_sales ADD COLUMN replay INTEGER NOT NULL DEFAULT 0 CHECK (replay IN (0, 1));
