//! `/api/v1/posture`: the security posture report, for administrators and auditors (the
//! same rule as reading the audit log: auditors read everything and change nothing).
//!
//! What is served on the wire is this crate's to say ([`transport`]): HTTPS enforcement and
//! the certificate from the configuration, the HSTS header and the TLS versions from the
//! constants the listeners use ([`crate::app::HSTS`], [`crate::tls::PROTOCOL_VERSIONS`]).

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use rampart_api::{NoQuery, PostureReport};
use rampart_service::config::Config;
use rampart_service::state::AppState;

use crate::auth::{permitted, Authenticated};
use crate::error::{ApiError, Json, Problem};
use crate::rules;

/// What this server serves on the wire, for the posture report.
pub fn transport(config: &Config) -> rampart_posture::Transport {
    rampart_posture::Transport {
        enforce_https: config.enforce_https,
        generated_certificate: config.tls_cert.is_empty(),
        hsts: Some(crate::app::HSTS.to_owned()),
        tls_versions: crate::tls::protocol_names(),
    }
}

/// An IT administrator or auditor, who may read the posture report.
#[derive(Debug, Clone)]
pub struct PostureReader(pub Authenticated);

impl FromRequestParts<AppState> for PostureReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        permitted(parts, state, rules::READ_POSTURE)
            .await
            .map(PostureReader)
    }
}

/// The security posture: every control (HTTPS, HSTS, TLS versions, administrators' MFA,
/// password policy, lockout, keys, the audit log, backups, findings of deployed modules,
/// idle administrators, default credentials, dependency advisories) with its owner under
/// shared responsibility, live status, evidence, severity, and SOC 2 and ISO 27001:2022 ids.
#[utoipa::path(
    get, path = "/api/v1/posture", tag = "operations",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The report", body = PostureReport),
        (status = 403, description = "Not an administrator or auditor", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A query parameter (this operation takes none)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    _reader: PostureReader,
    _query: Query<NoQuery>,
) -> Result<Json<PostureReport>, ApiError> {
    let report = rampart_service::posture::report(&state, transport(&state.config)).await?;
    Ok(Json(report))
}
