//! IT permissions: default roles, environments, role levels, teams and overrides.

use crate::db::Arg;

use super::super::tx::*;
use super::super::*;
use super::{create_numbered, refuse_while_named, Applied, Batch};

/// Applies one operation of this family inside the batch's transaction.
pub(super) async fn apply(b: &mut Batch, op: &AuthzOp) -> Result<Applied, Error> {
    let at = b.at;
    let tx = &mut b.tx;
    let changes = &mut b.changes;

    let (action, target, details) = match op {
        AuthzOp::SetItRole { user, role } => {
            let defaults = Permissions::with_defaults();
            if let Some(r) = role {
                it_role(&defaults, r)?;
            }
            let provider: Option<String> = tx
                .scalar_opt(
                    "SELECT provider FROM users WHERE id = $1",
                    [user.to_string().into()],
                )
                .await?;
            if provider.as_deref() != Some("it") {
                return Err(Error::invalid("user", format!("{user} is not an IT user")));
            }
            let num = user_num_tx(tx, *user, changes).await?;
            tx.exec(
                "DELETE FROM it_role_assignments WHERE user_id = $1",
                [user.to_string().into()],
            )
            .await?;
            if let Some(r) = role {
                tx.exec(
                    "INSERT INTO it_role_assignments (user_id, role, created_at) VALUES ($1, $2, \
                         $3)",
                    [user.to_string().into(), r.into(), at.into()],
                )
                .await?;
            }
            b.credentials = true;
            changes.push(Change::ItDefaultRole {
                user: num,
                role: role.clone(),
            });
            (
                "it.role.assign",
                format!("user:{user}"),
                json!({ "role": role }),
            )
        }
        AuthzOp::SetEnvironments { environments: defs } => {
            let before = environments_tx(tx, &mut b.environments).await?;
            let removed = set_environments(tx, defs, &before).await?;
            b.environments = Some(defs.iter().map(|d| d.name.clone()).collect());
            changes.push(Change::Reload);
            (
                "it.environments.set",
                "environments".to_owned(),
                json!({ "environments": defs, "removed": removed }),
            )
        }
        AuthzOp::SetRoleLevel {
            role,
            environment,
            level,
        } => {
            let defaults =
                Permissions::with_environments(environments_tx(tx, &mut b.environments).await?);
            it_role(&defaults, role)?;
            it_env(&defaults, environment)?;
            tx.exec(
                "INSERT INTO it_role_levels (role, environment, level) VALUES ($1, $2, $3) \
                 ON CONFLICT (role, environment) DO UPDATE SET level = excluded.level",
                [role.into(), environment.into(), level.as_str().into()],
            )
            .await?;
            changes.push(Change::ItRoleLevel {
                role: role.clone(),
                environment: environment.clone(),
                level: level.as_str().into(),
            });
            (
                "it.role.level",
                format!("it-role:{role}"),
                json!({ "environment": environment, "level": level.as_str() }),
            )
        }
        AuthzOp::CreateTeam { name } => {
            check_name("name", name)?;
            let num = create_numbered(
                tx,
                "team",
                "INSERT INTO it_teams (num, name, created_at) VALUES ($1, $2, $3)",
                [name.into(), at.into()],
                || format!("a team named `{name}` already exists"),
            )
            .await?;
            changes.push(Change::Team {
                num: n32(num, "team")?,
                name: name.clone(),
            });
            ("it.team.create", format!("team:{name}"), json!({}))
        }
        AuthzOp::DeleteTeam { name } => {
            let t = team_tx(tx, name).await?;
            refuse_while_named(
                tx,
                "SELECT name FROM authz_applications WHERE team_num = $1 ORDER BY name",
                t,
                |apps| format!("team `{name}` owns {apps}: give them to another team first"),
            )
            .await?;
            let members: Vec<i64> = tx
                .scalars(
                    "SELECT user_num FROM it_team_members WHERE team_num = $1 ORDER BY user_num",
                    [t.into()],
                )
                .await?;
            for u in &members {
                changes.push(Change::TeamMember {
                    team: n32(t, "team")?,
                    user: n32(*u, "user")?,
                    role: None,
                });
            }
            tx.exec(
                "DELETE FROM it_team_members WHERE team_num = $1",
                [t.into()],
            )
            .await?;
            tx.exec("DELETE FROM it_teams WHERE num = $1", [t.into()])
                .await?;
            changes.push(Change::TeamDeleted {
                num: n32(t, "team")?,
            });
            (
                "it.team.delete",
                format!("team:{name}"),
                json!({ "members_removed": members.len() }),
            )
        }
        AuthzOp::SetTeamMember { team, user, role } => {
            if let Some(r) = role {
                it_role(&Permissions::with_defaults(), r)?;
            }
            let t = team_tx(tx, team).await?;
            let u = user_num_tx(tx, *user, changes).await?;
            tx.exec(
                "DELETE FROM it_team_members WHERE team_num = $1 AND user_num = $2",
                [t.into(), Arg::from(i64::from(u))],
            )
            .await?;
            if let Some(r) = role {
                tx.exec(
                    "INSERT INTO it_team_members (team_num, user_num, role) VALUES ($1, $2, $3)",
                    [t.into(), Arg::from(i64::from(u)), r.into()],
                )
                .await?;
            }
            changes.push(Change::TeamMember {
                team: n32(t, "team")?,
                user: u,
                role: role.clone(),
            });
            (
                "it.team.member",
                format!("team:{team}"),
                json!({ "user": user.to_string(), "role": role }),
            )
        }
        AuthzOp::SetApplicationTeam { app, team } => {
            let a = app_tx(tx, app).await?;
            let t = match team {
                Some(t) => Some(team_tx(tx, t).await?),
                None => None,
            };
            tx.exec(
                "UPDATE authz_applications SET team_num = $1 WHERE num = $2",
                [t.into(), a.into()],
            )
            .await?;
            changes.push(Change::AppTeam {
                app: n32(a, "application")?,
                team: t.map(|t| n32(t, "team")).transpose()?,
            });
            (
                "it.application.team",
                format!("application:{app}"),
                json!({ "team": team }),
            )
        }
        AuthzOp::SetOverride {
            user,
            scope,
            environment,
            level,
        } => {
            if let Some(e) = environment {
                it_env(
                    &Permissions::with_environments(
                        environments_tx(tx, &mut b.environments).await?,
                    ),
                    e,
                )?;
            }
            let (kind, scope_num, target) = match scope {
                ItScope::Module(m) => (
                    "module",
                    num_by_name(
                        tx,
                        "SELECT num FROM it_modules WHERE name = $1",
                        m,
                        "module",
                    )
                    .await?,
                    format!("module:{m}"),
                ),
                ItScope::Application(a) => (
                    "application",
                    app_tx(tx, a).await?,
                    format!("application:{a}"),
                ),
            };
            let u = user_num_tx(tx, *user, changes).await?;
            let env = environment.clone().unwrap_or_else(|| "*".into());
            let done = tx.exec(
                "DELETE FROM it_overrides WHERE user_num = $1 AND scope = $2 AND scope_num = $3 \
                     AND environment = $4",
                [Arg::from(i64::from(u)), kind.into(), scope_num.into(), Arg::from(&env)],
            ).await?;
            if let Some(l) = level {
                tx.exec(
                    "INSERT INTO it_overrides (user_num, scope, scope_num, environment, level) \
                         VALUES ($1, $2, $3, $4, $5)",
                    [
                        Arg::from(i64::from(u)),
                        kind.into(),
                        scope_num.into(),
                        Arg::from(&env),
                        l.as_str().into(),
                    ],
                )
                .await?;
            } else if done == 0 {
                return Err(Error::invalid(
                    "level",
                    format!("user {user} has no such override to remove"),
                ));
            }
            changes.push(Change::Override {
                user: u,
                scope: kind.into(),
                scope_num: n32(scope_num, "scope")?,
                environment: environment.clone(),
                level: level.map(|l| l.as_str().to_owned()),
            });
            (
                "it.override.set",
                target,
                json!({
                    "user": user.to_string(),
                    "application": match scope {
                        ItScope::Application(a) => Some(a.as_str()),
                        ItScope::Module(_) => None,
                    },
                    "environment": environment,
                    "level": level.map(Level::as_str),
                }),
            )
        }
        _ => return Err(super::not_in_family(op)),
    };
    Ok(Applied::new(action, target, details))
}
