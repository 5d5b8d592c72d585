//! `/console/providers`: the user providers (directories and identity providers) with their
//! health (the last successful bind, sign-in or metadata refresh, the last error), and, for
//! IT administrators, a form to enable or disable each. The API's rules: reading is for
//! administrators and auditors (`ReadUsers`), changing for administrators
//! (`AdministerUsers`), checked before anything is read; the change is
//! `rampart_service::providers::update`, so it is the same `provider.update` event.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::UpdateProviderRequest;
use rampart_authz::policy::Operation;
use rampart_service::{identity, providers, AppState};
use serde::Deserialize;
use time::OffsetDateTime;

use super::door::doors::{ProvidersAdmin, ProvidersRead};
use super::door::{Page, Sent};
use super::{error_page, field, Section, Segments, Shell};
use crate::routes::page;

/// One row of the list.
struct Row {
    name: String,
    kind: String,
    users: String,
    enabled: bool,
    last_success: String,
    last_error: String,
    local_users: u64,
}

#[derive(Template)]
#[template(path = "console/providers.html")]
struct ProvidersPage<'a> {
    shell: &'a Shell,
    rows: &'a [Row],
    administrator: bool,
    notice: Option<&'a str>,
}

/// The list's query: what was just done.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: Option<String>,
}

fn stamp(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "never".into())
}

/// `GET /console/providers`.
pub async fn list(
    State(state): State<AppState>,
    page: Page<ProvidersRead>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let administrator = identity::may(&state, &operator.auth.user, Operation::AdministerUsers)
        .await
        .unwrap_or(false);
    let list = match providers::list(&state).await {
        Ok(l) => l,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let rows: Vec<Row> = list
        .items
        .into_iter()
        .map(|p| Row {
            last_success: stamp(p.status.last_success_at),
            last_error: match (&p.status.last_error, p.status.last_error_at) {
                (Some(e), at) => format!("{} {e}", stamp(at)),
                (None, _) => "none".into(),
            },
            local_users: p.status.users,
            name: p.name,
            kind: p.kind,
            users: p.users,
            enabled: p.enabled,
        })
        .collect();
    let notice = match query.ok().and_then(|q| q.0.done).as_deref() {
        Some("enabled") => Some("The provider is enabled: its users may sign in through it."),
        Some("disabled") => {
            Some("The provider is disabled: it is no longer offered and refuses sign-ins.")
        }
        _ => None,
    };
    let html = ProvidersPage {
        shell: &shell,
        rows: &rows,
        administrator,
        notice,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/providers/{name}/enabled`: enables (`enabled=true`) or disables a
/// provider (administrators).
pub async fn set_enabled(
    State(state): State<AppState>,
    Segments(name): Segments<String>,
    sent: Sent<ProvidersAdmin>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let here = "/console/providers";
    let enabled = match field(&fields, "enabled") {
        "true" => true,
        "false" => false,
        other => {
            return shell.finish(error_page(
                &shell,
                rampart_core::Error::invalid("enabled", format!("{other:?} is not true or false")),
                here,
            ))
        }
    };
    let body = UpdateProviderRequest {
        users: None,
        settings: None,
        enabled: Some(enabled),
    };
    match providers::update(&state, &operator.auth.caller(&state), &name, body).await {
        Ok(_) => shell.finish(page::see_other(&format!(
            "/console/providers?done={}",
            if enabled { "enabled" } else { "disabled" }
        ))),
        Err(e) => shell.finish(error_page(&shell, e, here)),
    }
}
