//! The support desk (migration 0007): companies, the standing of people in them, cases and
//! their comments (`cases.rs`), and the one-time decision links (`links.rs`).
//!
//! Every change writes its `system` audit event (`support.*`) in its own transaction. The
//! rules (how a case starts, who may decide, whether a link may be used) are
//! `rampart_support`'s, applied here inside the transaction that acts on them, so a link
//! is used once and a case is decided once even when two requests race.

use rampart_core::{AuditContext, Error, UserId};
use rampart_support::Standing;
use serde_json::json;
use time::OffsetDateTime;

use crate::backend::{from_millis, to_millis};
use crate::db::{Arg, Row, Tx};
use crate::Store;

mod attachments;
mod cases;
mod links;

pub use attachments::StoredAttachment;
pub use cases::{CaseQuery, CaseScope, NewCase, OpenedCase, StoredCase, StoredComment};
pub use links::{Decided, DecisionBy, NewLink};

/// A company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Its identifier.
    pub id: String,
    /// Its name (unique).
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// Someone with a standing in a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The user.
    pub user: UserId,
    /// Their username.
    pub username: String,
    /// Their e-mail address, if any.
    pub email: Option<String>,
    /// Their standing.
    pub standing: Standing,
    /// Since when.
    pub since: OffsetDateTime,
}

/// A change of someone's standing in a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeopleChange {
    /// Make them a member (again).
    AddMember,
    /// Remove them from the members: they open no new case and see none of the company's.
    RemoveMember,
    /// Make them an administrator.
    AddAdministrator,
    /// Make an administrator a member only.
    RemoveAdministrator,
}

impl PeopleChange {
    fn action(self) -> &'static str {
        match self {
            PeopleChange::AddMember => "support.member.add",
            PeopleChange::RemoveMember => "support.member.remove",
            PeopleChange::AddAdministrator => "support.administrator.add",
            PeopleChange::RemoveAdministrator => "support.administrator.remove",
        }
    }
}

pub(crate) fn standing_str(s: Standing) -> &'static str {
    match s {
        Standing::Administrator => "administrator",
        Standing::Member => "member",
        Standing::Removed => "removed",
        Standing::Outsider => "outsider",
    }
}

fn parse_standing(raw: &str) -> Result<Standing, Error> {
    match raw {
        "administrator" => Ok(Standing::Administrator),
        "member" => Ok(Standing::Member),
        "removed" => Ok(Standing::Removed),
        other => Err(Error::Internal(format!("stored standing {other:?}"))),
    }
}

fn company_row(row: &Row) -> Result<Company, Error> {
    Ok(Company {
        id: row.get("id")?,
        name: row.get("name")?,
        created_at: from_millis(row.get("created_at")?)?,
    })
}

pub(crate) fn user_id(raw: &str) -> Result<UserId, Error> {
    UserId::parse(raw, "stored user").map_err(|_| Error::Internal(format!("stored user {raw:?}")))
}

/// `user`'s standing in `company` inside `tx`.
pub(crate) async fn standing_in(
    tx: &mut Tx<'_>,
    company: &str,
    user: UserId,
) -> Result<Standing, Error> {
    let raw: Option<String> = tx
        .scalar_opt(
            "SELECT standing FROM support_people WHERE company_id = $1 AND user_id = $2",
            [Arg::from(company), Arg::from(user.to_string())],
        )
        .await?;
    raw.map_or(Ok(Standing::Outsider), |s| parse_standing(&s))
}

async fn company_by_name(tx: &mut Tx<'_>, name: &str) -> Result<Option<Company>, Error> {
    tx.row_opt(
        "SELECT id, name, created_at FROM support_companies WHERE name = $1",
        [Arg::from(name)],
    )
    .await?
    .map(|r| company_row(&r))
    .transpose()
}

async fn people_of(
    tx: &mut Tx<'_>,
    company: &str,
    admins_only: bool,
) -> Result<Vec<Person>, Error> {
    let rows = tx
        .rows(
            "SELECT p.user_id, u.username, u.email, p.standing, p.since \
             FROM support_people p JOIN users u ON u.id = p.user_id \
             WHERE p.company_id = $1 AND (p.standing = 'administrator' \
                OR (p.standing = 'member' AND NOT $2)) \
             ORDER BY u.username_norm",
            [Arg::from(company), Arg::from(admins_only)],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Person {
                user: user_id(&r.get::<String, _>("user_id")?)?,
                username: r.get("username")?,
                email: r.get("email")?,
                standing: parse_standing(&r.get::<String, _>("standing")?)?,
                since: from_millis(r.get("since")?)?,
            })
        })
        .collect()
}

