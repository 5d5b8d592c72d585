//! `/console/permissions`: IT permissions, user by user, module by module.
//!
//! - The matrix: IT users (a page of 20, by username prefix) × modules (a page of 10,
//!   optionally of one application) × environments, each cell the user's effective level
//!   and the grant that decided it (`it::matrix`, the `explain_level` answer of
//!   `GET /api/v1/it/level`), shown on hover and on keyboard focus. Reading it is for
//!   administrators and auditors (`Operation::ReadAuthorizationData`, like the model).
//! - A cell's page: the explanation in full and, for whoever may grant there (the rule of
//!   `POST /api/v1/it/write`'s `set_override`, which `it::matrix` reports per cell), a form
//!   that sets or removes the user's override on the module in that environment through
//!   `it::write`.
//! - A row as one form: the changed cells become one `it::write` (all or none).
//!
//! Application roles are the next room, [`super::roles`].

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rampart_api::{ItScopeWire, ItWriteOp, ListUsersQuery};
use rampart_core::{Error, UserId};
use rampart_service::authz::{decide, it};
use rampart_service::identity::users;
use rampart_service::AppState;
use serde::Deserialize;

use super::door::doors::{PermissionsOpen, PermissionsRead};
use super::door::{Page, Sent};
use super::{error_page, field, Operator, Section, Shell};
use crate::error::ApiError;
use crate::routes::page;

/// Users per page of the matrix.
const USERS_PER_PAGE: u32 = 20;
/// Modules per page of the matrix.
const MODULES_PER_PAGE: usize = 10;

/// The matrix's filters and pages.
#[derive(Debug, Default, Deserialize)]
pub struct MatrixQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    from: Option<usize>,
    /// The user whose row is a form.
    #[serde(default)]
    edit: Option<String>,
    #[serde(default)]
    saved: Option<usize>,
}

impl MatrixQuery {
    /// The matrix's address with these filters, at user page `cursor` and module `from`.
    fn url(&self, cursor: Option<&str>, from: usize) -> String {
        format!(
            "/console/permissions?q={}&application={}&environment={}&cursor={}&from={from}",
            page::encode(&self.q),
            page::encode(&self.application),
            page::encode(&self.environment),
            page::encode(cursor.unwrap_or("")),
        )
    }
}

/// A column of the matrix.
struct Column {
    module: String,
    application: String,
}

/// One environment's level in a cell.
struct LevelView {
    environment: String,
    module: String,
    level: &'static str,
    reason: String,
    may_grant: bool,
    href: String,
    id: String,
}

/// A row of the matrix.
struct Row {
    id: String,
    username: String,
    cells: Vec<Vec<LevelView>>,
    /// Whether the caller may grant in some cell of the row (it has an "Edit row" link).
    editable: bool,
    /// The address that makes this row a form.
    edit: String,
}

#[derive(Template)]
#[template(path = "console/permissions.html")]
struct MatrixPage<'a> {
    shell: &'a Shell,
    query: &'a MatrixQuery,
    applications: &'a [String],
    environments: &'a [String],
    columns: &'a [Column],
    rows: &'a [Row],
    total_modules: usize,
    first: usize,
    previous_modules: Option<String>,
    next_modules: Option<String>,
    next_users: Option<String>,
    granter: bool,
    teams: &'a [TeamRow],
    /// The user whose row is a form, and where the form comes back to.
    editing: Option<&'a str>,
    back: &'a str,
    levels: &'a [&'static str],
    notice: Option<String>,
}

/// A team as the page shows it.
struct TeamRow {
    name: String,
    applications: String,
    members: String,
}

/// `GET /console/permissions`: the matrix.
pub async fn matrix(
    State(state): State<AppState>,
    page: Page<PermissionsRead>,
    query: Result<Query<MatrixQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let query = query.map(|q| q.0).unwrap_or_default();
    match matrix_page(&state, &shell, &operator, &query).await {
        Ok(html) => shell.finish(page::html(StatusCode::OK, html)),
        Err(e) => shell.finish(error_page(&shell, e, &here)),
    }
}

