-- Events appended in batches (the access pipeline) are stored in blocks of up to 256
-- consecutive events instead of a row each: their canonical bodies, one per line, compressed
-- together (LZ4), and their leaf hashes side by side. A durable append then writes about a
-- sixth of the bytes a row per event wrote (see BENCHMARKS.md, issue #4), which is what
-- bounded ingest on a disk that syncs every commit. Events written inside a change's own
-- transaction stay rows of `audit_events`; both hold disjoint numbers of the one log.
--
-- `first_at`/`last_at` are the times of the block's first and last event (times never go
-- backwards along the log, so a time is found through them); `facets` lists the block's
-- distinct low-cardinality values (`"stream:access"`, `"outcome:deny"`, …, a JSON array) so a
-- search skips blocks without them; `data` starts with a format byte (0 plain, 1 LZ4).
CREATE TABLE audit_blocks (
    first_seq INTEGER PRIMARY KEY,
    count     INTEGER NOT NULL CHECK (count BETWEEN 1 AND 256),
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    facets    TEXT NOT NULL,
    leaves    BLOB NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX audit_blocks_first_at ON audit_blocks (first_at);
CREATE INDEX audit_blocks_last_at ON audit_blocks (last_at);

-- Search keys of block events: the first 63 bits of SHA-256 over a field tag and a value
-- (actor, target, and for events outside the access stream, stream and action). Segmented
-- by 65,536 events like the row indexes, so an append writes into the newest segment only.
-- A search reads candidates here and checks each against its decoded event.
CREATE TABLE audit_keys (
    seg INTEGER NOT NULL,
    key INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (seg, key, seq)
) WITHOUT ROWID;

-- Events recorded one at a time before this version did not add their targets to the list
-- free-text search reads (migration 0012); they are added here.
INSERT INTO audit_targets (target)
    SELECT DISTINCT target FROM audit_events WHERE target IS NOT NULL
    ON CONFLICT (target) DO NOTHING;
