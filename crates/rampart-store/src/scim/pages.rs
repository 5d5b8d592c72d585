//! One page of a provider's users or groups, in id order, as an unfiltered SCIM list asks
//! (`GET /Users?startIndex=…&count=…`, how a directory imports): the page, its users'
//! groups and the provider's total, read in one snapshot, instead of every resource. The
//! order is the one [`Store::scim_users`] and [`Store::scim_groups`] read in, so a page is
//! the slice of the whole list that the service would cut (tested against it).

use rampart_core::Error;

use super::{scim_user_from_row, with_members, ScimGroup, ScimUser};
use crate::db::{Arg, Row, Tx};
use crate::identity::users::user_select;
use crate::Store;

/// A page of users and what rendering them needs.
#[derive(Debug, Clone)]
pub struct ScimUsersPage {
    /// How many users the provider has.
    pub total: u64,
    /// The page's users, by id.
    pub users: Vec<ScimUser>,
    /// The groups the page's users belong to, by id, each listing only its members on
    /// the page.
    pub groups: Vec<ScimGroup>,
}

/// A page of groups, with all their members.
#[derive(Debug, Clone)]
pub struct ScimGroupsPage {
    /// How many groups the provider has.
    pub total: u64,
    /// The page's groups, by id.
    pub groups: Vec<ScimGroup>,
}

/// The ids of provider `$1`'s users on the page `LIMIT $2 OFFSET $3`.
const PAGE_OF_USERS: &str =
    "SELECT p.id FROM users p WHERE p.user_provider = $1 ORDER BY p.id LIMIT $2 OFFSET $3";

/// The ids of provider `$1`'s groups on the page `LIMIT $2 OFFSET $3`.
const PAGE_OF_GROUPS: &str =
    "SELECT p.id FROM scim_groups p WHERE p.user_provider = $1 ORDER BY p.id LIMIT $2 OFFSET $3";

/// The page's bounds as arguments; an offset past what a database counts is a page past
/// the end.
fn bounds(name: &str, offset: usize, limit: usize) -> [Arg<'_>; 3] {
    let big = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    [name.into(), big(limit).into(), big(offset).into()]
}

/// How many rows of `table` provider `name` has.
async fn total(db: &mut Tx<'_>, table: &str, name: &str) -> Result<u64, Error> {
    let n: i64 = db
        .scalar(
            &format!("SELECT COUNT(*) FROM {table} WHERE user_provider = $1"),
            [name.into()],
        )
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The memberships whose `column` (`user_id` or `group_id`) is among the ids `page` selects,
/// with the members' usernames, as [`with_members`] reads them.
async fn memberships(
    db: &mut Tx<'_>,
    column: &str,
    page: &str,
    args: [Arg<'_>; 3],
) -> Result<Vec<Row>, Error> {
    db.rows(
        &format!(
            "SELECT m.group_id, u.id, u.username FROM scim_group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.{column} IN ({page}) \
             ORDER BY m.group_id, u.username"
        ),
        args,
    )
    .await
}

impl Store {
    /// The `limit` users of provider `name` after the first `offset` (by id), their groups
    /// and how many users the provider has.
    pub async fn scim_users_page(
        &self,
        name: &str,
        offset: usize,
        limit: usize,
    ) -> Result<ScimUsersPage, Error> {
        let mut db = self.snapshot().await?;
        let total = total(&mut db, "users", name).await?;
        let users = db
            .rows(
                // The page's ids first, so the rows skipped are index entries, never joined.
                &format!(
                    "{}WHERE u.id IN ({PAGE_OF_USERS}) ORDER BY u.id",
                    scim_user_select!()
                ),
                bounds(name, offset, limit),
            )
            .await?;
        let groups = db
            .rows(
                &format!(
                    "SELECT g.id, g.display_name, g.external_id, g.version, g.created_at, \
                     g.updated_at FROM scim_groups g WHERE g.user_provider = $1 AND g.id IN \
                     (SELECT m.group_id FROM scim_group_members m WHERE m.user_id IN \
                     ({PAGE_OF_USERS})) ORDER BY g.id"
                ),
                bounds(name, offset, limit),
            )
            .await?;
        let members = memberships(
            &mut db,
            "user_id",
            PAGE_OF_USERS,
            bounds(name, offset, limit),
        )
        .await?;
        db.commit().await?;
        Ok(ScimUsersPage {
            total,
            users: users
                .iter()
                .map(scim_user_from_row)
                .collect::<Result<_, _>>()?,
            groups: with_members(&groups, &members)?,
        })
    }

    /// The `limit` groups of provider `name` after the first `offset` (by id), with their
    /// members, and how many groups the provider has.
    pub async fn scim_groups_page(
        &self,
        name: &str,
        offset: usize,
        limit: usize,
    ) -> Result<ScimGroupsPage, Error> {
        let mut db = self.snapshot().await?;
        let total = total(&mut db, "scim_groups", name).await?;
        let groups = db
            .rows(
                "SELECT id, display_name, external_id, version, created_at, updated_at \
                 FROM scim_groups WHERE user_provider = $1 ORDER BY id LIMIT $2 OFFSET $3",
                bounds(name, offset, limit),
            )
            .await?;
        let members = memberships(
            &mut db,
            "group_id",
            PAGE_OF_GROUPS,
            bounds(name, offset, limit),
        )
        .await?;
        db.commit().await?;
        Ok(ScimGroupsPage {
            total,
            groups: with_members(&groups, &members)?,
        })
    }
}
