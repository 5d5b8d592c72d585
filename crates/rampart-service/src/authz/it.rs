//! IT permissions over the module lifecycle: default IT roles, role levels per environment,
//! teams owning applications, modules, and per-user overrides.
//!
//! Who may change what: platform administrators anything; anyone else only what they hold
//! `full` on, in every environment concerned (the platform rules of
//! `rampart_authz::policy`, then `Permissions::check_can_grant`), so nobody can give access
//! to applications they do not administer.

use rampart_api::{ItScopeWire, ItWriteOp, LevelQuery, LevelResponse};
use rampart_authz::change::EnvironmentDef;
use rampart_authz::it::{AppId, Decider, EnvId, ItUserId, Level, ModuleId, Scope, TeamId};
use rampart_authz::policy::{self, Kind, Operation, Principal, Verdict};
use rampart_authz::view::AuthzView;
use rampart_core::{Error, Provider, UserId};
use rampart_store::{AuthzOp, ItScope};

use crate::authz::engine::token;
use crate::authz::environment as env;
use crate::caller::Caller;
use crate::state::AppState;

/// Changes IT permissions: all operations commit together or none does; each is an audit
/// event. Answers the revision the change committed at.
pub async fn write(
    state: &AppState,
    caller: &Caller,
    operations: &[ItWriteOp],
) -> Result<u64, Error> {
    if caller.user.provider != Provider::It {
        return Err(Error::Forbidden(
            "only IT users manage IT permissions".into(),
        ));
    }
    super::begin_batch(state, operations.len()).await?;
    let ops: Vec<AuthzOp> = {
        let view = state.authz.view();
        operations
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let at = format!("operations[{i}]");
                may(&view, caller, op, &at)?;
                to_op(op, &at)
            })
            .collect::<Result<_, Error>>()?
    };
    super::commit(state, &caller.audit, &ops).await
}

/// An IT level by name.
pub fn level(raw: &str, field: &str) -> Result<Level, Error> {
    Level::parse(raw).ok_or_else(|| {
        Error::invalid(
            field,
            "must be one of none, reference, open, change, deploy, full",
        )
    })
}

/// What the platform rules know of `user` for IT permission writes (no rule there turns on
/// the `auditor` role).
fn principal(user: &rampart_core::User) -> Principal {
    Principal {
        kind: match user.provider {
            rampart_core::Provider::It => Kind::ItUser,
            rampart_core::Provider::End => Kind::EndUser,
        },
        administrator: user.is_admin,
        auditor: false,
    }
}

/// Checks that `granter` may make change `op`; `Ok` for platform administrators.
fn may(view: &AuthzView, caller: &Caller, op: &ItWriteOp, at: &str) -> Result<(), Error> {
    let operation = match op {
        ItWriteOp::SetItRole { .. } => Operation::AssignItRoles,
        ItWriteOp::SetRoleLevel { .. } => Operation::ChangeRoleLevels,
        ItWriteOp::SetEnvironments { .. } => Operation::ChangeEnvironments,
        ItWriteOp::CreateTeam { .. } | ItWriteOp::DeleteTeam { .. } => Operation::ManageTeams,
        ItWriteOp::SetTeamMember { .. }
        | ItWriteOp::SetApplicationTeam { .. }
        | ItWriteOp::RegisterModule { .. }
        | ItWriteOp::SetOverride { .. } => Operation::GrantOnObject,
    };
    let admin_only =
        |what: &str| Error::Forbidden(format!("{at}: only platform administrators may {what}"));
    match policy::decide(principal(&caller.user), operation) {
        Verdict::Allow => return Ok(()),
        Verdict::IfFullOnObject => {}
        Verdict::Deny(_) => {
            return Err(admin_only(match op {
                ItWriteOp::SetItRole { .. } => "assign IT roles",
                ItWriteOp::SetRoleLevel { .. } => "change role levels",
                ItWriteOp::SetEnvironments { .. } => "change the environments",
                ItWriteOp::CreateTeam { .. } => "create teams",
                ItWriteOp::DeleteTeam { .. } => "delete teams",
                _ => "change IT permissions",
            }))
        }
    }
    let granter = view.user_num(caller.user.id).map(ItUserId);
    let full_on = |scope: Scope, environment: Option<EnvId>| -> Result<(), Error> {
        let granter =
            granter.ok_or_else(|| Error::Forbidden(format!("{at}: you hold no IT permissions")))?;
        view.it
            .check_can_grant(granter, scope, environment)
            .map_err(|e| Error::Forbidden(format!("{at}: {e}")))
    };
    let app = |name: &str| {
        view.app(name).map(|a| AppId(a.0)).ok_or_else(|| {
            Error::invalid(
                format!("{at}.application"),
                format!("no application named `{name}`"),
            )
        })
    };
    match op {
        ItWriteOp::SetItRole { .. }
        | ItWriteOp::SetRoleLevel { .. }
        | ItWriteOp::SetEnvironments { .. }
        | ItWriteOp::CreateTeam { .. }
        | ItWriteOp::DeleteTeam { .. } => Err(admin_only("change IT permissions")),
        ItWriteOp::SetTeamMember { team, .. } => {
            let t = view.team(team).ok_or_else(|| {
                Error::invalid(format!("{at}.team"), format!("no team named `{team}`"))
            })?;
            let apps = view.it.team_apps(TeamId(t));
            if apps.is_empty() {
                return Err(admin_only("staff a team that owns no application"));
            }
            apps.into_iter()
                .try_for_each(|a| full_on(Scope::Application(a), None))
        }
        ItWriteOp::SetApplicationTeam { application, .. }
        | ItWriteOp::RegisterModule { application, .. } => {
            full_on(Scope::Application(app(application)?), None)
        }
        ItWriteOp::SetOverride {
            scope, environment, ..
        } => {
            let scope = match scope {
                ItScopeWire::Module { name } => {
                    Scope::Module(ModuleId(view.module(name).ok_or_else(|| {
                        Error::invalid(format!("{at}.scope"), format!("no module named `{name}`"))
                    })?))
                }
                ItScopeWire::Application { name } => Scope::Application(app(name)?),
            };
            let environment = environment
                .as_deref()
                .map(|e| env(view, e, &format!("{at}.environment")))
                .transpose()?;
            full_on(scope, environment)
        }
    }
}

