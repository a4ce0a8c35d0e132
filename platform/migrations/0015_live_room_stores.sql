-- The stores that take part in a live room. A live buy routes only to one of them, a pin's
-- regular price is the lowest of theirs, and its cap at most what they hold: a host sells
-- nobody else's stock.
CREATE TABLE live_room_stores (
    room_id  TEXT NOT NULL REFERENCES live_rooms(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    PRIMARY KEY (room_id, store_id)
) WITHOUT ROWID;

-- Each live order line's money: the store is paid its own unit price; what the viewer did not
-- pay of it is the brand's subsidy, (store_price_fen - live price) * quantity, in fen.
ALTER TABLE live_sales ADD COLUMN store_price_fen INTEGER NOT NULL DEFAULT 0 CHECK (store_price_fen >= 0);
ALTER TABLE live_sales ADD COLUMN subsidy_fen INTEGER NOT NULL DEFAULT 0 CHECK (subsidy_fen >= 0);
