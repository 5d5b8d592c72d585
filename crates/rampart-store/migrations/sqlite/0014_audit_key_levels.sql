-- The search keys of block events become a small log-structured merge tree inside the
-- database (see `crates/rampart-store/src/audit/keys.rs`). An append writes its keys into
-- level-0 segments of 2^12 events at the right end of the index; a background compaction
-- merges 64 complete segments of a level into one of the next, key-ordered, so a search for
-- a rare actor seeks about a hundred segments of a 10 M-event log instead of 610, and each
-- key is copied once until the log passes 2^24 events (twice until 2^30).
--
-- A segment id is (15 - level) << 48 | (first seq >> bits of the level). Level L >= 1 holds
-- the keys of events [upto of level L+1, upto of level L); level 0 holds the rest. A merge
-- in progress has copied the keys below `next_key` into a segment no reader probes yet.
CREATE TABLE audit_key_levels (
    level INTEGER PRIMARY KEY CHECK (level BETWEEN 0 AND 7),
    bits  INTEGER NOT NULL CHECK (bits BETWEEN 1 AND 62),
    upto  INTEGER NOT NULL DEFAULT 0 CHECK (upto >= 0)
);
INSERT INTO audit_key_levels (level, bits) VALUES
    (0, 12), (1, 18), (2, 24), (3, 30), (4, 36), (5, 42), (6, 48), (7, 54);

CREATE TABLE audit_key_merges (
    level    INTEGER PRIMARY KEY CHECK (level BETWEEN 0 AND 6),
    next_key INTEGER NOT NULL
);

-- Keys written before: all level 0 (the compaction merges them from the next start).
UPDATE audit_keys SET seg = (15 << 48) | (seq >> 12);
