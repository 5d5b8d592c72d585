//! Support cases: opening (and asking the company's administrators when the case is
//! suspended), reading, listing, commenting, closing, reopening, and deciding on a
//! requester by session or by an e-mailed link.

use rampart_api::{
    AttachmentWire, CaseWire, CasesResponse, CommentWire, DecisionResponse, OpenCaseRequest,
};
use rampart_core::{display_text, Error};
use rampart_store::{
    CaseQuery, CaseScope, DecisionBy, NewCase, NewLink, StoredAttachment, StoredCase, StoredComment,
};
use rampart_support::attachment;
use rampart_support::link::{hash_token, Decision, LinkToken};
use rampart_support::{CaseOp, RateLimits, Status, Viewer, SEVERITIES};
use time::Duration;

use super::{company, operator};
use crate::caller::Caller;
use crate::state::AppState;

const MAX_TEXT: usize = 20_000;

/// Checks a case's or comment's text: 1 to 20,000 characters, line breaks and tabs
/// allowed, no other control character.
fn long_text(field: &str, raw: &str) -> Result<(), Error> {
    if raw.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if raw.chars().count() > MAX_TEXT {
        return Err(Error::invalid(field, "must be at most 20000 characters"));
    }
    if let Some(bad) = raw
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(
            field,
            format!(
                "must not contain control characters but line breaks and tabs (found U+{:04X})",
                u32::from(bad)
            ),
        ));
    }
    Ok(())
}

fn comment_wire(c: StoredComment) -> CommentWire {
    CommentWire {
        number: c.seq,
        author: c.author_name,
        body: c.body,
        created_at: c.created_at,
    }
}

fn attachment_wire(a: StoredAttachment) -> AttachmentWire {
    AttachmentWire {
        number: a.seq,
        name: a.name,
        media_type: a.media_type,
        size: a.size,
        sha256: a.sha256,
        author: a.author_name,
        created_at: a.created_at,
    }
}

/// The wire form of a case (with its comments, when given).
pub fn wire(c: StoredCase, comments: Vec<StoredComment>) -> CaseWire {
    CaseWire {
        id: c.id,
        company: c.company,
        requester: c.requester.to_string(),
        requester_name: c.requester_name,
        subject: c.subject,
        description: c.description,
        severity: c.severity,
        status: c.status.as_str().to_owned(),
        reason: c.reason,
        created_at: c.created_at,
        updated_at: c.updated_at,
        comments: comments.into_iter().map(comment_wire).collect(),
        attachments: Vec::new(),
    }
}

/// What the rule knows of the caller looking at `case`.
async fn viewer(state: &AppState, caller: &Caller, case: &StoredCase) -> Result<Viewer, Error> {
    let op = operator(state, &caller.user).await?;
    Ok(Viewer {
        requester: case.requester == caller.user.id,
        shared: state.store.support_shared(&case.id, caller.user.id).await?,
        standing: state
            .store
            .support_standing(&case.company_id, caller.user.id)
            .await?,
        support_staff: op.staff,
        operator_admin: op.admin,
    })
}

/// Case `id` with its comments, once the caller may see it; 404 otherwise, as for a
/// missing case. Returns what the caller may do to it too.
async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(StoredCase, Vec<StoredComment>, Viewer), Error> {
    let not_found = Error::NotFound { what: "case" };
    if uuid_like(id).is_none() {
        return Err(not_found);
    }
    let (case, comments) = state.store.support_case(id).await?.ok_or(not_found)?;
    let who = viewer(state, caller, &case).await?;
    if !rampart_support::may(who, CaseOp::See) {
        return Err(Error::NotFound { what: "case" });
    }
    Ok((case, comments, who))
}

fn uuid_like(id: &str) -> Option<()> {
    uuid::Uuid::parse_str(id).ok().map(|_| ())
}

fn limits(state: &AppState) -> RateLimits {
    let s = &state.config.support;
    RateLimits {
        window: Duration::minutes(i64::from(s.window_minutes)),
        per_requester: s.per_requester,
        per_company: s.per_company,
    }
}

