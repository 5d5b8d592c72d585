//! The `/Groups` use cases. A group's members are users of the same provider; after every
//! change the members who joined or left get the roles the provider's group mappings give
//! their groups now (`providers::login::apply_roles`, the authorization write path), so the
//! next decision sees them.

use rampart_core::UserId;
use rampart_scim::filter::get_ci;
use rampart_scim::project::Projection;
use rampart_scim::schema::{self, Schema};
use rampart_scim::ScimError;
use rampart_store::{ScimGroup, ScimGroupWrite, Written};
use serde_json::{json, Map, Value};

use super::users::Tagged;
use super::{check_if_match, internal, not_found, rfc3339, stale, ListQuery, ScimCaller};
use crate::state::AppState;

fn etag(g: &ScimGroup) -> String {
    format!("W/\"{}\"", g.version)
}

fn render(caller: &ScimCaller, g: &ScimGroup) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::GROUP_URN]));
    out.insert("id".into(), g.id.clone().into());
    out.insert("displayName".into(), g.display_name.clone().into());
    if let Some(x) = &g.external_id {
        out.insert("externalId".into(), x.clone().into());
    }
    if !g.members.is_empty() {
        let members = g
            .members
            .iter()
            // `display` and `type` are the server's to say but echo nothing a client wrote;
            // a member is its id and its URI (the user's name is one GET away).
            .map(|(id, _)| {
                json!({
                    "value": id.to_string(),
                    "$ref": format!("{}/Users/{id}", caller.base),
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": rfc3339(g.created_at),
            "lastModified": rfc3339(g.updated_at),
            "location": format!("{}/Groups/{}", caller.base, g.id),
            "version": etag(g),
        }),
    );
    Value::Object(out)
}

async fn find(state: &AppState, caller: &ScimCaller, id: &str) -> Result<ScimGroup, ScimError> {
    state
        .store
        .scim_group(&caller.provider, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found("group"))
}

/// Every group of the caller's provider, as SCIM shows them.
pub(crate) async fn all(state: &AppState, caller: &ScimCaller) -> Result<Vec<Value>, ScimError> {
    let groups = state
        .store
        .scim_groups(&caller.provider)
        .await
        .map_err(internal)?;
    Ok(groups.iter().map(|g| render(caller, g)).collect())
}

/// The `count` groups after the first `offset`, rendered, and how many groups the provider
/// has (`Store::scim_groups_page`).
pub(crate) async fn page(
    state: &AppState,
    caller: &ScimCaller,
    offset: usize,
    count: usize,
) -> Result<(Vec<Value>, u64), ScimError> {
    let page = state
        .store
        .scim_groups_page(&caller.provider, offset, count)
        .await
        .map_err(internal)?;
    Ok((
        page.groups.iter().map(|g| render(caller, g)).collect(),
        page.total,
    ))
}

/// `GET /Groups`. A filter with an equality on `id`, `displayName` or `externalId`
/// (`rampart_scim::lookup`) reads only the groups it can match; a list with no filter and
/// no `sortBy` reads its page alone (`Store::scim_groups_page`); any other reads every
/// group.
pub async fn list(
    state: &AppState,
    caller: &ScimCaller,
    q: &ListQuery,
) -> Result<Value, ScimError> {
    if let Some(at) = super::plain_page(Schema::Group, q)? {
        let (found, total) = page(state, caller, at.offset(), at.count).await?;
        return Ok(at.list(found, total));
    }
    let Some(by) = super::lookup(Schema::Group, q)? else {
        return super::select(Schema::Group, all(state, caller).await?, q);
    };
    let groups = state
        .store
        .scim_groups_by(&caller.provider, &by)
        .await
        .map_err(internal)?;
    let found = groups.iter().map(|g| render(caller, g)).collect();
    super::select(Schema::Group, found, q)
}

/// `GET /Groups/{id}`.
pub async fn get(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    projection: &Projection,
) -> Result<Tagged, ScimError> {
    let g = find(state, caller, id).await?;
    Ok(Tagged {
        resource: projection.apply(render(caller, &g)),
        etag: etag(&g),
    })
}

fn to_write(caller: &ScimCaller, body: &Value) -> Result<ScimGroupWrite, ScimError> {
    let canonical = schema::validate(Schema::Group, body)?;
    let display_name = canonical
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if display_name.trim().is_empty() {
        return Err(ScimError::value(
            "displayName must name the group: it may not be empty or only spaces",
        ));
    }
    rampart_core::display_text("displayName", &display_name, 200)
        .map_err(|e| ScimError::value(e.to_string()))?;
    let mut members = Vec::new();
    for m in canonical
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let value = get_ci(m, "value")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::value("every member needs a value, the user's id"))?;
        let id = UserId::parse(value, "members").map_err(|_| {
            ScimError::value(format!("members: {value} is not a user of this provider"))
        })?;
        if !members.contains(&id) {
            members.push(id);
        }
    }
    Ok(ScimGroupWrite {
        user_provider: caller.provider.clone(),
        display_name,
        external_id: canonical
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        members,
    })
}

