//! IT permissions: what an IT user may do with a module in an environment.
//!
//! # The combining rule
//!
//! An IT user's level on a module in an environment is decided by the **most specific grant
//! that exists**, whatever its level; a more specific grant may lower access as well as
//! raise it. From most to least specific:
//!
//! 1. a module override for this environment;
//! 2. a module override for every environment;
//! 3. an application override (the module's application) for this environment;
//! 4. an application override for every environment;
//! 5. the role the user holds in the team that owns the application, at this environment's
//!    level;
//! 6. the user's default IT role, at this environment's level;
//! 7. otherwise `none`.
//!
//! To grant or change a permission on a module or application in an environment, the
//! granter must hold `full` there: nobody can give access they do not administer.

use std::collections::HashMap;
use std::fmt;

/// Permission levels, ordered: each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No access.
    None,
    /// See and depend on the module's public elements, never its source.
    Reference,
    /// Read the source.
    Open,
    /// Publish new versions.
    Change,
    /// Deploy versions to the environment.
    Deploy,
    /// Manage permissions.
    Full,
}

impl Level {
    /// The level named `name`.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// Every level, lowest first.
    pub const ALL: [Level; 6] = [
        Level::None,
        Level::Reference,
        Level::Open,
        Level::Change,
        Level::Deploy,
        Level::Full,
    ];

