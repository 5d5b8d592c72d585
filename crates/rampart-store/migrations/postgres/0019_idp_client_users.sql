-- Who signs in to a client of the OpenID provider: the applications' end users (`end`,
-- the provider's own sign-in page, `/oauth2/login`) or IT users (`it`, the console's
-- sign-in page). A session of the other population is never enough for a code: the user
-- signs in again as one of the client's users.
ALTER TABLE idp_clients ADD COLUMN users TEXT NOT NULL DEFAULT 'end';