/// Opens a case. A suspended case asks every administrator of the company by e-mail, with
/// an Authorize and an Ignore link each, and tells the requester why.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    req: OpenCaseRequest,
) -> Result<CaseWire, Error> {
    let company = company(state, &req.company).await?;
    let subject = req.subject.trim();
    if subject.is_empty() {
        return Err(Error::invalid("subject", "must not be empty"));
    }
    display_text("subject", subject, 200)?;
    long_text("description", &req.description)?;
    if !SEVERITIES.contains(&req.severity.as_str()) {
        return Err(Error::invalid(
            "severity",
            "must be one of low, normal, high, critical",
        ));
    }
    let now = state.clock.now();
    let opened = state
        .store
        .support_open_case(
            &caller.audit,
            now,
            &company,
            NewCase {
                requester: caller.user.id,
                requester_name: format!("{}:{}", caller.user.provider, caller.user.username),
                subject: subject.to_owned(),
                description: req.description.clone(),
                severity: req.severity.clone(),
            },
            limits(state),
        )
        .await?;
    state.metrics.support_cases_opened.inc();
    let case = opened.case;
    if case.status == Status::Suspended {
        let expires_at = now + Duration::hours(i64::from(state.config.support.link_hours));
        let mut links = Vec::new();
        let mut letters = Vec::new();
        for admin in &opened.administrators {
            let authorize = LinkToken::generate()?;
            let ignore = LinkToken::generate()?;
            for (decision, token) in [
                (Decision::Authorize, &authorize),
                (Decision::Ignore, &ignore),
            ] {
                links.push(NewLink {
                    admin: admin.user,
                    decision,
                    hash: token.hash(),
                    expires_at,
                });
            }
            if let Some(to) = &admin.email {
                letters.push(super::notify::ask_administrator(
                    state, to, &case, &authorize, &ignore, expires_at,
                ));
            }
        }
        state
            .store
            .support_add_links(&caller.audit, now, &case, &links)
            .await?;
        if let Some(to) = &caller.user.email {
            letters.push(super::notify::tell_requester(state, to, &case));
        }
        super::notify::send_all(state, letters).await;
    }
    Ok(wire(case, Vec::new()))
}

/// The types an attachment may have (checked against its content).
pub fn attachment_types() -> impl Iterator<Item = &'static str> {
    attachment::TYPES.iter().map(|(t, _)| *t)
}

/// A file sent with a new case: its name, the type it was sent as, its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The file name.
    pub name: &'a str,
    /// The type it was sent as (checked against the content).
    pub declared: &'a str,
    /// The content.
    pub content: &'a [u8],
}

/// Opens a case with a first attachment (the console's form sends both at once). The file
/// is checked first, as [`attach`] checks it, so a refused file opens no case.
pub async fn open_with_attachment(
    state: &AppState,
    caller: &Caller,
    req: OpenCaseRequest,
    upload: Upload<'_>,
) -> Result<CaseWire, Error> {
    attachment::check(
        upload.name,
        upload.declared,
        upload.content,
        max_attachment(state),
    )
    .map_err(|r| Error::invalid(r.field, r.reason))?;
    let case = open(state, caller, req).await?;
    attach(
        state,
        caller,
        &case.id,
        upload.name,
        upload.declared,
        upload.content,
    )
    .await?;
    Ok(case)
}

/// Case `id`, with its comments and attachments.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<CaseWire, Error> {
    Ok(read(state, caller, id).await?.0)
}

/// What the caller may do to a case they see, as `rampart_support::may` answers (the
/// console shows only the forms they may use; each form's use case checks again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseRights {
    /// Add a comment or an attachment.
    pub comment: bool,
    /// Close it.
    pub close: bool,
    /// Reopen it.
    pub reopen: bool,
    /// Authorize or ignore its requester.
    pub decide: bool,
    /// Share it with a member of its company.
    pub share: bool,
}

