-- Leases: which node of a cluster runs the background work that must run once (signing
-- checkpoints, archiving, search-key compaction, directory sync, closing ignored cases,
-- raising alerts). A holder renews its lease before it expires; another node takes it
-- only once it has expired (the holder died) or was released (the holder stopped).
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
