-- The sizes of the address blocks the store holds, as span = bit length of (hi - lo):
-- 0 for a single address, 8 for an IPv4 /24, and so on.  A lookup of an address probes
-- observables_by_range once per block that could contain it (33 for IPv4, 129 for
-- IPv6); with this table it probes only the block sizes that exist.  It is a superset,
-- written with every index row (never shrunk: a span without rows costs one probe).
-- A store that already holds address rows gets every span, as before this table.
CREATE TABLE observable_spans (span INTEGER PRIMARY KEY);
INSERT INTO observable_spans (span)
    WITH RECURSIVE n(span) AS (SELECT 0 UNION ALL SELECT span + 1 FROM n WHERE span < 128)
    SELECT span FROM n WHERE EXISTS (SELECT 1 FROM observables WHERE lo IS NOT NULL);