impl CaseRights {
    fn of(who: Viewer) -> CaseRights {
        let may = |op| rampart_support::may(who, op);
        CaseRights {
            comment: may(CaseOp::Comment),
            close: may(CaseOp::Close),
            reopen: may(CaseOp::Reopen),
            decide: may(CaseOp::Decide),
            share: may(CaseOp::Share),
        }
    }
}

/// Case `id`, with its comments and attachments, and what the caller may do to it.
pub async fn read(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(CaseWire, CaseRights), Error> {
    let (case, comments, who) = visible(state, caller, id).await?;
    let attachments = state.store.support_attachments(&case.id).await?;
    let mut c = wire(case, comments);
    c.attachments = attachments.into_iter().map(attachment_wire).collect();
    Ok((c, CaseRights::of(who)))
}

/// For each case of a page from [`list`], whether the caller may authorize or ignore its
/// requester (`rampart_support::may`, `CaseOp::Decide`; the status is judged when
/// deciding). One read of the caller's standing per company on the page.
pub async fn deciders(
    state: &AppState,
    caller: &Caller,
    cases: &[CaseWire],
) -> Result<Vec<bool>, Error> {
    let op = operator(state, &caller.user).await?;
    let me = caller.user.id.to_string();
    let mut standings = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        let standing = match standings.get(&c.company) {
            Some(s) => *s,
            None => {
                let found = company(state, &c.company).await?;
                let s = state
                    .store
                    .support_standing(&found.id, caller.user.id)
                    .await?;
                standings.insert(c.company.clone(), s);
                s
            }
        };
        let who = Viewer {
            requester: c.requester == me,
            shared: false,
            standing,
            support_staff: op.staff,
            operator_admin: op.admin,
        };
        out.push(rampart_support::may(who, CaseOp::Decide));
    }
    Ok(out)
}

/// The largest attachment: `[support] max_attachment_bytes`, and never more than a request
/// body may be.
pub fn max_attachment(state: &AppState) -> usize {
    let c = &state.config;
    usize::try_from(c.support.max_attachment_bytes.min(c.max_body_bytes)).unwrap_or(usize::MAX)
}

/// Attaches `content`, sent as `declared`, named `name`, to case `id` (anyone who may
/// comment on it may attach).
pub async fn attach(
    state: &AppState,
    caller: &Caller,
    id: &str,
    name: &str,
    declared: &str,
    content: &[u8],
) -> Result<AttachmentWire, Error> {
    let (case, _, who) = visible(state, caller, id).await?;
    if !rampart_support::may(who, CaseOp::Comment) {
        return Err(Error::Forbidden("you may not add to this case".into()));
    }
    let media_type = attachment::check(name, declared, content, max_attachment(state))
        .map_err(|r| Error::invalid(r.field, r.reason))?;
    let sha256 = attachment::content_hash(content);
    let stored = state
        .store
        .support_attach(
            &caller.audit,
            state.clock.now(),
            &case.id,
            (name, media_type, &sha256),
            content,
        )
        .await?;
    Ok(attachment_wire(stored))
}

/// Attachment `number` of case `id`, with its content and the `Content-Disposition` that
/// makes it a download.
pub async fn attachment(
    state: &AppState,
    caller: &Caller,
    id: &str,
    number: &str,
) -> Result<(AttachmentWire, String, Vec<u8>), Error> {
    let (case, _, _) = visible(state, caller, id).await?;
    let not_found = Error::NotFound { what: "attachment" };
    let seq: i64 = number
        .parse()
        .map_err(|_| Error::NotFound { what: "attachment" })?;
    let (meta, content) = state
        .store
        .support_attachment(&case.id, seq)
        .await?
        .ok_or(not_found)?;
    let disposition = attachment::disposition(&meta.name);
    Ok((attachment_wire(meta), disposition, content))
}

