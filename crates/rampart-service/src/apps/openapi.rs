//! An application's OpenAPI document as it runs in an environment, for the caller: the data
//! API, queries and exposed actions their roles open (`rampart_apps::openapi`), with the
//! model's types.

use rampart_core::Error;
use serde_json::Value as Json;

use super::data::holds_any;
use crate::caller::Caller;
use crate::state::AppState;

/// The document of `application` in `environment` for `caller`; 404 when no such
/// application runs there.
pub async fn document(
    state: &AppState,
    caller: &Caller,
    environment: &str,
    application: &str,
) -> Result<Json, Error> {
    let not_found = Error::NotFound {
        what: "application",
    };
    state.authz.fresh_since(caller.arrived, None).await?;
    if state.authz.view().it.environment(environment).is_none() {
        return Err(not_found);
    }
    let env = state.apps.env(state, environment, caller.arrived).await?;
    if !env.has_application(application) {
        return Err(not_found);
    }
    let running = rampart_apps::openapi::Running {
        environment,
        application,
        deployment: env.revision(),
        modules: env.app_modules(application),
    };
    let user = caller.user.id;
    Ok(rampart_apps::openapi::document(&running, &|roles| {
        holds_any(state, user, application, roles)
    }))
}
