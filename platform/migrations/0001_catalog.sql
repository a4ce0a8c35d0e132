-- Stores, the catalogue and per-store stock. Money is integer fen; stock can never go negative.
CREATE TABLE stores (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    category          TEXT NOT NULL,
    city              TEXT NOT NULL,
    address           TEXT NOT NULL,
    lat               REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng               REAL NOT NULL CHECK (lng BETWEEN -180 AND 180),
    delivery_radius_m INTEGER NOT NULL CHECK (delivery_radius_m > 0),
    hours             TEXT NOT NULL,            -- seven "HH:MM-HH:MM" | "closed", Monday first, ';'-separated
    prep_min          INTEGER NOT NULL CHECK (prep_min >= 0),
    detour_factor     REAL NOT NULL CHECK (detour_factor >= 1),
    rider_speed_kmh   REAL NOT NULL CHECK (rider_speed_kmh > 0),
    fee_rules         TEXT NOT NULL,            -- JSON FeeRules
    min_order_fen     INTEGER NOT NULL CHECK (min_order_fen >= 0),
    rating            REAL NOT NULL CHECK (rating BETWEEN 0 AND 5)
);

CREATE TABLE products (
    sku      TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    category TEXT NOT NULL,
    aisle    TEXT NOT NULL,
    unit     TEXT NOT NULL
);

CREATE TABLE store_products (
    store_id  TEXT NOT NULL REFERENCES stores(id),
    sku       TEXT NOT NULL REFERENCES products(sku),
    price_fen INTEGER NOT NULL CHECK (price_fen > 0),
    stock     INTEGER NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (store_id, sku)
) WITHOUT ROWID;

CREATE INDEX store_products_by_sku ON store_products (sku, store_id);