/// A page of the cases the caller may see, newest first, filtered by the query's
/// `status`, `company`, `after` and `limit`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    params: &[(String, String)],
) -> Result<CasesResponse, Error> {
    let mut status = None;
    let mut company_name = None;
    let mut after = None;
    let mut limit = 50u32;
    for (key, value) in params {
        match key.as_str() {
            "status" => {
                status = Some(Status::parse(value).ok_or_else(|| {
                    Error::invalid("status", "must be one of open, suspended, closed")
                })?)
            }
            "company" => company_name = Some(value.clone()),
            "after" => {
                uuid_like(value)
                    .ok_or_else(|| Error::invalid("after", "must be a case id from `next`"))?;
                after = Some(value.clone());
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| Error::invalid("limit", "must be 1 to 200"))?
            }
            other => {
                return Err(Error::invalid(
                    other,
                    "not a filter: use status, company, after or limit",
                ))
            }
        }
    }
    let company = match company_name {
        Some(name) => Some(company(state, &name).await?.id),
        None => None,
    };
    let op = operator(state, &caller.user).await?;
    let scope = if op.admin || op.staff {
        CaseScope::All
    } else {
        CaseScope::Of(caller.user.id)
    };
    let cases = state
        .store
        .support_cases(&CaseQuery {
            scope,
            status,
            company,
            before: after,
            limit: limit + 1,
        })
        .await?;
    let more = cases.len() > limit as usize;
    let mut page: Vec<CaseWire> = cases
        .into_iter()
        .take(limit as usize)
        .map(|mut c| {
            c.description = String::new();
            wire(c, Vec::new())
        })
        .collect();
    let next = more.then(|| page.last().map(|c| c.id.clone())).flatten();
    page.shrink_to_fit();
    Ok(CasesResponse { cases: page, next })
}

/// Adds a comment to case `id`.
pub async fn comment(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &str,
) -> Result<CommentWire, Error> {
    let (case, _, who) = visible(state, caller, id).await?;
    if !rampart_support::may(who, CaseOp::Comment) {
        return Err(Error::Forbidden("you may not comment on this case".into()));
    }
    long_text("body", body)?;
    let c = state
        .store
        .support_comment(&caller.audit, state.clock.now(), &case.id, body)
        .await?;
    Ok(comment_wire(c))
}

/// Shares case `id` with user `user` (an id), a member of its company: they then see it
/// and comment on it.
pub async fn share(state: &AppState, caller: &Caller, id: &str, user: &str) -> Result<(), Error> {
    let (case, _, who) = visible(state, caller, id).await?;
    if !rampart_support::may(who, CaseOp::Share) {
        return Err(Error::Forbidden(
            "only the requester and the company's administrators share a case".into(),
        ));
    }
    let target = rampart_core::UserId::parse(user, "user")?;
    let found = state
        .store
        .user(target)
        .await?
        .ok_or_else(|| Error::invalid("user", "no such user"))?;
    let name = format!("{}:{}", found.provider, found.username);
    state
        .store
        .support_share(&caller.audit, state.clock.now(), &case.id, (target, &name))
        .await
}

/// Closes (`reopen = false`) or reopens case `id`.
pub async fn set_status(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reopen: bool,
) -> Result<CaseWire, Error> {
    let op = if reopen {
        CaseOp::Reopen
    } else {
        CaseOp::Close
    };
    let (case, _, who) = visible(state, caller, id).await?;
    if !rampart_support::may(who, op) {
        return Err(Error::Forbidden("you may not change this case".into()));
    }
    let changed = state
        .store
        .support_case_status(&caller.audit, state.clock.now(), &case.id, op)
        .await?;
    let comments = state
        .store
        .support_case(&changed.id)
        .await?
        .map(|(_, c)| c)
        .unwrap_or_default();
    Ok(wire(changed, comments))
}

fn decided(d: rampart_store::Decided) -> DecisionResponse {
    DecisionResponse {
        decision: d.decision.as_str().to_owned(),
        case: wire(d.case, Vec::new()),
        opened: d.opened,
    }
}

/// Authorizes or ignores the requester of case `id`, as a signed-in administrator.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    decision: Decision,
) -> Result<DecisionResponse, Error> {
    let (case, _, _) = visible(state, caller, id).await?;
    let op = operator(state, &caller.user).await?;
    let outcome = state
        .store
        .support_decide(
            &caller.audit,
            state.clock.now(),
            caller.user.id,
            Some(&case.id),
            DecisionBy::Session {
                decision,
                operator_admin: op.admin,
            },
        )
        .await?;
    let done = outcome.map_err(|r| Error::Internal(format!("session decision: {r:?}")))?;
    after_decision(state, &done).await;
    Ok(decided(done))
}

