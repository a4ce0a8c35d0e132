-- Live rooms (边看边买): rooms with a host, the products pinned in them, comments, the rooms'
-- durable event log (resumable by seq) and the orders bought live. Times are Unix seconds (UTC).
CREATE TABLE live_rooms (
    id           TEXT PRIMARY KEY,
    host_user_id TEXT NOT NULL REFERENCES users(id),
    host_name    TEXT NOT NULL,
    title        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('scheduled', 'live', 'ended')),
    city         TEXT NOT NULL,
    -- What the host's encoder presents to the media server; never shown to viewers.
    stream_key   TEXT NOT NULL,
    -- Flushed from memory about once a second (likes are counted in memory first).
    likes        INTEGER NOT NULL DEFAULT 0 CHECK (likes >= 0),
    slow_mode    INTEGER NOT NULL DEFAULT 0 CHECK (slow_mode IN (0, 1)),
    message      TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX live_rooms_by_status ON live_rooms (status, id);

-- Every SKU a room has pinned, with its room cap and what sold against it. A re-pin of the same
-- SKU keeps `sold`. At most one pin per room is current.
CREATE TABLE live_pins (
    room_id        TEXT NOT NULL REFERENCES live_rooms(id),
    sku            TEXT NOT NULL REFERENCES products(sku),
    live_price_fen INTEGER NOT NULL CHECK (live_price_fen > 0),
    stock_cap      INTEGER NOT NULL CHECK (stock_cap > 0),
    sold           INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= stock_cap),
    pinned_at      INTEGER NOT NULL,
    current        INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0, 1)),
    PRIMARY KEY (room_id, sku)
);
CREATE UNIQUE INDEX live_pins_one_current ON live_pins (room_id) WHERE current = 1;

CREATE TABLE live_comments (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id TEXT NOT NULL REFERENCES live_rooms(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    -- Masked at write time ("尾号 1234"): what every viewer sees.
    author  TEXT NOT NULL,
    text    TEXT NOT NULL,
    hidden  INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    at      INTEGER NOT NULL
);
CREATE INDEX live_comments_by_room ON live_comments (room_id, hidden, id);

-- Durable events of a room (`jishi_api::live::LiveEvent` as JSON), replayed after Last-Event-ID.
CREATE TABLE live_events (
    room_id TEXT NOT NULL REFERENCES live_rooms(id),
    seq     INTEGER NOT NULL,
    json    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;

-- The link from an ordinary order to the room it was bought in: the cap goes back with the stock.
CREATE TABLE live_sales (
    order_id   TEXT PRIMARY KEY REFERENCES orders(id),
    room_id    TEXT NOT NULL REFERENCES live_rooms(id),
    sku        TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0)
);
CREATE INDEX live_sales_by_room ON live_sales (room_id, sku);
