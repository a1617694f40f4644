-- Ingest writes one entry per stored version into every index; an index keyed by a
-- random identifier touches a different page per row, so each one costs page writes
-- that grow with the store.  objects_by_stix_id (0002) duplicated what
-- objects_by_version (cid, stix_id, version) already answers: every lookup by STIX id
-- names its collection(s), and `origins` joins the collections table to do so.
DROP INDEX objects_by_stix_id;