impl Store {
    /// Creates company `name`, with its `support.company.create` event.
    pub async fn support_create_company(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        name: &str,
    ) -> Result<Company, Error> {
        let mut tx = self.write().await?;
        if company_by_name(&mut tx, name).await?.is_some() {
            return Err(Error::Conflict(format!("a company named `{name}` exists")));
        }
        let company = Company {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            created_at: from_millis(to_millis(now))?,
        };
        tx.exec(
            "INSERT INTO support_companies (id, name, created_at) VALUES ($1, $2, $3)",
            [
                Arg::from(&company.id),
                Arg::from(name),
                to_millis(now).into(),
            ],
        )
        .await?;
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.company.create",
            format!("company:{name}"),
            json!({ "company": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(company)
    }

    /// Every company, by name.
    pub async fn support_companies(&self) -> Result<Vec<Company>, Error> {
        let mut tx = self.snapshot().await?;
        let rows = tx
            .rows(
                "SELECT id, name, created_at FROM support_companies ORDER BY name",
                [],
            )
            .await?;
        rows.iter().map(company_row).collect()
    }

    /// Company `name`, if it exists.
    pub async fn support_company(&self, name: &str) -> Result<Option<Company>, Error> {
        let mut tx = self.snapshot().await?;
        company_by_name(&mut tx, name).await
    }

    /// `user`'s standing in company `company` (by id).
    pub async fn support_standing(&self, company: &str, user: UserId) -> Result<Standing, Error> {
        let mut tx = self.snapshot().await?;
        standing_in(&mut tx, company, user).await
    }

    /// The ids of the companies `user` administers.
    pub async fn support_administered(&self, user: UserId) -> Result<Vec<String>, Error> {
        let mut tx = self.snapshot().await?;
        tx.scalars(
            "SELECT company_id FROM support_people WHERE user_id = $1 \
             AND standing = 'administrator' ORDER BY company_id",
            [Arg::from(user.to_string())],
        )
        .await
    }

    /// The members of company `company` (by id; administrators are members too), or only
    /// its administrators.
    pub async fn support_people(
        &self,
        company: &str,
        admins_only: bool,
    ) -> Result<Vec<Person>, Error> {
        let mut tx = self.snapshot().await?;
        people_of(&mut tx, company, admins_only).await
    }

    /// Changes `user`'s standing in `company`, with its event naming the company and the
    /// user. Refused (409) when it would change nothing or skip a step: removing an
    /// administrator from the members before from the administrators.
    pub async fn support_change_people(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        company: &Company,
        (user, username): (UserId, &str),
        change: PeopleChange,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let before = standing_in(&mut tx, &company.id, user).await?;
        let after = match (change, before) {
            (PeopleChange::AddMember, Standing::Outsider | Standing::Removed) => Standing::Member,
            (PeopleChange::AddMember, _) => {
                return Err(Error::Conflict(format!(
                    "{username} is a member of {} already",
                    company.name
                )))
            }
            (PeopleChange::RemoveMember, Standing::Member) => Standing::Removed,
            (PeopleChange::RemoveMember, Standing::Administrator) => {
                return Err(Error::Conflict(format!(
                    "{username} is an administrator of {}: remove them from the \
                     administrators first",
                    company.name
                )))
            }
            (PeopleChange::RemoveMember, _) => return Err(Error::NotFound { what: "member" }),
            (PeopleChange::AddAdministrator, Standing::Administrator) => {
                return Err(Error::Conflict(format!(
                    "{username} is an administrator of {} already",
                    company.name
                )))
            }
            (PeopleChange::AddAdministrator, _) => Standing::Administrator,
            (PeopleChange::RemoveAdministrator, Standing::Administrator) => Standing::Member,
            (PeopleChange::RemoveAdministrator, _) => {
                return Err(Error::NotFound {
                    what: "administrator",
                })
            }
        };
        set_standing(&mut tx, &company.id, user, after, now).await?;
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            change.action(),
            format!("company:{}", company.name),
            json!({
                "company": company.name,
                "user": user.to_string(),
                "username": username,
                "before": standing_str(before),
                "after": standing_str(after),
            }),
        )
        .await?;
        tx.commit().await
    }
}

/// Writes `user`'s standing in `company`.
pub(crate) async fn set_standing(
    tx: &mut Tx<'_>,
    company: &str,
    user: UserId,
    standing: Standing,
    now: OffsetDateTime,
) -> Result<(), Error> {
    tx.exec(
        "INSERT INTO support_people (company_id, user_id, standing, since) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (company_id, user_id) DO UPDATE SET standing = $3, since = $4",
        [
            Arg::from(company),
            Arg::from(user.to_string()),
            Arg::from(standing_str(standing)),
            to_millis(now).into(),
        ],
    )
    .await?;
    Ok(())
}
