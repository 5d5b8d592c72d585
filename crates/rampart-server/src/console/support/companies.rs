//! `/console/support/companies`: the companies the user manages (every one for operator
//! administrators and support staff, `support::companies`), the form that creates one
//! (operator administrators, `support::create_company`), and a company's page: its members
//! and administrators (`support::people`), with forms to add them by username or id and
//! to remove them after a confirmation (`support::change_people`, as the API's routes). A
//! company the user may not manage answers the 404 of a missing one, before any name they
//! typed is looked up.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{CompanyWire, PersonWire};
use rampart_core::Error;
use rampart_service::caller::Caller;
use rampart_service::support;
use rampart_service::AppState;
use rampart_store::PeopleChange;
use serde::Deserialize;

use super::super::account::stamp;
use super::super::users::FormProblem;
use super::super::{error_page, field, ConfirmPage, Section, Segments, Shell};
use super::resolve_user;
use crate::console::door::doors::SupportOpen;
use crate::console::door::{Page, Sent};
use crate::routes::page;

#[derive(Template)]
#[template(path = "console/support_companies.html")]
struct CompaniesPage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    companies: &'a [CompanyWire],
    create: bool,
    name: &'a str,
    problem: &'a FormProblem,
}

async fn companies_page(
    state: &AppState,
    shell: &Shell,
    caller: &Caller,
    (code, problem): (StatusCode, &FormProblem),
    name: &str,
    here: &str,
) -> Response {
    let companies = match support::companies(state, caller).await {
        Ok(c) => c.companies,
        Err(e) => return error_page(shell, e, here),
    };
    let create = support::may_create_companies(state, caller)
        .await
        .unwrap_or(false);
    let html = CompaniesPage {
        shell,
        companies_link: create || !companies.is_empty(),
        companies: &companies,
        create,
        name,
        problem,
    }
    .render();
    page::html(code, html)
}

/// `GET /console/support/companies`.
pub async fn list(State(state): State<AppState>, page: Page<SupportOpen>) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let page = companies_page(
        &state,
        &shell,
        &caller,
        (StatusCode::OK, &FormProblem::default()),
        "",
        &here,
    )
    .await;
    shell.finish(page)
}

/// `POST /console/support/companies`: creates the company named by field `name`.
pub async fn create(State(state): State<AppState>, sent: Sent<SupportOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = "/console/support/companies";
    let caller = operator.auth.caller(&state);
    let name = field(&fields, "name").trim();
    match support::create_company(&state, &caller, name).await {
        Ok(c) => shell.finish(page::see_other(&format!(
            "/console/support/companies/{}?done=created",
            page::encode(&c.name)
        ))),
        Err(e @ (Error::Unauthenticated(_) | Error::StepUpRequired(_))) => {
            shell.finish(error_page(&shell, e, here))
        }
        Err(e) => {
            let (code, problem) = FormProblem::of(e, &["name"]);
            let page = companies_page(&state, &shell, &caller, (code, &problem), name, here).await;
            shell.finish(page)
        }
    }
}

/// A person of the company as its page shows them.
struct PersonRow {
    id: String,
    username: String,
    administrator: bool,
    since: String,
}

impl From<PersonWire> for PersonRow {
    fn from(p: PersonWire) -> Self {
        PersonRow {
            administrator: p.standing == "administrator",
            id: p.user,
            username: p.username,
            since: stamp(p.since),
        }
    }
}

#[derive(Template)]
#[template(path = "console/support_company.html")]
struct CompanyPage<'a> {
    shell: &'a Shell,
    companies_link: bool,
    company: &'a str,
    people: &'a [PersonRow],
    manage: bool,
    notice: Option<&'a str>,
    problem: &'a FormProblem,
    /// Which add form the problem belongs to (`members` or `administrators`), and what it
    /// held.
    list: &'a str,
    user: &'a str,
}

/// The company page's query: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct CompanyQuery {
    #[serde(default)]
    done: Option<String>,
}

#[allow(clippy::too_many_arguments)] // one page's parts, named where it is built
async fn company_page(
    state: &AppState,
    shell: &Shell,
    caller: &Caller,
    company: &str,
    (code, problem): (StatusCode, &FormProblem),
    notice: Option<&str>,
    (list, user): (&str, &str),
    here: &str,
) -> Response {
    let people = match support::people(state, caller, company, false).await {
        Ok(p) => p,
        Err(e) => return error_page(shell, e, here),
    };
    let manage = support::may_manage(state, caller, company).await.is_ok();
    let rows: Vec<PersonRow> = people.people.into_iter().map(PersonRow::from).collect();
    let html = CompanyPage {
        shell,
        companies_link: true,
        company: &people.company,
        people: &rows,
        manage,
        notice,
        problem,
        list,
        user,
    }
    .render();
    page::html(code, html)
}

