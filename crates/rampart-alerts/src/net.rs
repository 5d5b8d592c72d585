//! Address ranges (`10.0.0.0/8`, `2001:db8::/32`, or one address), for the networks IT
//! administrators may sign in from and the proxies whose forwarded addresses are believed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range: a network address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a range did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// Whether `ip` is inside the range. An IPv4 address written as IPv6 (`::ffff:a.b.c.d`)
    /// is the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(ip)), 32, self.prefix)
                    == masked(u128::from(u32::from(net)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(ip), 128, self.prefix)
                    == masked(u128::from(net), 128, self.prefix)
            }
            _ => false,
        }
    }

    /// Whether any of `ranges` contains `ip`.
    pub fn any_contains(ranges: &[Cidr], ip: IpAddr) -> bool {
        ranges.iter().any(|r| r.contains(ip))
    }
}

/// The top `prefix` bits of a `width`-bit number.
fn masked(value: u128, width: u32, prefix: u8) -> u128 {
    let prefix = u32::from(prefix);
    if prefix == 0 {
        return 0;
    }
    let shift = width - prefix;
    (value >> shift) << shift
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            CidrError(format!(
                "`{s}` is not an address range: write an address (`192.0.2.7`) or a network and prefix length (`10.0.0.0/8`, `2001:db8::/32`)"
            ))
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let network = network.to_canonical();
        let width: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
        };
        let cidr = Cidr { network, prefix };
        // A range written with host bits set (`10.0.0.1/8`) is almost always a typing
        // mistake for a single address or another network: refuse it rather than guess.
        if host_bits_set(network, prefix) {
            return Err(CidrError(format!(
                "`{s}` has bits set after its /{prefix} prefix: write the network address (for example `{}`)",
                Cidr::network_of(network, prefix)
            )));
        }
        Ok(cidr)
    }
}

fn host_bits_set(ip: IpAddr, prefix: u8) -> bool {
    Cidr::network_of(ip, prefix) != ip
}

impl Cidr {
    fn network_of(ip: IpAddr, prefix: u8) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let bits = masked(u128::from(u32::from(v4)), 32, prefix);
                IpAddr::V4(std::net::Ipv4Addr::from(bits as u32))
            }
            IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(masked(
                u128::from(v6),
                128,
                prefix,
            ))),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The address a request came from when it reached `peer` carrying `X-Forwarded-For`
/// (`forwarded`, every such header in order): the peer itself unless it is one of the
/// `trusted` proxies; then, walking the header from the right (the entry the nearest proxy
/// added), the first address that is not a trusted proxy. An unparsable entry ends the walk
/// at the last address believed, so a client cannot choose its own address by writing one.
pub fn client_address(peer: IpAddr, forwarded: &[&str], trusted: &[Cidr]) -> IpAddr {
    let mut current = peer.to_canonical();
    if !Cidr::any_contains(trusted, current) {
        return current;
    }
    let entries = forwarded
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>() else {
            return current;
        };
        current = ip.to_canonical();
        if !Cidr::any_contains(trusted, current) {
            return current;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_contain_what_their_prefix_says() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("::/0", "::1", true),
        ];
        for (range, addr, inside) in cases {
            assert_eq!(cidr(range).contains(ip(addr)), inside, "{range} ∋ {addr}");
        }
    }

    #[test]
    fn bad_ranges_are_refused_with_the_reason() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "::1/129",
            "10.0.0.0/-1",
            "x/8",
        ] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(e.to_string().contains("not an address range"), "{bad}: {e}");
        }
        let e = "10.0.0.1/8".parse::<Cidr>().unwrap_err();
        assert!(e.to_string().contains("`10.0.0.0`"), "{e}");
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = [cidr("10.0.0.0/8")];
        // Straight from a client: the header is the client's own writing.
        assert_eq!(
            client_address(ip("203.0.113.5"), &["198.51.100.1"], &trusted),
            ip("203.0.113.5")
        );
        // Through the proxy: the entry it added.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["198.51.100.1, 203.0.113.5"], &trusted),
            ip("203.0.113.5")
        );
        // Through two proxies, two headers.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["203.0.113.5", "10.0.0.3"], &trusted),
            ip("203.0.113.5")
        );
        // A proxy with no header, or a garbled entry: the last address believed.
        assert_eq!(
            client_address(ip("10.0.0.2"), &[], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &["203.0.113.5, garbage"], &trusted),
            ip("10.0.0.2")
        );
        // No proxies trusted: never the header.
        assert_eq!(
            client_address(ip("10.0.0.2"), &["203.0.113.5"], &[]),
            ip("10.0.0.2")
        );
    }
}
