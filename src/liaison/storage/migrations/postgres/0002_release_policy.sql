-- Liaison schema 2 (PostgreSQL): the same as sqlite/0002_release_policy.sql —
-- partners, agreements, the marking registry and release columns.  Flags stay 0/1
-- integers so both engines compile the same predicate (storage/policy_sql.py).
ALTER TABLE collections ADD COLUMN default_tlp INTEGER NOT NULL DEFAULT 2;

-- Release columns computed at ingest (policy.derive): TLP rank (NULL when unmarked),
-- granular restriction, public standard definition, origin (NULL = this node, else the
-- partner it came from) and the endpoints of relationships and sightings.
ALTER TABLE objects ADD COLUMN tlp INTEGER;
ALTER TABLE objects ADD COLUMN restricted SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN public SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN origin TEXT COLLATE "C";
ALTER TABLE objects ADD COLUMN ref_a TEXT COLLATE "C";
ALTER TABLE objects ADD COLUMN ref_b TEXT COLLATE "C";
CREATE INDEX objects_by_stix_id ON objects (stix_id);

-- Non-TLP markings of each object version.
CREATE TABLE object_markings (
    date_added BIGINT NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    marking_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (date_added, marking_id)
);

-- Markings this node knows the meaning of (besides the standard TLP ids).
CREATE TABLE markings (
    id   TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('statement', 'releasability')),
    tlp  INTEGER,
    body BYTEA
);
CREATE TABLE marking_release (
    marking_id TEXT COLLATE "C" NOT NULL REFERENCES markings (id) ON DELETE CASCADE,
    org_id     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (marking_id, org_id)
);

CREATE TABLE partners (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    org_identity TEXT COLLATE "C" NOT NULL,
    principal_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES principals (id),
    url          TEXT COLLATE "C",
    remote_token TEXT COLLATE "C",
    created_at   BIGINT NOT NULL,
    removed_at   BIGINT
);

CREATE TABLE agreements (
    id          TEXT COLLATE "C" PRIMARY KEY,
    partner_id  TEXT COLLATE "C" NOT NULL REFERENCES partners (id),
    direction   TEXT COLLATE "C" NOT NULL CHECK (direction IN ('pull', 'push', 'both')),
    max_tlp     INTEGER NOT NULL,
    reshare     SMALLINT NOT NULL,
    valid_from  BIGINT,
    valid_until BIGINT,
    revoked_at  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX agreements_by_partner ON agreements (partner_id);
CREATE TABLE agreement_collections (
    agreement_id      TEXT COLLATE "C" NOT NULL REFERENCES agreements (id),
    cid               BIGINT NOT NULL REFERENCES collections (cid),
    remote_collection TEXT COLLATE "C",
    PRIMARY KEY (agreement_id, cid)
);
