//! `/console/support`: the support desk in the console, over the same use cases as
//! `/api/v1/support/…` (`rampart_service::support`), so the same rules
//! (`rampart_support::may`, `opening`, the rate limits):
//!
//! - here: the cases the user may see (filtered by status and company, 50 a page, with an
//!   Authorize and an Ignore button on each suspended case they may decide on), and the
//!   form that opens a case;
//! - `case`: a case's page (its text, comments, attachments as downloads from the API's
//!   route) with the forms to comment, attach, close, reopen, share, authorize and ignore;
//! - `link`: the page behind an e-mailed Authorize or Ignore link, which asks to confirm;
//! - `companies`: creating companies (operator administrators) and a company's members and
//!   administrators, added by username or id and removed after a confirmation.
//!
//! A case the user may not see answers the console's 404, in the same words as a missing
//! one; a company they may not manage likewise. Case text is escaped by askama wherever it
//! is shown.

pub mod case;
pub mod companies;
pub mod link;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use rampart_api::{ListUsersQuery, OpenCaseRequest};
use rampart_core::{Error, UserId};
use rampart_service::caller::Caller;
use rampart_service::identity::users;
use rampart_service::support::{self, cases};
use rampart_service::AppState;
use serde::Deserialize;

use super::account::stamp;
use super::users::FormProblem;
use super::{error_page, field, fields, posted, Section, Shell};
use crate::console::door::doors::SupportOpen;
use crate::console::door::Page;
use crate::routes::page::{self, Visitor};

/// Whether the support pages link to the companies: for those who may create one or
/// manage (or, as support staff, read) at least one.
async fn companies_link(state: &AppState, caller: &Caller) -> bool {
    if support::may_create_companies(state, caller)
        .await
        .unwrap_or(false)
    {
        return true;
    }
    support::companies(state, caller)
        .await
        .is_ok_and(|c| !c.companies.is_empty())
}

/// The id of the user `raw` names: a user id, `it:name` or `end:name`, or a bare username
/// that exactly one user has. Ask only once the caller may act on what the user is for.
pub(super) async fn resolve_user(
    state: &AppState,
    raw: &str,
    field: &str,
) -> Result<String, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid(
            field,
            "give a username (it:name or end:name when both exist) or a user id",
        ));
    }
    if let Ok(id) = UserId::parse(raw, field) {
        return Ok(id.to_string());
    }
    let (providers, name): (&[&str], &str) = match raw.split_once(':') {
        Some(("it", name)) => (&["it"], name),
        Some(("end", name)) => (&["end"], name),
        _ => (&["it", "end"], raw),
    };
    let mut found = Vec::new();
    for provider in providers {
        let page = users::list(
            state,
            ListUsersQuery {
                provider: Some((*provider).to_owned()),
                prefix: Some(name.to_owned()),
                cursor: None,
                limit: Some(10),
            },
        )
        .await?;
        found.extend(page.items.into_iter().filter(|u| u.username == name));
    }
    match found.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(Error::invalid(field, format!("no user named `{raw}`"))),
        _ => Err(Error::invalid(
            field,
            format!(
                "an IT user and an end user are both named `{name}`: write it:{name} or end:{name}"
            ),
        )),
    }
}

/// A file sent with a form.
pub(super) struct SentFile {
    name: String,
    declared: String,
    content: Vec<u8>,
}

impl SentFile {
    fn upload(&self) -> cases::Upload<'_> {
        cases::Upload {
            name: &self.name,
            declared: &self.declared,
            content: &self.content,
        }
    }
}

/// A form that may carry a file: sent as `multipart/form-data` (its text fields, and the
/// part named `file` when one was chosen) or as an ordinary form. A body that cannot be
/// read (larger than a request may be, or garbled) keeps the fields read before it, so the
/// CSRF token (each form's first field) is still judged, and says what went wrong.
pub struct SentForm {
    fields: Vec<(String, String)>,
    file: Option<SentFile>,
    unreadable: Option<(StatusCode, String)>,
}

