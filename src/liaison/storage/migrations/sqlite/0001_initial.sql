-- Liaison schema 1: node metadata, principals, collections, grants, object versions, statuses.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE principals (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'partner')),
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE collections (
    cid         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    alias       TEXT UNIQUE,
    title       TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE grants (
    cid          INTEGER NOT NULL REFERENCES collections (cid) ON DELETE CASCADE,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    can_read     INTEGER NOT NULL,
    can_write    INTEGER NOT NULL,
    PRIMARY KEY (cid, principal_id)
);

-- One row per stored object version.  date_added (microseconds since the epoch) is
-- node-wide strictly increasing, so it is also strictly increasing per collection
-- and serves as the table's clustered key: pages are read in storage order.
CREATE TABLE objects (
    date_added   INTEGER PRIMARY KEY,
    cid          INTEGER NOT NULL REFERENCES collections (cid),
    stix_id      TEXT NOT NULL,
    type         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    version_text TEXT NOT NULL,
    is_latest    INTEGER NOT NULL,
    is_first     INTEGER NOT NULL,
    body         BLOB NOT NULL
);
CREATE UNIQUE INDEX objects_by_version ON objects (cid, stix_id, version);
CREATE INDEX objects_by_date ON objects (cid, date_added);
CREATE INDEX objects_latest_by_date ON objects (cid, date_added) WHERE is_latest = 1;
CREATE INDEX objects_by_type ON objects (cid, type, date_added);

CREATE TABLE statuses (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    cid          INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    body         BLOB NOT NULL
);
CREATE INDEX statuses_by_age ON statuses (created_at);
