//! IT permissions over the module lifecycle: default IT roles, role levels per environment,
//! teams owning applications, modules, and per-user overrides.
//!
//! Who may change what: platform administrators anything; anyone else only what they hold
//! `full` on, in every environment concerned (the platform rules of
//! `rampart_authz::policy`, then `Permissions::check_can_grant`), so nobody can give access
//! to applications they do not administer.

use rampart_api::{ItScopeWire, ItWriteOp, LevelQuery, LevelResponse};
use rampart_authz::change::EnvironmentDef;
use rampart_authz::it::{
    AppId, Decider, EnvId, GrantError, ItUserId, Level, ModuleId, Scope, TeamId,
};
use rampart_authz::policy::{self, Kind, Operation, Principal, Verdict};
use rampart_authz::roles::AppNum;
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
    crate::identity::mfa::require_step_up(state, caller, "changing IT permissions").await?;
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
            .map_err(|e| match e {
                // Named as the caller wrote it, not by the index's numbers.
                GrantError::NotAdministrator {
                    environment, held, ..
                } => {
                    let target = match scope {
                        Scope::Module(m) => {
                            format!("module `{}`", view.module_name(m.0).unwrap_or_default())
                        }
                        Scope::Application(a) => format!(
                            "application `{}`",
                            view.app_name(AppNum(a.0)).unwrap_or_default()
                        ),
                    };
                    Error::Forbidden(format!(
                        "{at}: {}",
                        GrantError::NotAdministrator {
                            target,
                            environment,
                            held
                        }
                    ))
                }
                other => Error::Forbidden(format!("{at}: {other}")),
            })
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
    let cell = explain(&view, user, &default_roles, ModuleId(module), environment);
    Ok(LevelResponse {
        revision: token(revision),
        level: cell.level.as_str().to_owned(),
        decided_by: cell.decided_by.to_owned(),
        reason: cell.reason,
    })
}

/// A user's level on a module in an environment and the grant that decided it, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The effective level.
    pub level: Level,
    /// The kind of grant that decided: `module_override`, `application_override`,
    /// `team_role`, `default_role` or `none`.
    pub decided_by: &'static str,
    /// The grant, in words (`override on module crm in production`).
    pub reason: String,
}

/// `explain_level` of `user` (holding `default_roles` when the index has no number for
/// them) on `module` in `environment`, in words.
fn explain(
    view: &AuthzView,
    user: UserId,
    default_roles: &[String],
    module: ModuleId,
    environment: EnvId,
) -> Explained {
    let role_name = |r: rampart_authz::it::RoleId| {
        view.it
            .roles()
            .get(usize::from(r.0))
            .map_or("?".to_owned(), |r| r.name.clone())
    };
    let Some(num) = view.user_num(user) else {
        let best = view
            .it
            .default_roles_level(default_roles.iter().map(String::as_str), environment);
        return match best {
            Some((level, role)) => Explained {
                level,
                decided_by: "default_role",
                reason: format!("default IT role {}", role_name(role)),
            },
            None => Explained {
                level: Level::None,
                decided_by: "none",
                reason: "the user holds no IT permissions".into(),
            },
        };
    };
    let d = view.it.explain_level(ItUserId(num), module, environment);
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
    Explained {
        level: d.level,
        decided_by,
        reason,
    }
}

/// One cell of the permission matrix: a user's level on a module in one environment, the
/// grant that decided it, and whether the caller may set an override there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The level and why.
    pub explained: Explained,
    /// Whether the caller may set (or remove) this user's override on the module in this
    /// environment: the rule of [`write`] for `set_override`.
    pub may_grant: bool,
}

/// The levels of `users` on `modules` in every environment: `rows[u][m][e]`, in the order
/// given and the environments' order. Asking about others is for administrators and
/// auditors, as in [`level_of`]; an IT user may ask about themselves on the modules they
/// may know of (an unknown one answers as missing).
pub async fn matrix(
    state: &AppState,
    caller: &Caller,
    users: &[UserId],
    modules: &[String],
) -> Result<Vec<Vec<Vec<Cell>>>, Error> {
    if caller.user.provider != Provider::It {
        return Err(Error::Forbidden(
            "only IT users may read IT permissions".into(),
        ));
    }
    let reader =
        crate::identity::may(state, &caller.user, Operation::ReadAuthorizationData).await?;
    if !reader && users.iter().any(|u| *u != caller.user.id) {
        return Err(Error::Forbidden(
            "another user's IT level is for administrators and auditors; ask for your own".into(),
        ));
    }
    state.authz.fresh(None).await?;
    if !reader {
        for m in modules {
            crate::lifecycle::visible_module(state, caller, m).await?;
        }
    }
    let mut defaults = Vec::with_capacity(users.len());
    for user in users {
        defaults.push(state.store.it_roles_of(*user).await?);
    }
    let view = state.authz.view();
    let ids = modules
        .iter()
        .map(|m| {
            view.module(m)
                .map(ModuleId)
                .ok_or(Error::NotFound { what: "module" })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let environments: Vec<(EnvId, String)> = view
        .it
        .environments()
        .iter()
        .enumerate()
        .filter_map(|(i, name)| u16::try_from(i).ok().map(|i| (EnvId(i), name.clone())))
        .collect();
    Ok(users
        .iter()
        .zip(&defaults)
        .map(|(user, roles)| {
            ids.iter()
                .zip(modules)
                .map(|(&module, name)| {
                    environments
                        .iter()
                        .map(|(e, env_name)| {
                            let op = ItWriteOp::SetOverride {
                                user: user.to_string(),
                                scope: ItScopeWire::Module { name: name.clone() },
                                environment: Some(env_name.clone()),
                                level: None,
                            };
                            Cell {
                                explained: explain(&view, *user, roles, module, *e),
                                may_grant: may(&view, caller, &op, "cell").is_ok(),
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect())
}

/// A team: the applications it owns and its members with their IT roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamView {
    /// Its name.
    pub name: String,
    /// The applications it owns, sorted.
    pub applications: Vec<String>,
    /// Its members and their roles in it, by user.
    pub members: Vec<(UserId, String)>,
}

/// Every team with its applications and members (administrators and auditors).
pub async fn teams(state: &AppState, caller: &Caller) -> Result<Vec<TeamView>, Error> {
    if !crate::identity::may(state, &caller.user, Operation::ReadAuthorizationData).await? {
        return Err(Error::Forbidden(
            "reading authorization data about others needs an administrator or the `auditor` \
             IT role"
                .into(),
        ));
    }
    state.authz.fresh(None).await?;
    let view = state.authz.view();
    Ok(view
        .team_names()
        .into_iter()
        .filter_map(|name| {
            let team = TeamId(view.team(&name)?);
            let mut applications: Vec<String> = view
                .it
                .team_apps(team)
                .into_iter()
                .filter_map(|a| {
                    view.app_name(rampart_authz::roles::AppNum(a.0))
                        .map(str::to_owned)
                })
                .collect();
            applications.sort();
            let members = view
                .it
                .team_members(team)
                .into_iter()
                .filter_map(|(u, r)| {
                    let role = view.it.roles().get(usize::from(r.0))?.name.clone();
                    Some((view.user_by_num(u.0)?, role))
                })
                .collect();
            Some(TeamView {
                name,
                applications,
                members,
            })
        })
        .collect())
}
