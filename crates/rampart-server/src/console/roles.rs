//! `/console/permissions/roles`: application roles and who holds them.
//!
//! Each role's grants with their end, ended ones marked (`decide::role_members`, for
//! administrators and auditors like the model); granting to a user or group, optionally until
//! a time, and revoking after a confirmation page, through `acl::write` (administrators, as
//! `POST /api/v1/authz/write`'s `grant_role` and `revoke_role`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rampart_api::{PrincipalWire, WriteOp};
use rampart_authz::policy::Operation;
use rampart_core::Error;
use rampart_service::authz::{acl, decide};
use rampart_service::identity::{self, users};
use rampart_service::AppState;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::account::stamp;
use super::door::doors::{PermissionsAdmin, PermissionsRead};
use super::door::{Page, Sent};
use super::{error_page, field, here, user_named, ConfirmPage, Operator, Section, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// The roles page's address.
#[derive(Debug, Default, Deserialize)]
pub struct RolesQuery {
    #[serde(default)]
    application: String,
    #[serde(default)]
    done: Option<String>,
}

/// A grant as the roles page shows it.
struct MemberRow {
    role: String,
    who: String,
    kind: &'static str,
    until: String,
    live: bool,
    revoke: String,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage<'a> {
    shell: &'a Shell,
    applications: &'a [String],
    application: &'a str,
    roles: &'a [String],
    members: &'a [MemberRow],
    administrator: bool,
    notice: Option<&'a str>,
    problem: Option<&'a str>,
    form: &'a GrantForm,
}

/// What the grant form was filled with.
#[derive(Default)]
struct GrantForm {
    role: String,
    kind: String,
    name: String,
    until: String,
}

/// `GET /console/permissions/roles`: an application's roles and who holds them.
pub async fn roles(
    State(state): State<AppState>,
    page: Page<PermissionsRead>,
    query: Result<Query<RolesQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let q = query.map(|q| q.0).unwrap_or_default();
    let notice = match q.done.as_deref() {
        Some("granted") => Some("Role granted."),
        Some("revoked") => Some("Grant revoked."),
        _ => None,
    };
    let form = GrantForm {
        kind: "user".into(),
        ..GrantForm::default()
    };
    roles_page(
        &state,
        &shell,
        &operator,
        &q.application,
        notice,
        None,
        &form,
    )
    .await
    .unwrap_or_else(|e| shell.finish(error_page(&shell, e, &here)))
}

async fn roles_page(
    state: &AppState,
    shell: &Shell,
    operator: &Operator,
    application: &str,
    notice: Option<&str>,
    problem: Option<(StatusCode, &str)>,
    form: &GrantForm,
) -> Result<Response, Error> {
    let model = decide::model(state, &operator.auth.user).await?;
    let applications: Vec<String> = model.applications.iter().map(|a| a.name.clone()).collect();
    let roles: Vec<String> = model
        .applications
        .iter()
        .find(|a| a.name == application)
        .map(|a| a.roles.clone())
        .unwrap_or_default();
    let mut members = Vec::new();
    if !application.is_empty() {
        for m in decide::role_members(state, &operator.auth.user, application).await? {
            let (who, kind, principal) = match (&m.user, &m.group) {
                (Some(id), _) => (
                    users::get(state, &id.to_string())
                        .await
                        .map_or_else(|_| id.to_string(), |u| u.username),
                    "user",
                    format!("user:{id}"),
                ),
                (None, Some(g)) => (g.clone(), "group", format!("group:{g}")),
                (None, None) => (m.principal.clone(), "other", m.principal.clone()),
            };
            members.push(MemberRow {
                revoke: format!(
                    "/console/permissions/roles/revoke?application={}&role={}&principal={}",
                    page::encode(application),
                    page::encode(&m.role),
                    page::encode(&principal)
                ),
                role: m.role,
                who,
                kind,
                until: m.until.map_or_else(|| "no end".into(), stamp),
                live: m.live,
            });
        }
    }
    let administrator = identity::may(state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let html = RolesPage {
        shell,
        applications: &applications,
        application,
        roles: &roles,
        members: &members,
        administrator,
        notice,
        problem: problem.map(|(_, p)| p),
        form,
    }
    .render();
    let status = problem.map_or(StatusCode::OK, |(s, _)| s);
    Ok(shell.finish(page::html(status, html)))
}

/// The end of a grant from the form's `datetime-local` field, read as UTC (empty: none).
fn until_of(raw: &str) -> Result<Option<OffsetDateTime>, Error> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(Some(t));
    }
    let local = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    PrimitiveDateTime::parse(raw, &local)
        .map(|t| Some(t.assume_utc()))
        .map_err(|_| Error::invalid("until", "a date and time such as 2027-03-31T18:00 (UTC)"))
}

