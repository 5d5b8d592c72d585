-- Foundation: principals of both providers, sessions, login throttling and the audit outbox.
-- Times are UTC milliseconds since the Unix epoch in every table and on every backend.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    provider            TEXT NOT NULL CHECK (provider IN ('it', 'end')),
    username            TEXT NOT NULL,
    username_norm       TEXT NOT NULL,
    display_name        TEXT,
    email               TEXT,
    password_hash       TEXT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    last_login_at       BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (provider, username_norm)
);
CREATE UNIQUE INDEX users_provider_email ON users (provider, email);

CREATE TABLE it_role_assignments (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE password_history (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    source       TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_attempts (
    provider        TEXT NOT NULL,
    username_norm   TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until    BIGINT,
    PRIMARY KEY (provider, username_norm)
);

-- Every change's audit event is written here in the change's own transaction.
CREATE TABLE audit_outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream      TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    request_id  TEXT,
    source      TEXT,
    node_id     TEXT NOT NULL,
    details     TEXT NOT NULL
);
