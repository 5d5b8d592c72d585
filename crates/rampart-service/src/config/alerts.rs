//! `[alerts]`: intrusion detection's thresholds, allowances and where alerts are sent; and
//! the trusted proxies whose forwarded addresses per-address rules believe.

use rampart_alerts::{Cidr, Hours, Policy, Retry, Rule};
use serde::{Deserialize, Serialize};
use time::Duration;

/// `[alerts]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Watch the audit log and raise alerts.
    pub enabled: bool,
    /// Failed sign-ins on one account that raise `brute_force` (keep it at most
    /// `lockout.threshold`: a locked account's attempts are refused unchecked, unrecorded).
    pub brute_force_count: u32,
    /// Their window, in seconds.
    pub brute_force_window_seconds: u32,
    /// Distinct accounts failing from one address that raise `credential_stuffing`.
    pub credential_stuffing_accounts: u32,
    /// Their window, in seconds.
    pub credential_stuffing_window_seconds: u32,
    /// Distinct accounts failing from anywhere that raise `password_spraying`.
    pub password_spraying_accounts: u32,
    /// Their window, in seconds.
    pub password_spraying_window_seconds: u32,
    /// Refused requests by one user that raise `denial_burst`.
    pub denial_burst_count: u32,
    /// Their window, in seconds.
    pub denial_burst_window_seconds: u32,
    /// Networks IT administrators may sign in from, comma-separated (`10.0.0.0/8,
    /// 192.0.2.7`); empty: anywhere.
    pub admin_networks: String,
    /// Environments whose deployments are watched, comma-separated.
    pub production_environments: String,
    /// When production deployments are expected (`Mon-Fri 08:00-18:00 +01:00`); empty:
    /// any time.
    pub deploy_hours: String,
    /// An HTTPS address that receives each alert as a signed JSON POST; empty for none.
    pub webhook_url: String,
    /// Where the webhook's signing secret is kept: `env:NAME` or `file:/absolute/path`.
    pub webhook_secret: String,
    /// Addresses that receive each alert by e-mail, comma-separated, through the
    /// `[support]` mail server; empty for none.
    pub email_to: String,
    /// Attempts to deliver one alert to one sink before giving up (an
    /// `alert.delivery_failed` event), the first included.
    pub delivery_attempts: u32,
    /// The wait after a failed attempt, in seconds, doubling after each failure.
    pub delivery_backoff_seconds: u32,
    /// The longest wait between two attempts, in seconds.
    pub delivery_backoff_max_seconds: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            // At most the lockout threshold: attempts on a locked account are refused
            // before they are checked, so they are not there to count.
            brute_force_count: 5,
            brute_force_window_seconds: 900,
            credential_stuffing_accounts: 10,
            credential_stuffing_window_seconds: 600,
            password_spraying_accounts: 30,
            password_spraying_window_seconds: 1800,
            denial_burst_count: 50,
            denial_burst_window_seconds: 60,
            admin_networks: String::new(),
            production_environments: "production".into(),
            deploy_hours: String::new(),
            webhook_url: String::new(),
            webhook_secret: String::new(),
            email_to: String::new(),
            // 1 s, 2 s, 4 s … 512 s, then every 10 minutes: the 20th attempt about 1 h 47 min
            // after the alert.
            delivery_attempts: 20,
            delivery_backoff_seconds: 1,
            delivery_backoff_max_seconds: 600,
        }
    }
}

/// The items of a comma-separated list.
pub fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses a comma-separated list of address ranges.
pub fn ranges(list: &str) -> Result<Vec<Cidr>, String> {
    items(list)
        .map(|s| s.parse::<Cidr>().map_err(|e| e.to_string()))
        .collect()
}

impl AlertsConfig {
    /// The detector's policy.
    pub fn policy(&self) -> Result<Policy, String> {
        let rule = |count: u32, secs: u32| Rule {
            count,
            window: Duration::seconds(secs.into()),
        };
        Ok(Policy {
            brute_force: rule(self.brute_force_count, self.brute_force_window_seconds),
            credential_stuffing: rule(
                self.credential_stuffing_accounts,
                self.credential_stuffing_window_seconds,
            ),
            password_spraying: rule(
                self.password_spraying_accounts,
                self.password_spraying_window_seconds,
            ),
            denial_burst: rule(self.denial_burst_count, self.denial_burst_window_seconds),
            admin_networks: ranges(&self.admin_networks)?,
            production: items(&self.production_environments)
                .map(str::to_owned)
                .collect(),
            deploy_hours: match self.deploy_hours.trim() {
                "" => None,
                h => Some(h.parse::<Hours>().map_err(|e| e.to_string())?),
            },
        })
    }

    /// The delivery's retry policy.
    pub fn retry(&self) -> Retry {
        Retry {
            attempts: self.delivery_attempts,
            first: Duration::seconds(self.delivery_backoff_seconds.into()),
            cap: Duration::seconds(self.delivery_backoff_max_seconds.into()),
        }
    }

