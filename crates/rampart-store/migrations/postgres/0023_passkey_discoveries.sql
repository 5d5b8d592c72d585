-- Signing in with a passkey alone: the browser discovers which of its passkeys to use, so
-- the ceremony's server-side state is bound to no user yet. It waits here under the
-- SHA-256 (hex) of the ceremony token the browser holds, with the source address that asked
-- for it (a source may keep only a few waiting at once), until the answer takes it (deleted,
-- whatever the answer's fate) or it lapses at expires_at. Times are UTC milliseconds.
CREATE TABLE webauthn_discoveries (
    binding    TEXT PRIMARY KEY NOT NULL,
    source     TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_discoveries_source ON webauthn_discoveries (source, expires_at);
CREATE INDEX webauthn_discoveries_expiry ON webauthn_discoveries (expires_at);
