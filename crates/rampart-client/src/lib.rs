//! A typed HTTPS client for Rampart's JSON API: one method per operation, taking and
//! returning the wire types of `rampart-api`, so a client and the server cannot disagree on a
//! field's name or type without the compiler noticing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rampart_client::ClientError> {
//! use rampart_client::{api, Client, LoginAnswer};
//!
//! let pem = std::fs::read("rampart-data/tls/dev-cert.pem").unwrap_or_default();
//! let mut client = Client::builder("https://127.0.0.1:8443")
//!     .ca_cert_pem(&pem)
//!     .build()?;
//! let login = client
//!     .identity()
//!     .login(&api::LoginRequest {
//!         username: "admin".into(),
//!         password: "…".into(),
//!         provider: "it".into(),
//!         user_provider: None,
//!     })
//!     .await?;
//! let token = match login {
//!     LoginAnswer::Session(session) => session.token,
//!     // A second factor must follow: `identity().second_factor(…)` with the app's code.
//!     LoginAnswer::SecondFactor(_) => return Ok(()),
//! };
//! client.set_token(Some(token));
//! for v in client.lifecycle().versions("core-service").await? {
//!     println!("{} {}", v.version, v.message);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Operations are grouped by capability, as the API's modules are: [`Client::identity`]
//! (login, sessions, users), [`Client::alerts`] (the alert outbox), [`Client::authz`] (decisions, the ACL and IT permissions),
//! [`Client::audit`] (search, export, checkpoints, proofs), [`Client::lifecycle`] (module
//! versions, environments, deployments, tags, module names) and [`Client::plans`]
//! (deployment plans and the settings in force).
//!
//! Every error answer becomes a [`ClientError`]: the server's problem document (RFC 9457)
//! when it sent one, with its status, `type`, `detail`, `field`, `errors`, `breaking` and
//! `retry_after`; otherwise the status, or the transport failure with what to check.
//!
//! **API Boundary:** this crate knows HTTP only as a client, and the API only through
//! `rampart-api`; it never depends on the server or the store.

pub mod alerts;
pub mod audit;
pub mod authz;
mod call;
mod error;
pub mod findings;
pub mod identity;
pub mod idp;
pub mod lifecycle;
pub mod plans;
pub mod providers;
pub mod sealed;
pub mod support;

use std::time::Duration;

pub use rampart_api as api;
pub use reqwest::StatusCode;

pub use alerts::Alerts;
pub use audit::{Audit, CopyError, Download, ExportFormat};
pub use authz::Authz;
pub use error::ClientError;
pub use findings::Findings;
pub use identity::{Identity, LoginAnswer};
pub use idp::Idp;
pub use lifecycle::Lifecycle;
pub use plans::Plans;
pub use providers::Providers;
pub use sealed::Sealed;
pub use support::{People, Support};

use call::Call;

/// A connection to one Rampart server, with the caller's session token if any. Cheap to
/// clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The base URL as given, without a trailing `/`, for messages.
    server: String,
    base: reqwest::Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How to reach the server: its base URL, the certificates to trust besides the system's,
/// the session token, the user agent and a time limit.
#[derive(Debug)]
pub struct ClientBuilder {
    server: String,
    token: Option<String>,
    roots: Vec<Vec<u8>>,
    user_agent: String,
    timeout: Option<Duration>,
}

impl ClientBuilder {
    /// The bearer token sent with every request (from a login, or an API token).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Trusts the PEM certificate(s) in `pem` besides the system's roots: a private CA, or
    /// the server's own development certificate (`<data-dir>/tls/dev-cert.pem`), which is
    /// self-signed and so its own root. A text that is not PEM fails [`ClientBuilder::build`].
    pub fn ca_cert_pem(mut self, pem: &[u8]) -> Self {
        self.roots.push(pem.to_vec());
        self
    }

    /// The `User-Agent` header (default `rampart-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A limit on each whole request, answer included (none by default: an export may take
    /// long).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The client; fails on a base URL that is not `http(s)://…` or a certificate that is not
    /// PEM.
    pub fn build(self) -> Result<Client, ClientError> {
        let server = self.server.trim_end_matches('/').to_owned();
        let base = match reqwest::Url::parse(&server) {
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.has_host() => url,
            _ => return Err(ClientError::InvalidUrl(server)),
        };
        let mut builder = reqwest::Client::builder().user_agent(self.user_agent);
        for pem in &self.roots {
            let cert = reqwest::Certificate::from_pem(pem).map_err(ClientError::Setup)?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        Ok(Client {
            http: builder.build().map_err(ClientError::Setup)?,
            server,
            base,
            token: self.token,
        })
    }
}

impl Client {
    /// A client for the server at `server` (`https://host:port`, optionally with a path
    /// prefix), trusting the system's roots only.
    pub fn new(server: &str) -> Result<Self, ClientError> {
        Self::builder(server).build()
    }

