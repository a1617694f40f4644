-- Liaison schema 5 (PostgreSQL): the search index, as sqlite/0005_search.sql.

-- Normalised observable values mentioned by each object version, written in the same
-- transaction as the version, gone with it.  lo / hi: 16-byte bounds of addresses and
-- CIDR blocks (IPv4 in ::ffff:0:0/96) for the range index.
CREATE TABLE observables (
    date_added BIGINT NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    kind       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    lo         BYTEA,
    hi         BYTEA,
    via        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (date_added, kind, value)
);
CREATE INDEX observables_by_value ON observables (value, kind);
CREATE INDEX observables_by_range ON observables (lo, hi) WHERE lo IS NOT NULL;

-- Full text: a tsvector built verbatim from the tokens of search.text (weights A names,
-- B terms, C prose; no parser or dictionary in between), so it holds the same terms at
-- the same positions as SQLite's FTS5 table.
CREATE TABLE search_text (
    date_added BIGINT PRIMARY KEY REFERENCES objects (date_added) ON DELETE CASCADE,
    doc        TSVECTOR NOT NULL
);
CREATE INDEX search_text_doc ON search_text USING GIN (doc);

-- Correlation: the relationships and sightings around an object.
CREATE INDEX objects_by_ref_a ON objects (ref_a) WHERE ref_a IS NOT NULL;
CREATE INDEX objects_by_ref_b ON objects (ref_b) WHERE ref_b IS NOT NULL;
