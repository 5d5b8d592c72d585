//! The support desk's decisions, as pure functions of what the service read: who may see
//! and act on a support case, whether a new case starts `open` or `suspended`, the rate
//! limits of opening cases, and whether a one-time decision link may be used.
//!
//! # The rule, in words
//!
//! A **company** (a customer of the platform's operator) has **administrators** and
//! **members**. Anyone signed in may open a case for a company:
//! - an administrator's or a member's case starts `open`;
//! - anyone else's starts `suspended`, and every administrator of the company is asked to
//!   authorize or ignore the requester;
//! - a person an administrator **removed** from the members opens no new case for that
//!   company at all (they must be added again), and sees none of its cases.
//!
//! Who sees a case, and what they may do with it ([`may`]):
//!
//! | who | see, comment, close, reopen | authorize or ignore (suspended cases only) |
//! |---|---|---|
//! | the requester (unless removed) | yes | never, not even as an administrator |
//! | an administrator of the case's company | yes | yes |
//! | an operator administrator (IT administrator) | yes | yes |
//! | the operator's support staff (IT role `support`) | yes | no |
//! | a member the requester shared it with (while a member) | see and comment only | no |
//! | another member, anyone else | no: the case does not exist for them | no |
//!
//! A case nobody may see is answered exactly as a missing one.
//!
//! **Links** ([`link`]): an e-mailed Authorize or Ignore link is a random token stored
//! hashed, bound to one case and one administrator, valid until it expires, used once, and
//! only while the case is still suspended ([`check_link`]).

pub mod attachment;
pub mod link;

use time::{Duration, OffsetDateTime};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Accepted; the support desk works on it.
    Open,
    /// Waiting for an administrator of the company to authorize the requester.
    Suspended,
    /// Done (by its requester, an administrator, the support desk, or after being ignored).
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 3] = [Status::Open, Status::Suspended, Status::Closed];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Suspended => "suspended",
            Status::Closed => "closed",
        }
    }

    /// The status named `raw`.
    pub fn parse(raw: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A case's severity.
pub const SEVERITIES: [&str; 4] = ["low", "normal", "high", "critical"];

/// Someone's place in one company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Manages members and decides on requesters.
    Administrator,
    /// Opens cases that start `open`.
    Member,
    /// Was a member and was removed: opens no case and sees none.
    Removed,
    /// Neither: opens cases that start `suspended`.
    Outsider,
}

/// What the rule knows of someone looking at one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// They opened the case.
    pub requester: bool,
    /// The requester shared the case with them.
    pub shared: bool,
    /// Their standing in the case's company.
    pub standing: Standing,
    /// They hold the operator's `support` IT role.
    pub support_staff: bool,
    /// They are an operator (IT) administrator.
    pub operator_admin: bool,
}

/// What may be done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOp {
    /// Read it, with its comments; know it exists.
    See,
    /// Add a comment.
    Comment,
    /// Close it.
    Close,
    /// Open a closed case again.
    Reopen,
    /// Authorize or ignore its requester.
    Decide,
    /// Share it with another member of the company.
    Share,
}

impl CaseOp {
    /// Every operation, for exhaustive tests.
    pub const ALL: [CaseOp; 6] = [
        CaseOp::See,
        CaseOp::Comment,
        CaseOp::Close,
        CaseOp::Reopen,
        CaseOp::Decide,
        CaseOp::Share,
    ];
}

/// Whether `who` may do `op` to a case (whatever its status; [`decision_refusal`] and
/// [`transition`] judge the status).
pub fn may(who: Viewer, op: CaseOp) -> bool {
    let company_admin = who.standing == Standing::Administrator;
    let decider = company_admin || who.operator_admin;
    let own = who.requester && who.standing != Standing::Removed;
    let shared = who.shared && matches!(who.standing, Standing::Member | Standing::Administrator);
    match op {
        CaseOp::Decide => decider && !who.requester,
        CaseOp::See | CaseOp::Comment => decider || who.support_staff || own || shared,
        CaseOp::Close | CaseOp::Reopen => decider || who.support_staff || own,
        CaseOp::Share => decider || own,
    }
}

/// Why a case may not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenRefusal {
    /// The requester was removed from the company's members.
    Removed,
}

/// How a case from someone of `standing` starts.
pub fn opening(standing: Standing) -> Result<Status, OpenRefusal> {
    match standing {
        Standing::Administrator | Standing::Member => Ok(Status::Open),
        Standing::Outsider => Ok(Status::Suspended),
        Standing::Removed => Err(OpenRefusal::Removed),
    }
}

/// What the requester of a suspended case is told.
pub fn suspension_reason(company: &str) -> String {
    format!(
        "you are not an authorized contact of {company}: the case is suspended until one of \
         its administrators authorizes you, and they have been asked to"
    )
}

