//! The audit log: search and export, integration reports, checkpoints and proofs.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Query of `GET /api/v1/audit/events`. Every filter narrows the result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditEventsQuery {
    /// `system`, `integration` or `access`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The actor as recorded, e.g. `it:admin` or `end:alice`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// A dotted action, e.g. `user.create`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// An exact target, e.g. `user:0190…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Free text the target must contain (matched literally).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// An application name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// An environment name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `success`, `failure`, `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// RFC 3339 time: only events at or after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// RFC 3339 time: only events before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100). Ignored by the `csv` and `jsonl` exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `json` (a page, newest first; default), or `csv` / `jsonl`: every match, oldest
    /// first, streamed.
    #[param(inline, value_type = Option<AuditFormat>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// The form of the answer of `GET /api/v1/audit/events` (documentation only: the query
/// keeps the text, which the handler checks).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AuditFormat {
    /// A page of events, newest first (`application/json`).
    Json,
    /// Every match, oldest first, as CSV (`text/csv`).
    Csv,
    /// Every match, oldest first, one JSON event per line (`application/jsonl`).
    Jsonl,
}

/// An audit event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    /// Sequence number (the event's leaf is `seq − 1`).
    pub seq: i64,
    /// `system`, `integration` or `access`.
    pub stream: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    /// Acting principal's id.
    pub actor_id: Option<String>,
    /// Acting principal as recorded (`it:admin`).
    pub actor: Option<String>,
    /// Dotted action name.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Application concerned.
    pub application: Option<String>,
    /// Environment concerned.
    pub environment: Option<String>,
    /// `success`, `failure`, `allow` or `deny`.
    pub outcome: String,
    /// The request it came from.
    pub request_id: Option<String>,
    /// The request's source address.
    pub source: Option<String>,
    /// The node that recorded it.
    pub node: String,
    /// Structured facts (method, status, duration_ms, reason, …).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// True when the payload was erased; the leaf hash still proves its place.
    pub redacted: bool,
    /// The leaf hash (hex).
    pub leaf_hash: String,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventPage {
    /// The events.
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/audit/integration`: calls a service made or received, to record in the
/// `integration` stream under the reporting service's name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationReportRequest {
    /// 1 to 1,000 calls, recorded in this order in one transaction (all or none).
    pub events: Vec<IntegrationCall>,
}

/// One call, as the service saw it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationCall {
    /// `inbound` (a request the service received) or `outbound` (a call it made).
    pub direction: String,
    /// The method called: an HTTP method or an operation name (`GET`, `GetCustomer`), at
    /// most 128 characters of letters, digits and `._:/-`.
    pub method: String,
    /// What was called: a URL or an endpoint, at most 2,048 characters. Its query string
    /// and fragment are not recorded (they often carry tokens); a URL with a user name or
    /// password in it is refused.
    pub target: String,
    /// The call's status (HTTP 100–599); 400 and up record a failure.
    pub status: u16,
    /// How long the call took, in milliseconds (at most a day).
    pub duration_ms: u64,
    /// The call's request id, to correlate with the service's own logs (at most 64 of
    /// `A-Z a-z 0-9 . _ -`); this request's id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Where the reported calls sit in the log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntegrationReportResponse {
    /// The sequence number of the first call.
    pub first_seq: i64,
    /// The sequence number of the last call.
    pub last_seq: i64,
}

/// The query of a route that takes no parameters: any parameter is refused (a client
/// that sends `fresh=true` to a read learns that reading never signs).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// A signed checkpoint of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointView {
    /// The log's name (the note's origin line).
    pub origin: String,
    /// Number of events the checkpoint covers.
    pub size: u64,
    /// Root hash at that size (hex).
    pub root: String,
    /// The C2SP signed note, verifiable with `verifier_key`.
    pub note: String,
    /// When it was signed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub signed_at: OffsetDateTime,
    /// The verifier key (`<name>+<hash>+<key>`), as `rampart audit public-key` prints it:
    /// the log's first key, from which rotations are followed.
    pub verifier_key: String,
    /// The verifier key that signed this checkpoint (the first key until a rotation).
    #[serde(default)]
    pub signing_key: String,
    /// The witnesses' cosignature lines, which `note` carries after the log's own
    /// signature lines.
    #[serde(default)]
    pub cosignatures: Vec<String>,
}

/// What `POST /api/v1/audit/keys/rotate` did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditKeyRotation {
    /// The new key's generation (1 for the first rotation).
    pub generation: i64,
    /// The new verifier key.
    pub verifier_key: String,
    /// The key it replaces, which signs nothing after the rotation checkpoint.
    pub previous_key: String,
    /// The size of the rotation checkpoint (signed by both keys), when it was signed at
    /// once; otherwise the next checkpoint is the rotation.
    pub checkpoint_size: Option<u64>,
}

/// Query of `GET /api/v1/audit/proof/inclusion`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The event's sequence number.
    pub seq: u64,
    /// Tree size to prove against (default: the current size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    /// The event's sequence number; its leaf index is `seq − 1`.
    pub seq: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The event's leaf hash (hex).
    pub leaf_hash: String,
    /// The audit path, bottom up (hex).
    pub proof: Vec<String>,
    /// The root at `size` (hex).
    pub root: String,
}

/// Query of `GET /api/v1/audit/proof/consistency`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size (default: the current size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// Root at `from` (hex).
    pub from_root: String,
    /// Root at `to` (hex).
    pub to_root: String,
    /// The proof nodes (hex).
    pub proof: Vec<String>,
}
