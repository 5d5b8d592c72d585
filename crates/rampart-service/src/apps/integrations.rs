//! Integrations: the one outbound HTTP client of the application runtime, and [`call`], the
//! use case an action's `call` step runs.
//!
//! [`call`] finds the module, integration and method among what runs in the environment,
//! takes the base URL and secret reference the environment's settings give, lets
//! [`rampart_apps::outbound`] decide the request (URL, body, the allow-list of origins,
//! which redirects and addresses are allowed), sends it through the node's [`Client`], and
//! appends one `integration` event whatever happens (allowed, refused or failed): the target
//! without query string or user information, the HTTP method, the status, the duration,
//! the result, and `module.Integration.method`; never a secret, never a body.
//!
//! [`Client`] holds the one `reqwest` client: no proxy (a proxy would resolve names out of
//! sight), no cookies, no redirects of its own (each is followed here, through the
//! allow-list), a resolver that applies the address rule to every name it resolves (so the
//! rule holds on the address actually connected to, not only on the name in the URL),
//! connect and total timeouts, and a size limit on answers, which are read as a stream and
//! dropped whole past it.
//!
//! **Architecture Invariant:** every outbound call of the runtime goes through [`Client`];
//! no other file of this crate names `reqwest` (test
//! `only_the_integrations_client_makes_outbound_calls`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_alerts::Cidr;
use rampart_apps::outbound::{
    self, AllowList, ArgumentError, Call, Endpoints, Host, Origin, RedirectRefusal,
};
use rampart_core::{AuditContext, Error};
use rampart_model::format::{CredentialScheme, Credentials, HttpMethod};
use rampart_store::{NewEvent, SettingKind};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, LOCATION};
use serde_json::{json, Map, Value};

use crate::config::{Config, IntegrationsConfig};
use crate::state::AppState;

/// Calls `method` of integration `integration` of module `module`, running in `environment`,
/// with `args` (placed as `docs/module-format.md` says: path placeholders, then the query
/// string for `GET` and `DELETE` or a JSON body for `POST`, `PUT` and `PATCH`), on behalf of
/// whoever `audit` names. Answers the peer's JSON, its text as a JSON string when it is not
/// JSON, or `null` for an empty answer.
///
/// One `integration` event is appended for every call, whatever its result, and the answer
/// waits for it: if it cannot be recorded, the call's result is withheld
/// ([`Failure::Platform`]).
pub async fn call(
    state: &AppState,
    audit: &AuditContext,
    environment: &str,
    module: &str,
    integration: &str,
    method: &str,
    args: &Map<String, Value>,
) -> Result<Value, CallError> {
    let started = Instant::now();
    // The names come from a model (at most 64 characters each); bounded all the same.
    let name: String = format!("{module}.{integration}.{method}")
        .chars()
        .take(200)
        .collect();
    let mut record = Record {
        target: name.clone(),
        method: None,
        status: None,
        redirects: Vec::new(),
        application: None,
    };
    let result = attempt(
        state,
        environment,
        (module, integration, method),
        args,
        &mut record,
    )
    .await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut event = NewEvent::integration(
        audit,
        state.clock.now(),
        false,
        record.method.unwrap_or("-"),
        &record.target,
        record.status.unwrap_or(0),
        duration_ms,
    );
    event.application = record.application.take();
    event.environment = Some(environment.to_owned());
    event.outcome = if result.is_ok() { "success" } else { "failure" }.to_owned();
    let mut details = json!({
        "integration": name,
        "method": record.method,
        "status": record.status,
        "duration_ms": duration_ms,
        "result": result.as_ref().map_or_else(Failure::result, |_| "ok"),
    });
    if let Some(d) = details.as_object_mut() {
        if !record.redirects.is_empty() {
            d.insert("redirects".into(), json!(record.redirects));
        }
        if let Err(Failure::Refused(reason) | Failure::NotConfigured(reason)) = &result {
            d.insert("reason".into(), json!(reason));
        }
    }
    event.details = details.to_string();
    match &result {
        // Something for an administrator to look at.
        Err(e @ (Failure::Refused(_) | Failure::NotConfigured(_))) => {
            tracing::warn!(integration = %name, environment, result = e.result(), "integration call failed: {e}");
        }
        Err(e) => {
            tracing::info!(integration = %name, environment, result = e.result(), "integration call failed: {e}");
        }
        Ok(_) => {}
    }
    let recorded = state.audit.append(event).await;
    let result = match recorded {
        Ok(_) => result,
        Err(e) => Err(Failure::Platform(e)),
    };
    result.map_err(|failure| CallError {
        call: name,
        failure,
    })
}