impl axum::extract::FromRequest<AppState> for SentForm {
    type Rejection = std::convert::Infallible;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut sent = SentForm {
            fields: Vec::new(),
            file: None,
            unreadable: None,
        };
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            sent.fields = fields(Form::from_request(req, state).await);
            return Ok(sent);
        }
        let Ok(mut parts) = axum::extract::Multipart::from_request(req, state).await else {
            return Ok(sent);
        };
        loop {
            let part = match parts.next_field().await {
                Ok(Some(part)) => part,
                Ok(None) => break,
                Err(e) => {
                    sent.unreadable = Some((e.status(), e.body_text()));
                    break;
                }
            };
            let name = part.name().unwrap_or_default().to_owned();
            let file_name = part.file_name().map(str::to_owned);
            let declared = part.content_type().unwrap_or_default().to_owned();
            match file_name {
                Some(file_name) => match part.bytes().await {
                    // A file input left empty sends a part with no name and no content.
                    Ok(content) if name == "file" && !file_name.is_empty() => {
                        sent.file = Some(SentFile {
                            name: file_name,
                            declared,
                            content: content.to_vec(),
                        })
                    }
                    Ok(_) => {}
                    Err(e) => {
                        sent.unreadable = Some((e.status(), e.body_text()));
                        break;
                    }
                },
                None => match part.text().await {
                    Ok(text) => sent.fields.push((name, text)),
                    Err(e) => {
                        sent.unreadable = Some((e.status(), e.body_text()));
                        break;
                    }
                },
            }
        }
        Ok(sent)
    }
}

/// The problem of an attachment refused by `rampart_support::attachment::check` (about
/// its `name`, `type` or `content`), as the problem of the form's `file` field.
fn as_file_problem(error: Error) -> Error {
    match error {
        Error::InvalidInput { field, reason }
            if matches!(field.as_str(), "name" | "type" | "content") =>
        {
            let what = match field.as_str() {
                "name" => "the file's name",
                "type" => "the file's type",
                _ => "the file",
            };
            Error::invalid("file", format!("{what}: {reason}"))
        }
        e => e,
    }
}

/// One row of the case list.
struct Row {
    id: String,
    company: String,
    requester: String,
    subject: String,
    severity: String,
    status: String,
    opened: String,
    decide: bool,
}

#[derive(Template)]
#[template(path = "console/support.html")]
struct ListPage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    status: &'a str,
    company: &'a str,
    rows: &'a [Row],
    next: Option<String>,
    first: Option<String>,
    notice: Option<&'a str>,
    problem: &'a FormProblem,
}

/// The case list's query: the status (`all` when absent), the company, the page (`after`,
/// a case id from the previous page) and what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/support`: the cases the user may see, newest first, 50 a page.
pub async fn list(
    State(state): State<AppState>,
    page: Page<SupportOpen>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let q = query.map(|q| q.0).unwrap_or_default();
    let status = match q.status.as_str() {
        "" => "all",
        s => s,
    };
    let company = q.company.trim();
    let mut params = vec![("limit".to_owned(), "50".to_owned())];
    if status != "all" {
        params.push(("status".to_owned(), status.to_owned()));
    }
    if !company.is_empty() {
        params.push(("company".to_owned(), company.to_owned()));
    }
    if !q.after.is_empty() {
        params.push(("after".to_owned(), q.after.clone()));
    }
    let (code, problem, found) = match cases::list(&state, &caller, &params).await {
        Ok(found) => (StatusCode::OK, FormProblem::default(), Some(found)),
        Err(Error::NotFound { what: "company" }) => {
            let (_, problem) = FormProblem::of(
                Error::invalid("company", "no company of that name"),
                &["company"],
            );
            (StatusCode::NOT_FOUND, problem, None)
        }
        Err(e @ Error::InvalidInput { .. }) => {
            let (code, problem) = FormProblem::of(e, &["status", "company", "after"]);
            (code, problem, None)
        }
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let (rows, next) = match found {
        Some(found) => {
            let deciders = match cases::deciders(&state, &caller, &found.cases).await {
                Ok(d) => d,
                Err(e) => return shell.finish(error_page(&shell, e, &here)),
            };
            let rows: Vec<Row> = found
                .cases
                .into_iter()
                .zip(deciders)
                .map(|(c, decide)| Row {
                    decide: decide && c.status == "suspended",
                    id: c.id,
                    company: c.company,
                    requester: c.requester_name,
                    subject: c.subject,
                    severity: c.severity,
                    status: c.status,
                    opened: stamp(c.created_at),
                })
                .collect();
            let next = found.next.map(|after| {
                format!(
                    "/console/support?status={}&company={}&after={}",
                    page::encode(status),
                    page::encode(company),
                    page::encode(&after)
                )
            });
            (rows, next)
        }
        None => (Vec::new(), None),
    };
    let first = (!q.after.is_empty()).then(|| {
        format!(
            "/console/support?status={}&company={}",
            page::encode(status),
            page::encode(company)
        )
    });
    let notice = match q.done.as_deref() {
        Some("authorize") => Some("The requester is authorized: their suspended cases are open."),
        Some("ignore") => {
            Some("The request is ignored: the case stays suspended and closes later.")
        }
        _ => None,
    };
    let html = ListPage {
        shell: &shell,
        companies_link: companies_link(&state, &caller).await,
        status,
        company,
        rows: &rows,
        next,
        first,
        notice,
        problem: &problem,
    }
    .render();
    shell.finish(page::html(code, html))
}

/// What the open-a-case form was filled with.
#[derive(Default)]
struct NewCase {
    company: String,
    subject: String,
    description: String,
    severity: String,
}

#[derive(Template)]
#[template(path = "console/support_new.html")]
struct NewPage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    form: &'a NewCase,
    problem: &'a FormProblem,
    severities: &'a [&'a str],
    /// The accepted types, comma-separated, and the largest file in KiB.
    types: &'a str,
    max_kib: usize,
}

