-- The room's shopping bag (购物袋): the pinned products in the host's order. A bag item is the
-- same row as its pin, so the two share one live price, one cap and one count of what sold.
-- NULL: not in the bag (the current pin may still be explained without being in it).
ALTER TABLE live_pins ADD COLUMN bag_position INTEGER CHECK (bag_position IS NULL OR bag_position >= 0);
CREATE UNIQUE INDEX live_pins_bag_order ON live_pins (room_id, bag_position)
    WHERE bag_position IS NOT NULL;
