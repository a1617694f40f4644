-- The search index follows the objects table instead of being written inside each
-- ingest transaction (liaison.search.follower): `index_watermark` is the date_added up
-- to which every stored version has its index rows; it moves in the same transaction
-- as the rows it covers.  Everything stored so far was indexed as it was stored.
INSERT INTO meta (key, value)
SELECT 'index_watermark', CAST(COALESCE(MAX(date_added), 0) AS TEXT) FROM objects;
