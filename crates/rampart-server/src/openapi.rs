//! The answers many operations share, declared once in the OpenAPI document.
//!
//! A handler's `#[utoipa::path]` annotation declares what is its own: its successes, the
//! 403, 404 and 409 its checks give, and the 422 of its own validation. What follows from
//! how an operation is built is added here, from the document itself, so that it cannot
//! drift from the extractors that cause it:
//!
//! | the operation | may answer | because |
//! |---|---|---|
//! | takes a session (`security` names the `cookie` scheme) | 401 | `auth::Authenticated`: no token, or its session ended or expired, or its account is disabled |
//! | takes a session and is not a `GET` | 403 | the CSRF rule: a cookie-authenticated change must come from this origin |
//! | takes a session | 503 | the session is read from the database; an end user's request is answered only once its access is in the audit log |
//! | has a JSON request body | 400, 413, 415, 422 | `error::Json`: malformed JSON, too large, not JSON, not an object of the declared shape (unknown fields included) |
//! | has path or query parameters | 400 | axum's `Path` and `Query`: a value that is not UTF-8 or not of its type, an unknown query parameter |
//! | is in a rate-limited route class (`limits::class_of`) | 429 | `limits::limit`: the client address sent more requests of the class than `[rate_limits]` allows |
//!
//! Where the annotation already declares the status, its description is kept and the
//! shared reason appended. Every answer added is a problem (`application/problem+json`,
//! the `Problem` schema). What no operation declares is said once in the document's
//! description ([`SHARED`]): a 500 is a bug, and 414 and 431 refuse an oversized request
//! head before any route runs.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// What the document's description says about answers no operation lists.
pub const SHARED: &str =
    "\n\nAnswers every operation may give without listing them: 500 (a bug in \
    the server; the problem's `request_id` finds it in the log), and 414 or 431 (the request \
    line or headers are over the server's limits; refused before any route runs). Each \
    operation lists every other status it can answer.";

/// Which operations a shared answer applies to.
#[derive(Clone, Copy)]
enum When {
    /// Operations that take a session.
    Session,
    /// Operations that take a session and change state.
    SessionChange,
    /// Operations with a JSON request body.
    Body,
    /// Operations in a route class `[rate_limits]` can limit.
    Limited,
    /// Operations with path or query parameters.
    Parameters,
}

/// The shared answers, in the order they are applied.
const ANSWERS: [(When, &str, &str); 9] = [
    (
        When::Session,
        "401",
        "Not authenticated: no session token, or its session has ended or expired, or its \
         account is disabled (`unauthenticated`)",
    ),
    (
        When::SessionChange,
        "403",
        "A cookie-authenticated request from another origin (`csrf-rejected`); API clients \
         use a bearer token",
    ),
    (
        When::Session,
        "503",
        "The database is unavailable, or an end user's access could not be recorded in the \
         audit log (the answer is withheld)",
    ),
    (
        When::Body,
        "400",
        "The body is not valid JSON (`malformed-json`)",
    ),
    (
        When::Body,
        "413",
        "The body is larger than the configured limit (`payload-too-large`)",
    ),
    (
        When::Body,
        "415",
        "The body is not sent as `application/json` (`unsupported-media-type`)",
    ),
    (
        When::Body,
        "422",
        "The body is not a JSON object of the declared shape: another JSON value, an \
         unknown field, a missing one, or a value of the wrong type (`invalid-input`)",
    ),
    (
        When::Limited,
        "429",
        "This client address sent more requests of the route's class than `[rate_limits]` \
         allows (`rate-limited`); `Retry-After` says when to try again",
    ),
    (
        When::Parameters,
        "400",
        "A path or query parameter is not of its type, or an unknown query parameter \
         (`invalid-input`)",
    ),
];

/// Adds the shared answers to every operation of `doc` they apply to, and says in its
/// description what no operation lists.
pub fn declare_shared_answers(doc: &mut OpenApi) {
    let description = doc.info.description.get_or_insert_with(String::new);
    description.push_str(SHARED);
    for (path, item) in &mut doc.paths.paths {
        let limited = crate::limits::class_of(path).is_some();
        let operations = [
            (&mut item.get, true),
            (&mut item.put, false),
            (&mut item.post, false),
            (&mut item.delete, false),
            (&mut item.patch, false),
        ];
        for (operation, safe) in operations {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            let facts = Facts::of(operation, safe, limited);
            for (when, status, reason) in ANSWERS {
                if facts.applies(when) {
                    declare(operation, status, reason);
                }
            }
        }
    }
}

