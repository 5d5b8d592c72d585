-- The second factor. A user's TOTP factor: its secret sealed under the master key
-- (XChaCha20-Poly1305, bound to the user), confirmed by a first valid code or still waiting
-- for one, and the last time step accepted, which only ever grows (a code is refused once
-- its step, or a later one, was used). Recovery codes are kept as SHA-256 digests, each
-- spent once. A sign-in waiting for its second factor is a pending login, found by the
-- SHA-256 of its token and deleted by the step that completes it. A session remembers when
-- a second factor was last verified in it (at sign-in or a step-up). Times are UTC
-- milliseconds.
CREATE TABLE mfa_totp (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret       BLOB NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE mfa_pending_logins (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    source     TEXT,
    user_agent TEXT
);
CREATE INDEX mfa_pending_logins_user ON mfa_pending_logins (user_id);

ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;
