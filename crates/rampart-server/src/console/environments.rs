//! `/console/environments`: the environments in promotion order with their policies, and the
//! settings in force in each (site properties, integration endpoints, secret references,
//! never a secret), for every IT user, each reading what the API shows them
//! (`versions::list_environments`, `plans::settings`: the modules they may see).
//!
//! Changing goes through the API's use cases and their rules, never re-derived here:
//! - the order and policies are one `ItWriteOp::SetEnvironments` through `it::write`
//!   (administrators only; `identity::may(…, ChangeEnvironments)` only decides whether the
//!   form is shown, the write checks again);
//! - a setting changes as the API changes it: a deployment plan of an application at a tag
//!   with the new value (`plans::create_plan`), whose preview is shown with a button that
//!   runs it (`plans::run_plan`: `deploy` on its modules and the environment's policies).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{
    EnvironmentSpec, ItWriteOp, PlanApplicationWire, PlanCreateRequest, PlanRunRequest,
    PlanSettingsWire, SettingChange,
};
use rampart_authz::policy::Operation;
use rampart_core::Error;
use rampart_service::authz::it;
use rampart_service::identity;
use rampart_service::lifecycle::{plans, versions};
use rampart_service::AppState;
use serde::Deserialize;

use super::deployments::refusal;
use super::door::doors::EnvironmentsOpen;
use super::door::{Page, Sent};
use super::{error_page, field, require, Section, Segments, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// One environment as the page shows it.
struct Environment {
    name: String,
    position: usize,
    separation_of_duties: bool,
    second_approver: bool,
    settings: Vec<Setting>,
    /// Whether the user may deploy a module here (the settings form is shown; the plan's
    /// use case checks again).
    deployer: bool,
}

/// One setting in force.
struct Setting {
    module: String,
    kind: String,
    name: String,
    value: String,
    plan: i64,
}

#[derive(Template)]
#[template(path = "console/environments.html")]
struct EnvironmentsPage<'a> {
    shell: &'a Shell,
    environments: &'a [Environment],
    may_change: bool,
    saved: bool,
    problem: Option<String>,
}

/// `?saved=1` after a change, `?problem=` is never taken from the address.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    #[serde(default)]
    saved: String,
}

/// A JSON value as the page shows it: strings bare, anything else as JSON.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn render(
    state: &AppState,
    shell: &Shell,
    caller: &rampart_service::Caller,
    may_change: bool,
    saved: bool,
    problem: Option<(StatusCode, String)>,
    here: &str,
) -> Response {
    let modules = match versions::modules(state, caller).await {
        Ok(m) => m,
        Err(err) => return error_page(shell, err, here),
    };
    let mut environments = Vec::new();
    for e in versions::list_environments(state) {
        let settings = match plans::settings(state, caller, &e.name).await {
            Ok(s) => s,
            Err(err) => return error_page(shell, err, here),
        };
        let mut deployer = false;
        for (m, _) in &modules {
            match versions::may_deploy(state, caller, m, &e.name).await {
                Ok(true) => {
                    deployer = true;
                    break;
                }
                Ok(false) => {}
                Err(err) => return error_page(shell, err, here),
            }
        }
        environments.push(Environment {
            settings: settings
                .into_iter()
                .map(|s| Setting {
                    value: shown(&s.value),
                    module: s.module,
                    kind: s.kind,
                    name: s.name,
                    plan: s.plan,
                })
                .collect(),
            deployer,
            name: e.name,
            position: e.position,
            separation_of_duties: e.separation_of_duties,
            second_approver: e.second_approver,
        });
    }
    let status = problem.as_ref().map_or(StatusCode::OK, |p| p.0);
    let html = EnvironmentsPage {
        shell,
        environments: &environments,
        may_change,
        saved,
        problem: problem.map(|p| p.1),
    }
    .render();
    page::html(status, html)
}

/// `GET /console/environments`: the environments, their policies and settings.
pub async fn list(
    State(state): State<AppState>,
    page: Page<EnvironmentsOpen>,
    query: Result<Query<Saved>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let may_change = identity::may(&state, &operator.auth.user, Operation::ChangeEnvironments)
        .await
        .unwrap_or(false);
    let saved = query.is_ok_and(|q| q.0.saved == "1");
    let caller = operator.auth.caller(&state);
    let response = render(&state, &shell, &caller, may_change, saved, None, &here).await;
    shell.finish(response)
}

