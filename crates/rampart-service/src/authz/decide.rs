//! Decisions and reads of authorization data: checks, explanations, list filters, the roles
//! of a user, the model and a record's grants.
//!
//! Decisions are made from the node's in-memory index after [`AuthzEngine::fresh`] made sure
//! it holds every change committed before the request; records' owners are read from the
//! database with the record. Who may ask about whom is one rule ([`Asking`]).
//!
//! [`AuthzEngine::fresh`]: crate::authz::engine::AuthzEngine::fresh

use rampart_api::{
    ApplicationView, AuthzModel, CheckItem, CheckRequest, CheckResponse, CheckResult, EntityView,
    ExplainResponse, GrantView, GrantsQuery, GrantsResponse, HierarchyView, ListFilterRequest,
    ListFilterResponse, ModuleView, ReadableRecord, RolesQuery, RolesResponse,
};
use rampart_authz::acl::{
    AclReason, Actions, EntityId, HierarchyKind, Principal, PrincipalKind, RecordRef, NOBODY,
};
use rampart_authz::policy::Operation;
use rampart_authz::roles::{AppNum, RoleNum};
use rampart_authz::view::AuthzView;
use rampart_core::{Error, User, UserId};

use crate::authz::acl::action;
use crate::authz::engine::{parse_token, token};
use crate::state::AppState;

/// The most checks one request may carry.
pub const MAX_CHECKS: usize = 1_000;

/// `t` in Unix milliseconds, as authorization's times are kept.
pub(crate) fn millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Who may ask about whom. Deciding for oneself is open to every authenticated user (an
/// end user may check and explain their own access). Deciding for others (`check`) is for
/// IT users and services. Reading how access is built (the model, a record's grants, an
/// explanation, the records or roles of someone else) is for administrators and auditors:
/// it shows who reports to whom and who may see what.
enum Asking {
    /// Only about the caller.
    Themselves,
    /// Decisions about anyone.
    Decisions,
    /// Authorization data about anyone.
    Data,
}

async fn may_ask(state: &AppState, user: &User, asking: Asking) -> Result<(), Error> {
    match asking {
        Asking::Themselves => Ok(()),
        Asking::Decisions
            if crate::identity::may(state, user, Operation::AskDecisionsAboutOthers).await? =>
        {
            Ok(())
        }
        Asking::Decisions => Err(Error::Forbidden(
            "only IT users and services may ask for decisions about other users".into(),
        )),
        Asking::Data => {
            if crate::identity::may(state, user, Operation::ReadAuthorizationData).await? {
                Ok(())
            } else {
                Err(Error::Forbidden(
                    "reading authorization data about others needs an administrator or the \
                     `auditor` IT role"
                        .into(),
                ))
            }
        }
    }
}

/// Refuses unless the caller may ask about `users`: about themselves always, about anyone
/// else as `others` allows.
async fn may_ask_about<'a>(
    state: &AppState,
    user: &User,
    users: impl Iterator<Item = &'a str>,
    others: Asking,
) -> Result<(), Error> {
    let asking = if only_themselves(user, users) {
        Asking::Themselves
    } else {
        others
    };
    may_ask(state, user, asking).await
}

/// Whether every user a request names is the caller.
fn only_themselves<'a>(user: &User, mut users: impl Iterator<Item = &'a str>) -> bool {
    users.all(|u| UserId::parse(u, "user").is_ok_and(|id| id == user.id))
}

fn user_id(raw: &str, field: &str) -> Result<UserId, Error> {
    UserId::parse(raw, field)
}

fn check_users(checks: &[CheckItem]) -> impl Iterator<Item = &str> {
    checks.iter().map(|c| match c {
        CheckItem::Role { user, .. } | CheckItem::Record { user, .. } => user.as_str(),
    })
}

/// A check resolved against the view: numbers, plus what still needs the database.
enum Resolved {
    Role {
        user: u32,
        app: AppNum,
        role: RoleNum,
    },
    Record {
        user: u32,
        entity: EntityId,
        key: String,
        action: Actions,
    },
}

