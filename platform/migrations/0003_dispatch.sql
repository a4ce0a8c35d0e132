-- Order tracking: the delivery's simulated progress and its event log (resumable by seq).
ALTER TABLE orders ADD COLUMN eta_min INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN rider_progress INTEGER NOT NULL DEFAULT 0;

CREATE TABLE order_events (
    order_id  TEXT NOT NULL REFERENCES orders(id),
    seq       INTEGER NOT NULL,
    status    TEXT NOT NULL,
    eta_min   INTEGER NOT NULL,
    rider_lat REAL,
    rider_lng REAL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq)
);
