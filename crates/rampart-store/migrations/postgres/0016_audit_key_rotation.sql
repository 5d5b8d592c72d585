-- Rotations of the audit log's signing key, and witnesses' cosignatures of checkpoints.
--
-- Generation 0 is the key in each node's data directory (audit-signing.key). A rotation
-- adds generation n + 1: its verifier key text, and its private key (the C2SP key text)
-- sealed under the master key, so every node of the cluster signs with it; the node that
-- signs the next checkpoint makes it the rotation checkpoint (signed by generation n and
-- n + 1) and records its size in rotation_size. Until then the rotation is pending and
-- generation n signs. Times are UTC milliseconds.
CREATE TABLE audit_signing_keys (
    generation    BIGINT PRIMARY KEY,
    verifier      TEXT NOT NULL,
    sealed        BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    rotation_size BIGINT
);

-- A witness's cosignature of a checkpoint: its signature line over the checkpoint's text,
-- checked against the witness's configured key before it is stored. One per witness key
-- (`<name>+<hex8 key hash>`) and size.
CREATE TABLE audit_cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT NOT NULL,
    line        TEXT NOT NULL,
    cosigned_at BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);