/// Check `index` of a request resolved against the view. Field names (`checks[3].user`)
/// are written only for a check that fails: a batch of valid checks allocates none.
fn resolve(view: &AuthzView, item: &CheckItem, index: usize) -> Result<Resolved, Error> {
    let at = |name: &str| format!("checks[{index}].{name}");
    let renamed = |name: &'static str| {
        move |e: Error| match e {
            Error::InvalidInput { reason, .. } => Error::InvalidInput {
                field: at(name),
                reason,
            },
            other => other,
        }
    };
    let user_of = |raw: &str| -> Result<u32, Error> {
        // A user the index holds nothing about (never placed in a hierarchy, granted or
        // made a member of anything) is decided as such: a deny, not an error.
        let id = user_id(raw, "user").map_err(renamed("user"))?;
        Ok(view.user_num(id).unwrap_or(NOBODY))
    };
    match item {
        CheckItem::Role {
            user,
            application,
            role,
        } => {
            let app = view.app(application).ok_or_else(|| {
                Error::invalid(
                    at("application"),
                    format!("no application named `{application}`"),
                )
            })?;
            let role = view.role(app, role).ok_or_else(|| {
                Error::invalid(
                    at("role"),
                    format!("application `{application}` has no role `{role}`"),
                )
            })?;
            Ok(Resolved::Role {
                user: user_of(user)?,
                app,
                role,
            })
        }
        CheckItem::Record {
            user,
            entity,
            record,
            action: a,
        } => {
            let e = view.entity(entity).ok_or_else(|| {
                Error::invalid(at("entity"), format!("no entity named `{entity}`"))
            })?;
            Ok(Resolved::Record {
                user: user_of(user)?,
                entity: e,
                key: record.clone(),
                action: action(a, "action").map_err(renamed("action"))?,
            })
        }
    }
}

async fn record_ref(
    state: &AppState,
    entity: EntityId,
    key: &str,
    at: &str,
) -> Result<RecordRef, Error> {
    let (num, owner) = state.store.acl_record(entity, key).await?.ok_or_else(|| {
        Error::invalid(
            format!("{at}.record"),
            format!("no record `{key}` in this entity"),
        )
    })?;
    Ok(RecordRef { num, owner })
}

fn freshness(raw: Option<&str>) -> Result<Option<u64>, Error> {
    raw.map(|t| parse_token(t, "at_least_as_fresh")).transpose()
}

/// Decides a batch of role and record checks (1 to 1,000) from the node's index, once it
/// holds every change committed before the request (or the revision the caller names).
/// Deciding for oneself is open to every user; for others, to IT users and services.
pub async fn check(
    state: &AppState,
    user: &User,
    req: &CheckRequest,
) -> Result<CheckResponse, Error> {
    may_ask_about(state, user, check_users(&req.checks), Asking::Decisions).await?;
    if req.checks.is_empty() || req.checks.len() > MAX_CHECKS {
        return Err(Error::invalid(
            "checks",
            format!("give 1 to {MAX_CHECKS} checks"),
        ));
    }
    let revision = state
        .authz
        .fresh(freshness(req.at_least_as_fresh.as_deref())?)
        .await?;
    let now = millis(state.clock.now());
    let resolved: Vec<Resolved> = {
        let view = state.authz.view();
        req.checks
            .iter()
            .enumerate()
            .map(|(i, c)| resolve(&view, c, i))
            .collect::<Result<_, _>>()?
    };
    // Records' owners come from the database, outside the index lock: one query per entity.
    let mut wanted: std::collections::HashMap<EntityId, Vec<&str>> =
        std::collections::HashMap::new();
    for r in &resolved {
        if let Resolved::Record { entity, key, .. } = r {
            wanted.entry(*entity).or_default().push(key.as_str());
        }
    }
    let mut facts = std::collections::HashMap::new();
    for (entity, keys) in wanted {
        facts.insert(entity, state.store.acl_records(entity, &keys).await?);
    }
    let mut records = Vec::with_capacity(resolved.len());
    for (i, r) in resolved.iter().enumerate() {
        records.push(match r {
            Resolved::Record { entity, key, .. } => {
                let (num, owner) = facts
                    .get(entity)
                    .and_then(|f| f.get(key))
                    .copied()
                    .ok_or_else(|| {
                        Error::invalid(
                            format!("checks[{i}].record"),
                            format!("no record `{key}` in this entity"),
                        )
                    })?;
                Some(RecordRef { num, owner })
            }
            Resolved::Role { .. } => None,
        });
    }
    let view = state.authz.view();
    let results = resolved
        .iter()
        .zip(records)
        .map(|(r, rec)| CheckResult {
            allowed: match (r, rec) {
                (Resolved::Role { user, app, role }, _) => view
                    .roles
                    .check(&view.acl, *user, *app, *role, now)
                    .is_some(),
                (
                    Resolved::Record {
                        user,
                        entity,
                        action,
                        ..
                    },
                    Some(rec),
                ) => view.acl.can(*user, *action, *entity, rec),
                (Resolved::Record { .. }, None) => false,
            },
        })
        .collect();
    Ok(CheckResponse {
        revision: token(revision),
        results,
    })
}

