//! The events callers build: the three streams and [`NewEvent`], with the constructors
//! each stream's writers use.

use super::*;

/// The three audit streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// IT activity: logins, user, role and permission changes, publish, deploy, overrides.
    System,
    /// Inbound web-service requests and outbound calls.
    Integration,
    /// End users' screen and API accesses, with the decision.
    Access,
}

impl Stream {
    /// Every stream, in a fixed order.
    pub const ALL: [Stream; 3] = [Stream::System, Stream::Integration, Stream::Access];

    /// `system`, `integration` or `access`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::System => "system",
            Stream::Integration => "integration",
            Stream::Access => "access",
        }
    }

    /// Parses a stream name.
    pub fn parse(s: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An event of any stream, before it is numbered.
///
/// `details` is a JSON object text that must never hold a secret: callers put names, ids,
/// reasons, methods, statuses and durations there, never passwords, tokens or hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Which stream it belongs to.
    pub stream: Stream,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// Acting principal, if any.
    pub actor_id: Option<UserId>,
    /// The actor's username at the time.
    pub actor_name: Option<String>,
    /// Dotted action name (`user.create`, `screen.view`, `http.inbound`, …).
    pub action: String,
    /// What it was done to (`user:…`, a screen, an endpoint, a URL).
    pub target: Option<String>,
    /// The application concerned, if any.
    pub application: Option<String>,
    /// The environment concerned, if any.
    pub environment: Option<String>,
    /// `success` / `failure` (system, integration) or `allow` / `deny` (access).
    pub outcome: String,
    /// The request it came from.
    pub request_id: Option<String>,
    /// The request's source address.
    pub source: Option<String>,
    /// The node that recorded it.
    pub node_id: String,
    /// Structured facts, a JSON object text.
    pub details: String,
}

impl NewEvent {
    /// A `system` event from the request context and a core event.
    ///
    /// The application and environment the change concerns are taken from the details'
    /// `application` and `environment` members (when they are names), so every event that
    /// names them there can be found by the search's `application` and `environment`
    /// filters.
    pub fn system(ctx: &AuditContext, event: &AuditEvent, now: OffsetDateTime) -> Self {
        let concerns: Concerns = serde_json::from_str(&event.details).unwrap_or_default();
        NewEvent {
            stream: Stream::System,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: event.action.to_owned(),
            target: event.target.clone(),
            application: concerns.application.and_then(Named::name),
            environment: concerns.environment.and_then(Named::name),
            outcome: event.outcome.as_str().to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: event.details.clone(),
        }
    }

    /// An `access` event: an end user reached (or was refused) a screen or API; the target
    /// is the object reached (for the HTTP API, the request's path with its ids).
    pub fn access(
        ctx: &AuditContext,
        now: OffsetDateTime,
        application: Option<&str>,
        object: &str,
        method: &str,
        allowed: bool,
    ) -> Self {
        NewEvent {
            stream: Stream::Access,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: "access".to_owned(),
            target: Some(object.to_owned()),
            application: application.map(str::to_owned),
            environment: None,
            outcome: if allowed { "allow" } else { "deny" }.to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: serde_json::json!({ "method": method }).to_string(),
        }
    }

    /// An `access` event of the HTTP API: the object is the request's path, and the route
    /// template it matched (`/api/v1/deployment-plans/{id}`) is kept in the details when it
    /// differs from the path.
    #[allow(clippy::too_many_arguments)]
    pub fn access_via_route(
        ctx: &AuditContext,
        now: OffsetDateTime,
        application: Option<&str>,
        object: &str,
        route: &str,
        method: &str,
        allowed: bool,
    ) -> Self {
        let mut event = Self::access(ctx, now, application, object, method, allowed);
        if object != route {
            event.details = serde_json::json!({ "method": method, "route": route }).to_string();
        }
        event
    }

    /// An `integration` event: an inbound web-service request or an outbound call.
    #[allow(clippy::too_many_arguments)]
    pub fn integration(
        ctx: &AuditContext,
        now: OffsetDateTime,
        inbound: bool,
        method: &str,
        target: &str,
        status: u16,
        duration_ms: u64,
    ) -> Self {
        NewEvent {
            stream: Stream::Integration,
            occurred_at: now,
            actor_id: ctx.actor_id,
            actor_name: ctx.actor_name.clone(),
            action: if inbound {
                "http.inbound"
            } else {
                "http.outbound"
            }
            .to_owned(),
            target: Some(target.to_owned()),
            application: None,
            environment: None,
            outcome: if status < 400 { "success" } else { "failure" }.to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.clone(),
            node_id: ctx.node_id.clone(),
            details: serde_json::json!({
                "method": method, "status": status, "duration_ms": duration_ms,
            })
            .to_string(),
        }
    }
}

/// The application and environment a system event's details name.
#[derive(Default, serde::Deserialize)]
struct Concerns {
    application: Option<Named>,
    environment: Option<Named>,
}

/// A details member that is a name when it is a string (numbers and lists are not).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Named {
    Name(String),
    Other(serde::de::IgnoredAny),
}

impl Named {
    fn name(self) -> Option<String> {
        match self {
            Named::Name(n) => Some(n),
            Named::Other(_) => None,
        }
    }
}