/// `POST /console/permissions/roles/grant`: grants a role to a user or group, optionally
/// until a time (administrators, as `POST /api/v1/authz/write`'s `grant_role`).
pub async fn grant_role(State(state): State<AppState>, sent: Sent<PermissionsAdmin>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let application = field(&fields, "application").to_owned();
    let here = format!(
        "/console/permissions/roles?application={}",
        page::encode(&application)
    );
    let filled = GrantForm {
        role: field(&fields, "role").to_owned(),
        kind: field(&fields, "kind").to_owned(),
        name: field(&fields, "name").trim().to_owned(),
        until: field(&fields, "until").to_owned(),
    };
    let done = async {
        let until = until_of(&filled.until)?;
        let principal = match filled.kind.as_str() {
            "group" => PrincipalWire::Group {
                name: filled.name.clone(),
            },
            _ => PrincipalWire::User {
                id: user_named(&state, &filled.name, "name").await?,
            },
        };
        let op = WriteOp::GrantRole {
            application: application.clone(),
            role: filled.role.clone(),
            principal,
            until,
        };
        acl::write(&state, &operator.auth.caller(&state), &[op]).await
    }
    .await;
    match done {
        Ok(_) => shell.finish(page::see_other(&format!("{here}&done=granted"))),
        Err(e) => {
            let problem = ApiError::from(e).0;
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            roles_page(
                &state,
                &shell,
                &operator,
                &application,
                None,
                Some((status, &problem.detail)),
                &filled,
            )
            .await
            .unwrap_or_else(|e| shell.finish(error_page(&shell, e, &here)))
        }
    }
}

/// A grant to revoke.
#[derive(Debug, Default, Deserialize)]
pub struct RevokeQuery {
    #[serde(default)]
    application: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    principal: String,
}

/// `user:<id>` or `group:<name>` as the API names a grantee.
fn principal_of(raw: &str) -> Result<PrincipalWire, Error> {
    match raw.split_once(':') {
        Some(("user", id)) => Ok(PrincipalWire::User { id: id.to_owned() }),
        Some(("group", name)) => Ok(PrincipalWire::Group {
            name: name.to_owned(),
        }),
        _ => Err(Error::invalid("principal", "`user:<id>` or `group:<name>`")),
    }
}

/// `GET /console/permissions/roles/revoke`: asks before revoking (administrators).
pub async fn confirm_revoke(
    State(_state): State<AppState>,
    page: Page<PermissionsAdmin>,
    query: Result<Query<RevokeQuery>, QueryRejection>,
) -> Response {
    let Page { here, shell, .. } = page;
    let q = query.map(|q| q.0).unwrap_or_default();
    if let Err(e) = principal_of(&q.principal) {
        return shell.finish(error_page(&shell, e, &here));
    }
    let heading = format!("Revoke {} from {}?", q.role, q.principal);
    let explanation = format!(
        "The grant of role {} in {} ends now; access through it stops with the next request.",
        q.role, q.application
    );
    let back = format!(
        "/console/permissions/roles?application={}",
        page::encode(&q.application)
    );
    let html = ConfirmPage {
        shell: &shell,
        heading: &heading,
        explanation: &explanation,
        action: &here,
        button: "Revoke",
        back: &back,
        password: None,
        problem: None,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/permissions/roles/revoke`: revokes the grant (administrators, as
/// `POST /api/v1/authz/write`'s `revoke_role`).
pub async fn revoke(
    State(state): State<AppState>,
    uri: Uri,
    query: Result<Query<RevokeQuery>, QueryRejection>,
    sent: Sent<PermissionsAdmin>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields: _,
        ..
    } = sent;
    let here = here(&uri);
    let q = query.map(|q| q.0).unwrap_or_default();
    let done = match principal_of(&q.principal) {
        Ok(principal) => {
            let op = WriteOp::RevokeRole {
                application: q.application.clone(),
                role: q.role.clone(),
                principal,
            };
            acl::write(&state, &operator.auth.caller(&state), &[op]).await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => shell.finish(page::see_other(&format!(
            "/console/permissions/roles?application={}&done=revoked",
            page::encode(&q.application)
        ))),
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}
