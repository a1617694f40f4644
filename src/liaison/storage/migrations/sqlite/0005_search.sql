-- Liaison schema 5: the search index (liaison.search, storage/search_sql.py).

-- Normalised observable values mentioned by each object version (SCO properties and
-- indicator patterns), written in the same transaction as the version, gone with it.
-- lo / hi: for addresses and CIDR blocks, the first and last address as 16-byte
-- big-endian blobs (IPv4 in ::ffff:0:0/96), so "which blocks contain 10.1.2.3?" is a
-- few seeks of objects_by_range (one per possible prefix length), not a scan.
CREATE TABLE observables (
    date_added INTEGER NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    lo         BLOB,
    hi         BLOB,
    via        TEXT NOT NULL,
    PRIMARY KEY (date_added, kind, value)
) WITHOUT ROWID;
CREATE INDEX observables_by_value ON observables (value, kind);
CREATE INDEX observables_by_range ON observables (lo, hi) WHERE lo IS NOT NULL;

-- Full text: one row per object version that has text (rowid = date_added), three
-- columns by weight (names, terms, prose) holding the tokens made by search.text; the
-- 'ascii' tokenizer keeps those tokens exactly (PostgreSQL holds the same ones).
CREATE VIRTUAL TABLE search_text USING fts5 (names, terms, prose, tokenize = 'ascii');
CREATE TRIGGER search_text_gone AFTER DELETE ON objects BEGIN
    DELETE FROM search_text WHERE rowid = old.date_added;
END;

-- Correlation: the relationships and sightings around an object.
CREATE INDEX objects_by_ref_a ON objects (ref_a) WHERE ref_a IS NOT NULL;
CREATE INDEX objects_by_ref_b ON objects (ref_b) WHERE ref_b IS NOT NULL;
