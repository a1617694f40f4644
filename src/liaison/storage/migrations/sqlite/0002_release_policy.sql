-- Liaison schema 2: partners, agreements, the marking registry and release columns.
ALTER TABLE collections ADD COLUMN default_tlp INTEGER NOT NULL DEFAULT 2;

-- Release columns computed at ingest (policy.derive): TLP rank (NULL when unmarked),
-- granular restriction, public standard definition, origin (NULL = this node, else the
-- partner it came from) and the endpoints of relationships and sightings.
ALTER TABLE objects ADD COLUMN tlp INTEGER;
ALTER TABLE objects ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN origin TEXT;
ALTER TABLE objects ADD COLUMN ref_a TEXT;
ALTER TABLE objects ADD COLUMN ref_b TEXT;
CREATE INDEX objects_by_stix_id ON objects (stix_id);

-- Non-TLP markings of each object version.
CREATE TABLE object_markings (
    date_added INTEGER NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    marking_id TEXT NOT NULL,
    PRIMARY KEY (date_added, marking_id)
);

-- Markings this node knows the meaning of (besides the standard TLP ids).
CREATE TABLE markings (
    id   TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('statement', 'releasability')),
    tlp  INTEGER,
    body BLOB
);
CREATE TABLE marking_release (
    marking_id TEXT NOT NULL REFERENCES markings (id) ON DELETE CASCADE,
    org_id     TEXT NOT NULL,
    PRIMARY KEY (marking_id, org_id)
);

CREATE TABLE partners (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    org_identity TEXT NOT NULL,
    principal_id TEXT NOT NULL UNIQUE REFERENCES principals (id),
    url          TEXT,
    remote_token TEXT,
    created_at   INTEGER NOT NULL,
    removed_at   INTEGER
);

CREATE TABLE agreements (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    direction   TEXT NOT NULL CHECK (direction IN ('pull', 'push', 'both')),
    max_tlp     INTEGER NOT NULL,
    reshare     INTEGER NOT NULL,
    valid_from  INTEGER,
    valid_until INTEGER,
    revoked_at  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX agreements_by_partner ON agreements (partner_id);
CREATE TABLE agreement_collections (
    agreement_id      TEXT NOT NULL REFERENCES agreements (id),
    cid               INTEGER NOT NULL REFERENCES collections (cid),
    remote_collection TEXT,
    PRIMARY KEY (agreement_id, cid)
);
