//! RFC 9457 problem details: the one error body of the API, with stable `type` codes.
//!
//! Rendering a problem as an HTTP response (headers such as `Retry-After`) belongs to the
//! server; this is only its shape, shared with the client that reads it.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:rampart:problem:";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:rampart:problem:<code>`; stable, for programs to match on.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this occurrence, for people.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id, to find the request in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The field or parameter at fault (`invalid-input`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The password rule that rejected a password (`password-rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Seconds to wait (`login-throttled`), as in the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Every error in a module's source (`invalid-module`), each at its line and column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<rampart_model::Diagnostic>>,
    /// The deployed modules a change would break (`breaking-change`, `deployment-refused`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaking: Option<Vec<crate::lifecycle::BreakingChange>>,
    /// The security findings that block a publish (`security-findings`), each at its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<crate::findings::FindingWire>>,
}

impl Problem {
    /// A problem with the given status, code, title and detail.
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            request_id: None,
            field: None,
            rule: None,
            retry_after: None,
            errors: None,
            breaking: None,
            findings: None,
        }
    }

    /// The generic problem for an error status produced outside the handlers.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, title, detail) = match status {
            StatusCode::NOT_FOUND => ("route-not-found", "Not found", "no such endpoint"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "Method not allowed",
                "this endpoint does not accept this HTTP method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload-too-large",
                "Payload too large",
                "the request body is larger than the configured limit",
            ),
            StatusCode::REQUEST_TIMEOUT => {
                ("timeout", "Request timeout", "the request took too long")
            }
            s if s.is_server_error() => (
                "internal",
                "Internal error",
                "the server failed to handle the request",
            ),
            _ => (
                "bad-request",
                "Bad request",
                "the request could not be handled",
            ),
        };
        Problem::new(status, code, title, detail)
    }
}
