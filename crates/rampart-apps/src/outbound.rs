//! Where an integration call may go: the decisions of the runtime's one outbound HTTP
//! client, without I/O.
//!
//! **The rules, in words.**
//!
//! 1. *The allow-list* of an environment is the set of origins (scheme, host, port) of the
//!    base URLs its running integrations call: the module's `base_url`, or the plan's
//!    endpoint when one replaces it (`settings.endpoints`, keyed `module.Integration`); a
//!    replaced base URL is no longer allowed (unless another integration still calls it).
//!    Paths do not matter; schemes and ports do (`http://h` and `https://h` are two
//!    origins, as are `h:8443` and `h:443`). A base URL must be http(s) with a host, and
//!    without user information, query string or fragment, or it calls nothing and allows
//!    nothing.
//! 2. *The URL of a call* is the base URL's origin and path, then the method's `path` in
//!    which each `{name}` is replaced by argument `name` as **one** path segment:
//!    percent-encoded except for RFC 3986's unreserved characters (`A–Z a–z 0–9 - . _ ~`),
//!    so `/`, `\`, `?`, `#` and `%` cannot leave the segment, and never empty, `.` or `..`.
//!    The other arguments go into the query string for `GET` and `DELETE` (a value or a
//!    list of values; `null` leaves the parameter out) and into a JSON object body for
//!    `POST`, `PUT` and `PATCH`. No argument can change the origin or climb out of the path
//!    (property-tested).
//! 3. *A redirect* is followed only to an origin of the allow-list, never from `https` to
//!    `http`, never to a URL with user information, and at most [`MAX_REDIRECTS`] times.
//!    `303`, and `301`/`302` after a `POST`, continue as a `GET` without a body; the others
//!    keep the method and the body. The integration's credentials go only to the origin of
//!    its own base URL, never to an origin a redirect leads to.
//! 4. *An address* a connection is made to must be public ([`is_public`]: no loopback,
//!    private, link-local, shared (CGNAT), unique-local, unspecified, multicast, reserved,
//!    documentation or benchmarking range, nor an IPv4-mapped or NAT64 form of one) or in
//!    one of the internal networks the operator lists (`[integrations] internal_networks`).
//!    A host declared as an IP address is connected to exactly that address (no name is
//!    resolved); `localhost` is loopback only; any other name must resolve only to such
//!    addresses, so a DNS answer cannot turn a declared name into a request to an internal
//!    service the operator did not open. Whoever writes a model or a plan cannot reach the
//!    node's own ports, cloud metadata or the private network on their own: the operator
//!    opens what integrations may call.
//!
//! What is *not* decided here: the service resolves names, connects, applies the timeouts
//! and the size limit, reads the secret and records the call.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rampart_model::format::{HttpMethod, IntegrationMethod};
use rampart_model::Module;
use serde_json::{Map, Value};
use url::Url;

/// Redirects one call may follow.
pub const MAX_REDIRECTS: usize = 5;

/// Longest target an audit event records.
const MAX_RECORDED: usize = 2_048;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// The host of an origin: a name (lower-case, as URLs normalise it) or an address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// A DNS name.
    Name(String),
    /// An IP address written in the URL.
    Ip(IpAddr),
}

/// Where a connection goes: scheme, host and port (the scheme's default when the URL has
/// none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl Origin {
    /// The origin of an `http` or `https` URL with a host; `None` for anything else.
    pub fn of(url: &Url) -> Option<Origin> {
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return None,
        };
        let host = match url.host()? {
            url::Host::Domain(name) => Host::Name(name.to_owned()),
            url::Host::Ipv4(a) => Host::Ip(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Host::Ip(IpAddr::V6(a)),
        };
        Some(Origin {
            scheme,
            host,
            port: url.port_or_known_default()?,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        match &self.host {
            Host::Name(n) => write!(f, "{scheme}://{n}:{}", self.port),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{scheme}://{a}:{}", self.port),
            Host::Ip(IpAddr::V6(a)) => write!(f, "{scheme}://[{a}]:{}", self.port),
        }
    }
}

/// Parses a base URL (a module's `base_url` or a plan's endpoint): `http` or `https` with a
/// host, no user information, no query string, no fragment. The error says which, without
/// echoing the URL (its user information or query string may hold a secret).
pub fn base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("the base URL is not a URL ({e})"))?;
    if Origin::of(&url).is_none() {
        return Err("the base URL is not an http(s) URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the base URL carries a user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(
            "the base URL has a query string or fragment; a base URL is an origin and a path"
                .into(),
        );
    }
    Ok(url)
}

/// The base URL each running integration of an environment calls, keyed by module and
/// integration: the plan's endpoint where it gives one, the module's `base_url` otherwise
/// (or why neither can be used).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    bases: BTreeMap<(String, String), Result<Url, String>>,
}

