//! Actions a module exposes as REST endpoints, at their declared method and path under
//! `/apps/{environment}/{application}/api/{module}`: looked up before the data API's
//! routes, so a declared endpoint answers even where its path looks like an entity's.
//! The rules are `rampart_service::apps::exposed`'s; errors are problem+json.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rampart_core::Error;
use rampart_service::apps::actions::Actor;
use rampart_service::apps::exposed::{self, Endpoint};
use rampart_service::AppState;
use serde_json::{Map, Value as Json};

use super::apps::AccessRecorded;
use crate::auth::{Authenticated, RequestContext};
use crate::error::{ApiError, Problem};

/// The middleware: an exposed action's request runs it; any other goes on.
pub async fn dispatch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some((environment, application, module, rest)) = split(&path) else {
        return next.run(request).await;
    };
    let method = request.method().as_str().to_owned();
    match exposed::find(&state, (environment, application, module), &method, rest).await {
        Ok(Some(endpoint)) => {
            let mut response = handle(&state, &endpoint, request, (&method, &path))
                .await
                .unwrap_or_else(IntoResponse::into_response);
            response.extensions_mut().insert(AccessRecorded);
            response
        }
        Ok(None) => next.run(request).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `/apps/{environment}/{application}/api/{module}` and the rest of the path (with its
/// leading `/`), when the path is below a module's API root.
fn split(path: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = path.strip_prefix("/apps/")?;
    let mut parts = rest.splitn(5, '/');
    let (environment, application, api, module) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let tail = parts.next()?;
    (api == "api" && !module.is_empty()).then(|| {
        let at = path.len() - tail.len() - 1;
        (environment, application, module, &path[at..])
    })
}

async fn handle(
    state: &AppState,
    endpoint: &Endpoint,
    request: Request,
    (method, path): (&str, &str),
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let context = RequestContext::from_request_parts(&mut parts, state).await?;
    if endpoint.https && !context.https {
        exposed::refused(state, &context.audit(state), endpoint, (method, path, 403)).await?;
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "https-required",
            "HTTPS required",
            "this endpoint is served over HTTPS only",
        )
        .into());
    }
    let actor = match Authenticated::from_request_parts(&mut parts, state).await {
        Ok(auth) => Actor {
            caller: Some(auth.caller(state)),
            audit: auth.audit(state),
        },
        Err(_) if endpoint.anonymous => Actor {
            caller: None,
            audit: context.audit(state),
        },
        Err(e) => {
            let status = e.0.status;
            exposed::refused(
                state,
                &context.audit(state),
                endpoint,
                (method, path, status),
            )
            .await?;
            return Err(e);
        }
    };
    let mut params = Map::new();
    if let Some(query) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| Error::invalid("query", "is not a valid query string"))?;
        for (k, v) in pairs {
            params.insert(k, Json::String(v));
        }
    }
    let limit = usize::try_from(state.config.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(Body::new(body), limit)
        .await
        .map_err(|_| Error::invalid("body", format!("is larger than {limit} bytes")))?;
    if !bytes.is_empty() {
        match serde_json::from_slice::<Json>(&bytes) {
            Ok(Json::Object(body)) => params.extend(body),
            _ => {
                return Err(Error::invalid(
                    "body",
                    "must be a JSON object of the action's parameters",
                )
                .into())
            }
        }
    }
    let ran = exposed::call(state, &actor, endpoint, params, (method, path)).await?;
    Ok(match ran.value {
        Json::Null => StatusCode::NO_CONTENT.into_response(),
        value => crate::error::Json(value).into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn only_paths_below_a_module_api_root_are_split() {
        assert_eq!(
            split("/apps/dev/sales/api/core/customers"),
            Some(("dev", "sales", "core", "/customers"))
        );
        assert_eq!(
            split("/apps/dev/sales/api/core/invoices/1/paid"),
            Some(("dev", "sales", "core", "/invoices/1/paid"))
        );
        assert_eq!(split("/apps/dev/sales/api/core"), None);
        assert_eq!(split("/apps/dev/sales/Customers"), None);
        assert_eq!(split("/apps/dev/sales/x/core/customers"), None);
        assert_eq!(split("/api/v1/users"), None);
    }
}
