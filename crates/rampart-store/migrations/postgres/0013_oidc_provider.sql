-- Rampart as an OpenID Connect provider: the clients administrators register, the
-- authorization codes and refresh-token families issued to them, the users' consents and
-- the provider's signing keys. Every secret (client secret, code, refresh token) is kept as
-- its SHA-256 only.

-- A registered client. `secret_hash` is NULL for a public client (PKCE only). Redirect and
-- post-logout URIs are JSON arrays of exact URIs; `scopes` and `grant_types` are
-- space-separated. A first-party client skips the consent page.
CREATE TABLE idp_clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    secret_hash               BYTEA,
    first_party               BOOLEAN NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

-- An authorization code: taken (used_at set) at its first presentation; `family_id` names
-- the refresh-token family its grant started, which a replay revokes.
CREATE TABLE idp_codes (
    code_hash    BYTEA PRIMARY KEY NOT NULL,
    client_id    TEXT NOT NULL REFERENCES idp_clients (client_id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    nonce        TEXT,
    challenge    TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    family_id    TEXT
);
CREATE INDEX idp_codes_expires ON idp_codes (expires_at);

-- A refresh-token family: the grant of one code and its rotations. `generation` is the
-- current token's; a revoked family refuses every token and access token issued in it.
CREATE TABLE idp_families (
    family_id   TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES idp_clients (client_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    generation  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    revoked_why TEXT
);
CREATE INDEX idp_families_user ON idp_families (user_id);

-- Every refresh token a family issued, current or rotated away (a rotated one presented
-- again is a replay).
CREATE TABLE idp_refresh_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL REFERENCES idp_families (family_id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX idp_refresh_tokens_family ON idp_refresh_tokens (family_id);

-- Access tokens without a family (client credentials) revoked before their expiry.
CREATE TABLE idp_revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- What each user granted each third-party client, remembered until withdrawn.
CREATE TABLE idp_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES idp_clients (client_id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- The provider's signing keys (P-256, PKCS#8). A key is published from `created_at` and
-- signs from `signs_from` (later, so relying parties have fetched it first); a key
-- replaced by a newer one stops signing and is published until `retire_at`, when every
-- token it signed has expired.
CREATE TABLE idp_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    private    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL,
    retire_at  BIGINT
);
