-- After-sales (售后) requests and their photos. A request's refund is written in `refunds`
-- (reason 'after_sales') when it is approved.
CREATE TABLE after_sales (
    id          TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    -- The Idempotency-Key and a hash of the request: a replay gets the same answer.
    idem_key    TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('approved', 'reviewing', 'rejected')),
    reason      TEXT NOT NULL,
    note        TEXT,
    -- JSON [{"sku","quantity"}]
    lines       TEXT NOT NULL,
    refund_fen  INTEGER NOT NULL CHECK (refund_fen >= 0),
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, idem_key)
);
CREATE INDEX after_sales_by_order ON after_sales (order_id, created_at);

-- Photos as stored: decoded and re-encoded as JPEG (no EXIF or GPS), at most 1280 px. The token is
-- 128 random bits: the URL cannot be guessed, and only the order's owner may fetch it anyway.
CREATE TABLE after_sales_photos (
    token      TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES after_sales(id),
    user_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    jpeg       BLOB NOT NULL
);
CREATE INDEX after_sales_photos_by_request ON after_sales_photos (request_id, position);
