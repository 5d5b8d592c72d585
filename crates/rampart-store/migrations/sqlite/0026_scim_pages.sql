-- An unfiltered SCIM list reads one page of a provider's users or groups in id order: both
-- indexes hold the provider, then the id, so the page is read in order without a sort.
-- The new index is built before the old one is dropped, so a build on a large table holds
-- no exclusive lock on `users` for its duration.
CREATE INDEX users_user_provider_id ON users (user_provider, id) WHERE user_provider IS NOT NULL;
DROP INDEX users_user_provider;
CREATE INDEX scim_groups_provider_id ON scim_groups (user_provider, id);
