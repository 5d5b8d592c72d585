-- Deployments waiting for a second approver (environments with that policy). `items` is the
-- checked plan as JSON: [{module, number, expected}], where `expected` is the version the
-- requester saw running (null: none). Approval applies it in the same transaction that
-- marks the request approved, and only if the environment still runs what was expected.
CREATE TABLE deployment_requests (
    id            INTEGER PRIMARY KEY,
    environment   TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('deploy', 'stage', 'rollback')),
    source_env    TEXT,
    items         TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    requester     TEXT NOT NULL,
    requested_at  INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by    TEXT,
    decider       TEXT,
    decided_at    INTEGER,
    reason        TEXT
);
CREATE INDEX deployment_requests_env ON deployment_requests (environment, status, id);
