-- A lookup now reads each value's (or each address block's) index range newest first
-- and stops at the cap of hits it returns (search_sql._newest), so a value mentioned by
-- a million objects costs what one mentioned by twenty does.  For that the entries of
-- one key must be in date order: date_added follows the key in both indexes.
DROP INDEX observables_by_value;
CREATE INDEX observables_by_value ON observables (value, date_added) WHERE lo IS NULL;
DROP INDEX observables_by_range;
CREATE INDEX observables_by_range ON observables (lo, hi, date_added) WHERE lo IS NOT NULL;
