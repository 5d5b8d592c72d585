-- Events appended in batches (the access pipeline) are stored in blocks of up to 256
-- consecutive events instead of a row each: their canonical bodies, one per line, compressed
-- together (LZ4), and their leaf hashes side by side. Events written inside a change's own
-- transaction stay rows of `audit_events`; both hold disjoint numbers of the one log. See
-- the SQLite migration of the same number for the columns.
CREATE TABLE audit_blocks (
    first_seq BIGINT PRIMARY KEY,
    count     BIGINT NOT NULL CHECK (count BETWEEN 1 AND 256),
    first_at  BIGINT NOT NULL,
    last_at   BIGINT NOT NULL,
    facets    TEXT NOT NULL,
    leaves    BYTEA NOT NULL,
    data      BYTEA NOT NULL
);
-- The data is compressed already: TOAST keeps it out of line without compressing again.
ALTER TABLE audit_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE audit_blocks ALTER COLUMN leaves SET STORAGE EXTERNAL;
CREATE INDEX audit_blocks_first_at ON audit_blocks (first_at);
CREATE INDEX audit_blocks_last_at ON audit_blocks (last_at);

-- Search keys of block events (see the SQLite migration).
CREATE TABLE audit_keys (
    seg BIGINT NOT NULL,
    key BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (seg, key, seq)
);

-- Events recorded one at a time before this version did not add their targets to the list
-- free-text search reads (migration 0012); they are added here.
INSERT INTO audit_targets (target)
    SELECT DISTINCT target FROM audit_events WHERE target IS NOT NULL
    ON CONFLICT (target) DO NOTHING;
