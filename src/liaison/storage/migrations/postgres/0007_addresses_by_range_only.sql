-- An address or CIDR block is looked up through observables_by_range only (a lookup
-- key for one has no exact values: search_sql._lookup_ranges finds the address itself
-- as the block lo = hi), so its entry in observables_by_value was written on every
-- ingest and never read.  The value index now holds the rows without bounds; exact
-- lookups say `lo IS NULL`, which lets both engines use this partial index.
DROP INDEX observables_by_value;
CREATE INDEX observables_by_value ON observables (value, kind) WHERE lo IS NULL;
