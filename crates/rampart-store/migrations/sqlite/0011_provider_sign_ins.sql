-- Sign-in through identity providers (OpenID Connect): whether a provider is offered, the
-- login transactions between a browser's start and its callback, and which local profile
-- each provider subject is.

-- A disabled provider is not offered on the sign-in pages and refuses every sign-in.
ALTER TABLE user_providers ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;

-- A browser's sign-in under way: found by the SHA-256 of the random secret in the browser's
-- cookie, taken (deleted) by the first callback that presents it, refused after expires_at.
-- `state`, `nonce` and the PKCE `verifier` are what the callback checks the provider's
-- answer against; `return_to` is a checked path on this site.
CREATE TABLE provider_logins (
    id_hash       BLOB PRIMARY KEY NOT NULL,
    user_provider TEXT NOT NULL,
    provider      TEXT NOT NULL CHECK (provider IN ('it', 'end')),
    state         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    verifier      TEXT NOT NULL,
    redirect_uri  TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX provider_logins_expires ON provider_logins (expires_at);

-- The local profile of each subject (`sub`) of an identity provider: a profile is keyed on
-- the provider's stable subject, not on a username claim that may change hands.
CREATE TABLE provider_subjects (
    user_provider TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_provider, subject)
);
CREATE INDEX provider_subjects_user ON provider_subjects (user_id);