impl Endpoints {
    /// The endpoints of `modules` with the plan's `overrides` (`module.Integration` → URL).
    pub fn new<'m>(
        modules: impl IntoIterator<Item = &'m Module>,
        overrides: &BTreeMap<String, String>,
    ) -> Self {
        let mut bases = BTreeMap::new();
        for m in modules {
            for g in &m.integrations {
                let key = format!("{}.{}", m.module, g.name);
                let text = overrides.get(&key).unwrap_or(&g.base_url);
                bases.insert((m.module.clone(), g.name.clone()), base_url(text));
            }
        }
        Endpoints { bases }
    }

    /// The base URL integration `integration` of `module` calls: `None` if no running
    /// module declares it, `Some(Err(why))` if its URL cannot be used.
    pub fn base(&self, module: &str, integration: &str) -> Option<Result<&Url, &str>> {
        self.bases
            .get(&(module.to_owned(), integration.to_owned()))
            .map(|b| b.as_ref().map_err(String::as_str))
    }

    /// The origins these endpoints allow.
    pub fn allow_list(&self) -> AllowList {
        AllowList {
            origins: self
                .bases
                .values()
                .filter_map(|b| b.as_ref().ok().and_then(Origin::of))
                .collect(),
        }
    }
}

/// The origins calls of one environment may reach (rule 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    origins: BTreeSet<Origin>,
}

impl AllowList {
    /// Whether `origin` is allowed.
    pub fn allows(&self, origin: &Origin) -> bool {
        self.origins.contains(origin)
    }

    /// The allowed origins, in order.
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        self.origins.iter()
    }
}

impl FromIterator<Origin> for AllowList {
    fn from_iter<I: IntoIterator<Item = Origin>>(iter: I) -> Self {
        AllowList {
            origins: iter.into_iter().collect(),
        }
    }
}

/// One HTTP request of a call, before any redirect.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The URL, query string included.
    pub url: Url,
    /// The JSON body (`POST`, `PUT`, `PATCH`): an object of the arguments the path did not
    /// take.
    pub body: Option<Value>,
}

/// An argument that cannot be placed in a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    /// The argument's name.
    pub argument: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "argument `{}` {}", self.argument, self.reason)
    }
}

/// The request calling `method` at `base` with `args` (rule 2).
pub fn build_call(
    base: &Url,
    method: &IntegrationMethod,
    args: &Map<String, Value>,
) -> Result<Call, ArgumentError> {
    let mut rest = args.clone();
    let mut path = base.path().trim_end_matches('/').to_owned();
    let mut template = method.path.as_str();
    while let Some(open) = template.find('{') {
        let (literal, tail) = template.split_at(open);
        path.push_str(literal);
        let name_len = tail[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len() - 1);
        let name = &tail[1..1 + name_len];
        if name.is_empty() || !tail[1 + name_len..].starts_with('}') {
            // Not a placeholder: the brace is literal text of the path.
            path.push('{');
            template = &tail[1..];
            continue;
        }
        let value = rest.remove(name).ok_or_else(|| ArgumentError {
            argument: name.to_owned(),
            reason: "is required: the method's path uses it".into(),
        })?;
        let text = scalar_text(&value).ok_or_else(|| ArgumentError {
            argument: name.to_owned(),
            reason: "must be text, a number or a boolean to go into the path".into(),
        })?;
        if text.is_empty() || text == "." || text == ".." {
            return Err(ArgumentError {
                argument: name.to_owned(),
                reason: "must not be empty, `.` or `..` in the path".into(),
            });
        }
        encode_segment(&text, &mut path);
        template = &tail[2 + name_len..];
    }
    path.push_str(template);
    let mut url = base.clone();
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    // Arguments cannot make a dot segment (see above); a template could (`/.%{x}`), and
    // the URL parser would then drop segments: refuse what no longer has its shape.
    if url.path().split('/').count() != path.split('/').count() {
        return Err(ArgumentError {
            argument: "path".into(),
            reason: "would leave the method's path".into(),
        });
    }
    let body = match method.method {
        HttpMethod::Get | HttpMethod::Delete => {
            let mut pairs = Vec::new();
            for (name, value) in &rest {
                let values = match value {
                    Value::Null => continue,
                    Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                for v in values {
                    let text = scalar_text(v).ok_or_else(|| ArgumentError {
                        argument: name.clone(),
                        reason: "must be text, a number, a boolean or a list of them to go \
                                 into the query string"
                            .into(),
                    })?;
                    pairs.push((name.as_str(), text));
                }
            }
            if !pairs.is_empty() {
                url.query_pairs_mut().extend_pairs(pairs);
            }
            None
        }
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch => Some(Value::Object(rest)),
    };
    Ok(Call {
        method: method.method,
        url,
        body,
    })
}

/// The text of a string, number or boolean.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Appends `text` percent-encoded as one path segment: everything but RFC 3986's
/// unreserved characters is encoded, `/` and `%` included.
fn encode_segment(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Why a redirect is not followed (rule 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRefusal {
    /// The `Location` is not a URL, even relative to the request's.
    Unparsable,
    /// The target is not `http` or `https` with a host.
    NotHttp,
    /// The target carries a user name or password.
    UserInfo,
    /// From `https` to `http`.
    Downgrade(Origin),
    /// The target's origin is not in the allow-list.
    NotAllowed(Origin),
    /// [`MAX_REDIRECTS`] have been followed already.
    TooMany,
}

impl fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectRefusal::Unparsable => f.write_str("a redirect to something that is not a URL"),
            RedirectRefusal::NotHttp => f.write_str("a redirect to a URL that is not http(s)"),
            RedirectRefusal::UserInfo => {
                f.write_str("a redirect to a URL with a user name or password")
            }
            RedirectRefusal::Downgrade(o) => {
                write!(f, "a redirect from https to plain http ({o})")
            }
            RedirectRefusal::NotAllowed(o) => write!(
                f,
                "a redirect to {o}, which no integration of the environment calls"
            ),
            RedirectRefusal::TooMany => write!(f, "more than {MAX_REDIRECTS} redirects"),
        }
    }
}