    /// The level's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Reference => "reference",
            Level::Open => "open",
            Level::Change => "change",
            Level::Deploy => "deploy",
            Level::Full => "full",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An environment, by index into [`Permissions::environments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvId(pub u16);
/// An IT role, by index into the roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleId(pub u16);
/// An IT user (dense id assigned by the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItUserId(pub u32);
/// An application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(pub u32);
/// A module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);
/// A team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamId(pub u32);

/// Where an override applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One module.
    Module(ModuleId),
    /// Every module of an application.
    Application(AppId),
}

/// The grant that decided a level: what [`Permissions::explain_level`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// An override on the module or application, for one environment or for all (`None`).
    Override {
        /// Module or application.
        scope: Scope,
        /// The environment it is limited to, if any.
        environment: Option<EnvId>,
    },
    /// The user's role in the team that owns the application.
    TeamRole {
        /// The owning team.
        team: TeamId,
        /// The role held in it.
        role: RoleId,
    },
    /// The user's default IT role.
    DefaultRole(RoleId),
    /// No grant applies.
    NoGrant,
}

/// A decided level and the grant that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The effective level.
    pub level: Level,
    /// Why.
    pub decider: Decider,
}

/// Why a permission change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The granter does not administer the target.
    #[error("you need `full` on {target} in {environment} to change its permissions (you have `{held}`)")]
    NotAdministrator {
        /// What was to be changed.
        target: String,
        /// Where.
        environment: String,
        /// What the granter holds there.
        held: Level,
    },
    /// An id that does not exist.
    #[error("unknown {0}")]
    Unknown(&'static str),
}

/// An IT role: a level per environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItRole {
    /// Role name, e.g. `developer`.
    pub name: String,
    /// Level in each environment, indexed by [`EnvId`].
    pub levels: Vec<Level>,
}

/// The environments a new installation starts with, in promotion order.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["development", "quality", "production"];

/// The IT permission model, in memory.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    environments: Vec<String>,
    roles: Vec<ItRole>,
    default_role: HashMap<ItUserId, RoleId>,
    module_app: HashMap<ModuleId, AppId>,
    app_team: HashMap<AppId, TeamId>,
    team_role: HashMap<(TeamId, ItUserId), RoleId>,
    overrides: HashMap<(ItUserId, Scope, Option<EnvId>), Level>,
}

impl Permissions {
    /// The default environments (`development`, `quality`, `production`) and IT roles
    /// (`administrator`, `developer`, `tester`, `operations`, `auditor`, `contractor`,
    /// `support`).
    pub fn with_defaults() -> Self {
        Self::with_environments(
            DEFAULT_ENVIRONMENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
        )
    }

    /// The built-in IT roles over `environments`, in promotion order. An environment named
    /// like a default one gets the default levels there; any other starts with `full` for
    /// administrators, `reference` for auditors and `none` for every other role, until an
    /// administrator sets its levels.
    pub fn with_environments(environments: Vec<String>) -> Self {
        use Level::*;
        let roles = [
            ("administrator", [Full, Full, Full], Full),
            ("developer", [Deploy, Open, Reference], None),
            ("tester", [Open, Deploy, Reference], None),
            ("operations", [Reference, Deploy, Deploy], None),
            ("auditor", [Reference, Reference, Reference], Reference),
            ("contractor", [Reference, None, None], None),
            // The operator's support staff: every support case, no module.
            ("support", [None, None, None], None),
        ]
        .into_iter()
        .map(|(name, defaults, elsewhere)| ItRole {
            name: name.into(),
            levels: environments
                .iter()
                .map(|e| {
                    index_of(DEFAULT_ENVIRONMENTS.iter().copied(), e)
                        .and_then(|i| defaults.get(usize::from(i)).copied())
                        .unwrap_or(elsewhere)
                })
                .collect(),
        })
        .collect();
        Self {
            environments,
            roles,
            ..Self::default()
        }
    }

    /// The environment named `name`.
    pub fn environment(&self, name: &str) -> Option<EnvId> {
        index_of(self.environments.iter().map(String::as_str), name).map(EnvId)
    }

    /// The IT role named `name`.
    pub fn role(&self, name: &str) -> Option<RoleId> {
        index_of(self.roles.iter().map(|r| r.name.as_str()), name).map(RoleId)
    }

    /// The highest level in `environment` among the IT roles named `roles`, with the role
    /// that gives it: what a user the index holds no grants for (only default roles) has.
    pub fn default_roles_level<'a>(
        &self,
        roles: impl IntoIterator<Item = &'a str>,
        environment: EnvId,
    ) -> Option<(Level, RoleId)> {
        roles
            .into_iter()
            .filter_map(|name| self.role(name))
            .filter_map(|r| {
                let level = self
                    .roles
                    .get(usize::from(r.0))?
                    .levels
                    .get(usize::from(environment.0))
                    .copied()?;
                Some((level, r))
            })
            .max_by_key(|(l, _)| *l)
    }

    /// Sets the user's default IT role.
    pub fn set_default_role(&mut self, user: ItUserId, role: RoleId) {
        self.default_role.insert(user, role);
    }

    /// Records that `module` belongs to `app`, owned by `team`.
    pub fn set_ownership(&mut self, module: ModuleId, app: AppId, team: TeamId) {
        self.module_app.insert(module, app);
        self.app_team.insert(app, team);
    }

    /// Makes `user` a member of `team` with `role` (on all the team's applications).
    pub fn set_team_role(&mut self, team: TeamId, user: ItUserId, role: RoleId) {
        self.team_role.insert((team, user), role);
    }

    /// Removes the user's default IT role.
    pub fn clear_default_role(&mut self, user: ItUserId) {
        self.default_role.remove(&user);
    }

    /// The user's default IT role.
    pub fn default_role(&self, user: ItUserId) -> Option<RoleId> {
        self.default_role.get(&user).copied()
    }

    /// Records that `module` belongs to `app`.
    pub fn set_module_app(&mut self, module: ModuleId, app: AppId) {
        self.module_app.insert(module, app);
    }

    /// The application `module` belongs to.
    pub fn module_app(&self, module: ModuleId) -> Option<AppId> {
        self.module_app.get(&module).copied()
    }

    /// Sets or clears the team that owns `app`.
    pub fn set_app_team(&mut self, app: AppId, team: Option<TeamId>) {
        match team {
            Some(t) => self.app_team.insert(app, t),
            None => self.app_team.remove(&app),
        };
    }

    /// The team that owns `app`.
    pub fn app_team(&self, app: AppId) -> Option<TeamId> {
        self.app_team.get(&app).copied()
    }

    /// The applications owned by `team`.
    pub fn team_apps(&self, team: TeamId) -> Vec<AppId> {
        let mut apps: Vec<AppId> = self
            .app_team
            .iter()
            .filter(|(_, t)| **t == team)
            .map(|(a, _)| *a)
            .collect();
        apps.sort_unstable();
        apps
    }

    /// The members of `team` with their roles, sorted by user.
    pub fn team_members(&self, team: TeamId) -> Vec<(ItUserId, RoleId)> {
        let mut members: Vec<(ItUserId, RoleId)> = self
            .team_role
            .iter()
            .filter(|((t, _), _)| *t == team)
            .map(|((_, u), r)| (*u, *r))
            .collect();
        members.sort_unstable();
        members
    }

    /// Removes `user` from `team`.
    pub fn remove_team_role(&mut self, team: TeamId, user: ItUserId) {
        self.team_role.remove(&(team, user));
    }

    /// Sets a role's level in one environment; false for an unknown role or environment.
    pub fn set_role_level(&mut self, role: RoleId, environment: EnvId, level: Level) -> bool {
        match self
            .roles
            .get_mut(usize::from(role.0))
            .and_then(|r| r.levels.get_mut(usize::from(environment.0)))
        {
            Some(slot) => {
                *slot = level;
                true
            }
            None => false,
        }
    }

    /// The environments, in order.
    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// The IT roles.
    pub fn roles(&self) -> &[ItRole] {
        &self.roles
    }

    /// Sets an override, for one environment or (with `None`) for all.
    pub fn set_override(
        &mut self,
        user: ItUserId,
        scope: Scope,
        environment: Option<EnvId>,
        level: Level,
    ) {
        self.overrides.insert((user, scope, environment), level);
    }

    /// Removes an override.
    pub fn remove_override(&mut self, user: ItUserId, scope: Scope, environment: Option<EnvId>) {
        self.overrides.remove(&(user, scope, environment));
    }

    fn role_level(&self, role: RoleId, environment: EnvId) -> Level {
        self.roles
            .get(usize::from(role.0))
            .and_then(|r| r.levels.get(usize::from(environment.0)))
            .copied()
            .unwrap_or(Level::None)
    }

    fn scope_override(&self, user: ItUserId, scope: Scope, environment: EnvId) -> Option<Decision> {
        [Some(environment), None].into_iter().find_map(|env| {
            self.overrides
                .get(&(user, scope, env))
                .map(|&level| Decision {
                    level,
                    decider: Decider::Override {
                        scope,
                        environment: env,
                    },
                })
        })
    }

    /// The user's level on the application as a whole (steps 3 to 7 of the rule).
    pub fn application_level(&self, user: ItUserId, app: AppId, environment: EnvId) -> Decision {
        if let Some(d) = self.scope_override(user, Scope::Application(app), environment) {
            return d;
        }
        if let Some(&team) = self.app_team.get(&app) {
            if let Some(&role) = self.team_role.get(&(team, user)) {
                return Decision {
                    level: self.role_level(role, environment),
                    decider: Decider::TeamRole { team, role },
                };
            }
        }
        self.default_decision(user, environment)
    }

    /// Steps 6 and 7 of the rule: the user's default IT role, or nothing.
    fn default_decision(&self, user: ItUserId, environment: EnvId) -> Decision {
        match self.default_role.get(&user) {
            Some(&role) => Decision {
                level: self.role_level(role, environment),
                decider: Decider::DefaultRole(role),
            },
            None => Decision {
                level: Level::None,
                decider: Decider::NoGrant,
            },
        }
    }

    /// The user's level on the module in the environment, and the grant that decided it.
    pub fn explain_level(&self, user: ItUserId, module: ModuleId, environment: EnvId) -> Decision {
        if let Some(d) = self.scope_override(user, Scope::Module(module), environment) {
            return d;
        }
        match self.module_app.get(&module) {
            Some(&app) => self.application_level(user, app, environment),
            None => self.default_decision(user, environment),
        }
    }

    /// The user's effective level on the module in the environment.
    pub fn effective_level(&self, user: ItUserId, module: ModuleId, environment: EnvId) -> Level {
        self.explain_level(user, module, environment).level
    }

    /// Checks that `granter` may change permissions on `scope` in `environment` (every
    /// environment when `None`): they must hold `full` there.
    pub fn check_can_grant(
        &self,
        granter: ItUserId,
        scope: Scope,
        environment: Option<EnvId>,
    ) -> Result<(), GrantError> {
        let environments: Vec<EnvId> = match environment {
            Some(env) => vec![env],
            None => (0..self.environments.len())
                .filter_map(|i| u16::try_from(i).ok())
                .map(EnvId)
                .collect(),
        };
        for env in environments {
            let env_name = self
                .environments
                .get(usize::from(env.0))
                .ok_or(GrantError::Unknown("environment"))?;
            let (held, target) = match scope {
                Scope::Module(m) => (
                    self.effective_level(granter, m, env),
                    format!("module {}", m.0),
                ),
                Scope::Application(a) => (
                    self.application_level(granter, a, env).level,
                    format!("application {}", a.0),
                ),
            };
            if held < Level::Full {
                return Err(GrantError::NotAdministrator {
                    target,
                    environment: env_name.clone(),
                    held,
                });
            }
        }
        Ok(())
    }
}

/// The position of `name` among `names`, as a small id.
fn index_of<'a>(mut names: impl Iterator<Item = &'a str>, name: &str) -> Option<u16> {
    names
        .position(|n| n == name)
        .and_then(|i| u16::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: ItUserId = ItUserId(1);
    const M: ModuleId = ModuleId(10);
    const APP: AppId = AppId(20);
    const TEAM: TeamId = TeamId(30);

    fn model() -> (Permissions, EnvId, EnvId, EnvId) {
        let mut p = Permissions::with_defaults();
        p.set_ownership(M, APP, TEAM);
        let dev = p.environment("development").unwrap();
        let qa = p.environment("quality").unwrap();
        let prod = p.environment("production").unwrap();
        (p, dev, qa, prod)
    }

    #[test]
    fn team_members_are_listed_per_team_and_leave_with_their_role() {
        let (mut p, _, _, _) = model();
        let developer = p.role("developer").unwrap();
        let tester = p.role("tester").unwrap();
        p.set_team_role(TEAM, ItUserId(7), tester);
        p.set_team_role(TEAM, ALICE, developer);
        p.set_team_role(TeamId(31), ItUserId(8), developer);
        assert_eq!(
            p.team_members(TEAM),
            [(ALICE, developer), (ItUserId(7), tester)]
        );
        p.remove_team_role(TEAM, ALICE);
        assert_eq!(p.team_members(TEAM), [(ItUserId(7), tester)]);
        assert_eq!(p.team_members(TeamId(99)), []);
    }

    #[test]
    fn the_seed_platform_cases() {
        let (mut p, dev, _, prod) = model();
        let developer = p.role("developer").unwrap();
        let operations = p.role("operations").unwrap();
        let contractor = p.role("contractor").unwrap();
        let (dave, olga, carl) = (ItUserId(2), ItUserId(3), ItUserId(4));
        p.set_default_role(dave, developer);
        p.set_default_role(olga, operations);
        p.set_default_role(carl, contractor);
        // A developer deploys in development but only references in production.
        assert_eq!(p.effective_level(dave, M, dev), Level::Deploy);
        assert_eq!(p.effective_level(dave, M, prod), Level::Reference);
        // Operations deploy in production.
        assert_eq!(p.effective_level(olga, M, prod), Level::Deploy);
        // A contractor may reference the API module, and change the UI module he works on.
        let ui = ModuleId(11);
        p.set_ownership(ui, APP, TEAM);
        p.set_override(carl, Scope::Module(ui), Some(dev), Level::Change);
        assert_eq!(p.effective_level(carl, M, dev), Level::Reference);
        assert_eq!(
            p.explain_level(carl, ui, dev),
            Decision {
                level: Level::Change,
                decider: Decider::Override {
                    scope: Scope::Module(ui),
                    environment: Some(dev)
                },
            }
        );
        // An override lowers as well as raises: the team's developer loses the module.
        p.set_team_role(TEAM, dave, developer);
        p.set_override(dave, Scope::Module(M), None, Level::None);
        assert_eq!(p.effective_level(dave, M, dev), Level::None);
        assert_eq!(
            p.effective_level(dave, ui, dev),
            Level::Deploy,
            "other modules keep the team role"
        );
        // No grant at all.
        assert_eq!(
            p.explain_level(ItUserId(99), M, dev),
            Decision {
                level: Level::None,
                decider: Decider::NoGrant
            }
        );
    }

    /// The slow, obvious reading of the rule: list every grant that applies with its
    /// specificity, and take the most specific.
    fn reference(p: &Permissions, user: ItUserId, module: ModuleId, env: EnvId) -> Level {
        let mut candidates: Vec<(u8, Level)> = Vec::new();
        for (&(u, scope, e), &level) in &p.overrides {
            if u != user || e.is_some_and(|e| e != env) {
                continue;
            }
            let rank = match scope {
                Scope::Module(m) if m == module => 1,
                Scope::Application(a) if p.module_app.get(&module) == Some(&a) => 3,
                _ => continue,
            };
            candidates.push((rank + u8::from(e.is_none()), level));
        }
        for (&(team, u), &role) in &p.team_role {
            let owns = p.module_app.get(&module).and_then(|a| p.app_team.get(a)) == Some(&team);
            if u == user && owns {
                candidates.push((5, p.roles[usize::from(role.0)].levels[usize::from(env.0)]));
            }
        }
        if let Some(role) = p.default_role.get(&user) {
            candidates.push((6, p.roles[usize::from(role.0)].levels[usize::from(env.0)]));
        }
        candidates
            .into_iter()
            .min_by_key(|(rank, _)| *rank)
            .map_or(Level::None, |(_, l)| l)
    }

    #[test]
    fn exhaustive_small_cases_match_the_reference() {
        let levels = [Level::None, Level::Open, Level::Full];
        // absent, or present with one of the levels, for one environment or all.
        let override_options: Vec<Option<(Option<u16>, Level)>> = std::iter::once(None)
            .chain(
                [None, Some(0u16)]
                    .into_iter()
                    .flat_map(|e| levels.iter().map(move |&l| Some((e, l)))),
            )
            .collect();
        let role_options = [None, Some("developer"), Some("operations")];
        let mut checked = 0;
        for default_role in role_options {
            for team_role in role_options {
                for app_override in &override_options {
                    for module_override in &override_options {
                        let (mut p, ..) = model();
                        if let Some(r) = default_role {
                            p.set_default_role(ALICE, p.role(r).unwrap());
                        }
                        if let Some(r) = team_role {
                            p.set_team_role(TEAM, ALICE, p.role(r).unwrap());
                        }
                        if let Some((e, l)) = app_override {
                            p.set_override(ALICE, Scope::Application(APP), e.map(EnvId), *l);
                        }
                        if let Some((e, l)) = module_override {
                            p.set_override(ALICE, Scope::Module(M), e.map(EnvId), *l);
                        }
                        for env in 0..3 {
                            let env = EnvId(env);
                            assert_eq!(
                                p.effective_level(ALICE, M, env),
                                reference(&p, ALICE, M, env),
                                "default {default_role:?}, team {team_role:?}, app {app_override:?}, module {module_override:?}, env {env:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 3 * 7 * 7 * 3);
    }

    #[test]
    fn nobody_grants_what_they_do_not_administer() {
        let (mut p, dev, _, prod) = model();
        let admin = ItUserId(5);
        p.set_default_role(admin, p.role("administrator").unwrap());
        assert_eq!(
            p.check_can_grant(admin, Scope::Application(APP), None),
            Ok(())
        );
        // A team lead with `full` on their application in development only.
        let lead = ItUserId(6);
        p.set_default_role(lead, p.role("developer").unwrap());
        p.set_override(lead, Scope::Application(APP), Some(dev), Level::Full);
        assert_eq!(p.check_can_grant(lead, Scope::Module(M), Some(dev)), Ok(()));
        assert_eq!(
            p.check_can_grant(lead, Scope::Application(APP), Some(dev)),
            Ok(())
        );
        let err = p
            .check_can_grant(lead, Scope::Application(APP), Some(prod))
            .unwrap_err();
        assert!(err.to_string().contains("production"), "{err}");
        assert!(
            p.check_can_grant(lead, Scope::Application(APP), None)
                .is_err(),
            "all environments"
        );
        assert!(
            p.check_can_grant(lead, Scope::Application(AppId(21)), Some(dev))
                .is_err(),
            "another application"
        );
        // A module override taking `full` away from the lead wins over the application's.
        p.set_override(lead, Scope::Module(M), None, Level::Change);
        assert!(p
            .check_can_grant(lead, Scope::Module(M), Some(dev))
            .is_err());
        assert_eq!(
            p.check_can_grant(lead, Scope::Module(M), Some(EnvId(9))),
            Err(GrantError::Unknown("environment"))
        );
    }

    #[test]
    fn levels_are_ordered() {
        assert!(Level::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Level::Reference.to_string(), "reference");
    }
}
