//! Deciding on a suspended case's requester, by session or by an e-mailed link: the link
//! (found by its hash) judged by `rampart_support::check_link`, the decision applied, the
//! case's links spent, and the event written, all in one transaction, so a link works once
//! and a case is decided once even when two requests race.

use rampart_core::Outcome;
use rampart_support::link::Decision;
use rampart_support::{CaseOp, LinkFacts, LinkRefusal, Status, Viewer};

use super::cases::{case_details, case_in};
use super::*;

/// A link to store: the hash of a token drawn by the caller, bound to a case and an
/// administrator.
#[derive(Debug, Clone)]
pub struct NewLink {
    /// The administrator it is sent to.
    pub admin: UserId,
    /// What it decides.
    pub decision: Decision,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// How a decision arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionBy {
    /// By a signed-in administrator, naming the case and the decision.
    Session {
        /// The decision.
        decision: Decision,
        /// The decider is an operator administrator.
        operator_admin: bool,
    },
    /// By an e-mailed link, whose token hashes to this.
    Link([u8; 32]),
}

/// A decision taken.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The case, as it is now.
    pub case: StoredCase,
    /// What was decided.
    pub decision: Decision,
    /// The requester's cases of that company that were opened by it (authorize).
    pub opened: Vec<String>,
}