/// The open-a-case form's query: a company to fill in.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    company: String,
}

/// `GET /console/support/new`: the form that opens a case.
pub async fn new_form(
    State(state): State<AppState>,
    page: Page<SupportOpen>,
    query: Result<Query<NewQuery>, QueryRejection>,
) -> Response {
    let Page {
        shell, operator, ..
    } = page;
    let caller = operator.auth.caller(&state);
    let form = NewCase {
        company: query.map(|q| q.0.company).unwrap_or_default(),
        severity: "normal".into(),
        ..NewCase::default()
    };
    let html = NewPage {
        shell: &shell,
        companies_link: companies_link(&state, &caller).await,
        form: &form,
        problem: &FormProblem::default(),
        severities: &support::SEVERITIES,
        types: &cases::attachment_types().collect::<Vec<_>>().join(","),
        max_kib: cases::max_attachment(&state) / 1024,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/support/new`: opens the case (`cases::open`, as
/// `POST /api/v1/support/cases`) and shows it: open, or suspended with the reason.
pub async fn open(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    sent: SentForm,
) -> Response {
    let fields = sent.fields;
    let here = "/console/support/new";
    let mut shell = Shell::new(&visitor, Section::Support);
    let operator = match posted(&state, &visitor, &mut shell, (&headers, &fields), here).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    let filled = NewCase {
        company: field(&fields, "company").trim().to_owned(),
        subject: field(&fields, "subject").to_owned(),
        description: field(&fields, "description").to_owned(),
        severity: field(&fields, "severity").to_owned(),
    };
    let request = OpenCaseRequest {
        company: filled.company.clone(),
        subject: filled.subject.clone(),
        description: filled.description.clone(),
        severity: filled.severity.clone(),
    };
    let opened = match (&sent.unreadable, &sent.file) {
        (Some((status, why)), _) => Err(unreadable(*status, why)),
        (None, Some(file)) => cases::open_with_attachment(&state, &caller, request, file.upload())
            .await
            .map_err(as_file_problem),
        (None, None) => cases::open(&state, &caller, request).await,
    };
    let error = match opened {
        Ok(case) => {
            return shell.finish(page::see_other(&format!(
                "/console/support/cases/{}?done=opened",
                case.id
            )))
        }
        Err(e) => e,
    };
    const FIELDS: [&str; 5] = ["company", "subject", "description", "severity", "file"];
    let (status, problem) = match error {
        // A company that does not exist, or that removed the requester, is the company
        // field's problem.
        Error::NotFound { what: "company" } => FormProblem::of(
            Error::invalid(
                "company",
                "no company of that name: ask its administrators for the exact name",
            ),
            &FIELDS,
        ),
        Error::Forbidden(reason) => (
            StatusCode::FORBIDDEN,
            FormProblem::of(Error::invalid("company", reason), &FIELDS).1,
        ),
        e @ (Error::InvalidInput { .. } | Error::Limit(_) | Error::Conflict(_)) => {
            FormProblem::of(e, &FIELDS)
        }
        e => return shell.finish(error_page(&shell, e, here)),
    };
    let html = NewPage {
        shell: &shell,
        companies_link: companies_link(&state, &caller).await,
        form: &filled,
        problem: &problem,
        severities: &support::SEVERITIES,
        types: &cases::attachment_types().collect::<Vec<_>>().join(","),
        max_kib: cases::max_attachment(&state) / 1024,
    }
    .render();
    shell.finish(page::html(status, html))
}

/// The `file` problem of a form whose body could not be read.
fn unreadable(status: StatusCode, why: &str) -> Error {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::invalid(
            "file",
            "the form is larger than a request may be: choose a smaller file",
        )
    } else {
        Error::invalid(
            "file",
            format!("the form could not be read ({why}): send it again"),
        )
    }
}
