//! `/console/support/cases/{id}`: one case (subject, description, severity, status and
//! why it is suspended, requester, company, comments in order, attachments as downloads
//! from the API's route) and the forms its reader may use: comment, close, reopen, share
//! with a member, and, for those who decide on its requester, Authorize and Ignore. Which
//! forms show is `cases::read`'s answer (`rampart_support::may`); each form calls the use
//! case of its API route, which checks again. A case the user may not see is the same
//! 404 page as a missing one.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rampart_api::CaseWire;
use rampart_core::Error;
use rampart_service::caller::Caller;
use rampart_service::support::cases::{self, CaseRights};
use rampart_service::support::Decision;
use rampart_service::AppState;
use serde::Deserialize;

use super::super::account::stamp;
use super::super::users::FormProblem;
use super::super::{error_page, field, posted, Section, Segments, Shell};
use super::{as_file_problem, companies_link, resolve_user, unreadable, SentForm};
use crate::console::door::doors::SupportOpen;
use crate::console::door::{Page, Sent};
use crate::routes::page::{self, Visitor};

/// A comment as the page shows it.
struct CommentRow {
    author: String,
    at: String,
    body: String,
}

/// An attachment as the page shows it, with the API's download address.
struct AttachmentRow {
    name: String,
    media_type: String,
    size: i64,
    author: String,
    href: String,
}

#[derive(Template)]
#[template(path = "console/support_case.html")]
struct CasePage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    case: &'a CaseWire,
    opened: String,
    updated: String,
    comments: &'a [CommentRow],
    attachments: &'a [AttachmentRow],
    rights: CaseRights,
    notice: Option<&'a str>,
    problem: &'a FormProblem,
    /// What the comment and share forms were filled with, when they come back.
    body: &'a str,
    user: &'a str,
    /// The accepted types of an attachment, comma-separated, and the largest in KiB.
    types: &'a str,
    max_kib: usize,
}

impl CasePage<'_> {
    fn suspended(&self) -> bool {
        self.case.status == "suspended"
    }

    fn closed(&self) -> bool {
        self.case.status == "closed"
    }
}

/// The case page's query: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice_of(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "opened" => "The case is opened.",
        "comment" => "Your comment is added.",
        "close" => "The case is closed.",
        "reopen" => "The case is open again.",
        "share" => "The case is shared: that member sees it and may comment on it.",
        "attach" => "The file is attached.",
        "authorize" => "The requester is authorized: their suspended cases are open.",
        "ignore" => "The request is ignored: the case stays suspended and closes later.",
        _ => return None,
    })
}

/// The case page for `id` with `problem` (and what the forms held), or the page of the
/// error reading it.
#[allow(clippy::too_many_arguments)] // one page's parts, named where it is built
async fn render(
    state: &AppState,
    shell: &Shell,
    caller: &Caller,
    id: &str,
    (code, problem): (StatusCode, &FormProblem),
    notice: Option<&str>,
    (body, user): (&str, &str),
    here: &str,
) -> Response {
    let (case, rights) = match cases::read(state, caller, id).await {
        Ok(found) => found,
        Err(e) => return error_page(shell, e, here),
    };
    let comments: Vec<CommentRow> = case
        .comments
        .iter()
        .map(|c| CommentRow {
            author: c.author.clone(),
            at: stamp(c.created_at),
            body: c.body.clone(),
        })
        .collect();
    let attachments: Vec<AttachmentRow> = case
        .attachments
        .iter()
        .map(|a| AttachmentRow {
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
            author: a.author.clone(),
            href: format!("/api/v1/support/cases/{}/attachments/{}", case.id, a.number),
        })
        .collect();
    let html = CasePage {
        shell,
        companies_link: companies_link(state, caller).await,
        opened: stamp(case.created_at),
        updated: stamp(case.updated_at),
        case: &case,
        comments: &comments,
        attachments: &attachments,
        rights,
        notice,
        problem,
        body,
        user,
        types: &cases::attachment_types().collect::<Vec<_>>().join(","),
        max_kib: cases::max_attachment(state) / 1024,
    }
    .render();
    page::html(code, html)
}

/// `GET /console/support/cases/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    page: Page<SupportOpen>,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let done = query.ok().and_then(|q| q.0.done);
    let page = render(
        &state,
        &shell,
        &caller,
        &id,
        (StatusCode::OK, &FormProblem::default()),
        notice_of(done.as_deref()),
        ("", ""),
        &here,
    )
    .await;
    shell.finish(page)
}

