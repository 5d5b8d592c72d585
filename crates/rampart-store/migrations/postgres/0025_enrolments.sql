-- Accounts created with no password enrol a passkey through a link an administrator issues:
-- one live enrolment per user, found by the SHA-256 of the link's token (the token itself is
-- never stored), taken (deleted) by the registration that uses it, lapsing at expires_at.
-- Times are UTC milliseconds.
CREATE TABLE enrolments (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