/// The environments a sent order form describes: rows `name.N`, `position.N`, `sod.N`,
/// `approver.N`; a row with an empty name is left out (so the blank row adds one, and
/// emptying a name removes that environment).
fn specs(fields: &[(String, String)]) -> Result<Vec<EnvironmentSpec>, Error> {
    let mut rows = Vec::new();
    for (k, v) in fields {
        let Some(n) = k.strip_prefix("name.") else {
            continue;
        };
        let name = v.trim();
        if name.is_empty() {
            continue;
        }
        let position = field(fields, &format!("position.{n}"));
        let position: u32 = position.trim().parse().map_err(|_| {
            Error::invalid(
                "position",
                format!("the position of `{name}` must be a whole number such as 1"),
            )
        })?;
        rows.push((
            position,
            rows.len(),
            EnvironmentSpec {
                name: name.to_owned(),
                separation_of_duties: field(fields, &format!("sod.{n}")) == "on",
                second_approver: field(fields, &format!("approver.{n}")) == "on",
            },
        ));
    }
    rows.sort_by_key(|(position, order, _)| (*position, *order));
    Ok(rows.into_iter().map(|(_, _, spec)| spec).collect())
}

/// The confirmation of an order that removes environments: the same form again, with
/// `confirm=remove`.
#[derive(Template)]
#[template(path = "console/environments_remove.html")]
struct RemovePage<'a> {
    shell: &'a Shell,
    removed: &'a [String],
    kept: &'a [(&'a str, &'a str)],
}

/// `POST /console/environments`: replace the order and policies (one
/// `SetEnvironments` through `it::write`, administrators only, all or none). An order
/// that leaves environments out asks first (`confirm=remove` sends it on).
pub async fn set_order(State(state): State<AppState>, sent: Sent<EnvironmentsOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let back = "/console/environments";
    let caller = operator.auth.caller(&state);
    let specs = specs(&fields);
    // An environment left out is removed: asked first, once the user may change them.
    if let Ok(environments) = &specs {
        let removed: Vec<String> = versions::list_environments(&state)
            .into_iter()
            .map(|e| e.name)
            .filter(|name| !environments.iter().any(|e| &e.name == name))
            .collect();
        if !removed.is_empty() && field(&fields, "confirm") != "remove" {
            if let Err(r) = require(
                &state,
                &shell,
                &operator,
                Operation::ChangeEnvironments,
                "only IT administrators change the environments",
                back,
            )
            .await
            {
                return shell.finish(r);
            }
            let kept: Vec<(&str, &str)> = fields
                .iter()
                .filter(|(k, _)| k != "_csrf" && k != "confirm")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let html = RemovePage {
                shell: &shell,
                removed: &removed,
                kept: &kept,
            }
            .render();
            return shell.finish(page::html(StatusCode::OK, html));
        }
    }
    let written = match specs {
        Ok(environments) => {
            it::write(
                &state,
                &caller,
                &[ItWriteOp::SetEnvironments { environments }],
            )
            .await
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(_) => shell.finish(page::see_other("/console/environments?saved=1")),
        Err(e @ (Error::Forbidden(_) | Error::Unauthenticated(_))) => {
            shell.finish(error_page(&shell, e, back))
        }
        Err(e) => {
            let problem = ApiError::from(e).0;
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let response = render(
                &state,
                &shell,
                &caller,
                true,
                false,
                Some((status, problem.detail)),
                back,
            )
            .await;
            shell.finish(response)
        }
    }
}

#[derive(Template)]
#[template(path = "console/setting_plan.html")]
struct PlanPage<'a> {
    shell: &'a Shell,
    id: i64,
    environment: &'a str,
    application: &'a str,
    tag: &'a str,
    settings: &'a [SettingChange],
    /// The module versions the plan deploys: module, now, then.
    deploys: &'a [(String, String, i64)],
    missing: &'a [String],
    warnings: &'a [String],
    refused: Option<String>,
    status: &'a str,
}

impl PlanPage<'_> {
    /// The value in force now, as shown.
    fn now(&self, c: &SettingChange) -> String {
        c.from.as_ref().map_or_else(|| "(none)".to_owned(), shown)
    }

    /// The value after the plan, as shown.
    fn then(&self, c: &SettingChange) -> String {
        shown(&c.to)
    }
}

