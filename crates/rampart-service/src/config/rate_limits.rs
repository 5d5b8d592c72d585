//! `[rate_limits]`: requests each client address may send per route class.

use rampart_alerts::Rate;
use serde::{Deserialize, Serialize};

/// `[rate_limits]`: one rate per route class (`COUNT/s`, `/min` or `/h`, optionally `burst
/// N`), applied per client address (`trusted_proxies` decides what that is); empty: no
/// limit for that class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Signing in: the login routes, second steps, identity providers' callbacks, and the
    /// console's and applications' sign-in pages.
    pub sign_in: String,
    /// The rest of `/api/`.
    pub api: String,
    /// The applications: `/apps/` (screens, the data API, actions).
    pub apps: String,
    /// The rest of `/console`.
    pub console: String,
    /// Client addresses remembered per class at most (memory stays bounded under a flood
    /// of addresses; an address forgotten early gets a fresh burst, never more).
    pub max_clients: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            // Off until the operator sets them (docs/configuration.md suggests values):
            // failed sign-ins are throttled per address and locked per account anyway
            // (`[lockout]`), and one address may be a whole office behind its proxy.
            sign_in: String::new(),
            api: String::new(),
            apps: String::new(),
            console: String::new(),
            max_clients: 100_000,
        }
    }
}

/// The route classes, in the order of their keys.
pub const CLASSES: [&str; 4] = ["sign_in", "api", "apps", "console"];

impl RateLimitsConfig {
    /// Refuses a rate that does not read and a client bound out of range.
    pub(crate) fn validate<E>(&self, fail: &impl Fn(&str, String, &str) -> E) -> Result<(), E> {
        if let Err((class, why)) = self.read() {
            let key = format!("rate_limits.{}", CLASSES[class]);
            return Err(fail(&key, self.texts()[class].clone(), &why));
        }
        if !(1_000..=10_000_000).contains(&self.max_clients) {
            return Err(fail(
                "rate_limits.max_clients",
                self.max_clients.to_string(),
                "1000 to 10000000",
            ));
        }
        Ok(())
    }

    /// Each class's rate (`None`: unlimited), in the order of [`CLASSES`]; a rate that does
    /// not read is named by its key, with why.
    pub fn rates(&self) -> Result<[Option<Rate>; 4], (String, String)> {
        self.read()
            .map_err(|(class, why)| (format!("rate_limits.{}", CLASSES[class]), why))
    }

    /// Each class's text, in the order of [`CLASSES`].
    fn texts(&self) -> [&String; 4] {
        [&self.sign_in, &self.api, &self.apps, &self.console]
    }

    /// Each class's rate, or the first class (its index) whose rate does not read.
    fn read(&self) -> Result<[Option<Rate>; 4], (usize, String)> {
        let mut rates = [None; 4];
        for (class, text) in self.texts().into_iter().enumerate() {
            if !text.trim().is_empty() {
                rates[class] = Some(text.parse::<Rate>().map_err(|e| (class, e.to_string()))?);
            }
        }
        Ok(rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_per_class_and_bad_ones_name_their_key() {
        assert!(RateLimitsConfig::default()
            .rates()
            .unwrap()
            .iter()
            .all(Option::is_none));
        let set = RateLimitsConfig {
            sign_in: "10/s burst 30".into(),
            console: "600/min".into(),
            ..RateLimitsConfig::default()
        };
        let rates = set.rates().unwrap();
        assert_eq!(rates[0].unwrap().to_string(), "10/s burst 30");
        assert_eq!(rates[3].unwrap().to_string(), "600/min burst 600");
        assert!(rates[1].is_none() && rates[2].is_none());
        let bad = RateLimitsConfig {
            apps: "lots".into(),
            ..RateLimitsConfig::default()
        };
        let (key, why) = bad.rates().unwrap_err();
        assert_eq!(key, "rate_limits.apps");
        assert!(why.contains("a rate is written"), "{why}");
    }
}