async fn write(
    state: &AppState,
    caller: &ScimCaller,
    id: Option<&str>,
    expect: Option<i64>,
    body: &Value,
) -> Result<Tagged, ScimError> {
    let w = to_write(caller, body)?;
    let written = state
        .store
        .scim_write_group(id, expect, &w, state.clock.now(), &caller.audit)
        .await
        .map_err(|e| match e {
            rampart_core::Error::InvalidInput { reason, .. } => {
                ScimError::value(format!("members: {reason}"))
            }
            other => internal(other),
        })?;
    let Written::Done((group, changed)) = written else {
        return Err(stale());
    };
    let renamed = id.is_some();
    let everyone: Vec<UserId> = if renamed {
        group
            .members
            .iter()
            .map(|(u, _)| *u)
            .chain(changed)
            .collect()
    } else {
        changed
    };
    refresh_roles(state, caller, &everyone).await?;
    Ok(Tagged {
        resource: render(caller, &group),
        etag: etag(&group),
    })
}

/// Gives each of `users` the roles their groups map to now.
pub(crate) async fn refresh_roles(
    state: &AppState,
    caller: &ScimCaller,
    users: &[UserId],
) -> Result<(), ScimError> {
    if caller.mappings.is_empty() {
        return Ok(());
    }
    for id in users {
        let Some(user) = state.store.user(*id).await.map_err(internal)? else {
            continue;
        };
        let names = state
            .store
            .scim_group_names_of(*id)
            .await
            .map_err(internal)?;
        crate::providers::login::apply_roles(
            state,
            &user,
            &caller.mappings,
            &names,
            &caller.provider,
        )
        .await
        .map_err(internal)?;
    }
    Ok(())
}

/// `POST /Groups`.
pub async fn create(
    state: &AppState,
    caller: &ScimCaller,
    body: &Value,
) -> Result<Tagged, ScimError> {
    write(state, caller, None, None, body).await
}

/// `PUT /Groups/{id}`.
pub async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    let current = find(state, caller, id).await?;
    check_if_match(if_match, &etag(&current))?;
    write(state, caller, Some(id), Some(current.version), body).await
}

/// `PATCH /Groups/{id}`.
pub async fn patch(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    let current = find(state, caller, id).await?;
    check_if_match(if_match, &etag(&current))?;
    let whole = super::patched(Schema::Group, &render(caller, &current), body)?;
    write(state, caller, Some(id), Some(current.version), &whole).await
}

/// `DELETE /Groups/{id}`: the group goes, and its former members lose what it gave them.
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
        .scim_delete_group(
            &caller.provider,
            id,
            Some(current.version),
            state.clock.now(),
            &caller.audit,
        )
        .await
        .map_err(internal)?;
    let Written::Done(former) = written else {
        return Err(stale());
    };
    refresh_roles(state, caller, &former).await
}
