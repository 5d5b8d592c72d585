//! The support desk's e-mail, through the configured SMTP server (`[support]`): asking a
//! company's administrators to authorize or ignore a requester (with their one-time
//! links), and telling the requester where their case stands.
//!
//! Nothing here reaches a log but the fact that a message was not accepted: never a link
//! (the tokens are in the bodies only) nor the SMTP password. Headers are built by
//! `lettre`, which encodes them; subjects and names were refused at input if they held a
//! control character, so none can add a header or a line to the SMTP conversation.

use lettre::{AsyncTransport, Message};
use rampart_store::StoredCase;
use rampart_support::link::{Decision, LinkToken};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::state::AppState;

/// A message to send.
pub struct Letter {
    to: String,
    subject: String,
    body: String,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Letter {
    /// A plain-text message to `to` (the support desk's mail server also carries alerts).
    pub fn new(to: String, subject: String, body: String) -> Self {
        Letter { to, subject, body }
    }
}

fn origin(state: &AppState) -> String {
    if state.config.public_origin.is_empty() {
        format!("https://{}", state.config.https_addr)
    } else {
        state.config.public_origin.clone()
    }
}

/// Where a link token is followed: the console's page for it, which shows the case and
/// the decision and asks to confirm (a mail scanner that opens the link decides nothing).
/// A client may also send the token to `POST /api/v1/support/links/{token}`.
pub fn link_url(state: &AppState, token: &str) -> String {
    format!("{}/console/support/links/{token}", origin(state))
}

/// The message asking administrator `to` about suspended case `case`.
pub fn ask_administrator(
    state: &AppState,
    to: &str,
    case: &StoredCase,
    authorize: &LinkToken,
    ignore: &LinkToken,
    expires_at: OffsetDateTime,
) -> Letter {
    let until = expires_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| "a few days".into());
    Letter {
        to: to.to_owned(),
        subject: format!(
            "[{}] {} asks for support: authorize or ignore",
            case.company, case.requester_name
        ),
        body: format!(
            "{requester} is not an authorized contact of {company} and opened a support case:\n\
             \n  {subject}\n  severity: {severity}\n  case: {id}\n\n\
             The case is suspended until an administrator of {company} decides.\n\n\
             Authorize {requester} (they become a member; this case and their other \
             suspended cases open):\n  {authorize}\n\n\
             Ignore the request (the case stays suspended and closes later):\n  {ignore}\n\n\
             Each link opens a page that asks you to confirm; it works once, for you \
             only, once you are signed in, until {until}. You can also decide from the \
             support inbox.\n",
            requester = case.requester_name,
            company = case.company,
            subject = case.subject,
            severity = case.severity,
            id = case.id,
            authorize = link_url(state, authorize.secret()),
            ignore = link_url(state, ignore.secret()),
        ),
    }
}

/// The message telling requester `to` that case `case` is suspended, and why.
pub fn tell_requester(_state: &AppState, to: &str, case: &StoredCase) -> Letter {
    Letter {
        to: to.to_owned(),
        subject: format!("[{}] Your support case is suspended", case.company),
        body: format!(
            "Your case \"{subject}\" ({id}) is suspended: {reason}.\n",
            subject = case.subject,
            id = case.id,
            reason = case.reason.as_deref().unwrap_or("it waits for a decision"),
        ),
    }
}

/// The message telling requester `to` what was decided about case `case`.
pub fn tell_decision(_state: &AppState, to: &str, case: &StoredCase, d: Decision) -> Letter {
    let what = match d {
        Decision::Authorize => format!(
            "an administrator of {} authorized you: the case is open, and your future cases \
             are accepted directly",
            case.company
        ),
        Decision::Ignore => case
            .reason
            .clone()
            .unwrap_or_else(|| "an administrator did not authorize you".into()),
    };
    Letter {
        to: to.to_owned(),
        subject: format!("[{}] Your support case: {}", case.company, d.as_str()),
        body: format!(
            "Your case \"{subject}\" ({id}): {what}.\n",
            subject = case.subject,
            id = case.id
        ),
    }
}

fn message(state: &AppState, letter: Letter) -> Result<Message, String> {
    crate::mail::message(state, &letter.to, letter.subject, letter.body)
}

/// Sends `letters`; a message the server does not accept is logged (without its body) and
/// counted, and stops nothing: administrators can decide from their inbox.
pub async fn send_all(state: &AppState, letters: Vec<Letter>) {
    if letters.is_empty() {
        return;
    }
    let mailer = match crate::mail::transport(state) {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(why) => {
            tracing::warn!(error = %why, "support notifications not sent");
            state
                .metrics
                .support_mail_failures
                .inc_by(letters.len() as u64);
            return;
        }
    };
    for letter in letters {
        let sent = match message(state, letter) {
            Ok(m) => mailer.send(m).await.map(|_| ()).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        if let Err(why) = sent {
            tracing::warn!(error = %why, "a support notification was not sent");
            state.metrics.support_mail_failures.inc();
        }
    }
}
