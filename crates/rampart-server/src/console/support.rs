//! `/console/support`: the support inbox of an IT user: the cases they may see (suspended
//! ones first by default), and, for each suspended case they may decide on, an Authorize
//! and an Ignore button. The same service functions as the API's
//! (`rampart_service::support::cases`), so the same rules: a case they may not see is not
//! listed, and a decision they may not take is refused with the API's reason.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Form;
use rampart_service::support::{cases, Decision};
use rampart_service::AppState;
use serde::Deserialize;

use super::{error_page, fields, here, posted, signed_in, Section, Shell};
use crate::routes::page::{self, Visitor};

/// One row of the inbox.
struct Row {
    id: String,
    company: String,
    requester: String,
    subject: String,
    severity: String,
    status: String,
    opened: String,
    suspended: bool,
}

#[derive(Template)]
#[template(path = "console/support.html")]
struct InboxPage<'a> {
    shell: &'a Shell,
    status: &'a str,
    rows: &'a [Row],
    notice: Option<&'a str>,
}

/// The inbox's query: which status (`suspended` when absent, `all` for every one) and what
/// was just done.
#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/support`.
pub async fn inbox(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Response {
    let here = here(&uri);
    let mut shell = Shell::new(&visitor, Section::None);
    let operator = match signed_in(&state, &visitor, &mut shell, &here).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let (status, done) = match query {
        Ok(Query(q)) => (
            q.status.unwrap_or_else(|| "suspended".into()),
            q.done.unwrap_or_default(),
        ),
        Err(_) => ("suspended".into(), String::new()),
    };
    let mut params = vec![("limit".to_owned(), "50".to_owned())];
    if status != "all" {
        params.push(("status".to_owned(), status.clone()));
    }
    let caller = operator.auth.caller(&state);
    let page = match cases::list(&state, &caller, &params).await {
        Ok(p) => p,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let rows: Vec<Row> = page
        .cases
        .into_iter()
        .map(|c| Row {
            suspended: c.status == "suspended",
            id: c.id,
            company: c.company,
            requester: c.requester_name,
            subject: c.subject,
            severity: c.severity,
            status: c.status,
            opened: c
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        })
        .collect();
    let notice = match done.as_str() {
        "authorize" => Some("The requester is authorized: their suspended cases are open."),
        "ignore" => Some("The request is ignored: the case stays suspended and closes later."),
        _ => None,
    };
    let html = InboxPage {
        shell: &shell,
        status: &status,
        rows: &rows,
        notice,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/support/{id}/{decision}`: authorize or ignore the requester of a
/// suspended case.
pub async fn decide(
    State(state): State<AppState>,
    Path((id, decision)): Path<(String, String)>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = fields(form);
    let here = "/console/support";
    let mut shell = Shell::new(&visitor, Section::None);
    let operator = match posted(&state, &visitor, &mut shell, (&headers, &fields), here).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let Some(decision) = Decision::parse(&decision) else {
        return shell.finish(error_page(
            &shell,
            rampart_core::Error::NotFound { what: "page" },
            here,
        ));
    };
    let caller = operator.auth.caller(&state);
    match cases::decide(&state, &caller, &id, decision).await {
        Ok(_) => shell.finish(page::see_other(&format!(
            "/console/support?done={}",
            decision.as_str()
        ))),
        Err(e) => shell.finish(error_page(&shell, e, here)),
    }
}
