//! The `/Users` use cases: list (filter, sort, page), read, create, replace, patch and
//! delete a provider's users. `active = false` disables the user and ends every session in
//! the same transaction; `DELETE` removes the profile with its sessions.

use std::collections::HashMap;

use rampart_core::{display_text, Email, UserId, Username};
use rampart_scim::filter::get_ci;
use rampart_scim::project::Projection;
use rampart_scim::schema::{self, Schema};
use rampart_scim::ScimError;
use rampart_store::{ScimGroup, ScimUser, ScimUserWrite, Written};
use serde_json::{json, Map, Value};

use super::{check_if_match, internal, kind_for, not_found, rfc3339, stale, ListQuery, ScimCaller};
use crate::state::AppState;

/// What the `users` columns hold, so the stored attributes leave them out. (`active` is
/// kept in both: the column decides, the attributes say whether a client set it at all.)
const IN_COLUMNS: [&str; 2] = ["userName", "displayName"];

/// A resource with its ETag.
pub struct Tagged {
    /// The resource as JSON.
    pub resource: Value,
    /// Its ETag, `W/"…"`.
    pub etag: String,
}

/// The ETag of a user: the SCIM version and the profile's last change (a sign-in through
/// the provider may change the profile too).
pub(crate) fn etag(u: &ScimUser) -> String {
    format!(
        "W/\"{}-{}\"",
        u.version,
        u.user.updated_at.unix_timestamp_nanos() / 1_000_000
    )
}

/// The user as SCIM shows it; `member_of` are the groups the user belongs to.
pub(crate) fn render(caller: &ScimCaller, u: &ScimUser, member_of: &[&ScimGroup]) -> Value {
    let stored: Option<Map<String, Value>> = u
        .attributes
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok());
    // A disabled user is `active: false` whoever disabled them; an enabled one shows
    // `active: true` unless a SCIM client left the attribute out.
    let active_set = stored.as_ref().is_none_or(|s| s.contains_key("active"));
    let mut out = stored.unwrap_or_default();
    let mut schemas = vec![Value::from(schema::USER_URN)];
    if let Some(Value::Object(ext)) = out.get_mut(schema::ENTERPRISE_URN) {
        schemas.push(schema::ENTERPRISE_URN.into());
        // The manager's reference is where this service provider keeps them.
        if let Some(Value::Object(manager)) = ext.get_mut("manager") {
            if let Some(id) = manager
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                manager.insert("$ref".into(), format!("{}/Users/{id}", caller.base).into());
            }
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), u.user.id.to_string().into());
    out.insert("userName".into(), u.user.username.clone().into());
    if u.user.disabled || active_set {
        out.insert("active".into(), (!u.user.disabled).into());
    } else {
        out.remove("active");
    }
    if let Some(d) = &u.user.display_name {
        out.insert("displayName".into(), d.clone().into());
    }
    if !out.contains_key("emails") {
        if let Some(e) = &u.user.email {
            out.insert("emails".into(), json!([{"value": e, "primary": true}]));
        }
    }
    let member_of: Vec<Value> = member_of
        .iter()
        .map(|g| {
            json!({
                "value": g.id,
                "display": g.display_name,
                "$ref": format!("{}/Groups/{}", caller.base, g.id),
                "type": "direct",
            })
        })
        .collect();
    if !member_of.is_empty() {
        out.insert("groups".into(), Value::Array(member_of));
    }
    let location = format!("{}/Users/{}", caller.base, u.user.id);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": rfc3339(u.user.created_at),
            "lastModified": rfc3339(u.user.updated_at),
            "location": location,
            "version": etag(u),
        }),
    );
    Value::Object(out)
}

/// The user rendered with the groups they belong to (read for them alone).
async fn rendered(state: &AppState, caller: &ScimCaller, u: &ScimUser) -> Result<Value, ScimError> {
    let groups = state
        .store
        .scim_groups_of(&caller.provider, u.user.id)
        .await
        .map_err(internal)?;
    let member_of: Vec<&ScimGroup> = groups.iter().collect();
    Ok(render(caller, u, &member_of))
}

