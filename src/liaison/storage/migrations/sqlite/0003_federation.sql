-- Liaison schema 3: federation — provenance of received versions, sync state, sync failures.

-- Provenance: the agreement a version arrived through (NULL for local material).  With
-- origin (the partner it came from) and date_added (when it arrived here) it says
-- where every stored version came from, for the re-share rule and the audit.
ALTER TABLE objects ADD COLUMN received_via TEXT;

-- One row per (agreement, local collection, direction) the sync engine works on.
-- checkpoint: pull — the partner's date_added of the last object stored here;
--             push — our date_added of the last object the partner answered for.
-- It moves only in the same transaction as the data it covers, never backwards, and
-- only while the writer holds the lease (lease_owner, lease_until: one syncer at a time).
CREATE TABLE sync_state (
    agreement_id  TEXT NOT NULL,
    cid           INTEGER NOT NULL REFERENCES collections (cid),
    direction     TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
    checkpoint    INTEGER,
    run_from      INTEGER,
    horizon       INTEGER,
    last_attempt  INTEGER,
    last_success  INTEGER,
    caught_up_at  INTEGER,
    last_error    TEXT,
    last_error_at INTEGER,
    moved         INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   INTEGER,
    PRIMARY KEY (agreement_id, cid, direction)
);

-- Objects the other side refused (push: the partner's status failures; pull: what our
-- validation or receiving policy refused), with the message, latest attempt only.
CREATE TABLE sync_failures (
    agreement_id TEXT NOT NULL,
    cid          INTEGER NOT NULL,
    direction    TEXT NOT NULL,
    stix_id      TEXT NOT NULL,
    version      TEXT NOT NULL,
    message      TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, cid, direction, stix_id, version)
);
