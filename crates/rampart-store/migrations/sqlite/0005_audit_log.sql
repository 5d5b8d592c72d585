-- The tamper-evident audit log: the events of all three streams (`system`, `integration`,
-- `access`) as the leaves of one RFC 9162 Merkle tree.
--
-- `seq` is the leaf's position plus one. It is taken from `audit_head` inside the
-- transaction that writes the event, so sequence numbers have no gaps and follow commit
-- order (on PostgreSQL the head row's lock serialises event writers until they commit).
-- `body` is the canonical JSON of the event, the leaf's data; `leaf_hash` is kept apart so a
-- lawful erasure can clear the body (and the columns copied from it for search) without
-- breaking any proof: the erased leaf then verifies as "redacted".
-- `last_at` is the time of the newest event: an event's time is raised to it when earlier,
-- so times never go backwards along the log and a time window is a range of numbers.
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    size    INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    -- Events 1 to this number have moved to archive segments (payloads gone, leaves kept).
    archived_upto INTEGER NOT NULL
);
INSERT INTO audit_head (id, size, last_at, archived_upto) VALUES (1, 0, 0, 0);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    stream      TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    application TEXT,
    environment TEXT,
    outcome     TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    body        TEXT,
    leaf_hash   BLOB NOT NULL,
    redacted_at INTEGER,
    archived_in TEXT
);
-- Search. Access events are the bulk of the log, so they are not indexed by stream or action
-- (partial indexes: a search on the access stream walks the log newest first, and nearly
-- every event it meets matches). Actor and target are indexed within segments of 65,536
-- events (`seq >> 16` first): new entries land in the newest segment's small part of the
-- tree, which stays in cache, instead of anywhere among millions of keys, which is what
-- made random-key indexes the cost of ingest; a search probes segments newest first.
CREATE INDEX audit_events_stream ON audit_events (stream, seq) WHERE stream <> 'access';
CREATE INDEX audit_events_action ON audit_events (action, seq) WHERE stream <> 'access';
CREATE INDEX audit_events_actor ON audit_events ((seq >> 16), actor_name, seq);
CREATE INDEX audit_events_target ON audit_events ((seq >> 16), target, seq);
CREATE INDEX audit_events_time ON audit_events (occurred_at, seq);

-- Level-8 subtree roots (one per complete tile of 256 leaves), so a node restarts without
-- rehashing the whole log. Derived data: the verifier recomputes them from the leaves.
CREATE TABLE audit_tiles (
    tile INTEGER PRIMARY KEY,
    root BLOB NOT NULL
);

-- Signed checkpoints (C2SP signed note over a tlog-checkpoint body).
CREATE TABLE audit_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    note      TEXT NOT NULL,
    signed_at INTEGER NOT NULL
);
