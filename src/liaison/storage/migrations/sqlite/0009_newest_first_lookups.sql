-- A lookup now reads each value's index range newest first and stops at the cap of
-- hits it returns (search_sql._newest), so a value mentioned by a million objects costs
-- what one mentioned by twenty does.  For that the entries of one value must be in
-- date order: (value, date_added) instead of (value, kind).  (The kind still comes with
-- each entry, as part of the table's key, and a lookup restricted to kinds reads it
-- there.)  observables_by_range needs no change here: its entries (lo, hi) already
-- end with the table's key, date_added first.
DROP INDEX observables_by_value;
CREATE INDEX observables_by_value ON observables (value, date_added) WHERE lo IS NULL;