impl Store {
    /// Stores the links e-mailed about case `case`, with a `support.case.notify` event
    /// naming the administrators asked (never a token).
    pub async fn support_add_links(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        case: &StoredCase,
        links: &[NewLink],
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        for link in links {
            tx.exec(
                "INSERT INTO support_links (token_hash, case_id, admin_id, decision, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                [
                    Arg::from(link.hash.to_vec()),
                    Arg::from(&case.id),
                    Arg::from(link.admin.to_string()),
                    Arg::from(link.decision.as_str()),
                    to_millis(link.expires_at).into(),
                ],
            )
            .await?;
        }
        let mut admins: Vec<String> = links.iter().map(|l| l.admin.to_string()).collect();
        admins.dedup();
        let mut details = case_details(case);
        details["administrators"] = json!(admins);
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            "support.case.notify",
            format!("case:{}", case.id),
            details,
        )
        .await?;
        tx.commit().await
    }

    /// Decides on the requester of a suspended case, as `decider` (the caller, whose
    /// audit context is `ctx`). A link that may not be used answers `Ok(Err(refusal))`
    /// and changes nothing (the caller records the refusal: [`Store::support_link_refused`]).
    /// By session, `case` names the case; someone who may not decide is refused (403).
    pub async fn support_decide(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        decider: UserId,
        case: Option<&str>,
        by: DecisionBy,
    ) -> Result<Result<Decided, LinkRefusal>, Error> {
        let mut tx = self.write().await?;
        let (case_id, decision) = match by {
            DecisionBy::Session {
                decision,
                operator_admin,
            } => {
                let id = case.ok_or(Error::NotFound { what: "case" })?;
                let found = case_in(&mut tx, id)
                    .await?
                    .ok_or(Error::NotFound { what: "case" })?;
                let who = Viewer {
                    requester: found.requester == decider,
                    shared: false,
                    standing: standing_in(&mut tx, &found.company_id, decider).await?,
                    support_staff: false,
                    operator_admin,
                };
                if !rampart_support::may(who, CaseOp::Decide) {
                    return Err(Error::Forbidden(if who.requester {
                        "the requester of a case cannot decide on themselves".into()
                    } else {
                        format!(
                            "only an administrator of {} or of the platform decides on its \
                             requesters",
                            found.company
                        )
                    }));
                }
                if let Some(why) = rampart_support::decision_refusal(found.status) {
                    return Err(Error::Conflict(why.into()));
                }
                (found.id, decision)
            }
            DecisionBy::Link(hash) => match judge_link(&mut tx, hash, decider, now).await? {
                Ok((found, decision)) => (found.id, decision),
                Err(refusal) => return Ok(Err(refusal)),
            },
        };
        let case = case_in(&mut tx, &case_id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        let mut opened: Vec<String> = Vec::new();
        match decision {
            Decision::Authorize => {
                let standing = standing_in(&mut tx, &case.company_id, case.requester).await?;
                if standing != rampart_support::Standing::Administrator {
                    set_standing(
                        &mut tx,
                        &case.company_id,
                        case.requester,
                        rampart_support::Standing::Member,
                        now,
                    )
                    .await?;
                }
                opened = tx
                    .scalars(
                        "SELECT id FROM support_cases WHERE company_id = $1 \
                         AND requester_id = $2 AND status = 'suspended' ORDER BY id",
                        [
                            Arg::from(&case.company_id),
                            Arg::from(case.requester.to_string()),
                        ],
                    )
                    .await?;
                tx.exec(
                    "UPDATE support_cases SET status = 'open', reason = NULL, ignored_at = NULL, \
                     updated_at = $3 WHERE company_id = $1 AND requester_id = $2 \
                     AND status = 'suspended'",
                    [
                        Arg::from(&case.company_id),
                        Arg::from(case.requester.to_string()),
                        to_millis(now).into(),
                    ],
                )
                .await?;
                for id in &opened {
                    spend_links(&mut tx, id, now).await?;
                }
            }
            Decision::Ignore => {
                tx.exec(
                    "UPDATE support_cases SET ignored_at = $2, reason = $3, updated_at = $2 \
                     WHERE id = $1",
                    [
                        Arg::from(&case.id),
                        to_millis(now).into(),
                        Arg::from(rampart_support::ignored_reason(&case.company)),
                    ],
                )
                .await?;
                spend_links(&mut tx, &case.id, now).await?;
            }
        }
        let mut details = case_details(&case);
        details["decider"] = json!(decider.to_string());
        details["via"] = json!(if matches!(by, DecisionBy::Link(_)) {
            "link"
        } else {
            "session"
        });
        if decision == Decision::Authorize {
            details["opened"] = json!(opened);
        }
        let action = match decision {
            Decision::Authorize => "support.requester.authorize",
            Decision::Ignore => "support.requester.ignore",
        };
        crate::audit::record(
            &mut tx,
            ctx,
            now,
            action,
            format!("case:{}", case.id),
            details,
        )
        .await?;
        let case = case_in(&mut tx, &case_id)
            .await?
            .ok_or(Error::NotFound { what: "case" })?;
        tx.commit().await?;
        Ok(Ok(Decided {
            case,
            decision,
            opened,
        }))
    }

    /// The case and decision of the link whose token hashes to `hash`, when `follower` may
    /// use it now; what [`Store::support_decide`] would refuse otherwise. Reads only: the
    /// page behind an e-mailed link shows this and asks to confirm before anything changes.
    pub async fn support_link_preview(
        &self,
        now: OffsetDateTime,
        follower: UserId,
        hash: [u8; 32],
    ) -> Result<Result<(StoredCase, Decision), LinkRefusal>, Error> {
        let mut tx = self.snapshot().await?;
        let judged = judge_link(&mut tx, hash, follower, now).await?;
        tx.commit().await?;
        Ok(judged)
    }

    /// Records a refused link (`support.link.use`, failure) with why, and the case when the
    /// link was one of ours; never the token.
    pub async fn support_link_refused(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        hash: Option<[u8; 32]>,
        refusal: LinkRefusal,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        let case: Option<String> = match hash {
            Some(h) => {
                tx.scalar_opt(
                    "SELECT case_id FROM support_links WHERE token_hash = $1",
                    [Arg::from(h.to_vec())],
                )
                .await?
            }
            None => None,
        };
        let event = rampart_core::AuditEvent {
            action: "support.link.use",
            target: case.as_ref().map(|c| format!("case:{c}")),
            outcome: Outcome::Failure,
            details: json!({ "case": case, "refused": refusal.as_str() }).to_string(),
        };
        crate::audit::append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await
    }

    /// Closes the suspended cases whose requester was ignored at or before `ignored_by`,
    /// each with a `support.case.close` event; returns how many.
    pub async fn support_close_ignored(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        ignored_by: OffsetDateTime,
    ) -> Result<usize, Error> {
        let mut tx = self.write().await?;
        let ids: Vec<String> = tx
            .scalars(
                "SELECT id FROM support_cases WHERE status = 'suspended' \
                 AND ignored_at IS NOT NULL AND ignored_at <= $1 ORDER BY id",
                [to_millis(ignored_by).into()],
            )
            .await?;
        for id in &ids {
            let Some(case) = case_in(&mut tx, id).await? else {
                continue;
            };
            tx.exec(
                "UPDATE support_cases SET status = 'closed', updated_at = $2 WHERE id = $1",
                [Arg::from(id), to_millis(now).into()],
            )
            .await?;
            let mut details = case_details(&case);
            details["from"] = json!(Status::Suspended.as_str());
            details["after"] = json!("ignored");
            crate::audit::record(
                &mut tx,
                ctx,
                now,
                "support.case.close",
                format!("case:{id}"),
                details,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }
}

/// Marks every unused link of case `id` used.
async fn spend_links(tx: &mut Tx<'_>, id: &str, now: OffsetDateTime) -> Result<(), Error> {
    tx.exec(
        "UPDATE support_links SET used_at = $2 WHERE case_id = $1 AND used_at IS NULL",
        [Arg::from(id), to_millis(now).into()],
    )
    .await?;
    Ok(())
}

/// The link whose token hashes to `hash`, judged for `follower` now by
/// `rampart_support::check_link`: its case and decision, or why it may not be used.
async fn judge_link(
    tx: &mut Tx<'_>,
    hash: [u8; 32],
    follower: UserId,
    now: OffsetDateTime,
) -> Result<Result<(StoredCase, Decision), LinkRefusal>, Error> {
    let Some(row) = tx
        .row_opt(
            "SELECT case_id, admin_id, decision, expires_at, used_at \
             FROM support_links WHERE token_hash = $1",
            [Arg::from(hash.to_vec())],
        )
        .await?
    else {
        return Ok(Err(LinkRefusal::Unknown));
    };
    let case_id: String = row.get("case_id")?;
    let found = case_in(tx, &case_id)
        .await?
        .ok_or(Error::NotFound { what: "case" })?;
    let raw: String = row.get("decision")?;
    let decision =
        Decision::parse(&raw).ok_or_else(|| Error::Internal(format!("stored decision {raw:?}")))?;
    let facts = LinkFacts {
        expires_at: from_millis(row.get("expires_at")?)?,
        used: row.get::<Option<i64>, _>("used_at")?.is_some(),
        bound_to_follower: row.get::<String, _>("admin_id")? == follower.to_string(),
        follower_standing: standing_in(tx, &found.company_id, follower).await?,
        follower_is_requester: found.requester == follower,
        status: found.status,
    };
    Ok(rampart_support::check_link(facts, now).map(|()| (found, decision)))
}
