-- User providers: directories (and later identity providers) that vouch for users besides
-- Rampart's own passwords. `kind` is open text (ldap now; oidc, saml later) and `settings`
-- that kind's JSON object, so a new kind adds rows, never a migration rewriting these. A
-- secret in the settings is a reference (env:NAME, file:/path), never a value. The status
-- columns are what the last bind, login or sync found.
CREATE TABLE user_providers (
    name            TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    users           TEXT NOT NULL CHECK (users IN ('it', 'end', 'both')),
    settings        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_success_at INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    last_sync_at    INTEGER,
    last_sync       TEXT
);

-- The user provider a profile was made by (just in time, or by a sync); NULL for users of
-- Rampart's own passwords. Such a user has no usable password hash.
ALTER TABLE users ADD COLUMN user_provider TEXT;
CREATE INDEX users_user_provider ON users (user_provider) WHERE user_provider IS NOT NULL;