/// `GET /console/support/companies/{company}`.
pub async fn show(
    State(state): State<AppState>,
    Segments(company): Segments<String>,
    page: Page<SupportOpen>,
    query: Result<Query<CompanyQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("created") => Some("The company is created. Add its administrators and members."),
        Some("members") => Some("The member is added: their cases for this company start open."),
        Some("administrators") => {
            Some("The administrator is added: they manage members and decide on requesters.")
        }
        Some("removed-members") => Some(
            "The member is removed: they open no new case for this company and see none of its cases.",
        ),
        Some("removed-administrators") => {
            Some("The administrator is removed; they stay a member.")
        }
        _ => None,
    };
    let page = company_page(
        &state,
        &shell,
        &caller,
        &company,
        (StatusCode::OK, &FormProblem::default()),
        notice,
        ("", ""),
        &here,
    )
    .await;
    shell.finish(page)
}

/// `members` or `administrators`, the lists of a company's page.
fn list_of(raw: &str) -> Option<(PeopleChange, PeopleChange)> {
    match raw {
        "members" => Some((PeopleChange::AddMember, PeopleChange::RemoveMember)),
        "administrators" => Some((
            PeopleChange::AddAdministrator,
            PeopleChange::RemoveAdministrator,
        )),
        _ => None,
    }
}

/// `POST /console/support/companies/{company}/{list}`: adds the user field `user` names
/// (a username or id) as a member or an administrator.
pub async fn add(
    State(state): State<AppState>,
    Segments((company, list)): Segments<(String, String)>,
    sent: Sent<SupportOpen>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = format!("/console/support/companies/{}", page::encode(&company));
    let caller = operator.auth.caller(&state);
    let Some((change, _)) = list_of(&list) else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "page" }, &here));
    };
    let raw = field(&fields, "user");
    let done = async {
        // Nobody learns whether a name exists before they are known to manage the company.
        support::may_manage(&state, &caller, &company).await?;
        let user = resolve_user(&state, raw, "user").await?;
        support::change_people(&state, &caller, &company, &user, change).await
    }
    .await;
    match done {
        Ok(()) => shell.finish(page::see_other(&format!("{here}?done={list}"))),
        Err(
            e @ (Error::NotFound { .. } | Error::Unauthenticated(_) | Error::StepUpRequired(_)),
        ) => shell.finish(error_page(&shell, e, &here)),
        Err(e) => {
            let (code, problem) = FormProblem::of(e, &["user"]);
            let page = company_page(
                &state,
                &shell,
                &caller,
                &company,
                (code, &problem),
                None,
                (&list, raw),
                &here,
            )
            .await;
            shell.finish(page)
        }
    }
}

/// `GET /console/support/companies/{company}/{list}/{user}/remove`: the confirmation.
pub async fn confirm_remove(
    State(state): State<AppState>,
    Segments((company, list, user)): Segments<(String, String, String)>,
    page: Page<SupportOpen>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let caller = operator.auth.caller(&state);
    if list_of(&list).is_none() {
        return shell.finish(error_page(&shell, Error::NotFound { what: "page" }, &here));
    }
    let people = match support::may_manage(&state, &caller, &company).await {
        Ok(()) => support::people(&state, &caller, &company, list == "administrators").await,
        Err(e) => Err(e),
    };
    let people = match people {
        Ok(p) => p,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let Some(person) = people.people.iter().find(|p| p.user == user) else {
        return shell.finish(error_page(
            &shell,
            Error::NotFound {
                what: if list == "administrators" {
                    "administrator"
                } else {
                    "member"
                },
            },
            &here,
        ));
    };
    let (heading, explanation) =
        if list == "administrators" {
            (
            format!("Remove {} from the administrators of {}?", person.username, people.company),
            "They stop managing members and deciding on requesters at once; they stay a member.",
        )
        } else {
            (
                format!(
                    "Remove {} from the members of {}?",
                    person.username, people.company
                ),
                "At once they open no new case for this company and see none of its cases, their \
             own included, until they are added again.",
            )
        };
    let back = format!("/console/support/companies/{}", page::encode(&company));
    let html = ConfirmPage {
        shell: &shell,
        heading: &heading,
        explanation,
        action: &here,
        button: "Remove",
        back: &back,
        password: None,
        problem: None,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/support/companies/{company}/{list}/{user}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    Segments((company, list, user)): Segments<(String, String, String)>,
    sent: Sent<SupportOpen>,
) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    let back = format!("/console/support/companies/{}", page::encode(&company));
    let caller = operator.auth.caller(&state);
    let Some((_, change)) = list_of(&list) else {
        return shell.finish(error_page(&shell, Error::NotFound { what: "page" }, &back));
    };
    match support::change_people(&state, &caller, &company, &user, change).await {
        Ok(()) => shell.finish(page::see_other(&format!("{back}?done=removed-{list}"))),
        Err(
            e @ (Error::NotFound { .. } | Error::Unauthenticated(_) | Error::StepUpRequired(_)),
        ) => shell.finish(error_page(&shell, e, &back)),
        Err(e) => {
            let (code, problem) = FormProblem::of(e, &["user"]);
            let page = company_page(
                &state,
                &shell,
                &caller,
                &company,
                (code, &problem),
                None,
                ("", ""),
                &back,
            )
            .await;
            shell.finish(page)
        }
    }
}