/// Decides one check and says which rule and path decided it. Explaining someone else's
/// access is reading authorization data: administrators and auditors.
pub async fn explain(
    state: &AppState,
    user: &User,
    req: &CheckRequest,
) -> Result<ExplainResponse, Error> {
    may_ask_about(state, user, check_users(&req.checks), Asking::Data).await?;
    let [item] = req.checks.as_slice() else {
        return Err(Error::invalid("checks", "explain takes exactly one check"));
    };
    let revision = state
        .authz
        .fresh(freshness(req.at_least_as_fresh.as_deref())?)
        .await?;
    let now = millis(state.clock.now());
    let resolved = resolve(&state.authz.view(), item, 0)?;
    let rec = match &resolved {
        Resolved::Record { entity, key, .. } => {
            Some(record_ref(state, *entity, key, "checks[0]").await?)
        }
        Resolved::Role { .. } => None,
    };
    let view = state.authz.view();
    let mut out = ExplainResponse {
        revision: token(revision),
        allowed: false,
        rule: "none".into(),
        reason: String::new(),
        path: Vec::new(),
        principal: None,
        checked: Vec::new(),
    };
    match (resolved, rec) {
        (Resolved::Role { user, app, role }, _) => {
            match view.roles.check(&view.acl, user, app, role, now) {
                Some(grant) => {
                    let who = view.describe(grant.principal);
                    out.allowed = true;
                    out.rule = "role_grant".into();
                    out.reason = match grant.until {
                        Some(u) => format!("role granted to {who} until {}", fmt_millis(u)),
                        None => format!("role granted to {who}"),
                    };
                    out.principal = Some(who);
                }
                None => {
                    out.reason =
                        "no unexpired grant of this role to the user or any of their groups".into();
                    out.checked = vec!["user".into(), "groups".into()];
                }
            }
        }
        (
            Resolved::Record {
                user,
                entity,
                action,
                ..
            },
            Some(rec),
        ) => {
            let why = view
                .acl
                .explain(user, action, entity, rec)
                .map_err(|e| Error::Internal(e.to_string()))?;
            out.allowed = why.allowed();
            match why {
                AclReason::Public => {
                    out.rule = "public".into();
                    out.reason = format!("the entity is public for {action}");
                }
                AclReason::Owner { path, .. } => {
                    out.rule = "owner".into();
                    out.path = path
                        .iter()
                        .map(|&n| view.describe(Principal::user(n)))
                        .collect();
                    out.reason = if path.len() <= 1 {
                        "the user owns the record".into()
                    } else {
                        format!("the record's owner is {} level(s) below the user in the reports-to hierarchy", path.len() - 1)
                    };
                }
                AclReason::Grant {
                    principal,
                    actions,
                    path,
                } => {
                    let who = view.describe(principal);
                    out.rule = "grant".into();
                    if let rampart_authz::acl::PrincipalKind::Node(h, _) = principal.kind() {
                        out.path = path
                            .iter()
                            .map(|&n| view.describe(Principal::node(h, n)))
                            .collect();
                    }
                    out.reason = format!("{who} is granted {actions} on the record");
                    out.principal = Some(who);
                }
                AclReason::Denied { checked } => {
                    out.reason = format!("no rule allows {action}: checked {}", checked.join(", "));
                    out.checked = checked.into_iter().map(String::from).collect();
                }
            }
        }
        (Resolved::Record { .. }, None) => {}
    }
    Ok(out)
}

