//! What can go wrong with a request: the server's refusal (its problem document), an error
//! status without one, the transport, or an answer that is not what the API documents.
//!
//! Each variant's message is a sentence for people and its `source` the underlying error, so
//! printing the chain (`anyhow`'s `{:#}`) shows both.

use rampart_api::Problem;
use reqwest::StatusCode;

/// An error from [`crate::Client`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the request and said why in a problem document (RFC 9457).
    #[error("{} ({})", .problem.detail, .status.as_u16())]
    Problem {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The problem: `type`, `title`, `detail` and, by type, `field`, `rule`,
        /// `retry_after` (also taken from the `Retry-After` header), `errors` or `breaking`.
        problem: Box<Problem>,
    },
    /// The server (or something in front of it) answered with an error status and a body
    /// that is not a problem document.
    #[error("the server answered {status}")]
    Status {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The body as text (empty when it could not be read).
        body: String,
    },
    /// The request did not reach the server, or its answer could not be read.
    #[error("cannot reach {server} (is the server running, and its certificate trusted?)")]
    Transport {
        /// The server's base URL.
        server: String,
        /// What failed: the connection, TLS, a time limit, the body.
        #[source]
        source: reqwest::Error,
    },
    /// A successful answer whose body is not what the API documents for the operation.
    #[error("unexpected answer from the server to {operation}")]
    Decode {
        /// The method and path, e.g. `GET /api/v1/environments`.
        operation: String,
        /// Why the body did not fit.
        #[source]
        source: serde_json::Error,
    },
    /// The server's address is not an `http(s)://host…` URL.
    #[error("the server's address must be a URL such as https://127.0.0.1:8443, not `{0}`")]
    InvalidUrl(String),
    /// The HTTPS client could not be set up (a certificate that is not PEM, say).
    #[error("cannot set up HTTPS")]
    Setup(#[source] reqwest::Error),
}

impl ClientError {
    /// The HTTP status of an error answer (a problem, or an error status without one).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Problem { status, .. } | ClientError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The server's problem document, when it sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The problem's stable code: its `type` without `urn:rampart:problem:`
    /// (`invalid-input`, `not-found`, `breaking-change`, …).
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| {
            p.problem_type
                .strip_prefix(rampart_api::PROBLEM_TYPE_PREFIX)
                .unwrap_or(&p.problem_type)
        })
    }

    /// Seconds to wait before trying again, when the server said (`login-throttled`).
    pub fn retry_after(&self) -> Option<u64> {
        self.problem().and_then(|p| p.retry_after)
    }

    /// Whether the server answered 404: no such object, or one the caller may not see.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }
}