    /// Checks the `[alerts]` values; `fail(key, value, allowed)` makes the error.
    pub(super) fn validate<E>(&self, fail: &impl Fn(&str, String, &str) -> E) -> Result<(), E> {
        for (key, v) in [
            ("alerts.brute_force_count", self.brute_force_count),
            (
                "alerts.brute_force_window_seconds",
                self.brute_force_window_seconds,
            ),
            (
                "alerts.credential_stuffing_accounts",
                self.credential_stuffing_accounts,
            ),
            (
                "alerts.credential_stuffing_window_seconds",
                self.credential_stuffing_window_seconds,
            ),
            (
                "alerts.password_spraying_accounts",
                self.password_spraying_accounts,
            ),
            (
                "alerts.password_spraying_window_seconds",
                self.password_spraying_window_seconds,
            ),
            ("alerts.denial_burst_count", self.denial_burst_count),
            (
                "alerts.denial_burst_window_seconds",
                self.denial_burst_window_seconds,
            ),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return Err(fail(key, v.to_string(), "1 to 1000000"));
            }
        }
        for (key, v, allowed) in [
            ("alerts.delivery_attempts", self.delivery_attempts, 1..=1000),
            (
                "alerts.delivery_backoff_seconds",
                self.delivery_backoff_seconds,
                1..=3600,
            ),
            (
                "alerts.delivery_backoff_max_seconds",
                self.delivery_backoff_max_seconds,
                self.delivery_backoff_seconds..=86_400,
            ),
        ] {
            if !allowed.contains(&v) {
                let range = format!("{} to {}", allowed.start(), allowed.end());
                return Err(fail(key, v.to_string(), &range));
            }
        }
        if let Err(e) = ranges(&self.admin_networks) {
            return Err(fail(
                "alerts.admin_networks",
                self.admin_networks.clone(),
                &e,
            ));
        }
        if let (false, Err(e)) = (
            self.deploy_hours.trim().is_empty(),
            self.deploy_hours.parse::<Hours>(),
        ) {
            return Err(fail(
                "alerts.deploy_hours",
                self.deploy_hours.clone(),
                &e.to_string(),
            ));
        }
        if !self.webhook_url.is_empty() {
            if !https_or_loopback(&self.webhook_url) {
                return Err(fail(
                    "alerts.webhook_url",
                    self.webhook_url.clone(),
                    "empty, or an https:// address (http:// only to a receiver on loopback)",
                ));
            }
            if self.webhook_secret.is_empty() {
                return Err(fail(
                    "alerts.webhook_secret",
                    String::new(),
                    "a reference to the webhook's signing secret (env:NAME or file:/absolute/path): a webhook is always signed",
                ));
            }
        }
        for to in items(&self.email_to) {
            if to.parse::<lettre::Address>().is_err() {
                return Err(fail(
                    "alerts.email_to",
                    to.to_owned(),
                    "e-mail addresses, comma-separated",
                ));
            }
        }
        Ok(())
    }
}

/// An `https://` address, or `http://` to a receiver on this machine (a local relay, a
/// witness beside the node).
pub(super) fn https_or_loopback(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Domain(d))) => d == "localhost",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tweak: impl FnOnce(&mut AlertsConfig)) -> Result<(), String> {
        let mut c = AlertsConfig::default();
        tweak(&mut c);
        c.validate(&|key: &str, value: String, allowed: &str| format!("{key}={value}: {allowed}"))
    }

    #[test]
    fn the_defaults_hold_and_make_a_policy() {
        assert_eq!(check(|_| {}), Ok(()));
        let p = AlertsConfig::default().policy().unwrap();
        assert_eq!(p.production, vec!["production".to_owned()]);
        assert!(p.admin_networks.is_empty() && p.deploy_hours.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        type Tweak = fn(&mut AlertsConfig);
        let cases: [(&str, Tweak); 10] = [
            ("alerts.delivery_attempts=0", |c| c.delivery_attempts = 0),
            ("alerts.delivery_backoff_seconds=0", |c| {
                c.delivery_backoff_seconds = 0
            }),
            ("alerts.delivery_backoff_max_seconds=5: 10 to 86400", |c| {
                c.delivery_backoff_seconds = 10;
                c.delivery_backoff_max_seconds = 5;
            }),
            ("alerts.brute_force_count=0", |c| c.brute_force_count = 0),
            ("alerts.admin_networks=10.0.0.0/33", |c| {
                c.admin_networks = "10.0.0.0/33".into()
            }),
            ("alerts.deploy_hours=Mon", |c| c.deploy_hours = "Mon".into()),
            ("alerts.webhook_url=http://203.0.113.1/hook", |c| {
                c.webhook_url = "http://203.0.113.1/hook".into();
                c.webhook_secret = "env:HOOK".into();
            }),
            ("alerts.webhook_url=ftp://x/", |c| {
                c.webhook_url = "ftp://x/".into();
                c.webhook_secret = "env:HOOK".into();
            }),
            ("alerts.webhook_secret=", |c| {
                c.webhook_url = "https://siem.example/hook".into()
            }),
            ("alerts.email_to=not-an-address", |c| {
                c.email_to = "a@example.org, not-an-address".into()
            }),
        ];
        for (expected, tweak) in cases {
            let e = check(tweak).unwrap_err();
            assert!(e.starts_with(expected), "{expected}: {e}");
        }
        assert_eq!(
            check(|c| {
                c.webhook_url = "http://127.0.0.1:9000/hook".into();
                c.webhook_secret = "env:HOOK".into();
            }),
            Ok(())
        );
    }
}
