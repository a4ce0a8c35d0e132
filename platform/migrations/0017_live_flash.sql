-- Flash sales (秒杀) in live rooms: a bag item at its own price, cap and per-shopper limit, open
-- from starts_at to ends_at (Unix seconds, UTC, on the platform's clock). The room's flash sale is
-- its latest; one runs at a time.
CREATE TABLE live_flash (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES live_rooms(id),
    sku         TEXT NOT NULL REFERENCES products(sku),
    price_fen   INTEGER NOT NULL CHECK (price_fen > 0),
    cap         INTEGER NOT NULL CHECK (cap > 0),
    per_shopper INTEGER NOT NULL CHECK (per_shopper > 0),
    sold        INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= cap),
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL CHECK (ends_at > starts_at),
    created_at  INTEGER NOT NULL
);
CREATE INDEX live_flash_by_room ON live_flash (room_id, starts_at);

-- What each shopper holds of a flash sale (unpaid or paid): the per-shopper limit is a
-- conditional update of this row, so concurrent buys of one shopper never pass it together.
CREATE TABLE live_flash_buyers (
    flash_id TEXT NOT NULL REFERENCES live_flash(id),
    user_id  TEXT NOT NULL REFERENCES users(id),
    bought   INTEGER NOT NULL CHECK (bought >= 0),
    PRIMARY KEY (flash_id, user_id)
) WITHOUT ROWID;

-- A live order bought in a flash sale: its units go back to the flash sale, not to the pin.
ALTER TABLE live_sales ADD COLUMN flash_id TEXT REFERENCES live_flash(id);