/// `POST /console/support/cases/{id}/{action}`: `comment` (field `body`), `close`,
/// `reopen`, `share` (field `user`: a username or id), `authorize` or `ignore` (field
/// `from=list` to come back to the case list). Each calls the use case of its API route.
pub async fn act(
    State(state): State<AppState>,
    Segments((id, action)): Segments<(String, String)>,
    sent: Sent<SupportOpen>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = format!("/console/support/cases/{id}");
    let caller = operator.auth.caller(&state);
    let body = field(&fields, "body");
    let user = field(&fields, "user");
    let done = match action.as_str() {
        "comment" => cases::comment(&state, &caller, &id, body).await.map(|_| ()),
        "close" => cases::set_status(&state, &caller, &id, false)
            .await
            .map(|_| ()),
        "reopen" => cases::set_status(&state, &caller, &id, true)
            .await
            .map(|_| ()),
        "share" => share(&state, &caller, &id, user).await,
        "authorize" | "ignore" => {
            let decision = if action == "authorize" {
                Decision::Authorize
            } else {
                Decision::Ignore
            };
            match cases::decide(&state, &caller, &id, decision).await {
                Ok(_) if field(&fields, "from") == "list" => {
                    return shell
                        .finish(page::see_other(&format!("/console/support?done={action}")))
                }
                other => other.map(|_| ()),
            }
        }
        _ => Err(Error::NotFound { what: "page" }),
    };
    let error = match done {
        Ok(()) => {
            return shell.finish(page::see_other(&format!(
                "/console/support/cases/{id}?done={action}"
            )))
        }
        Err(e) => e,
    };
    // A case they may not see (or no such action) is the 404 page; any other refusal is
    // shown on the case page, with what was typed.
    if matches!(
        error,
        Error::NotFound { .. } | Error::Unauthenticated(_) | Error::StepUpRequired(_)
    ) {
        return shell.finish(error_page(&shell, error, &here));
    }
    let (code, problem) = FormProblem::of(error, &["body", "user", "file"]);
    let page = render(
        &state,
        &shell,
        &caller,
        &id,
        (code, &problem),
        None,
        (body, user),
        &here,
    )
    .await;
    shell.finish(page)
}

/// Shares case `id` with the user `raw` names. The name is looked up only for someone who
/// may share the case (`cases::read`'s rights); anyone else gets the use case's refusal
/// before any user is looked up.
async fn share(state: &AppState, caller: &Caller, id: &str, raw: &str) -> Result<(), Error> {
    let (_, rights) = cases::read(state, caller, id).await?;
    let user = if rights.share {
        resolve_user(state, raw, "user").await?
    } else {
        raw.to_owned()
    };
    cases::share(state, caller, id, &user).await
}

/// `POST /console/support/cases/{id}/attachments`: attaches the form's file
/// (`cases::attach`, as `POST /api/v1/support/cases/{id}/attachments`: anyone who may
/// comment on the case).
pub async fn attach(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: SentForm,
) -> Response {
    let here = format!("/console/support/cases/{id}");
    let mut shell = Shell::new(&visitor, Section::Support);
    let operator = match posted(
        &state,
        &visitor,
        &mut shell,
        (&headers, &sent.fields),
        &here,
    )
    .await
    {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    let done = match (&sent.unreadable, &sent.file) {
        (Some((status, why)), _) => Err(unreadable(*status, why)),
        (None, Some(file)) => {
            let f = file.upload();
            cases::attach(&state, &caller, &id, f.name, f.declared, f.content)
                .await
                .map(|_| ())
                .map_err(as_file_problem)
        }
        // Whether the case may be seen is decided before the missing file is mentioned.
        (None, None) => cases::read(&state, &caller, &id)
            .await
            .and(Err(Error::invalid("file", "choose a file to attach"))),
    };
    let error = match done {
        Ok(()) => {
            return shell.finish(page::see_other(&format!(
                "/console/support/cases/{id}?done=attach#attachments"
            )))
        }
        Err(e) => e,
    };
    if matches!(
        error,
        Error::NotFound { .. } | Error::Unauthenticated(_) | Error::StepUpRequired(_)
    ) {
        return shell.finish(error_page(&shell, error, &here));
    }
    let (code, problem) = FormProblem::of(error, &["file"]);
    let page = render(
        &state,
        &shell,
        &caller,
        &id,
        (code, &problem),
        None,
        ("", ""),
        &here,
    )
    .await;
    shell.finish(page)
}
