//! The one conversion from errors to HTTP: RFC 9457 `application/problem+json`.
//!
//! Handlers return [`ApiError`]; its response carries a [`Problem`] in the response
//! extensions, and the outermost middleware renders it with the request id. Any other
//! error response (an unknown route, a wrong method) is turned into a problem there too,
//! so every error a client sees has the same shape and a stable `type`.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_core::Error;
use rampart_service::lifecycle::LifecycleError;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use rampart_api::{Problem, PROBLEM_TYPE_PREFIX};

/// Renders a problem as a response: `application/problem+json`, with `Retry-After` and
/// `WWW-Authenticate` where its status calls for them.
pub fn render(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = problem.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"rampart\""),
        );
    }
    response
}

/// How long a client stopped by a limit is asked to wait (`Retry-After`).
const LIMIT_RETRY_SECS: u64 = 5;

/// The error type of every handler.
#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError(Box::new(problem))
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let title = error.title();
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let detail = match &error {
            // The cause may name internals: it goes to the log, the client gets a sentence.
            Error::Unavailable(cause) | Error::Internal(cause) => {
                tracing::error!(code = error.code(), cause = %cause, "request failed");
                match error {
                    Error::Unavailable(_) => {
                        "the database is unavailable; try again shortly".to_owned()
                    }
                    _ => "the server failed to handle the request".to_owned(),
                }
            }
            // Which service, and how it failed, is for the operators (the log and the call's
            // `integration` event), not for whoever pressed the button.
            Error::Integration(cause) => {
                tracing::warn!(code = error.code(), cause = %cause, "an integration call failed");
                "a service this application calls did not answer as expected; its \
                 administrators can see why in the integration audit log"
                    .to_owned()
            }
            Error::PasswordExpired => {
                "the password has expired; set a new one with POST /api/v1/auth/change-password"
                    .to_owned()
            }
            other => other.to_string(),
        };
        let mut problem = Problem::new(status, error.code(), title, detail);
        match error {
            Error::InvalidInput { field, .. } => problem.field = Some(field),
            Error::PasswordRejected { rule, .. } => problem.rule = Some(rule.as_str().to_owned()),
            Error::LoginThrottled {
                retry_after_secs, ..
            } => problem.retry_after = Some(retry_after_secs),
            Error::Limit(_) => problem.retry_after = Some(LIMIT_RETRY_SECS),
            _ => {}
        }
        ApiError::from(problem)
    }
}

/// A lifecycle refusal that carries a list: `invalid-module` (422, with every diagnostic),
/// `breaking-change` (409, with the dependants it breaks) and `deployment-refused` (409,
/// with the broken references when there are some).
impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> Self {
        let detail = e.to_string();
        match e {
            LifecycleError::Error(e) => ApiError::from(e),
            LifecycleError::InvalidModule { diagnostics } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-module",
                    "Invalid module",
                    detail,
                );
                p.field = Some("source".into());
                p.errors = Some(diagnostics);
                p.into()
            }
            LifecycleError::Findings { findings, .. } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "security-findings",
                    "Security findings block publishing",
                    detail,
                );
                p.field = Some("source".into());
                p.findings = Some(findings);
                p.into()
            }
            LifecycleError::Breaking { breaking, .. } => {
                conflict("breaking-change", "Breaking change", detail, Some(breaking))
            }
            LifecycleError::MissingProperties { .. } => {
                conflict("deployment-refused", "Deployment refused", detail, None)
            }
            LifecycleError::BrokenReferences { breaking, .. } => conflict(
                "deployment-refused",
                "Deployment refused",
                detail,
                Some(breaking),
            ),
        }
    }
}

/// A 409 problem of type `code`, with the dependants a change breaks when there are some.
fn conflict(
    code: &str,
    title: &str,
    detail: String,
    breaking: Option<Vec<rampart_api::BreakingChange>>,
) -> ApiError {
    let mut p = Problem::new(StatusCode::CONFLICT, code, title, detail);
    p.breaking = breaking;
    p.into()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The middleware renders the problem once it knows the request id.
        let mut response = StatusCode::from_u16(self.0.status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
        response.extensions_mut().insert(*self.0);
        response
    }
}

/// A JSON body extractor whose rejections are problems: wrong content type (415),
/// malformed JSON (400), wrong shape or unknown field (422), too large (413).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_media_type(req.headers().get(header::CONTENT_TYPE)) {
            return Err(unsupported_media_type().into());
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) => return Err(bytes_problem(rejection.status()).into()),
        };
        require_object(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(ApiError::from(json_problem(&rejection))),
        }
    }
}

/// `application/json` or any `application/…+json`, parameters ignored, case-insensitive.
fn is_json_media_type(value: Option<&HeaderValue>) -> bool {
    let Some(Ok(value)) = value.map(HeaderValue::to_str) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .get(subtype.len().saturating_sub(5)..)
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
}

/// Every request body is a JSON object. serde's derived structs also accept the sequence
/// form (`["admin", "<password>", "it"]`), which slips past `deny_unknown_fields` and
/// field names alike; this refuses it before anything is deserialised.
fn require_object(bytes: &[u8]) -> Result<(), ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(());
    }
    // Not an object: malformed JSON is still a 400, well-formed JSON of another kind a 422.
    let kind = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("the body is not valid JSON: {e}"),
            )
            .into())
        }
        Ok(serde_json::Value::Array(_)) => "an array",
        Ok(serde_json::Value::String(_)) => "a string",
        Ok(serde_json::Value::Number(_)) => "a number",
        Ok(serde_json::Value::Bool(_)) => "a boolean",
        Ok(serde_json::Value::Null | serde_json::Value::Object(_)) => "null",
    };
    let mut problem = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-input",
        "Invalid input",
        format!("the body must be a JSON object, not {kind}"),
    );
    problem.field = Some("body".into());
    Err(problem.into())
}

fn unsupported_media_type() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        "the body must be JSON, sent with Content-Type: application/json",
    )
}

fn bytes_problem(status: StatusCode) -> Problem {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            format!("the body could not be read ({status})"),
        )
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::JsonSyntaxError(e) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!(
                "the body is not valid JSON: {}",
                inner_message(&e.body_text())
            ),
        ),
        JsonRejection::JsonDataError(e) => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
                inner_message(&e.body_text()),
            );
            p.field = Some("body".into());
            p
        }
        other => bytes_problem(other.status()),
    }
}

/// axum prefixes serde's message with a sentence of its own; keep serde's part.
fn inner_message(text: &str) -> String {
    text.split_once(": ")
        .map(|(_, m)| m)
        .unwrap_or(text)
        .to_owned()
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
