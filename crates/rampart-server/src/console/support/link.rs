//! `/console/support/links/{token}`: the page behind an e-mailed Authorize or Ignore link.
//! Opening it decides nothing (mail scanners and link previews open links): it shows the
//! case and the decision to the administrator the link was sent to, once signed in (IT
//! user or end user), and a button that confirms. Both steps are the API's use cases:
//! `cases::preview_link` judges the link as `cases::follow_link` will (a refusal is
//! audited and shown in words, nothing about the case revealed), and the button calls
//! `cases::follow_link`, the use case of `POST /api/v1/support/links/{token}`.
//!
//! The token is a secret in the address: access events record the route's template, and
//! the page, like every console page, is sent with `Referrer-Policy: same-origin`.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use rampart_api::CaseWire;
use rampart_service::support::cases;
use rampart_service::support::Decision;
use rampart_service::AppState;

use super::super::account::stamp;
use super::super::{error_page, fields, posted, signed_in, Section, Segments, Shell};
use super::companies_link;
use crate::routes::page::{self, Visitor};

#[derive(Template)]
#[template(path = "console/support_link.html")]
struct LinkPage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    case: &'a CaseWire,
    opened: String,
    authorize: bool,
    action: &'a str,
}

/// The page's own address.
fn address(token: &str) -> String {
    format!("/console/support/links/{token}")
}

/// `GET /console/support/links/{token}`: what the link decides, and the button that does.
pub async fn show(
    State(state): State<AppState>,
    Segments(token): Segments<String>,
    visitor: Visitor,
) -> Response {
    let here = address(&token);
    let mut shell = Shell::new(&visitor, Section::Support);
    let operator = match signed_in(&state, &visitor, &mut shell, &here).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    let (case, decision) = match cases::preview_link(&state, &caller, &token).await {
        Ok(found) => found,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let html = LinkPage {
        shell: &shell,
        companies_link: companies_link(&state, &caller).await,
        opened: stamp(case.created_at),
        case: &case,
        authorize: decision == Decision::Authorize,
        action: &here,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/support/links/{token}`: follows the link (`cases::follow_link`), then
/// the case's page says what was decided.
pub async fn follow(
    State(state): State<AppState>,
    Segments(token): Segments<String>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let fields = fields(form);
    let here = address(&token);
    let mut shell = Shell::new(&visitor, Section::Support);
    let operator = match posted(&state, &visitor, &mut shell, (&headers, &fields), &here).await {
        Ok(o) => o,
        Err(r) => return shell.finish(r),
    };
    let caller = operator.auth.caller(&state);
    match cases::follow_link(&state, &caller, &token).await {
        Ok(done) => {
            let action = if done.decision == "authorize" {
                "authorize"
            } else {
                "ignore"
            };
            shell.finish(page::see_other(&format!(
                "/console/support/cases/{}?done={action}",
                done.case.id
            )))
        }
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}
