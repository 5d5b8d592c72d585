//! `[cluster]`: the lease by which nodes sharing a PostgreSQL database decide from what they
//! hold in memory (see [`crate::fence`]). Ignored on SQLite.
//!
//! The three lengths trade against each other. A write that moved the marks is answered
//! only once every node holding a live lease has read them, or its lease ran out: a node
//! that died holds writes up by up to one `lease_ms`. A node renews every `renew_ms`, so it
//! sees a change whose notification was lost within that time, and two renewals fit in
//! the time it trusts (`lease_ms - margin_ms`), so one slow renewal does not end its trust.
//! It stops trusting `margin_ms` before its lease in the database ends, room for its clock
//! and the database's to run at slightly different rates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fence::{LeaseTimes, LEASE, MARGIN, RENEW};

/// `[cluster]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// How long a node's lease lasts after it read the marks, in milliseconds: the longest
    /// a write waits for a node that stopped answering.
    pub lease_ms: u64,
    /// How often a node reads the marks and renews its lease unasked, in milliseconds.
    pub renew_ms: u64,
    /// How much sooner than its lease in the database a node stops trusting its memory, in
    /// milliseconds.
    pub margin_ms: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            lease_ms: millis(LEASE),
            renew_ms: millis(RENEW),
            margin_ms: millis(MARGIN),
        }
    }
}

impl ClusterConfig {
    /// The lengths the node's [`Fence`](crate::fence::Fence) runs with.
    pub fn lease_times(&self) -> LeaseTimes {
        LeaseTimes {
            lease: Duration::from_millis(self.lease_ms),
            renew: Duration::from_millis(self.renew_ms),
            margin: Duration::from_millis(self.margin_ms),
        }
    }

    /// Checks the `[cluster]` values; `fail(key, value, allowed)` makes the error.
    pub(super) fn validate<E>(&self, fail: &impl Fn(&str, String, &str) -> E) -> Result<(), E> {
        if !(500..=60_000).contains(&self.lease_ms) {
            return Err(fail(
                "cluster.lease_ms",
                self.lease_ms.to_string(),
                "500 to 60000 (milliseconds): shorter leases renew too often for a database \
                 round trip, longer ones hold writes up that long behind a node that died",
            ));
        }
        if self.margin_ms < 10 || self.margin_ms > self.lease_ms / 2 {
            return Err(fail(
                "cluster.margin_ms",
                self.margin_ms.to_string(),
                &format!(
                    "10 to half of cluster.lease_ms ({}) milliseconds: a node must stop \
                     trusting its memory before its lease in the database ends",
                    self.lease_ms / 2
                ),
            ));
        }
        let trusted = self.lease_ms - self.margin_ms;
        if self.renew_ms < 50 || self.renew_ms > trusted / 2 {
            return Err(fail(
                "cluster.renew_ms",
                self.renew_ms.to_string(),
                &format!(
                    "50 to half of cluster.lease_ms less cluster.margin_ms ({}) milliseconds: \
                     two renewals must fit in the time a node trusts its lease, so one slow \
                     renewal does not end it",
                    trusted / 2
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lease_ms: u64, renew_ms: u64, margin_ms: u64) -> Result<(), String> {
        ClusterConfig {
            lease_ms,
            renew_ms,
            margin_ms,
        }
        .validate(&|key: &str, value: String, allowed: &str| format!("{key} = {value}: {allowed}"))
    }

    #[test]
    fn lease_renewal_and_margin_are_checked_against_each_other() {
        assert_eq!(
            ClusterConfig::default(),
            ClusterConfig {
                lease_ms: 2000,
                renew_ms: 500,
                margin_ms: 250
            }
        );
        for ok in [
            (2000, 500, 250),
            (500, 50, 10),
            (60_000, 29_000, 2000),
            (1000, 400, 200),
        ] {
            assert_eq!(check(ok.0, ok.1, ok.2), Ok(()), "{ok:?}");
        }
        for (bad, key) in [
            ((499, 100, 50), "cluster.lease_ms"),
            ((60_001, 500, 250), "cluster.lease_ms"),
            ((2000, 500, 9), "cluster.margin_ms"),
            ((2000, 500, 1001), "cluster.margin_ms"),
            ((2000, 49, 250), "cluster.renew_ms"),
            ((2000, 876, 250), "cluster.renew_ms"),
            ((2000, 2000, 250), "cluster.renew_ms"),
        ] {
            let e = check(bad.0, bad.1, bad.2).unwrap_err();
            assert!(e.starts_with(&format!("{key} = ")), "{bad:?}: {e}");
        }
    }
}