fn to_op(op: &ItWriteOp, at: &str) -> Result<AuthzOp, Error> {
    let user = |raw: &str| UserId::parse(raw, &format!("{at}.user"));
    Ok(match op {
        ItWriteOp::SetItRole { user: u, role } => AuthzOp::SetItRole {
            user: user(u)?,
            role: role.clone(),
        },
        ItWriteOp::SetEnvironments { environments } => AuthzOp::SetEnvironments {
            environments: environments
                .iter()
                .map(|e| EnvironmentDef {
                    name: e.name.clone(),
                    separation_of_duties: e.separation_of_duties,
                    second_approver: e.second_approver,
                })
                .collect(),
        },
        ItWriteOp::SetRoleLevel {
            role,
            environment,
            level: l,
        } => AuthzOp::SetRoleLevel {
            role: role.clone(),
            environment: environment.clone(),
            level: level(l, &format!("{at}.level"))?,
        },
        ItWriteOp::CreateTeam { name } => AuthzOp::CreateTeam { name: name.clone() },
        ItWriteOp::DeleteTeam { name } => AuthzOp::DeleteTeam { name: name.clone() },
        ItWriteOp::SetTeamMember {
            team,
            user: u,
            role,
        } => AuthzOp::SetTeamMember {
            team: team.clone(),
            user: user(u)?,
            role: role.clone(),
        },
        ItWriteOp::SetApplicationTeam { application, team } => AuthzOp::SetApplicationTeam {
            app: application.clone(),
            team: team.clone(),
        },
        ItWriteOp::RegisterModule { name, application } => AuthzOp::RegisterModule {
            name: name.clone(),
            app: application.clone(),
        },
        ItWriteOp::SetOverride {
            user: u,
            scope,
            environment,
            level: l,
        } => AuthzOp::SetOverride {
            user: user(u)?,
            scope: match scope {
                ItScopeWire::Module { name } => ItScope::Module(name.clone()),
                ItScopeWire::Application { name } => ItScope::Application(name.clone()),
            },
            environment: environment.clone(),
            level: l
                .as_deref()
                .map(|l| level(l, &format!("{at}.level")))
                .transpose()?,
        },
    })
}

/// An IT user's effective level on a module in an environment, with the grant that decided
/// (the most specific grant wins; see `rampart_authz::it`). IT users may ask for their own;
/// administrators and auditors for anyone's. Asking for one's own level on a module one may
/// not know of answers as for a module that does not exist.
pub async fn level_of(
    state: &AppState,
    caller: &Caller,
    q: &LevelQuery,
) -> Result<LevelResponse, Error> {
    if caller.user.provider != Provider::It {
        return Err(Error::Forbidden(
            "only IT users may read IT permissions".into(),
        ));
    }
    let user = UserId::parse(&q.user, "user")?;
    let reader =
        crate::identity::may(state, &caller.user, Operation::ReadAuthorizationData).await?;
    if user != caller.user.id && !reader {
        return Err(Error::Forbidden(
            "another user's IT level is for administrators and auditors; ask for your own".into(),
        ));
    }
    let revision = state.authz.fresh(None).await?;
    // Asking for one's own level on a module one may not know of answers as for a module
    // that does not exist.
    if !reader {
        crate::lifecycle::visible_module(state, caller, &q.module).await?;
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
        return Ok(match best {
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
        });
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
    Ok(LevelResponse {
        revision: token(revision),
        level: d.level.as_str().to_owned(),
        decided_by: decided_by.to_owned(),
        reason,
    })
}