/// Why a call gave no answer, with the call it was (`module.Integration.method`).
#[derive(Debug)]
pub struct CallError {
    /// `module.Integration.method`.
    pub call: String,
    /// What went wrong.
    pub failure: Failure,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the call to {} {}", self.call, self.failure)
    }
}

impl std::error::Error for CallError {}

/// What went wrong with a call. Messages name integrations, hosts and addresses, never a
/// secret, a secret's reference or a body.
#[derive(Debug)]
pub enum Failure {
    /// The module does not run in the environment, or declares no such integration or
    /// method (`what` says which).
    Undeclared(&'static str),
    /// An argument cannot be placed in the request.
    Argument(ArgumentError),
    /// The environment does not configure what the call needs: a usable base URL, a
    /// readable secret of the right shape (a `vault:` reference answers this too: no vault
    /// is configured).
    NotConfigured(String),
    /// Refused: an origin outside the allow-list, a name resolving to an address it must
    /// not, a redirect that may not be followed.
    Refused(String),
    /// No complete answer within the configured time.
    Timeout,
    /// The peer could not be reached, or the exchange broke off.
    Unreachable(String),
    /// The answer is larger than the configured limit; nothing of it is kept.
    TooLarge(u64),
    /// The peer answered with this error status (400 and above).
    Status(u16),
    /// The answer is neither JSON nor UTF-8 text.
    Unreadable,
    /// The platform failed (the store, the audit log); the cause is for the log.
    Platform(Error),
}

impl Failure {
    /// The result an audit event records: `undeclared`, `invalid-argument`,
    /// `not-configured`, `refused`, `timeout`, `unreachable`, `too-large`, `peer-error`,
    /// `unreadable` or `platform-error`.
    pub fn result(&self) -> &'static str {
        match self {
            Failure::Undeclared(_) => "undeclared",
            Failure::Argument(_) => "invalid-argument",
            Failure::NotConfigured(_) => "not-configured",
            Failure::Refused(_) => "refused",
            Failure::Timeout => "timeout",
            Failure::Unreachable(_) => "unreachable",
            Failure::TooLarge(_) => "too-large",
            Failure::Status(_) => "peer-error",
            Failure::Unreadable => "unreadable",
            Failure::Platform(_) => "platform-error",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Undeclared(what) => write!(f, "names no {what} running here"),
            Failure::Argument(a) => write!(f, "cannot be made: {a}"),
            Failure::NotConfigured(why) => write!(f, "is not configured: {why}"),
            Failure::Refused(why) => write!(f, "was refused: {why}"),
            Failure::Timeout => f.write_str("got no complete answer in time"),
            Failure::Unreachable(why) => write!(f, "failed: {why}"),
            Failure::TooLarge(limit) => write!(f, "was answered with more than {limit} bytes"),
            Failure::Status(status) => write!(f, "was answered with status {status}"),
            Failure::Unreadable => f.write_str("was answered with neither JSON nor text"),
            Failure::Platform(e) => write!(f, "failed on the platform: {e}"),
        }
    }
}

/// An undeclared module, integration or method is not found; an argument that cannot be
/// placed is invalid input (`args.<name>`); the platform's own failure stays what it was;
/// everything else is [`Error::Integration`], whose message names the call and the host.
impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e.failure {
            Failure::Undeclared(what) => Error::NotFound { what },
            Failure::Argument(a) => Error::invalid(format!("args.{}", a.argument), a.reason),
            Failure::Platform(e) => e,
            _ => Error::Integration(e.to_string()),
        }
    }
}

/// What the audit event of a call records, filled in as the call goes.
struct Record {
    /// The URL without query string or user information, once known; until then the
    /// call's name.
    target: String,
    /// The HTTP method, once the method is found.
    method: Option<&'static str>,
    /// The last status the peer answered.
    status: Option<u16>,
    /// Every place a redirect pointed to, followed or not.
    redirects: Vec<String>,
    /// The module's application.
    application: Option<String>,
}