/// `POST /console/environments/{env}/settings`: a deployment plan of one application at a
/// tag with one new setting (`plans::create_plan`), then its page.
pub async fn new_setting(
    State(state): State<AppState>,
    Segments(env): Segments<String>,
    sent: Sent<EnvironmentsOpen>,
) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let back = "/console/environments";
    let key = field(&fields, "key").trim().to_owned();
    let value = field(&fields, "value").trim().to_owned();
    let mut settings = PlanSettingsWire::default();
    match field(&fields, "kind") {
        "property" => {
            // A property's value is JSON of its type; plain text is a string.
            let v = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            settings.properties.insert(key, v);
        }
        "endpoint" => {
            settings.endpoints.insert(key, value);
        }
        "secret" => {
            settings.secrets.insert(key, value);
        }
        _ => {
            let e = Error::invalid("kind", "must be property, endpoint or secret");
            return shell.finish(error_page(&shell, e, back));
        }
    }
    let request = PlanCreateRequest {
        environment: env,
        applications: vec![PlanApplicationWire {
            application: field(&fields, "application").trim().to_owned(),
            tag: field(&fields, "tag").trim().to_owned(),
        }],
        settings,
        notes: "a setting changed in the console".to_owned(),
    };
    let caller = operator.auth.caller(&state);
    match plans::create_plan(&state, &caller, request).await {
        Ok(view) => shell.finish(page::see_other(&format!(
            "/console/environments/plans/{}",
            view.plan.id
        ))),
        Err(e) => shell.finish(error_page(&shell, e, back)),
    }
}

/// `GET /console/environments/plans/{id}`: a settings plan, what running it would change,
/// and the button that runs it.
pub async fn plan(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    page: Page<EnvironmentsOpen>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let Ok(id) = id.parse::<i64>() else {
        let e = Error::invalid("plan", "must be a plan number such as 12");
        return shell.finish(error_page(&shell, e, &here));
    };
    let view = match plans::get_plan(&state, &operator.auth.caller(&state), id).await {
        Ok(v) => v,
        Err(e) => return shell.finish(error_page(&shell, e, &here)),
    };
    let (settings, deploys, missing, warnings, refused) = match view.preview {
        Some(p) => (
            p.settings,
            p.changes
                .into_iter()
                .map(|c| {
                    let now = c
                        .from
                        .map_or_else(|| "nothing".to_owned(), |v| format!("v{v}"));
                    (c.module, now, c.to)
                })
                .collect(),
            p.missing,
            p.warnings,
            p.refused.map(|e| ApiError::from(e).0.detail),
        ),
        None => (Vec::new(), Vec::new(), Vec::new(), Vec::new(), None),
    };
    let (application, tag) = view
        .plan
        .applications
        .first()
        .map_or(("", ""), |a| (a.application.as_str(), a.tag.as_str()));
    let html = PlanPage {
        shell: &shell,
        id,
        environment: &view.plan.environment,
        application,
        tag,
        settings: &settings,
        deploys: &deploys,
        missing: &missing,
        warnings: &warnings,
        refused,
        status: &view.plan.status,
    }
    .render();
    shell.finish(page::html(StatusCode::OK, html))
}

/// `POST /console/environments/plans/{id}/run`: run the plan (`plans::run_plan`).
pub async fn run(
    State(state): State<AppState>,
    Segments(id): Segments<String>,
    sent: Sent<EnvironmentsOpen>,
) -> Response {
    let Sent {
        shell, operator, ..
    } = sent;
    let back = format!("/console/environments/plans/{id}");
    let Ok(id) = id.parse::<i64>() else {
        let e = Error::invalid("plan", "must be a plan number such as 12");
        return shell.finish(error_page(&shell, e, &back));
    };
    let caller = operator.auth.caller(&state);
    match plans::run_plan(&state, &caller, id, PlanRunRequest::default()).await {
        Ok(done) if done.waiting => shell.finish(page::see_other("/console/deployments")),
        Ok(_) => shell.finish(page::see_other("/console/environments?saved=1")),
        Err(e) => shell.finish(refusal(&shell, e, &back)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_order_form_becomes_the_environments_in_position_order() {
        let got = specs(&form(&[
            ("name.0", "development"),
            ("position.0", "1"),
            ("name.1", "production"),
            ("position.1", "3"),
            ("sod.1", "on"),
            ("approver.1", "on"),
            ("name.2", "quality"),
            ("position.2", "2"),
            ("name.3", " "),
            ("position.3", ""),
        ]))
        .unwrap();
        let names: Vec<_> = got.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["development", "quality", "production"]);
        assert!(got[2].separation_of_duties && got[2].second_approver);
        assert!(!got[0].separation_of_duties && !got[1].second_approver);
        let bad = specs(&form(&[("name.0", "test"), ("position.0", "first")]));
        assert!(matches!(bad, Err(Error::InvalidInput { .. })));
    }
}