/// What the requester of a case an administrator ignored is told.
pub fn ignored_reason(company: &str) -> String {
    format!(
        "an administrator of {company} did not authorize you: the case stays suspended and \
         closes after a while; ask them directly if you should be a contact"
    )
}

/// The status after `op` (close or reopen) on a case in `from`, or why not.
pub fn transition(from: Status, op: CaseOp) -> Result<Status, &'static str> {
    match (op, from) {
        (CaseOp::Close, Status::Closed) => Err("the case is closed already"),
        (CaseOp::Close, _) => Ok(Status::Closed),
        (CaseOp::Reopen, Status::Closed) => Ok(Status::Open),
        (CaseOp::Reopen, _) => Err("only a closed case is reopened"),
        _ => Err("not a change of status"),
    }
}

/// Why a decision on a case cannot be taken now, if it cannot.
pub fn decision_refusal(status: Status) -> Option<&'static str> {
    match status {
        Status::Suspended => None,
        Status::Open | Status::Closed => {
            Some("the case is not suspended: its requester was decided on already")
        }
    }
}

/// How many cases may be opened in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// The window.
    pub window: Duration,
    /// Cases one requester may open in it (all companies).
    pub per_requester: u32,
    /// Cases one company may receive in it.
    pub per_company: u32,
}

/// Which limit a new case would break, given the cases opened within the window.
pub fn over_limit(limits: RateLimits, by_requester: u64, for_company: u64) -> Option<String> {
    if by_requester >= u64::from(limits.per_requester) {
        return Some(format!(
            "you opened {by_requester} cases in the last {} minutes, the most one person may; \
             add to an existing case or try later",
            limits.window.whole_minutes()
        ));
    }
    if for_company >= u64::from(limits.per_company) {
        return Some(format!(
            "this company received {for_company} cases in the last {} minutes, the most it \
             may; try later",
            limits.window.whole_minutes()
        ));
    }
    None
}

/// A stored decision link, as the store found it by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFacts {
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// It was used already.
    pub used: bool,
    /// The user who follows it is the administrator it was sent to.
    pub bound_to_follower: bool,
    /// Where the follower stands in the case's company now.
    pub follower_standing: Standing,
    /// The follower opened the case.
    pub follower_is_requester: bool,
    /// The case's status now.
    pub status: Status,
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No such link: mistyped, forged, or from another server.
    Unknown,
    /// Used once already.
    Used,
    /// Past its time.
    Expired,
    /// Followed by someone it was not sent to.
    OtherPerson,
    /// The follower is no longer an administrator of the company.
    NotAdministrator,
    /// The follower opened the case.
    Requester,
    /// The case was decided on another way.
    Decided,
}

impl LinkRefusal {
    /// The stable name recorded in audit events.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRefusal::Unknown => "unknown",
            LinkRefusal::Used => "used",
            LinkRefusal::Expired => "expired",
            LinkRefusal::OtherPerson => "other-person",
            LinkRefusal::NotAdministrator => "not-administrator",
            LinkRefusal::Requester => "requester",
            LinkRefusal::Decided => "decided",
        }
    }

    /// What the follower is told.
    pub fn message(self) -> &'static str {
        match self {
            LinkRefusal::Unknown => "this link is not one this server sent, or it was mistyped",
            LinkRefusal::Used => "this link was used already: each link works once",
            LinkRefusal::Expired => {
                "this link has expired: decide from the support inbox, or ask for a new one"
            }
            LinkRefusal::OtherPerson => {
                "this link was sent to another administrator: sign in as them, or decide from \
                 your own inbox"
            }
            LinkRefusal::NotAdministrator => {
                "you are no longer an administrator of the case's company"
            }
            LinkRefusal::Requester => "the requester of a case cannot decide on themselves",
            LinkRefusal::Decided => {
                "the case is not suspended any more: someone decided on it already"
            }
        }
    }
}

/// Whether a link may be used now, by the user it describes.
pub fn check_link(link: LinkFacts, now: OffsetDateTime) -> Result<(), LinkRefusal> {
    if link.used {
        return Err(LinkRefusal::Used);
    }
    if now >= link.expires_at {
        return Err(LinkRefusal::Expired);
    }
    if link.follower_is_requester {
        return Err(LinkRefusal::Requester);
    }
    if !link.bound_to_follower {
        return Err(LinkRefusal::OtherPerson);
    }
    if link.follower_standing != Standing::Administrator {
        return Err(LinkRefusal::NotAdministrator);
    }
    if decision_refusal(link.status).is_some() {
        return Err(LinkRefusal::Decided);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
