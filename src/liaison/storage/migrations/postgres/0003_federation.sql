-- Liaison schema 3 (PostgreSQL): the same as sqlite/0003_federation.sql — provenance
-- of received versions, sync state and sync failures.

-- Provenance: the agreement a version arrived through (NULL for local material).
ALTER TABLE objects ADD COLUMN received_via TEXT COLLATE "C";

-- One row per (agreement, local collection, direction); see sqlite/0003_federation.sql.
CREATE TABLE sync_state (
    agreement_id  TEXT COLLATE "C" NOT NULL,
    cid           BIGINT NOT NULL REFERENCES collections (cid),
    direction     TEXT COLLATE "C" NOT NULL CHECK (direction IN ('pull', 'push')),
    checkpoint    BIGINT,
    run_from      BIGINT,
    horizon       BIGINT,
    last_attempt  BIGINT,
    last_success  BIGINT,
    caught_up_at  BIGINT,
    last_error    TEXT COLLATE "C",
    last_error_at BIGINT,
    moved         BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    lease_owner   TEXT COLLATE "C",
    lease_until   BIGINT,
    PRIMARY KEY (agreement_id, cid, direction)
);

CREATE TABLE sync_failures (
    agreement_id TEXT COLLATE "C" NOT NULL,
    cid          BIGINT NOT NULL,
    direction    TEXT COLLATE "C" NOT NULL,
    stix_id      TEXT COLLATE "C" NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    message      TEXT COLLATE "C" NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (agreement_id, cid, direction, stix_id, version)
);
