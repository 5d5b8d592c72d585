-- A provisioned user's externalId (kept in scim_users.attributes, canonical JSON) indexed,
-- so a directory that matches users by it (`filter=externalId eq "…"`) reads one row.
CREATE INDEX scim_users_external_id ON scim_users ((attributes::jsonb ->> 'externalId'));
