-- Scheduled orders wait in `paid` until they must leave the store to arrive at their slot's start
-- (slot start minus the ETA). NULL: "as soon as possible", dispatched at once.
ALTER TABLE orders ADD COLUMN dispatch_at INTEGER;
UPDATE orders SET dispatch_at = CAST(strftime('%s', slot) AS INTEGER) - eta_min * 60
WHERE slot <> 'asap';

-- The unpaid-order cap counts a shopper's unexpired `pending_payment` orders on every order.
CREATE INDEX orders_unpaid_by_user ON orders (user_id, status, expires_at);
