-- When the shelf is short (缺货): the shopper's choice per order, what picking found per line,
-- the substitutes offered, and refunds as their own records.
ALTER TABLE orders ADD COLUMN shortage TEXT NOT NULL DEFAULT 'ship_rest'
    CHECK (shortage IN ('ship_rest', 'ask_me', 'cancel_all'));
-- While `awaiting_shopper`: when unanswered lines ship as `ship_rest` would.
ALTER TABLE orders ADD COLUMN answer_before INTEGER;

-- Demo mode: units this line will come up short at picking (`POST /v1/demo/orders/{id}/short`).
ALTER TABLE order_items ADD COLUMN planned_short INTEGER NOT NULL DEFAULT 0 CHECK (planned_short >= 0);
-- Units picking found missing: never delivered, never returned to the shelf.
ALTER TABLE order_items ADD COLUMN short INTEGER NOT NULL DEFAULT 0 CHECK (short >= 0);
-- For a short line: NULL while the shopper is asked, 'refunded', or the substitute's SKU.
ALTER TABLE order_items ADD COLUMN short_outcome TEXT;
-- For a substitute line: the short line it replaces.
ALTER TABLE order_items ADD COLUMN substitute_for TEXT;

CREATE TABLE order_substitutes (
    order_id  TEXT NOT NULL REFERENCES orders(id),
    for_sku   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    name      TEXT NOT NULL,
    price_fen INTEGER NOT NULL CHECK (price_fen > 0),
    rank      INTEGER NOT NULL,
    PRIMARY KEY (order_id, for_sku, sku)
) WITHOUT ROWID;

-- Money paid back. `sku` names the line (NULL: the delivery fee or a whole order's rest); a
-- line's refunds never pass what was paid for it (`orders::refunds` checks it in the insert).
CREATE TABLE refunds (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL REFERENCES orders(id),
    sku        TEXT,
    fen        INTEGER NOT NULL CHECK (fen > 0),
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX refunds_by_order ON refunds (order_id, created_at);
