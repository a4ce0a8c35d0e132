-- Shoppers, sessions, carts, addresses, orders and idempotency keys. Times are Unix seconds (UTC).
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    phone      TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- A session is anonymous (user_id NULL: shopping before sign-in) or a signed-in user's.
CREATE TABLE sessions (
    token      TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    user_id    TEXT REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE sms_codes (
    phone      TEXT PRIMARY KEY,
    code       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);

-- Every code sent, for the per-phone and per-address rate limits.
CREATE TABLE sms_sends (
    phone   TEXT NOT NULL,
    ip      TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
CREATE INDEX sms_sends_by_phone ON sms_sends (phone, sent_at);
CREATE INDEX sms_sends_by_ip ON sms_sends (ip, sent_at);

CREATE TABLE addresses (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    label      TEXT NOT NULL,
    detail     TEXT NOT NULL,
    lat        REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng        REAL NOT NULL CHECK (lng BETWEEN -180 AND 180),
    created_at INTEGER NOT NULL
);
CREATE INDEX addresses_by_user ON addresses (user_id, created_at);

-- owner: a user id, or an anonymous session id before sign-in.
CREATE TABLE cart_items (
    owner      TEXT NOT NULL,
    store_id   TEXT NOT NULL REFERENCES stores(id),
    sku        TEXT NOT NULL REFERENCES products(sku),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner, store_id, sku)
) WITHOUT ROWID;

CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id),
    store_id         TEXT NOT NULL REFERENCES stores(id),
    status           TEXT NOT NULL,
    address_id       TEXT NOT NULL REFERENCES addresses(id),
    slot             TEXT NOT NULL,
    items_fen        INTEGER NOT NULL CHECK (items_fen >= 0),
    delivery_fee_fen INTEGER NOT NULL CHECK (delivery_fee_fen >= 0),
    total_fen        INTEGER NOT NULL CHECK (total_fen >= 0),
    created_at       INTEGER NOT NULL,
    -- Unpaid orders lapse at this time; NULL once paid.
    expires_at       INTEGER,
    -- 1 once the reserved stock went back (cancel or expiry): guards "exactly once".
    stock_returned   INTEGER NOT NULL DEFAULT 0 CHECK (stock_returned IN (0, 1)),
    updated_at       INTEGER NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
CREATE INDEX orders_unpaid ON orders (status, expires_at);

CREATE TABLE order_items (
    order_id  TEXT NOT NULL REFERENCES orders(id),
    sku       TEXT NOT NULL,
    name      TEXT NOT NULL,
    price_fen INTEGER NOT NULL CHECK (price_fen > 0),
    quantity  INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);

-- Idempotency-Key records, scoped to the user. status NULL: the first request is in flight.
CREATE TABLE idempotency_keys (
    user_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    request    TEXT NOT NULL,
    status     INTEGER,
    response   TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
