//! The verbs of `/Users` and `/Groups` by resource type, so that one HTTP handler per verb
//! serves both: each call goes to [`users`](super::users) or [`groups`](super::groups).

use rampart_scim::project::Projection;
use rampart_scim::schema::Schema;
use rampart_scim::ScimError;
use serde_json::Value;

use super::users::Tagged;
use super::{groups, users, ListQuery, ScimCaller};
use crate::state::AppState;

/// The resource type an endpoint name (`Users`, `Groups`) serves; other names are no SCIM
/// endpoint (404, before anything else is looked at).
pub fn endpoint(name: &str) -> Result<Schema, ScimError> {
    Schema::of_endpoint(name).ok_or_else(|| ScimError::not_found("no such SCIM endpoint"))
}

/// `GET /{resource}`.
pub async fn list(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    q: &ListQuery,
) -> Result<Value, ScimError> {
    match kind {
        Schema::Group => groups::list(state, caller, q).await,
        Schema::User => users::list(state, caller, q).await,
    }
}

/// `GET /{resource}/{id}`.
pub async fn get(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    id: &str,
    projection: &Projection,
) -> Result<Tagged, ScimError> {
    match kind {
        Schema::Group => groups::get(state, caller, id, projection).await,
        Schema::User => users::get(state, caller, id, projection).await,
    }
}

/// `POST /{resource}`.
pub async fn create(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    body: &Value,
) -> Result<Tagged, ScimError> {
    match kind {
        Schema::Group => groups::create(state, caller, body).await,
        Schema::User => users::create(state, caller, body).await,
    }
}

/// `PUT /{resource}/{id}`.
pub async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    match kind {
        Schema::Group => groups::replace(state, caller, id, body, if_match).await,
        Schema::User => users::replace(state, caller, id, body, if_match).await,
    }
}

/// `PATCH /{resource}/{id}`.
pub async fn patch(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Tagged, ScimError> {
    match kind {
        Schema::Group => groups::patch(state, caller, id, body, if_match).await,
        Schema::User => users::patch(state, caller, id, body, if_match).await,
    }
}

/// `DELETE /{resource}/{id}`.
pub async fn delete(
    state: &AppState,
    caller: &ScimCaller,
    kind: Schema,
    id: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    match kind {
        Schema::Group => groups::delete(state, caller, id, if_match).await,
        Schema::User => users::delete(state, caller, id, if_match).await,
    }
}