/// Follows an e-mailed link, as the signed-in caller. A refused link changes nothing and
/// is recorded (`support.link.use`, failure, with why; never the token).
pub async fn follow_link(
    state: &AppState,
    caller: &Caller,
    token: &str,
) -> Result<DecisionResponse, Error> {
    let now = state.clock.now();
    let hash = hash_token(token);
    let outcome = match hash {
        Some(h) => {
            state
                .store
                .support_decide(
                    &caller.audit,
                    now,
                    caller.user.id,
                    None,
                    DecisionBy::Link(h),
                )
                .await?
        }
        None => Err(rampart_support::LinkRefusal::Unknown),
    };
    match outcome {
        Ok(done) => {
            after_decision(state, &done).await;
            Ok(decided(done))
        }
        Err(refusal) => Err(refused_link(state, caller, hash, refusal).await?),
    }
}

/// What following the e-mailed link `token` would do, for `caller`: the case and the
/// decision, when they may use it now. Changes nothing but the audit log: a link refused
/// here is recorded as a refused use (`support.link.use`), as [`follow_link`] does, and
/// answers the same errors.
pub async fn preview_link(
    state: &AppState,
    caller: &Caller,
    token: &str,
) -> Result<(CaseWire, Decision), Error> {
    let now = state.clock.now();
    let hash = hash_token(token);
    let judged = match hash {
        Some(h) => {
            state
                .store
                .support_link_preview(now, caller.user.id, h)
                .await?
        }
        None => Err(rampart_support::LinkRefusal::Unknown),
    };
    match judged {
        Ok((case, decision)) => Ok((wire(case, Vec::new()), decision)),
        Err(refusal) => Err(refused_link(state, caller, hash, refusal).await?),
    }
}

/// Records a refused link and returns the error its follower is answered with.
async fn refused_link(
    state: &AppState,
    caller: &Caller,
    hash: Option<[u8; 32]>,
    refusal: rampart_support::LinkRefusal,
) -> Result<Error, Error> {
    state
        .store
        .support_link_refused(&caller.audit, state.clock.now(), hash, refusal)
        .await?;
    use rampart_support::LinkRefusal as R;
    Ok(match refusal {
        R::Unknown => Error::NotFound { what: "link" },
        R::Used | R::Expired | R::Decided => Error::Conflict(refusal.message().into()),
        R::OtherPerson | R::NotAdministrator | R::Requester => {
            Error::Forbidden(refusal.message().into())
        }
    })
}

/// Tells the requester what was decided.
async fn after_decision(state: &AppState, done: &rampart_store::Decided) {
    let requester = match state.store.user(done.case.requester).await {
        Ok(Some(u)) => u,
        _ => return,
    };
    if let Some(to) = requester.email {
        let letter = super::notify::tell_decision(state, &to, &done.case, done.decision);
        super::notify::send_all(state, vec![letter]).await;
    }
}

/// Closes the cases whose requester was ignored longer ago than `[support]
/// ignored_close_days`; returns how many.
pub async fn close_ignored(state: &AppState) -> Result<usize, Error> {
    let now = state.clock.now();
    let days = i64::from(state.config.support.ignored_close_days);
    state
        .store
        .support_close_ignored(&state.system_context(), now, now - Duration::days(days))
        .await
}

/// Closes ignored cases once an hour (and once at start) until `stop` changes: the node's
/// background task for `[support] ignored_close_days`. Several nodes may run it: closing is
/// one transaction that finds only cases still suspended.
pub async fn run_close_ignored(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if !state.leadership.is_leader() {
            continue;
        }
        match close_ignored(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "ignored support cases closed"),
            Err(e) => tracing::warn!(error = %e, "ignored support cases not closed; next hour"),
        }
    }
}
