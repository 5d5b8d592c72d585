-- Passkeys (WebAuthn) as a second factor. A user may hold several, each named by them; the
-- credential id is the authenticator's own and belongs to one user only. The credential is
-- kept as webauthn-rs serialises it (public key, counter, flags: nothing secret), and its
-- signature counter beside it, which only ever grows unless the authenticator keeps none
-- (both zero): an assertion whose counter does not advance is refused by a conditional
-- UPDATE (clone detection). A ceremony's server-side state waits in webauthn_challenges,
-- bound to its user and to what it is for: a pending login (by the SHA-256 of its token,
-- hex), or a session (registration, step-up); it is taken, deleted, by the answer that
-- uses it, and lapses at expires_at. Times are UTC milliseconds.
CREATE TABLE webauthn_credentials (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    credential_id BLOB NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    sign_count    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

CREATE TABLE webauthn_challenges (
    purpose    TEXT NOT NULL,
    binding    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (purpose, binding)
);
CREATE INDEX webauthn_challenges_user ON webauthn_challenges (user_id);