/// `users` rendered with their groups: every group of the provider read once, and indexed
/// by member.
async fn rendered_all(
    state: &AppState,
    caller: &ScimCaller,
    users: &[ScimUser],
) -> Result<Vec<Value>, ScimError> {
    let groups = state
        .store
        .scim_groups(&caller.provider)
        .await
        .map_err(internal)?;
    Ok(rendered_with(caller, users, &groups))
}

/// `users` rendered, each with the groups of `groups` that list them as a member.
fn rendered_with(caller: &ScimCaller, users: &[ScimUser], groups: &[ScimGroup]) -> Vec<Value> {
    let mut member_of: HashMap<UserId, Vec<&ScimGroup>> = HashMap::new();
    for g in groups {
        for (m, _) in &g.members {
            member_of.entry(*m).or_default().push(g);
        }
    }
    users
        .iter()
        .map(|u| {
            render(
                caller,
                u,
                member_of.get(&u.user.id).map_or(&[], Vec::as_slice),
            )
        })
        .collect()
}

fn parse_id(id: &str) -> Result<UserId, ScimError> {
    UserId::parse(id, "id").map_err(|_| not_found("user"))
}

async fn find(state: &AppState, caller: &ScimCaller, id: &str) -> Result<ScimUser, ScimError> {
    let id = parse_id(id)?;
    state
        .store
        .scim_user(&caller.provider, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found("user"))
}

/// Every user of the caller's provider, as SCIM shows them.
pub(crate) async fn all(state: &AppState, caller: &ScimCaller) -> Result<Vec<Value>, ScimError> {
    let users = state
        .store
        .scim_users(&caller.provider)
        .await
        .map_err(internal)?;
    rendered_all(state, caller, &users).await
}

/// The `count` users after the first `offset`, rendered with their groups, and how many
/// users the provider has (`Store::scim_users_page`).
pub(crate) async fn page(
    state: &AppState,
    caller: &ScimCaller,
    offset: usize,
    count: usize,
) -> Result<(Vec<Value>, u64), ScimError> {
    let page = state
        .store
        .scim_users_page(&caller.provider, offset, count)
        .await
        .map_err(internal)?;
    Ok((rendered_with(caller, &page.users, &page.groups), page.total))
}

/// `GET /Users`. A filter with an equality on `id`, `userName` or `externalId`
/// (`rampart_scim::lookup`) reads only the users it can match, and their groups; a list
/// with no filter and no `sortBy` reads its page alone (`Store::scim_users_page`); any
/// other reads every user.
pub async fn list(
    state: &AppState,
    caller: &ScimCaller,
    q: &ListQuery,
) -> Result<Value, ScimError> {
    if let Some(at) = super::plain_page(Schema::User, q)? {
        let (found, total) = page(state, caller, at.offset(), at.count).await?;
        return Ok(at.list(found, total));
    }
    let Some(by) = super::lookup(Schema::User, q)? else {
        return super::select(Schema::User, all(state, caller).await?, q);
    };
    let users = state
        .store
        .scim_users_by(&caller.provider, &by)
        .await
        .map_err(internal)?;
    let mut found = Vec::with_capacity(users.len());
    for u in &users {
        found.push(rendered(state, caller, u).await?);
    }
    super::select(Schema::User, found, q)
}

/// `GET /Users/{id}`.
pub async fn get(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    projection: &Projection,
) -> Result<Tagged, ScimError> {
    let u = find(state, caller, id).await?;
    Ok(Tagged {
        resource: projection.apply(rendered(state, caller, &u).await?),
        etag: etag(&u),
    })
}

