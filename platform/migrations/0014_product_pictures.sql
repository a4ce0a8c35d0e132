-- A product's picture: the stem of its file among the platform's pictures (`1f34e`), or NULL for
-- none. The wire URLs are made from it at read time (`pictures::image`), so a new image base or a
-- rebuilt picture needs no migration.
ALTER TABLE products ADD COLUMN picture TEXT;
