-- Group buy (拼团): stores' offers, the groups, their members (one order each) and each group's
-- durable event log (resumable by seq). Times are Unix seconds (UTC).

-- A store offers a product it lists at a group price for groups of `size` (the starter included).
CREATE TABLE group_offers (
    store_id  TEXT NOT NULL,
    sku       TEXT NOT NULL,
    size      INTEGER NOT NULL CHECK (size BETWEEN 2 AND 5),
    price_fen INTEGER NOT NULL CHECK (price_fen > 0),
    PRIMARY KEY (store_id, sku),
    FOREIGN KEY (store_id, sku) REFERENCES store_products (store_id, sku)
) WITHOUT ROWID;

-- "groups" is close to a keyword (GROUP BY), hence `buy_groups`. Size and prices are copied from
-- the offer when the group starts: what the starter saw is what every member pays.
CREATE TABLE buy_groups (
    id                TEXT PRIMARY KEY,
    store_id          TEXT NOT NULL REFERENCES stores(id),
    sku               TEXT NOT NULL REFERENCES products(sku),
    size              INTEGER NOT NULL CHECK (size BETWEEN 2 AND 5),
    group_price_fen   INTEGER NOT NULL CHECK (group_price_fen > 0),
    regular_price_fen INTEGER NOT NULL CHECK (regular_price_fen > group_price_fen),
    status            TEXT NOT NULL CHECK (status IN ('forming', 'formed', 'fulfilled', 'expired')),
    created_at        INTEGER NOT NULL,
    -- An unfilled group expires here.
    deadline          INTEGER NOT NULL,
    -- Set when the starter pays: only then can others join.
    opened_at         INTEGER,
    formed_at         INTEGER,
    -- Fulfilled or expired.
    closed_at         INTEGER,
    updated_at        INTEGER NOT NULL
);
-- The janitor looks for forming groups past their deadline.
CREATE INDEX buy_groups_due ON buy_groups (status, deadline);

-- The order a seat holds. Group orders wait in `paid` (dispatch_at far ahead) until their group forms.
ALTER TABLE orders ADD COLUMN group_id TEXT REFERENCES buy_groups(id);
CREATE INDEX orders_by_group ON orders (group_id) WHERE group_id IS NOT NULL;

-- A seat: one shopper, one order. `released` once its order was cancelled or expired while the
-- group was forming: the seat is free again (the row stays, for the shopper's history).
CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES buy_groups(id),
    -- 1 for the starter, then in joining order; never reused within a group.
    seat      INTEGER NOT NULL CHECK (seat >= 1),
    user_id   TEXT NOT NULL REFERENCES users(id),
    order_id  TEXT NOT NULL UNIQUE REFERENCES orders(id),
    -- Masked at write time ("尾号 1234"): what anyone may see of a member.
    name      TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    paid_at   INTEGER,
    released  INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1)),
    PRIMARY KEY (group_id, seat)
);
-- One seat per shopper and group at a time.
CREATE UNIQUE INDEX group_members_once ON group_members (group_id, user_id) WHERE released = 0;
CREATE INDEX group_members_by_user ON group_members (user_id, joined_at);

-- Never more members than seats, whatever path writes: the code checks first, this is the floor.
CREATE TRIGGER group_members_within_size BEFORE INSERT ON group_members
WHEN (SELECT COUNT(*) FROM group_members WHERE group_id = NEW.group_id AND released = 0)
     >= (SELECT size FROM buy_groups WHERE id = NEW.group_id)
BEGIN
    SELECT RAISE(ABORT, 'group is full');
END;

-- Durable events of a group (`jishi_api::groups::GroupEvent` as JSON), replayed after Last-Event-ID.
CREATE TABLE group_events (
    group_id TEXT NOT NULL REFERENCES buy_groups(id),
    seq      INTEGER NOT NULL,
    json     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