async fn matrix_page(
    state: &AppState,
    shell: &Shell,
    operator: &Operator,
    query: &MatrixQuery,
) -> Result<Result<String, askama::Error>, Error> {
    let caller = operator.auth.caller(state);
    let model = decide::model(state, &operator.auth.user).await?;
    if !query.application.is_empty()
        && !model
            .applications
            .iter()
            .any(|a| a.name == query.application)
    {
        return Err(Error::invalid(
            "application",
            format!("no application named `{}`", query.application),
        ));
    }
    if !query.environment.is_empty() && !model.environments.contains(&query.environment) {
        return Err(Error::invalid(
            "environment",
            format!(
                "no environment `{}` (environments: {})",
                query.environment,
                model.environments.join(", ")
            ),
        ));
    }
    let all: Vec<Column> = model
        .modules
        .iter()
        .filter(|m| query.application.is_empty() || m.application == query.application)
        .map(|m| Column {
            module: m.name.clone(),
            application: m.application.clone(),
        })
        .collect();
    let first = query.from.unwrap_or(0).min(all.len());
    let columns: Vec<Column> = all.into_iter().skip(first).take(MODULES_PER_PAGE).collect();
    let total_modules = model
        .modules
        .iter()
        .filter(|m| query.application.is_empty() || m.application == query.application)
        .count();
    let prefix = query.q.trim();
    let found = users::list(
        state,
        ListUsersQuery {
            provider: Some("it".into()),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            cursor: query.cursor.clone().filter(|c| !c.is_empty()),
            limit: Some(USERS_PER_PAGE),
        },
    )
    .await?;
    let ids = found
        .items
        .iter()
        .map(|u| UserId::parse(&u.id, "user"))
        .collect::<Result<Vec<_>, Error>>()?;
    let names: Vec<String> = columns.iter().map(|c| c.module.clone()).collect();
    let levels = it::matrix(state, &caller, &ids, &names).await?;
    let shown: Vec<usize> = model
        .environments
        .iter()
        .enumerate()
        .filter(|(_, e)| query.environment.is_empty() || **e == query.environment)
        .map(|(i, _)| i)
        .collect();
    let mut granter = false;
    let rows: Vec<Row> = found
        .items
        .iter()
        .zip(levels)
        .enumerate()
        .map(|(u, (user, per_module))| Row {
            editable: per_module.iter().flatten().any(|c| c.may_grant),
            edit: format!(
                "{}&edit={}#row-{}",
                query.url(query.cursor.as_deref(), first),
                page::encode(&user.id),
                user.id
            ),
            id: user.id.clone(),
            username: user.username.clone(),
            cells: per_module
                .into_iter()
                .zip(&names)
                .enumerate()
                .map(|(m, (per_env, module))| {
                    shown
                        .iter()
                        .filter_map(|&e| {
                            let cell = per_env.get(e)?;
                            let environment = model.environments.get(e)?.clone();
                            granter |= cell.may_grant;
                            Some(LevelView {
                                href: cell_url(&user.id, module, &environment),
                                id: format!("why-{u}-{m}-{e}"),
                                level: cell.explained.level.as_str(),
                                reason: cell.explained.reason.clone(),
                                may_grant: cell.may_grant,
                                module: module.clone(),
                                environment,
                            })
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    let teams = teams(state, &caller).await?;
    let applications: Vec<String> = model.applications.into_iter().map(|a| a.name).collect();
    let previous_modules = (first > 0).then(|| {
        query.url(
            query.cursor.as_deref(),
            first.saturating_sub(MODULES_PER_PAGE),
        )
    });
    let next_modules = (first + MODULES_PER_PAGE < total_modules)
        .then(|| query.url(query.cursor.as_deref(), first + MODULES_PER_PAGE));
    let next_users = found
        .next_cursor
        .as_deref()
        .map(|c| query.url(Some(c), first));
    Ok(MatrixPage {
        shell,
        query,
        applications: &applications,
        environments: &model.environments,
        columns: &columns,
        rows: &rows,
        total_modules,
        first,
        previous_modules,
        next_modules,
        next_users,
        granter,
        teams: &teams,
        editing: query.edit.as_deref(),
        back: &query.url(query.cursor.as_deref(), first),
        levels: &LEVELS,
        notice: query
            .saved
            .map(|n| format!("Saved {n} override(s); the levels below are the new ones.")),
    }
    .render())
}

/// The teams with their applications and members' usernames.
async fn teams(
    state: &AppState,
    caller: &rampart_service::caller::Caller,
) -> Result<Vec<TeamRow>, Error> {
    let teams = it::teams(state, caller).await?;
    let ids: Vec<_> = teams
        .iter()
        .flat_map(|t| t.members.iter().map(|(id, _)| *id))
        .collect();
    let names = users::usernames(state, &ids).await?;
    let mut out = Vec::new();
    for team in teams {
        let mut members = Vec::new();
        for (id, role) in &team.members {
            let name = names.get(id).cloned().unwrap_or_else(|| id.to_string());
            members.push(format!("{name} ({role})"));
        }
        out.push(TeamRow {
            name: team.name,
            applications: team.applications.join(", "),
            members: members.join(", "),
        });
    }
    Ok(out)
}

fn cell_url(user: &str, module: &str, environment: &str) -> String {
    format!(
        "/console/permissions/cell?user={}&module={}&environment={}",
        page::encode(user),
        page::encode(module),
        page::encode(environment)
    )
}

/// `POST /console/permissions/row`: the changed cells of one user's row, each an override
/// set or removed, all in one write (all or none), as `POST /api/v1/it/write` does.
pub async fn set_row(State(state): State<AppState>, sent: Sent<PermissionsOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let back = rampart_apps::pages::return_address(Some(field(&fields, "back")), "/console");
    let user = field(&fields, "user");
    // Each select is named `set|<module>|<environment>`; "keep" changes nothing.
    let ops: Vec<ItWriteOp> = fields
        .iter()
        .filter_map(|(k, v)| {
            let mut parts = k.strip_prefix("set|")?.splitn(2, '|');
            let (module, environment) = (parts.next()?, parts.next()?);
            (v != "keep").then(|| ItWriteOp::SetOverride {
                user: user.to_owned(),
                scope: ItScopeWire::Module {
                    name: module.to_owned(),
                },
                environment: Some(environment.to_owned()),
                level: (v != "inherit").then(|| v.clone()),
            })
        })
        .collect();
    if ops.is_empty() {
        return shell.finish(page::see_other(&back));
    }
    match it::write(&state, &operator.auth.caller(&state), &ops).await {
        Ok(_) => shell.finish(page::see_other(&format!("{back}&saved={}", ops.len()))),
        Err(e) => shell.finish(error_page(&shell, e, &back)),
    }
}

/// A cell's address.
#[derive(Debug, Default, Deserialize)]
pub struct CellQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    module: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "console/permission_cell.html")]
struct CellPage<'a> {
    shell: &'a Shell,
    user: &'a str,
    username: &'a str,
    module: &'a str,
    environment: &'a str,
    level: &'a str,
    decided_by: &'a str,
    reason: &'a str,
    may_grant: bool,
    levels: &'a [&'static str],
    notice: Option<&'a str>,
    problem: Option<&'a str>,
}

/// The levels an override may set, lowest first.
const LEVELS: [&str; 6] = ["none", "reference", "open", "change", "deploy", "full"];

/// `GET /console/permissions/cell`: one user's level on one module in one environment, the
/// grant that decided it, and (for whoever may grant there) the override form.
pub async fn cell(
    State(state): State<AppState>,
    page: Page<PermissionsRead>,
    query: Result<Query<CellQuery>, QueryRejection>,
) -> Response {
    let Page {
        here,
        shell,
        operator,
        ..
    } = page;
    let q = query.map(|q| q.0).unwrap_or_default();
    let notice = q
        .done
        .is_some()
        .then_some("Override saved; the level below is the new one.");
    cell_page(
        &state,
        &shell,
        &operator,
        (&q.user, &q.module, &q.environment),
        notice,
        None,
    )
    .await
    .unwrap_or_else(|e| shell.finish(error_page(&shell, e, &here)))
}

/// The cell's page, or the error that stops it.
async fn cell_page(
    state: &AppState,
    shell: &Shell,
    operator: &Operator,
    (user, module, environment): (&str, &str, &str),
    notice: Option<&str>,
    problem: Option<(StatusCode, &str)>,
) -> Result<Response, Error> {
    let id = UserId::parse(user, "user")?;
    let environments = rampart_service::lifecycle::versions::list_environments(state);
    let Some(e) = environments.iter().position(|e| e.name == environment) else {
        return Err(Error::invalid(
            "environment",
            format!("no environment `{environment}`"),
        ));
    };
    let caller = operator.auth.caller(state);
    let levels = it::matrix(state, &caller, &[id], &[module.to_owned()]).await?;
    let cell = levels
        .first()
        .and_then(|m| m.first())
        .and_then(|m| m.get(e))
        .ok_or(Error::NotFound { what: "module" })?;
    let username = users::get(state, user).await?.username;
    let html = CellPage {
        shell,
        user,
        username: &username,
        module,
        environment,
        level: cell.explained.level.as_str(),
        decided_by: cell.explained.decided_by,
        reason: &cell.explained.reason,
        may_grant: cell.may_grant,
        levels: &LEVELS,
        notice,
        problem: problem.map(|(_, p)| p),
    }
    .render();
    let status = problem.map_or(StatusCode::OK, |(s, _)| s);
    Ok(shell.finish(page::html(status, html)))
}

/// `POST /console/permissions/cell`: sets (or with level `inherit`, removes) the user's
/// override on the module in the environment, as `POST /api/v1/it/write` does.
pub async fn set_cell(State(state): State<AppState>, sent: Sent<PermissionsOpen>) -> Response {
    let Sent {
        shell,
        operator,
        fields,
        ..
    } = sent;
    let (user, module, environment) = (
        field(&fields, "user"),
        field(&fields, "module"),
        field(&fields, "environment"),
    );
    let here = cell_url(user, module, environment);
    let level = match field(&fields, "level") {
        "inherit" => None,
        l => Some(l.to_owned()),
    };
    let op = ItWriteOp::SetOverride {
        user: user.to_owned(),
        scope: ItScopeWire::Module {
            name: module.to_owned(),
        },
        environment: Some(environment.to_owned()),
        level,
    };
    match it::write(&state, &operator.auth.caller(&state), &[op]).await {
        Ok(_) => shell.finish(page::see_other(&format!("{here}&done=1"))),
        Err(e @ (Error::NotFound { .. } | Error::Unauthenticated(_))) => {
            shell.finish(error_page(&shell, e, &here))
        }
        Err(e) => {
            let problem = ApiError::from(e).0;
            let status =
                StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            cell_page(
                &state,
                &shell,
                &operator,
                (user, module, environment),
                None,
                Some((status, &problem.detail)),
            )
            .await
            .unwrap_or_else(|e| shell.finish(error_page(&shell, e, &here)))
        }
    }
}
