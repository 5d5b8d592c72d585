//! Support cases and their comments: opening (the requester's standing and the rate limits
//! judged in the opening transaction), reading one, listing a page, commenting, closing and
//! reopening, each change with its event.

use rampart_support::{CaseOp, RateLimits, Status};

use super::*;

/// A case to open.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The requester.
    pub requester: UserId,
    /// How the requester is named (`provider:username`).
    pub requester_name: String,
    /// The one-line subject.
    pub subject: String,
    /// What is wrong.
    pub description: String,
    /// One of `rampart_support::SEVERITIES`.
    pub severity: String,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    /// Its identifier.
    pub id: String,
    /// Its company's id.
    pub company_id: String,
    /// Its company's name.
    pub company: String,
    /// The requester.
    pub requester: UserId,
    /// How the requester was named.
    pub requester_name: String,
    /// The subject.
    pub subject: String,
    /// The description.
    pub description: String,
    /// The severity.
    pub severity: String,
    /// Where it stands.
    pub status: Status,
    /// Why it is suspended, while it is.
    pub reason: Option<String>,
    /// When an administrator ignored the requester.
    pub ignored_at: Option<OffsetDateTime>,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A comment on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    /// Its number in the case, from 1.
    pub seq: i64,
    /// Who wrote it.
    pub author: UserId,
    /// How they were named.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A case just opened, and the administrators to ask when it is suspended.
#[derive(Debug, Clone)]
pub struct OpenedCase {
    /// The case.
    pub case: StoredCase,
    /// The company's administrators (empty when the case is open).
    pub administrators: Vec<Person>,
}

/// Whose cases a list may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseScope {
    /// Every case (the operator's administrators and support staff).
    All,
    /// The cases of the companies `user` administers, and those `user` opened for a
    /// company that has not removed them.
    Of(UserId),
}

/// A page of cases, newest first.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    /// Whose cases.
    pub scope: CaseScope,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this company (by id).
    pub company: Option<String>,
    /// Cases older than this id (the previous page's last).
    pub before: Option<String>,
    /// At most this many.
    pub limit: u32,
}

const CASE_COLUMNS: &str = "c.id, c.company_id, co.name AS company, c.requester_id, \
     c.requester_name, c.subject, c.description, c.severity, c.status, c.reason, \
     c.ignored_at, c.created_at, c.updated_at";

fn case_row(row: &Row) -> Result<StoredCase, Error> {
    let status: String = row.get("status")?;
    Ok(StoredCase {
        id: row.get("id")?,
        company_id: row.get("company_id")?,
        company: row.get("company")?,
        requester: user_id(&row.get::<String, _>("requester_id")?)?,
        requester_name: row.get("requester_name")?,
        subject: row.get("subject")?,
        description: row.get("description")?,
        severity: row.get("severity")?,
        status: Status::parse(&status)
            .ok_or_else(|| Error::Internal(format!("stored status {status:?}")))?,
        reason: row.get("reason")?,
        ignored_at: crate::backend::from_millis_opt(row.get("ignored_at")?)?,
        created_at: from_millis(row.get("created_at")?)?,
        updated_at: from_millis(row.get("updated_at")?)?,
    })
}

pub(super) async fn case_in(tx: &mut Tx<'_>, id: &str) -> Result<Option<StoredCase>, Error> {
    tx.row_opt(
        &format!(
            "SELECT {CASE_COLUMNS} FROM support_cases c \
             JOIN support_companies co ON co.id = c.company_id WHERE c.id = $1"
        ),
        [Arg::from(id)],
    )
    .await?
    .map(|r| case_row(&r))
    .transpose()
}

/// The details every event about a case carries.
pub(super) fn case_details(case: &StoredCase) -> serde_json::Value {
    json!({
        "company": case.company,
        "case": case.id,
        "requester": case.requester.to_string(),
        "requester_name": case.requester_name,
    })
}

