//! `/api/v1/it`: IT permissions over the module lifecycle: default IT roles, role levels per
//! environment, teams owning applications, modules, and per-user overrides.
//!
//! Who may change what: platform administrators anything; anyone else only what they hold
//! `full` on, in every environment concerned (the rule of `Permissions::check_can_grant`),
//! so nobody can give access to applications they do not administer.

use axum::extract::{Query, State};
use rampart_authz::it::{Decider, EnvId, ItUserId, Level, ModuleId, Scope};
use rampart_authz::policy::Operation;
use rampart_core::{Error, Provider, UserId};

use crate::auth::Authenticated;
use crate::error::{ApiError, Json, Problem};
use rampart_api::{ItWriteRequest, LevelQuery, LevelResponse, WriteResponse};
use rampart_service::authz::engine::token;
use rampart_service::authz::it;
use rampart_service::state::AppState;

pub(crate) use rampart_service::authz::environment as env;

/// Change IT permissions: all operations commit together or none does; each is an audit
/// event.
#[utoipa::path(
    post, path = "/api/v1/it/write", tag = "it",
    request_body = ItWriteRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Written; the revision token", body = WriteResponse),
        (status = 403, description = "The caller does not administer a target", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An operation names something unknown or is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A duplicate, or a change the current state refuses (an environment where modules run, a name taken)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(req): Json<ItWriteRequest>,
) -> Result<Json<WriteResponse>, ApiError> {
    let revision = it::write(&state, &auth.caller(&state), &req.operations).await?;
    Ok(Json(WriteResponse {
        revision: token(revision),
    }))
}

/// An IT user's effective level on a module in an environment, with the grant that decided
/// (the most specific grant wins; see `rampart_authz::it`).
#[utoipa::path(
    get, path = "/api/v1/it/level", tag = "it",
    params(LevelQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The level and why", body = LevelResponse),
        (status = 403, description = "An end user, or another user's level asked by someone who is not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such module, or one the caller holds no level on in any environment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown user or environment, or `user` is not a user id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn level_of(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(q): Query<LevelQuery>,
) -> Result<Json<LevelResponse>, ApiError> {
    if auth.user.provider != Provider::It {
        return Err(Error::Forbidden("only IT users may read IT permissions".into()).into());
    }
    let user = UserId::parse(&q.user, "user")?;
    let reader =
        rampart_service::identity::may(&state, &auth.user, Operation::ReadAuthorizationData)
            .await?;
    if user != auth.user.id && !reader {
        return Err(Error::Forbidden(
            "another user's IT level is for administrators and auditors; ask for your own".into(),
        )
        .into());
    }
    let revision = state.authz.fresh(None).await?;
    // Asking for one's own level on a module one may not know of answers as for a module
    // that does not exist.
    if !reader {
        rampart_service::lifecycle::visible_module(&state, &auth.caller(&state), &q.module).await?;
    }
    // A user the index has no number for holds only their default role.
    let default_roles = state.store.it_roles_of(user).await?;
    let view = state.authz.view();
    let module = view
        .module(&q.module)
        .ok_or(Error::NotFound { what: "module" })?;
    let environment = env(&view, &q.environment, "environment")?;
    let Some(num) = view.user_num(user) else {
        let best = view
            .it
            .default_roles_level(default_roles.iter().map(String::as_str), environment);
        return Ok(Json(match best {
            Some((level, role)) => LevelResponse {
                revision: token(revision),
                level: level.as_str().to_owned(),
                decided_by: "default_role".to_owned(),
                reason: format!(
                    "default IT role {}",
                    view.it
                        .roles()
                        .get(usize::from(role.0))
                        .map_or("?", |r| r.name.as_str())
                ),
            },
            None => LevelResponse {
                revision: token(revision),
                level: Level::None.as_str().to_owned(),
                decided_by: "none".to_owned(),
                reason: "the user holds no IT permissions".into(),
            },
        }));
    };
    let d = view
        .it
        .explain_level(ItUserId(num), ModuleId(module), environment);
    let env_name = |e: Option<EnvId>| match e {
        Some(e) => format!(
            "in {}",
            view.it
                .environments()
                .get(usize::from(e.0))
                .map_or("?", String::as_str)
        ),
        None => "in every environment".to_owned(),
    };
    let role_name = |r: rampart_authz::it::RoleId| {
        view.it
            .roles()
            .get(usize::from(r.0))
            .map_or("?".to_owned(), |r| r.name.clone())
    };
    let (decided_by, reason) = match d.decider {
        Decider::Override {
            scope: Scope::Module(m),
            environment,
        } => (
            "module_override",
            format!(
                "override on module {} {}",
                view.module_name(m.0).unwrap_or("?"),
                env_name(environment)
            ),
        ),
        Decider::Override {
            scope: Scope::Application(a),
            environment,
        } => (
            "application_override",
            format!(
                "override on application {} {}",
                view.app_name(rampart_authz::roles::AppNum(a.0))
                    .unwrap_or("?"),
                env_name(environment)
            ),
        ),
        Decider::TeamRole { team, role } => (
            "team_role",
            format!(
                "role {} in team {}, which owns the application",
                role_name(role),
                view.team_name(team.0).unwrap_or("?")
            ),
        ),
        Decider::DefaultRole(role) => (
            "default_role",
            format!("default IT role {}", role_name(role)),
        ),
        Decider::NoGrant => ("none", "no grant applies".to_owned()),
    };
    Ok(Json(LevelResponse {
        revision: token(revision),
        level: d.level.as_str().to_owned(),
        decided_by: decided_by.to_owned(),
        reason,
    }))
}
