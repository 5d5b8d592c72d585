//! What a module or a deployment plan may name as an integration's base URL or a secret's
//! reference: the same rules the runtime applies when it calls (`rampart_apps::outbound`,
//! `SecretRef`), so a plan is refused when it is written, never when it is first used.

/// Whether `url` is an `http(s)` URL with a host and no credentials in it: what an
/// integration's base URL (in a module, or per environment in a deployment plan) must be.
pub fn is_service_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let authority = r.split('/').next().unwrap_or("");
        let (host_ok, port) = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((addr, after)) => (
                    addr.parse::<std::net::Ipv6Addr>().is_ok(),
                    match after.strip_prefix(':') {
                        Some(p) => Some(p),
                        None if after.is_empty() => None,
                        None => Some("-"),
                    },
                ),
                None => (false, None),
            },
            None => {
                let (host, port) = match authority.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (authority, None),
                };
                let name = !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
                // A name ending in a number is read as an IPv4 address by URL parsers
                // (`pay10.0.0.7` is not a name): it must then be one.
                let mut labels = host.rsplit('.').skip_while(|l| l.is_empty());
                let numeric = labels.next().is_some_and(|l| {
                    l.bytes().all(|b| b.is_ascii_digit())
                        || l.strip_prefix("0x")
                            .or_else(|| l.strip_prefix("0X"))
                            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                });
                let address = !numeric || host.parse::<std::net::Ipv4Addr>().is_ok();
                (name && address, port)
            }
        };
        let port_ok = port.is_none_or(|p| {
            p.is_empty() || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok())
        });
        // A base URL is an origin and a path: no user information, query string or
        // fragment (the outbound client refuses them, and a query may carry a secret).
        host_ok
            && port_ok
            && !r.contains(['?', '#', '@', '\\'])
            && !r.contains(char::is_whitespace)
            && !r.contains(char::is_control)
    })
}

/// Whether `reference` names where the platform finds a secret, never the secret itself:
/// `env:NAME` (an environment variable of the server), `file:/absolute/path` or
/// `vault:path/in/the/vault`.
pub fn is_secret_reference(reference: &str) -> bool {
    let Some((scheme, rest)) = reference.split_once(':') else {
        return false;
    };
    let plain = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.len() <= 500
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') || extra.contains(&c)
            })
    };
    match scheme {
        // An environment variable's name as the server reads it: letters, digits and `_`,
        // not starting with a digit, and not one of the server's own `RAMPART_*` keys.
        "env" => {
            plain(rest, &[])
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !rest.starts_with(|c: char| c.is_ascii_digit())
                && !rest.starts_with("RAMPART_")
        }
        "file" => rest.starts_with('/') && !rest.contains("/../") && plain(rest, &['/']),
        "vault" => plain(rest, &['/']) && !rest.starts_with('/'),
        _ => false,
    }
}