/// Where a redirect from `from` with `location` leads, if it may be followed after
/// `followed` redirects (rule 3).
pub fn follow_redirect(
    allow: &AllowList,
    from: &Url,
    location: &str,
    followed: usize,
) -> Result<Url, RedirectRefusal> {
    if followed >= MAX_REDIRECTS {
        return Err(RedirectRefusal::TooMany);
    }
    let to = from
        .join(location)
        .map_err(|_| RedirectRefusal::Unparsable)?;
    let origin = Origin::of(&to).ok_or(RedirectRefusal::NotHttp)?;
    if !to.username().is_empty() || to.password().is_some() {
        return Err(RedirectRefusal::UserInfo);
    }
    if from.scheme() == "https" && origin.scheme == Scheme::Http {
        return Err(RedirectRefusal::Downgrade(origin));
    }
    if !allow.allows(&origin) {
        return Err(RedirectRefusal::NotAllowed(origin));
    }
    Ok(to)
}

/// The method after a redirect with `status`, and whether the body goes along: `303`, and
/// `301`/`302` after a `POST`, become a `GET` without a body (as browsers do); `307`, `308`
/// and the rest keep both.
pub fn method_after_redirect(status: u16, method: HttpMethod) -> (HttpMethod, bool) {
    match (status, method) {
        (303, _) | (301 | 302, HttpMethod::Post) => (HttpMethod::Get, false),
        (_, m) => (m, true),
    }
}

/// Whether the credentials of an integration whose base URL is at `own` go to a request at
/// `target`: only to its own origin.
pub fn sends_credentials(own: &Origin, target: &Origin) -> bool {
    own == target
}

/// Whether a connection to a host declared as `host` may go to `address` (rule 4), where
/// `internal` says whether the operator lists `address` among the internal networks
/// integrations may call.
pub fn address_allowed(host: &Host, address: IpAddr, internal: bool) -> bool {
    let reachable = internal || is_public(address);
    match host {
        Host::Ip(declared) => *declared == address && reachable,
        Host::Name(name) if name == "localhost" => address.is_loopback() && internal,
        Host::Name(_) => reachable,
    }
}

/// IPv4 ranges that are not public: (network, prefix length).
const V4_NOT_PUBLIC: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network", unspecified
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata services live here)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, broadcast
];

/// IPv6 ranges inside global unicast (`2000::/3`) that are not public.
const V6_NOT_PUBLIC: &[([u16; 8], u8)] = &[
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo, ORCHID, …)
    ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4 (deprecated; embeds any IPv4 address)
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
];

/// Whether `address` is a public unicast address: what a declared name must resolve to.
/// IPv4: anything outside the special-purpose ranges listed in this file (RFC 6890 and its
/// updates). IPv6: global unicast (`2000::/3`) outside the special ranges listed here; an
/// IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`, what DNS64 answers on
/// IPv6-only networks) address is judged by its IPv4 address; everything else (loopback,
/// unspecified, unique-local, link-local, site-local, multicast, reserved) is not public.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => {
            let s = a.segments();
            if s[..6] == [0, 0, 0, 0, 0, 0xffff] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [_, _, _, _, _, _, hi, lo] = s;
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            let global = s[0] & 0xe000 == 0x2000;
            global && !V6_NOT_PUBLIC.iter().any(|(net, len)| in_v6(a, net, *len))
        }
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let bits = u32::from(a);
    !V4_NOT_PUBLIC.iter().any(|(net, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
        bits & mask == u32::from_be_bytes(*net) & mask
    })
}

fn in_v6(a: Ipv6Addr, net: &[u16; 8], len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(a) & mask == u128::from(Ipv6Addr::from(*net)) & mask
}

/// What an audit event records of a URL: scheme, host, port and path, without user
/// information, query string, fragment or path parameters (`;jsessionid=…`), where
/// tokens travel; at most 2,048 characters.
pub fn recorded_target(url: &Url) -> String {
    let Some(origin) = Origin::of(url) else {
        return "(not an http(s) URL)".into();
    };
    let path: Vec<&str> = url
        .path()
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or_default())
        .collect();
    let mut text = format!("{origin}{}", path.join("/"));
    if text.len() > MAX_RECORDED {
        let mut end = MAX_RECORDED;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests;