async fn attempt(
    state: &AppState,
    environment: &str,
    (module, integration, method): (&str, &str, &str),
    args: &Map<String, Value>,
    record: &mut Record,
) -> Result<Value, Failure> {
    let running = state
        .apps
        .env(state, environment, state.fence.ticket())
        .await
        .map_err(Failure::Platform)?;
    let m = running
        .modules
        .get(module)
        .ok_or(Failure::Undeclared("module"))?;
    record.application = Some(m.application.clone());
    let g = m
        .integrations
        .iter()
        .find(|g| g.name == integration)
        .ok_or(Failure::Undeclared("integration"))?;
    let x = g
        .methods
        .iter()
        .find(|x| x.name == method)
        .ok_or(Failure::Undeclared("integration method"))?;
    record.method = Some(method_name(x.method));
    let mut overrides = BTreeMap::new();
    let mut secret = None;
    for s in state
        .store
        .environment_settings(environment)
        .await
        .map_err(Failure::Platform)?
    {
        match (s.kind, s.value.as_str()) {
            (SettingKind::Endpoint, Some(url)) => {
                overrides.insert(format!("{}.{}", s.module, s.name), url.to_owned());
            }
            (SettingKind::Secret, Some(reference))
                if s.module == module && s.name == integration =>
            {
                secret = Some(reference.to_owned());
            }
            _ => {}
        }
    }
    let endpoints = Endpoints::new(running.modules.values(), &overrides);
    let base = match endpoints.base(module, integration) {
        Some(Ok(base)) => base,
        Some(Err(why)) => {
            return Err(Failure::NotConfigured(format!(
                "its base URL cannot be used: {why}"
            )))
        }
        None => return Err(Failure::Undeclared("integration")),
    };
    record.target = outbound::recorded_target(base);
    let request = outbound::build_call(base, x, args).map_err(Failure::Argument)?;
    record.target = outbound::recorded_target(&request.url);
    let credential = match &g.credentials {
        Some(c) => Some(credential(
            &state.config,
            c,
            secret.as_deref(),
            environment,
        )?),
        None => None,
    };
    state
        .outbound
        .send(
            request,
            credential.as_ref(),
            &endpoints.allow_list(),
            record,
        )
        .await
}

/// A secret, ready to send. Not `Debug`: nothing prints it.
enum Credential {
    /// A header and its value (marked sensitive).
    Header(HeaderName, HeaderValue),
    /// HTTP basic authentication.
    Basic(String, String),
}

/// Headers a `header` credential may not set: they frame the request or route it.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// The credential of an integration from the secret `reference` the environment gives, read
/// now (a rotated file is picked up by the next call).
fn credential(
    config: &Config,
    c: &Credentials,
    reference: Option<&str>,
    environment: &str,
) -> Result<Credential, Failure> {
    let unset = || {
        Failure::NotConfigured(format!(
            "no secret is set for it in {environment} (a deployment plan's settings.secrets)"
        ))
    };
    let reference = reference.ok_or_else(unset)?;
    if reference.starts_with("vault:") {
        return Err(Failure::NotConfigured(
            "its secret is a vault: reference, and no vault is configured".into(),
        ));
    }
    // The reason names the variable or file, which the log may show and a client may not.
    let value = secrets::read(config, environment, reference).map_err(|why| {
        tracing::warn!(environment, reason = %why, "an integration's secret cannot be read");
        Failure::NotConfigured(
            "its secret cannot be read from where the server allows (the server's log says \
             why)"
                .into(),
        )
    })?;
    let sensitive = |text: String| {
        HeaderValue::try_from(text)
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
            .map_err(|_| Failure::NotConfigured("its secret cannot be sent in a header".into()))
    };
    match c.scheme {
        CredentialScheme::Bearer => Ok(Credential::Header(
            AUTHORIZATION,
            sensitive(format!("Bearer {value}"))?,
        )),
        CredentialScheme::Basic => {
            let (user, password) = value.split_once(':').ok_or_else(|| {
                Failure::NotConfigured("its secret must be `user:password` for basic".into())
            })?;
            Ok(Credential::Basic(user.to_owned(), password.to_owned()))
        }
        CredentialScheme::Header => {
            let name = c
                .header
                .as_deref()
                .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .filter(|h| {
                    !RESERVED_HEADERS.contains(&h.as_str()) && !h.as_str().starts_with("proxy-")
                })
                .ok_or_else(|| {
                    Failure::NotConfigured(
                        "its credentials' header is not a header a secret may go in".into(),
                    )
                })?;
            Ok(Credential::Header(name, sensitive(value)?))
        }
    }
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
    }
}