impl Store {
    /// Opens a case for `company`: `open` from a member or administrator, `suspended` (with
    /// `reason`) from anyone else, refused from someone the company removed or past a rate
    /// limit; with its `support.case.open` event.
    pub async fn support_open_case(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        company: &Company,
        new: NewCase,
        limits: RateLimits,
    ) -> Result<OpenedCase, Error> {
        let mut tx = self.write().await?;
        let standing = standing_in(&mut tx, &company.id, new.requester).await?;
        let status = rampart_support::opening(standing).map_err(|_| {
            Error::Forbidden(format!(
                "you were removed from the members of {}: ask one of its administrators to \
                 add you again",
                company.name
            ))
        })?;
        let since = to_millis(now - limits.window);
        let by_requester: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM support_cases WHERE requester_id = $1 AND created_at > $2",
                [Arg::from(new.requester.to_string()), since.into()],
            )
            .await?;
        let for_company: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM support_cases WHERE company_id = $1 AND created_at > $2",
                [Arg::from(&company.id), since.into()],
            )
            .await?;
        if let Some(why) = rampart_support::over_limit(
            limits,
            u64::try_from(by_requester).unwrap_or(0),
            u64::try_from(for_company).unwrap_or(0),
        ) {
            return Err(Error::Limit(why));
        }
        let reason = (status == Status::Suspended)
            .then(|| rampart_support::suspension_reason(&company.name));
        let at = from_millis(to_millis(now))?;
        let case = StoredCase {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company.id.clone(),
            company: company.name.clone(),
            requester: new.requester,
            requester_name: new.requester_name,
            subject: new.subject,
            description: new.description,
            severity: new.severity,
            status,
            reason,
            ignored_at: None,
            created_at: at,
            updated_at: at,
        };
        tx.exec(
            "INSERT INTO support_cases (id, company_id, requester_id, requester_name, subject, \
             description, severity, status, reason, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            [
                Arg::from(&case.id),
                Arg::from(&case.company_id),
                Arg::from(case.requester.to_string()),
                Arg::from(&case.requester_name),
                Arg::from(&case.subject),
                Arg::from(&case.description),
                Arg::from(&case.severity),
                Arg::from(status.as_str()),
                Arg::from(&case.reason),
                to_millis(now).into(),
            ],
        )
        .await?;
        let mut details = case_details(&case);
        details["status"] = json!(status.as_str());
        details["severity"] = json!(case.severity);
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.case.open",
            format!("case:{}", case.id),
            details,
        )
        .await?;
        let administrators = if status == Status::Suspended {
            people_of(&mut tx, &company.id, true).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(OpenedCase {
            case,
            administrators,
        })
    }

    /// Case `id` with its comments, if it exists (the caller decides who may see it).
    pub async fn support_case(
        &self,
        id: &str,
    ) -> Result<Option<(StoredCase, Vec<StoredComment>)>, Error> {
        let mut tx = self.snapshot().await?;
        let Some(case) = case_in(&mut tx, id).await? else {
            return Ok(None);
        };
        let rows = tx
            .rows(
                "SELECT seq, author_id, author_name, body, created_at FROM support_comments \
                 WHERE case_id = $1 ORDER BY seq",
                [Arg::from(id)],
            )
            .await?;
        let comments = rows
            .iter()
            .map(|r| {
                Ok(StoredComment {
                    seq: r.get("seq")?,
                    author: user_id(&r.get::<String, _>("author_id")?)?,
                    author_name: r.get("author_name")?,
                    body: r.get("body")?,
                    created_at: from_millis(r.get("created_at")?)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Some((case, comments)))
    }

    /// A page of cases, newest first (ids are UUIDv7, so id order is opening order).
    pub async fn support_cases(&self, q: &CaseQuery) -> Result<Vec<StoredCase>, Error> {
        let mut tx = self.snapshot().await?;
        let (all, user) = match &q.scope {
            CaseScope::All => (true, String::new()),
            CaseScope::Of(u) => (false, u.to_string()),
        };
        let rows = tx
            .rows(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM support_cases c \
                     JOIN support_companies co ON co.id = c.company_id \
                     WHERE ($1 OR c.company_id IN (SELECT company_id FROM support_people \
                              WHERE user_id = $2 AND standing = 'administrator') \
                           OR (c.requester_id = $2 AND NOT EXISTS (SELECT 1 FROM \
                              support_people p WHERE p.company_id = c.company_id \
                              AND p.user_id = $2 AND p.standing = 'removed')) \
                           OR (EXISTS (SELECT 1 FROM support_shares s \
                              WHERE s.case_id = c.id AND s.user_id = $2) \
                              AND EXISTS (SELECT 1 FROM support_people p \
                              WHERE p.company_id = c.company_id AND p.user_id = $2 \
                              AND p.standing IN ('member', 'administrator')))) \
                       AND ($3 IS NULL OR c.status = $3) \
                       AND ($4 IS NULL OR c.company_id = $4) \
                       AND ($5 IS NULL OR c.id < $5) \
                     ORDER BY c.id DESC LIMIT $6"
                ),
                [
                    Arg::from(all),
                    Arg::from(user),
                    Arg::from(q.status.map(Status::as_str)),
                    Arg::from(q.company.as_deref()),
                    Arg::from(q.before.as_deref()),
                    Arg::from(i64::from(q.limit)),
                ],
            )
            .await?;
        rows.iter().map(case_row).collect()
    }

    /// Adds a comment to case `id`, with its `support.case.comment` event (which names the
    /// case, not the text).
    pub async fn support_comment(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: &str,
        body: &str,
    ) -> Result<StoredComment, Error> {
        let mut tx = self.write().await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        let seq: i64 = tx
            .scalar(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM support_comments WHERE case_id = $1",
                [Arg::from(id)],
            )
            .await?;
        let (author, author_name) = crate::lifecycle::actor(ctx);
        tx.exec(
            "INSERT INTO support_comments (case_id, seq, author_id, author_name, body, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            [
                Arg::from(id),
                seq.into(),
                Arg::from(&author),
                Arg::from(&author_name),
                Arg::from(body),
                to_millis(now).into(),
            ],
        )
        .await?;
        tx.exec(
            "UPDATE support_cases SET updated_at = $2 WHERE id = $1",
            [Arg::from(id), to_millis(now).into()],
        )
        .await?;
        let mut details = case_details(&case);
        details["comment"] = json!(seq);
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.case.comment",
            format!("case:{id}"),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(StoredComment {
            seq,
            author: user_id(&author)?,
            author_name,
            body: body.to_owned(),
            created_at: from_millis(to_millis(now))?,
        })
    }

    /// Closes or reopens case `id` (`op` is [`CaseOp::Close`] or [`CaseOp::Reopen`]), as
    /// `rampart_support::transition` allows from its status now; with its event.
    pub async fn support_case_status(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: &str,
        op: CaseOp,
    ) -> Result<StoredCase, Error> {
        let mut tx = self.write().await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        let mut to = rampart_support::transition(case.status, op)
            .map_err(|why| Error::Conflict(why.to_owned()))?;
        if op == CaseOp::Reopen {
            // A reopened case waits again if its requester is still not authorized.
            let standing = standing_in(&mut tx, &case.company_id, case.requester).await?;
            to = rampart_support::opening(standing).unwrap_or(Status::Suspended);
        }
        let reason =
            (to == Status::Suspended).then(|| rampart_support::suspension_reason(&case.company));
        tx.exec(
            "UPDATE support_cases SET status = $2, reason = $4, updated_at = $3 WHERE id = $1",
            [
                Arg::from(id),
                Arg::from(to.as_str()),
                to_millis(now).into(),
                Arg::from(reason),
            ],
        )
        .await?;
        let mut details = case_details(&case);
        details["from"] = json!(case.status.as_str());
        let action = if op == CaseOp::Reopen {
            "support.case.reopen"
        } else {
            "support.case.close"
        };
        crate::audit::record(&mut tx, ctx, now, action, format!("case:{id}"), details).await?;
        let changed = case_in(&mut tx, id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        tx.commit().await?;
        Ok(changed)
    }
}

impl Store {
    /// Whether case `id` was shared with `user`.
    pub async fn support_shared(&self, id: &str, user: UserId) -> Result<bool, Error> {
        let mut tx = self.snapshot().await?;
        let found: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM support_shares WHERE case_id = $1 AND user_id = $2",
                [Arg::from(id), Arg::from(user.to_string())],
            )
            .await?;
        Ok(found > 0)
    }

    /// Shares case `id` with `user` (`username` for the event), who must be a member of
    /// its company; with its `support.case.share` event.
    pub async fn support_share(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        id: &str,
        (user, username): (UserId, &str),
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let case = case_in(&mut tx, id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        let standing = standing_in(&mut tx, &case.company_id, user).await?;
        if !matches!(
            standing,
            rampart_support::Standing::Member | rampart_support::Standing::Administrator
        ) {
            return Err(Error::invalid(
                "user",
                format!("cases are shared with members of {} only", case.company),
            ));
        }
        if user == case.requester {
            return Err(Error::invalid(
                "user",
                "the requester sees their case already",
            ));
        }
        let already: i64 = tx
            .scalar(
                "SELECT COUNT(*) FROM support_shares WHERE case_id = $1 AND user_id = $2",
                [Arg::from(id), Arg::from(user.to_string())],
            )
            .await?;
        if already > 0 {
            return Err(Error::Conflict(format!(
                "the case is shared with {username} already"
            )));
        }
        tx.exec(
            "INSERT INTO support_shares (case_id, user_id, created_at) VALUES ($1, $2, $3)",
            [
                Arg::from(id),
                Arg::from(user.to_string()),
                to_millis(now).into(),
            ],
        )
        .await?;
        let mut details = case_details(&case);
        details["with"] = json!(user.to_string());
        details["with_name"] = json!(username);
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.case.share",
            format!("case:{id}"),
            details,
        )
        .await?;
        tx.commit().await
    }
}