fn fmt_millis(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A page of the records of an entity a user may read, filtered inside the database.
pub async fn list_filter(
    state: &AppState,
    user: &User,
    req: &ListFilterRequest,
) -> Result<ListFilterResponse, Error> {
    may_ask_about(
        state,
        user,
        std::iter::once(req.user.as_str()),
        Asking::Data,
    )
    .await?;
    let limit = req.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 500"));
    }
    let revision = state
        .authz
        .fresh(freshness(req.at_least_as_fresh.as_deref())?)
        .await?;
    let filter = {
        let view = state.authz.view();
        let id = user_id(&req.user, "user")?;
        let e = view
            .entity(&req.entity)
            .ok_or_else(|| Error::invalid("entity", format!("no entity named `{}`", req.entity)))?;
        match view.user_num(id) {
            Some(user) => view.list_filter(e, user, i64::from(limit))?,
            // Someone the index holds nothing about reads what is public, nothing more.
            None => view.list_filter_for_nobody(e)?,
        }
    };
    let mut rows = state
        .store
        .readable_records(&filter, req.cursor.as_deref(), i64::from(limit) + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let total = if req.count {
        Some(state.store.count_readable(&filter).await?)
    } else {
        None
    };
    let view = state.authz.view();
    let items: Vec<ReadableRecord> = rows
        .into_iter()
        .map(|(key, owner)| ReadableRecord {
            key,
            owner: owner
                .and_then(|o| view.user_by_num(o))
                .map(|u| u.to_string()),
        })
        .collect();
    Ok(ListFilterResponse {
        revision: token(revision),
        next_cursor: if more {
            items.last().map(|r| r.key.clone())
        } else {
            None
        },
        items,
        total,
        strategy: if filter.walk_in_order {
            "walk"
        } else {
            "collect"
        }
        .to_owned(),
    })
}

/// The roles a user holds in an application now (directly or through groups).
pub async fn roles(state: &AppState, user: &User, q: &RolesQuery) -> Result<RolesResponse, Error> {
    may_ask_about(state, user, std::iter::once(q.user.as_str()), Asking::Data).await?;
    let revision = state.authz.fresh(None).await?;
    let now = millis(state.clock.now());
    let view = state.authz.view();
    let id = user_id(&q.user, "user")?;
    let app = view.app(&q.application).ok_or_else(|| {
        Error::invalid(
            "application",
            format!("no application named `{}`", q.application),
        )
    })?;
    let roles = match view.user_num(id) {
        Some(user) => view
            .roles
            .roles_of(&view.acl, user, app, now)
            .into_iter()
            .filter_map(|r| view.role_name(r).map(String::from))
            .collect(),
        None => Vec::new(),
    };
    Ok(RolesResponse {
        revision: token(revision),
        roles,
    })
}

/// What authorization knows, by name: applications and roles, groups, hierarchies,
/// entities, teams, modules and environments (administrators and auditors).
pub async fn model(state: &AppState, user: &User) -> Result<AuthzModel, Error> {
    may_ask(state, user, Asking::Data).await?;
    let revision = state.authz.fresh(None).await?;
    let view = state.authz.view();
    Ok(AuthzModel {
        revision: token(revision),
        applications: view
            .applications()
            .into_iter()
            .map(|(name, roles)| ApplicationView { name, roles })
            .collect(),
        groups: view.group_names(),
        hierarchies: view
            .hierarchies()
            .into_iter()
            .map(|(name, kind, nodes)| HierarchyView {
                name,
                kind: match kind {
                    HierarchyKind::ReportsTo => "reports_to",
                    HierarchyKind::Units => "units",
                }
                .to_owned(),
                nodes,
            })
            .collect(),
        entities: view
            .entities()
            .into_iter()
            .map(|(name, rule, records, grants)| EntityView {
                name,
                public: rule.public.names().into_iter().map(str::to_owned).collect(),
                owner_hierarchy: rule
                    .owner
                    .and_then(|h| view.hierarchy_name(h))
                    .map(String::from),
                grants: rule.grants,
                records,
                explicit_grants: grants,
            })
            .collect(),
        teams: view.team_names(),
        modules: view
            .module_list()
            .into_iter()
            .map(|(name, application)| ModuleView { name, application })
            .collect(),
        environments: view.it.environments().to_vec(),
    })
}

/// The explicit grants on one record (administrators and auditors).
pub async fn grants(
    state: &AppState,
    user: &User,
    q: &GrantsQuery,
) -> Result<GrantsResponse, Error> {
    may_ask(state, user, Asking::Data).await?;
    let revision = state.authz.fresh(None).await?;
    let entity = state
        .authz
        .view()
        .entity(&q.entity)
        .ok_or_else(|| Error::invalid("entity", format!("no entity named `{}`", q.entity)))?;
    let (num, _) = state
        .store
        .acl_record(entity, &q.record)
        .await?
        .ok_or_else(|| Error::invalid("record", format!("no record `{}`", q.record)))?;
    let rows = state.store.record_grants(entity, num).await?;
    let view = state.authz.view();
    Ok(GrantsResponse {
        revision: token(revision),
        grants: rows
            .into_iter()
            .map(|(p, a)| GrantView {
                principal: view.describe(p),
                actions: a.names().into_iter().map(str::to_owned).collect(),
            })
            .collect(),
    })
}

/// One grant of an application role: to whom, until when, and whether it still counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMember {
    /// The role.
    pub role: String,
    /// The grantee as [`AuthzView::describe`] names it (`user:<id>`, `group:<name>`).
    pub principal: String,
    /// The user, when the grantee is one.
    pub user: Option<UserId>,
    /// The group, when the grantee is one.
    pub group: Option<String>,
    /// When the grant ends, if it does.
    pub until: Option<time::OffsetDateTime>,
    /// Whether it still counts now (an ended grant stays listed until revoked).
    pub live: bool,
}

/// Every grant of `application`'s roles, ended ones included, by role then grantee
/// (administrators and auditors, like the model it belongs to).
pub async fn role_members(
    state: &AppState,
    user: &User,
    application: &str,
) -> Result<Vec<RoleMember>, Error> {
    may_ask(state, user, Asking::Data).await?;
    state.authz.fresh(None).await?;
    let now = millis(state.clock.now());
    let view = state.authz.view();
    let app = view.app(application).ok_or_else(|| {
        Error::invalid(
            "application",
            format!("no application named `{application}`"),
        )
    })?;
    Ok(view
        .roles
        .members(app)
        .into_iter()
        .map(|(role, p, until)| {
            let (user, group) = match p.kind() {
                PrincipalKind::User(n) => (view.user_by_num(n), None),
                PrincipalKind::Group(n) => (None, view.group_name(n).map(str::to_owned)),
                PrincipalKind::Node(..) => (None, None),
            };
            RoleMember {
                role: view.role_name(role).unwrap_or("?").to_owned(),
                principal: view.describe(p),
                user,
                group,
                until: until.and_then(|ms| {
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
                }),
                live: until.is_none_or(|u| now < u),
            }
        })
        .collect())
}