/// The node's one outbound HTTP client (see the module's documentation).
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
    max_bytes: u64,
    /// `[integrations] internal_networks`: what may be called besides public addresses.
    internal: Arc<Vec<Cidr>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client with the configured limits, resolving names with the system's resolver.
    pub fn new(config: &IntegrationsConfig) -> Result<Self, Error> {
        Self::with_lookup(config, Lookup::System)
    }

    fn with_lookup(config: &IntegrationsConfig, lookup: Lookup) -> Result<Self, Error> {
        let internal = Arc::new(
            crate::config::address_ranges(&config.internal_networks)
                .map_err(|e| Error::invalid("integrations.internal_networks", e))?,
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(Duration::from_secs(config.connect_timeout_seconds.into()))
            .dns_resolver(Arc::new(Guard {
                lookup,
                internal: internal.clone(),
            }))
            .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("the integrations' HTTP client: {e}")))?;
        Ok(Client {
            http,
            timeout: Duration::from_secs(config.timeout_seconds.into()),
            max_bytes: config.max_response_bytes,
            internal,
        })
    }

    /// Whether a call to `url` may be made as far as its host says before any name is
    /// resolved: an address written in it (or `localhost`) must be public or in the
    /// internal networks. The reason says which networks are open.
    pub fn reaches(&self, url: &url::Url) -> Result<(), String> {
        let Some(origin) = Origin::of(url) else {
            return Err("it is not an http(s) URL".into());
        };
        let addresses = match &origin.host {
            Host::Ip(address) => vec![*address],
            // Either loopback family will do: the resolver offers the ones that are open.
            Host::Name(name) if name == "localhost" => vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            Host::Name(_) => return Ok(()),
        };
        let open = |a: &IpAddr| {
            outbound::address_allowed(&origin.host, *a, Cidr::any_contains(&self.internal, *a))
        };
        if addresses.iter().any(open) {
            return Ok(());
        }
        let address = addresses[0];
        Err(format!(
            "{address} is not a public address, and [integrations] internal_networks does \
             not list it"
        ))
    }

    /// Sends `call`, following redirects inside `allow`, with `credential` for the call's
    /// own origin only; reads the answer up to the size limit.
    async fn send(
        &self,
        call: Call,
        credential: Option<&Credential>,
        allow: &AllowList,
        record: &mut Record,
    ) -> Result<Value, Failure> {
        let deadline = Instant::now() + self.timeout;
        let Call {
            mut method,
            mut url,
            mut body,
        } = call;
        let own = Origin::of(&url)
            .filter(|o| allow.allows(o))
            .ok_or_else(|| Failure::Refused("the base URL is outside the allow-list".into()))?;
        let mut followed = 0;
        loop {
            let here =
                Origin::of(&url).ok_or_else(|| Failure::Refused("not an http(s) URL".into()))?;
            self.reaches(&url).map_err(Failure::Refused)?;
            let remaining = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or(Failure::Timeout)?;
            let mut request = self
                .http
                .request(reqwest_method(method), url.clone())
                .timeout(remaining)
                .header(ACCEPT, "application/json, text/plain;q=0.9, */*;q=0.1");
            match credential {
                Some(Credential::Header(name, value))
                    if outbound::sends_credentials(&own, &here) =>
                {
                    request = request.header(name, value);
                }
                Some(Credential::Basic(user, password))
                    if outbound::sends_credentials(&own, &here) =>
                {
                    request = request.basic_auth(user, Some(password));
                }
                _ => {}
            }
            if let Some(b) = &body {
                request = request.json(b);
            }
            let response = request.send().await.map_err(|e| failure_of(&e, &here))?;
            let status = response.status();
            record.status = Some(status.as_u16());
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            if let (true, Some(location)) = (redirect, response.headers().get(LOCATION)) {
                let location = location
                    .to_str()
                    .map_err(|_| Failure::Refused(RedirectRefusal::Unparsable.to_string()))?;
                if let Ok(to) = url.join(location) {
                    record.redirects.push(outbound::recorded_target(&to));
                }
                url = outbound::follow_redirect(allow, &url, location, followed)
                    .map_err(|r| Failure::Refused(r.to_string()))?;
                let (next, keeps_body) = outbound::method_after_redirect(status.as_u16(), method);
                method = next;
                if !keeps_body {
                    body = None;
                }
                followed += 1;
                continue;
            }
            if status.as_u16() >= 400 {
                return Err(Failure::Status(status.as_u16()));
            }
            return answer(self.read(response, &here).await?);
        }
    }

    /// The answer's body, or [`Failure::TooLarge`] as soon as it is known to pass the limit.
    async fn read(
        &self,
        mut response: reqwest::Response,
        from: &Origin,
    ) -> Result<Vec<u8>, Failure> {
        let too_large = Failure::TooLarge(self.max_bytes);
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failure_of(&e, from))? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