    /// A builder for a client of the server at `server`.
    pub fn builder(server: &str) -> ClientBuilder {
        ClientBuilder {
            server: server.to_owned(),
            token: None,
            roots: Vec::new(),
            user_agent: concat!("rampart-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            timeout: None,
        }
    }

    /// The server's base URL, without a trailing `/`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The session token sent with each request, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends `token` with the following requests (`None`: none).
    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    /// Login, logout, the caller and password changes; user administration.
    pub fn identity(&self) -> Identity<'_> {
        Identity::new(self)
    }

    /// Decisions, explanations and list filters; ACL, role and IT-permission writes; the
    /// model and grants.
    pub fn authz(&self) -> Authz<'_> {
        Authz::new(self)
    }

    /// The alert outbox: deliveries waiting and given up, and asking for one again.
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts::new(self)
    }

    /// The audit log: search, streamed export, integration reports, checkpoints, proofs.
    pub fn audit(&self) -> Audit<'_> {
        Audit::new(self)
    }

    /// Module versions, diffs, environments, deployments and their requests, tags and
    /// module names.
    pub fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle::new(self)
    }

    /// The security findings of module versions and their acceptances.
    pub fn findings(&self) -> Findings<'_> {
        Findings::new(self)
    }

    /// The support desk: companies, members, cases and decisions on requesters.
    pub fn support(&self) -> Support<'_> {
        Support::new(self)
    }

    /// Sealed modules: environments' public keys, trusted publishers, imports.
    pub fn sealed(&self) -> Sealed<'_> {
        Sealed::new(self)
    }

    /// Rampart as an OpenID Connect provider: registered clients and signing keys.
    pub fn idp(&self) -> Idp<'_> {
        Idp::new(self)
    }

    /// User providers: directories that vouch for users.
    pub fn providers(&self) -> Providers<'_> {
        Providers::new(self)
    }

    /// Deployment plans and the settings in force in an environment.
    pub fn plans(&self) -> Plans<'_> {
        Plans::new(self)
    }

    /// `GET /readyz`: whether the server is ready to serve (its database reachable).
    pub async fn ready(&self) -> Result<api::Health, ClientError> {
        self.call_at(reqwest::Method::GET, &["readyz"]).json().await
    }

    /// A request to `/api/v1/` followed by `segments`, each percent-encoded as one segment.
    pub(crate) fn call(&self, method: reqwest::Method, segments: &[&str]) -> Call<'_> {
        let mut all = Vec::with_capacity(segments.len() + 2);
        all.extend(["api", "v1"]);
        all.extend_from_slice(segments);
        self.call_at(method, &all)
    }

    /// A request to the base URL followed by `segments`.
    fn call_at(&self, method: reqwest::Method, segments: &[&str]) -> Call<'_> {
        let mut url = self.base.clone();
        // The base was checked to be an http(s) URL with a host, which always has segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let operation = format!("{method} {}", url.path());
        let mut builder = self.http.request(method, url);
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        Call::new(self, builder, operation)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn paths_are_built_under_the_base_with_each_segment_encoded() {
        let client = Client::new("https://rampart.example:8443/prefix/").unwrap();
        assert_eq!(client.server(), "https://rampart.example:8443/prefix");
        let url = client
            .call(reqwest::Method::GET, &["modules", "a/b c", "versions"])
            .query(&api::HistoryQuery {
                module: None,
                limit: Some(5),
                cursor: None,
            })
            .url()
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://rampart.example:8443/prefix/api/v1/modules/a%2Fb%20c/versions?limit=5"
        );
        let bare = Client::new("https://127.0.0.1:8443").unwrap();
        let url = bare
            .call(reqwest::Method::GET, &["environments"])
            .query(&api::PlansQuery::default())
            .url()
            .unwrap();
        assert_eq!(url.as_str(), "https://127.0.0.1:8443/api/v1/environments");
    }

    #[test]
    fn a_base_that_is_not_an_http_url_is_refused() {
        for bad in ["127.0.0.1:8443", "ftp://host", "https://", "mailto:a@b"] {
            assert!(
                matches!(Client::new(bad), Err(ClientError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
