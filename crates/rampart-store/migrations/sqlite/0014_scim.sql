-- SCIM 2.0 provisioning (RFC 7643/7644): an enterprise directory pushes a user provider's
-- users and groups to /scim/v2 with the provider's bearer token.

-- One token per user provider, stored as the SHA-256 of the secret, never the secret.
-- Rotating replaces the row; revoking deletes it.
CREATE TABLE scim_tokens (
    user_provider TEXT PRIMARY KEY NOT NULL REFERENCES user_providers (name) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL
);

-- The SCIM attributes of a provisioned user beyond the columns of `users` (userName,
-- displayName, the primary e-mail and active live there), as canonical JSON, and the
-- version its ETag carries.
CREATE TABLE scim_users (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attributes TEXT NOT NULL,
    version    INTEGER NOT NULL
);

-- A provider's groups; their names are what the provider's group mappings match.
CREATE TABLE scim_groups (
    id                TEXT PRIMARY KEY NOT NULL,
    user_provider     TEXT NOT NULL REFERENCES user_providers (name) ON DELETE CASCADE,
    display_name      TEXT NOT NULL,
    display_name_norm TEXT NOT NULL,
    external_id       TEXT,
    version           INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (user_provider, display_name_norm)
);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user ON scim_group_members (user_id);