/// A checked resource as the store writes it.
fn to_write(
    caller: &ScimCaller,
    body: &Value,
) -> Result<(ScimUserWrite, rampart_core::Provider), ScimError> {
    let canonical = schema::validate(Schema::User, body)?;
    let text = |k: &str| canonical.get(k).and_then(Value::as_str);
    let user_name = text("userName").unwrap_or_default();
    let username =
        Username::parse(user_name).map_err(|e| ScimError::value(format!("userName: {e}")))?;
    let display_name = text("displayName").map(str::to_owned);
    if let Some(d) = &display_name {
        display_text("displayName", d, 200).map_err(|e| ScimError::value(e.to_string()))?;
    }
    let emails = canonical.get("emails").and_then(Value::as_array);
    let chosen = emails.and_then(|list| {
        list.iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or(list.first())
    });
    let email = match chosen
        .and_then(|e| get_ci(e, "value"))
        .and_then(Value::as_str)
    {
        Some(e) => Some(Email::parse(e).map_err(|e| ScimError::value(format!("emails: {e}")))?),
        None => None,
    };
    let disabled = canonical.get("active") == Some(&Value::Bool(false));
    let kind = kind_for(caller, text("userType"));
    let mut stored = canonical.clone();
    for k in IN_COLUMNS {
        stored.remove(k);
    }
    let attributes = serde_json::to_string(&stored)
        .map_err(|e| internal(rampart_core::Error::Internal(e.to_string())))?;
    Ok((
        ScimUserWrite {
            user_provider: caller.provider.clone(),
            provider: kind,
            username,
            display_name,
            email,
            disabled,
            attributes,
        },
        kind,
    ))
}

/// `POST /Users`.
pub async fn create(
    state: &AppState,
    caller: &ScimCaller,
    body: &Value,
) -> Result<Tagged, ScimError> {
    let (w, _) = to_write(caller, body)?;
    let u = state
        .store
        .scim_create_user(&w, state.clock.now(), &caller.audit)
        .await
        .map_err(internal)?;
    Ok(Tagged {
        resource: render(caller, &u, &[]),
        etag: etag(&u),
    })
}

/// `PUT /Users/{id}`: the whole resource replaced, if still at `If-Match`.
pub async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    let current = find(state, caller, id).await?;
    check_if_match(if_match, &etag(&current))?;
    write(state, caller, current, body).await
}

/// `PATCH /Users/{id}`: the operations applied to the current resource, all or none.
pub async fn patch(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    let current = find(state, caller, id).await?;
    check_if_match(if_match, &etag(&current))?;
    let whole = super::patched(Schema::User, &render(caller, &current, &[]), body)?;
    write(state, caller, current, &whole).await
}

async fn write(
    state: &AppState,
    caller: &ScimCaller,
    current: ScimUser,
    body: &Value,
) -> Result<Tagged, ScimError> {
    let (w, kind) = to_write(caller, body)?;
    if kind != current.user.provider {
        return Err(ScimError::mutability(format!(
            "the user is of the kind {}; userType cannot make them another kind",
            current.user.provider
        )));
    }
    let written = state
        .store
        .scim_update_user(
            current.user.id,
            current.version,
            current.user.updated_at,
            &w,
            state.clock.now(),
            &caller.audit,
        )
        .await
        .map_err(internal)?;
    let Written::Done(u) = written else {
        return Err(stale());
    };
    Ok(Tagged {
        resource: rendered(state, caller, &u).await?,
        etag: etag(&u),
    })
}

/// `DELETE /Users/{id}`: the profile, its sessions and memberships removed; the roles its
/// groups gave go with it.
pub async fn delete(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let current = find(state, caller, id).await?;
    check_if_match(if_match, &etag(&current))?;
    let written = state
        .store
        .scim_delete_user(
            &caller.provider,
            current.user.id,
            Some((current.version, current.user.updated_at)),
            state.clock.now(),
            &caller.audit,
        )
        .await
        .map_err(internal)?;
    if let Written::Stale = written {
        return Err(stale());
    }
    state.authz.catch_up().await.map_err(internal)?;
    Ok(())
}
