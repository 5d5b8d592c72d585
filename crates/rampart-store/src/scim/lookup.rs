//! Reading only the users and groups a SCIM filter can match (`rampart_scim::lookup`): by
//! an indexed column (`users.id`, `users.username_norm`, a user's `externalId` inside
//! `scim_users.attributes`, `scim_groups.id`, `display_name_norm`, `external_id`), and the
//! groups of one user. The service still
//! evaluates the whole filter on what comes back.

use rampart_core::{Error, UserId};
use rampart_scim::lookup::{Key, Lookup};

use super::{scim_user_from_row, with_members, ScimGroup, ScimUser};
use crate::identity::users::user_select;
use crate::{BackendKind, Store};

fn not_a_column(what: &str, key: Key) -> Error {
    Error::Internal(format!("{what} are not looked up by {key:?}"))
}

impl Store {
    /// The users of provider `name` whose column `by.key` holds `by.value`.
    pub async fn scim_users_by(&self, name: &str, by: &Lookup) -> Result<Vec<ScimUser>, Error> {
        let sql = match by.key {
            Key::Id => concat!(
                scim_user_select!(),
                "WHERE u.user_provider = $1 AND u.id = $2"
            ),
            Key::UserName => concat!(
                scim_user_select!(),
                // Both kinds, so the (provider, username_norm) index answers.
                "WHERE u.provider IN ('it', 'end') AND u.username_norm = $2 \
                 AND u.user_provider = $1"
            ),
            // The expressions migration 0024 indexes, one per backend; on SQLite the
            // provider's term is kept off its index (`+`) so the lookup drives the plan.
            Key::ExternalId if self.kind() == BackendKind::Sqlite => concat!(
                scim_user_select!(),
                "WHERE u.id IN (SELECT user_id FROM scim_users \
                 WHERE json_extract(attributes, '$.externalId') = $2) \
                 AND +u.user_provider = $1"
            ),
            Key::ExternalId => concat!(
                scim_user_select!(),
                "WHERE u.id IN (SELECT user_id FROM scim_users \
                 WHERE (attributes::jsonb ->> 'externalId') = $2) AND u.user_provider = $1"
            ),
            key => return Err(not_a_column("users", key)),
        };
        let rows = self
            .reader()
            .rows(sql, [name.into(), by.value.as_str().into()])
            .await?;
        rows.iter().map(scim_user_from_row).collect()
    }

    /// The groups of provider `name` whose column `by.key` holds `by.value`, with their
    /// members.
    pub async fn scim_groups_by(&self, name: &str, by: &Lookup) -> Result<Vec<ScimGroup>, Error> {
        let column = match by.key {
            Key::Id => "g.id",
            Key::DisplayName => "g.display_name_norm",
            Key::ExternalId => "g.external_id",
            key => return Err(not_a_column("groups", key)),
        };
        let groups = format!(
            "SELECT g.id, g.display_name, g.external_id, g.version, g.created_at, \
             g.updated_at FROM scim_groups g WHERE g.user_provider = $1 AND {column} = $2 \
             ORDER BY g.id"
        );
        let members = format!(
            "SELECT m.group_id, u.id, u.username FROM scim_group_members m \
             JOIN scim_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id \
             WHERE g.user_provider = $1 AND {column} = $2 ORDER BY m.group_id, u.username"
        );
        let mut db = self.snapshot().await?;
        let rows = db
            .rows(&groups, [name.into(), by.value.as_str().into()])
            .await?;
        let members = db
            .rows(&members, [name.into(), by.value.as_str().into()])
            .await?;
        db.commit().await?;
        with_members(&rows, &members)
    }

    /// The groups of provider `name` that `user` belongs to, each listing `user` alone as
    /// its member: what the user's `groups` attribute shows.
    pub async fn scim_groups_of(&self, name: &str, user: UserId) -> Result<Vec<ScimGroup>, Error> {
        let mut db = self.snapshot().await?;
        let rows = db
            .rows(
                "SELECT g.id, g.display_name, g.external_id, g.version, g.created_at, \
                 g.updated_at FROM scim_groups g JOIN scim_group_members m \
                 ON m.group_id = g.id WHERE g.user_provider = $1 AND m.user_id = $2 \
                 ORDER BY g.id",
                [name.into(), user.to_string().into()],
            )
            .await?;
        let members = db
            .rows(
                "SELECT m.group_id, u.id, u.username FROM scim_group_members m \
                 JOIN scim_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id \
                 WHERE g.user_provider = $1 AND m.user_id = $2 ORDER BY m.group_id",
                [name.into(), user.to_string().into()],
            )
            .await?;
        db.commit().await?;
        with_members(&rows, &members)
    }
}