/// What decides which shared answers an operation gets.
struct Facts {
    session: bool,
    safe: bool,
    body: bool,
    parameters: bool,
    limited: bool,
}

impl Facts {
    fn of(operation: &Operation, safe: bool, limited: bool) -> Self {
        // A session is presented as a bearer token or the cookie; routes with other
        // credentials (`/metrics`: a bearer token of its own) do not list the cookie.
        let session = operation.security.iter().flatten().any(|requirement| {
            serde_json::to_value(requirement)
                .ok()
                .is_some_and(|v| v.get("cookie").is_some())
        });
        let parameters = operation
            .parameters
            .iter()
            .flatten()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
        Facts {
            session,
            safe,
            body: operation.request_body.is_some(),
            parameters,
            limited,
        }
    }

    fn applies(&self, when: When) -> bool {
        match when {
            When::Session => self.session,
            When::SessionChange => self.session && !self.safe,
            When::Body => self.body,
            When::Parameters => self.parameters,
            When::Limited => self.limited,
        }
    }
}

/// Declares `status` as a problem with `reason`, or appends `reason` to the description
/// the annotation gave it.
fn declare(operation: &mut Operation, status: &str, reason: &str) {
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(existing)) = responses.get_mut(status) {
        if !existing.description.contains(reason) {
            existing.description = format!("{}; or: {reason}", existing.description);
        }
        return;
    }
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    responses.insert(
        status.to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(reason)
                .content("application/problem+json", problem)
                .build(),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(doc: &OpenApi, path: &str, method: &str) -> Vec<String> {
        let item = &doc.paths.paths[path];
        let operation = match method {
            "get" => &item.get,
            "post" => &item.post,
            "delete" => &item.delete,
            "patch" => &item.patch,
            _ => &item.put,
        };
        operation
            .as_ref()
            .map(|o| o.responses.responses.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn shared_answers_follow_from_sessions_bodies_and_parameters() {
        let doc = crate::app::openapi();
        let cases: [(&str, &str, &[&str]); 7] = [
            // A session, a query parameter, a change: 400, 401, 403 (CSRF), 503; and 429,
            // as every route of a rate-limited class.
            (
                "/api/v1/auth/logout",
                "post",
                &["204", "400", "401", "403", "429", "503"],
            ),
            // A session and nothing else, read only: no CSRF refusal.
            ("/api/v1/auth/me", "get", &["200", "401", "429", "503"]),
            // A body and no session: the body's answers, and the route's own (202 a second
            // factor to come; 409 and 502 are a user provider's: a local account of that
            // name, a directory's failure).
            (
                "/api/v1/auth/login",
                "post",
                &[
                    "200", "202", "400", "401", "403", "409", "413", "415", "422", "429", "502",
                    "503",
                ],
            ),
            // A path parameter: 400 for one that is not of its type.
            (
                "/api/v1/deployment-plans/{id}",
                "get",
                &["200", "400", "401", "404", "429", "503"],
            ),
            // No session, no body, no parameter, never rate-limited: only what the route
            // declares.
            ("/healthz", "get", &["200"]),
            ("/readyz", "get", &["200", "503"]),
            // Its own bearer token, not a session: no 503, no CSRF.
            ("/metrics", "get", &["200", "401", "404"]),
        ];
        for (path, method, expected) in cases {
            assert_eq!(statuses(&doc, path, method), expected, "{method} {path}");
        }
    }

    #[test]
    fn shared_reasons_are_appended_to_a_declared_status_once() {
        let doc = crate::app::openapi();
        let login = doc.paths.paths["/api/v1/auth/login"].post.as_ref().unwrap();
        let RefOr::T(unprocessable) = &login.responses.responses["422"] else {
            panic!("422 of login is a reference");
        };
        assert_eq!(
            unprocessable
                .description
                .matches("not a JSON object")
                .count(),
            1,
            "{}",
            unprocessable.description
        );
    }
}
