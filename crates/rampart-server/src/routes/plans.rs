//! `/api/v1/deployment-plans` and `/api/v1/environments/{env}/settings`: deployment plans
//! over HTTP (the use cases and their permission table are in
//! `rampart_service::lifecycle::plans`). A preview's refusal is shown as the problem the
//! run would answer.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_service::lifecycle::deploy::Deployed;
use rampart_service::lifecycle::plans::{self, PlanView};
use rampart_service::AppState;

use super::lifecycle::deployed_status;
use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{
    PlanCopyRequest, PlanCreateRequest, PlanPage, PlanPreview, PlanRunRequest, PlanWire,
    PlansQuery, SettingWire,
};

/// The plan as the API shows it, its preview's refusal rendered as a problem.
fn plan_wire(view: PlanView) -> PlanWire {
    let PlanView {
        mut plan,
        preview,
        run,
    } = view;
    plan.preview = preview.map(|p| PlanPreview {
        changes: p.changes,
        settings: p.settings,
        missing: p.missing,
        warnings: p.warnings,
        refused: p.refused.map(|e| *ApiError::from(e).0),
    });
    plan.run = run;
    plan
}

/// Create a deployment plan (a draft) for an environment, with its preview.
#[utoipa::path(
    post, path = "/api/v1/deployment-plans", tag = "deployment-plans",
    request_body = PlanCreateRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The draft, with what running it now would do", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy` on a module of the plan", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "An application that does not exist, or that the caller holds no level on; or a module of it they hold no level on", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown environment, application or tag; a setting that names nothing or has the wrong shape", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<PlanCreateRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let caller = auth.caller(&state);
    let view = plans::create_plan(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(plan_wire(view))))
}

/// Deployment plans the caller may see (`reference` on each of their applications in their
/// environment), newest first, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/deployment-plans", tag = "deployment-plans",
    params(PlansQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of plans, newest first, with the cursor of the next page", body = PlanPage),
        (status = 422, description = "No such environment, an unknown status, a bad limit, or a cursor this API did not return", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn plans(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<PlansQuery>,
) -> Result<Json<PlanPage>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(plans::plans(&state, &caller, q).await?))
}

/// One deployment plan, with what running it now would do.
#[utoipa::path(
    get, path = "/api/v1/deployment-plans/{id}", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The plan and its preview", body = PlanWire),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<PlanWire>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(plan_wire(plans::get_plan(&state, &caller, id).await?)))
}

/// Run a plan: deploy its applications' tagged versions and write its settings, in one
/// transaction (or wait for a second approver where the environment needs one).
#[utoipa::path(
    post, path = "/api/v1/deployment-plans/{id}/run", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan")),
    request_body = PlanRunRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Applied (or, with `dry_run`, what would be)", body = PlanWire),
        (status = 202, description = "Waiting for a second approver (see `request`)", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy`, or separation of duties", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Finished or waiting already; or refused by the environment's state (the plan is then aborted with the reason and may run again)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn run_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<PlanRunRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let caller = auth.caller(&state);
    let Deployed { waiting, answer } = plans::run_plan(&state, &caller, id, req).await?;
    Ok((deployed_status(waiting), Json(plan_wire(answer))))
}

/// Copy a plan for another environment (the next one by default): the same applications at
/// the same tags, with settings for that environment.
#[utoipa::path(
    post, path = "/api/v1/deployment-plans/{id}/copy", tag = "deployment-plans",
    params(("id" = i64, Path, description = "The plan to copy")),
    request_body = PlanCopyRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The new draft, with its preview", body = PlanWire),
        (status = 403, description = "The caller lacks `deploy` there", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or one the caller may not see (they lack `reference` on one of its applications in its environment)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No environment after the plan's, or a bad setting", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn copy_plan(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<PlanCopyRequest>,
) -> Result<(StatusCode, Json<PlanWire>), ApiError> {
    let caller = auth.caller(&state);
    let view = plans::copy_plan(&state, &caller, id, req).await?;
    Ok((StatusCode::CREATED, Json(plan_wire(view))))
}

/// The settings in force in an environment (secret references, never secrets), for the
/// modules the caller may see there.
#[utoipa::path(
    get, path = "/api/v1/environments/{env}/settings", tag = "environments",
    params(("env" = String, Path, description = "The environment")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Settings, by module", body = [SettingWire]),
        (status = 422, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(env): Path<String>,
) -> Result<Json<Vec<SettingWire>>, ApiError> {
    let caller = auth.caller(&state);
    Ok(Json(plans::settings(&state, &caller, &env).await?))
}
