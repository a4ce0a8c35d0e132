-- A shopper's delivery note (备注): plain text, at most 100 characters (validated in `api`).
ALTER TABLE orders ADD COLUMN note TEXT;