fn reqwest_method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

/// The failure a transport error stands for. reqwest's own message names the URL, query
/// string included, so it goes to the log without it and never into the failure.
fn failure_of(e: &reqwest::Error, origin: &Origin) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<AddressRefused>() {
            return Failure::Refused(refused.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return Failure::Timeout;
    }
    tracing::debug!(%origin, error = %DisplayChain(e), "integration exchange failed");
    if e.is_connect() {
        Failure::Unreachable(format!("could not connect to {origin}"))
    } else {
        Failure::Unreachable(format!("the exchange with {origin} broke off"))
    }
}

/// An error and its causes on one line, without the URL reqwest puts in its own message.
struct DisplayChain<'e>(&'e reqwest::Error);

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut source = std::error::Error::source(self.0);
        f.write_str(if self.0.is_connect() {
            "connect"
        } else {
            "request"
        })?;
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// JSON, else UTF-8 text as a JSON string; empty is `null`.
fn answer(bytes: Vec<u8>) -> Result<Value, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if let Ok(v) = serde_json::from_slice(&bytes) {
        return Ok(v);
    }
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| Failure::Unreadable)
}

/// How names are turned into addresses before the rule is applied.
#[derive(Clone)]
enum Lookup {
    /// The system's resolver (`getaddrinfo`, on a blocking thread).
    System,
    /// A fixed table, for tests of names that resolve to what they must not.
    #[cfg(test)]
    Fixed(Arc<std::collections::HashMap<String, Vec<IpAddr>>>),
}

impl Lookup {
    async fn addresses(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        match self {
            Lookup::System => Ok(tokio::net::lookup_host((name, 0))
                .await?
                .map(|a| a.ip())
                .collect()),
            #[cfg(test)]
            Lookup::Fixed(table) => Ok(table.get(name).cloned().unwrap_or_default()),
        }
    }
}

/// The resolver of [`Client`]: `localhost` is loopback without asking anyone (the loopback
/// addresses of the internal networks); any other name must resolve only to public
/// addresses or addresses of the internal networks, or the connection is refused before it
/// is made. (Hosts written as addresses are never resolved: they are connected to as
/// written, after [`Client::reaches`].)
struct Guard {
    lookup: Lookup,
    internal: Arc<Vec<Cidr>>,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        let lookup = self.lookup.clone();
        let internal = self.internal.clone();
        Box::pin(async move {
            let addresses = if name == "localhost" {
                // Loopback, in the families the operator opened (none: refused below).
                let both = [
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ];
                let open: Vec<IpAddr> = both
                    .into_iter()
                    .filter(|a| Cidr::any_contains(&internal, *a))
                    .collect();
                if open.is_empty() {
                    both.to_vec()
                } else {
                    open
                }
            } else {
                lookup.addresses(&name).await?
            };
            let host = Host::Name(name.clone());
            if let Some(address) = addresses.iter().find(|a| {
                !outbound::address_allowed(&host, **a, Cidr::any_contains(&internal, **a))
            }) {
                let refused: Box<dyn std::error::Error + Send + Sync> = Box::new(AddressRefused {
                    name,
                    address: *address,
                });
                return Err(refused);
            }
            if addresses.is_empty() {
                return Err(format!("{name} has no address").into());
            }
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A declared name resolved to an address it must not connect to.
#[derive(Debug)]
struct AddressRefused {
    name: String,
    address: IpAddr,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to {}, which is not a public address, and [integrations] \
             internal_networks does not list it",
            self.name, self.address
        )
    }
}

impl std::error::Error for AddressRefused {}

pub(crate) mod secrets;
#[cfg(test)]
mod tests;
