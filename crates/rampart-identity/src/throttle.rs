//! Login throttling: per-account lockout with exponential back-off, and a per-address
//! slow-down against credential stuffing (many usernames tried from one source).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// How failed logins for one username lock it.
///
/// Failures are counted per username attempted, whether or not the user exists, so the
/// lockout reveals nothing about which usernames are real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures before the first lock.
    pub threshold: u32,
    /// Length of the first lock; each further failure doubles it.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            base: Duration::seconds(30),
            max: Duration::hours(1),
            window: Duration::hours(24),
        }
    }
}

impl LockoutPolicy {
    /// How long to lock after the `failures`-th consecutive failure, if at all.
    pub fn lock_for(&self, failures: u32) -> Option<Duration> {
        if failures < self.threshold {
            return None;
        }
        let doublings = (failures - self.threshold).min(30);
        let lock = self.base.checked_mul(1i32 << doublings).unwrap_or(self.max);
        Some(lock.min(self.max))
    }
}

/// Per-source-address slow-down, kept in memory on each node.
///
/// Each address may fail `free` times within `window`; after that each further failure
/// makes it wait `base × 2^k` (up to `max`) before its next attempt is even considered.
/// IPv6 addresses are grouped by their /64, which one client usually controls whole.
#[derive(Debug)]
pub struct AddressThrottle {
    free: u32,
    base: Duration,
    max: Duration,
    window: Duration,
    capacity: usize,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: OffsetDateTime,
    blocked_until: Option<OffsetDateTime>,
}

impl AddressThrottle {
    /// A throttle allowing `free` failures per address within `window`, remembering at
    /// most 100,000 addresses.
    pub fn new(free: u32, base: Duration, max: Duration, window: Duration) -> Self {
        Self::with_capacity(free, base, max, window, 100_000)
    }

    /// Like [`AddressThrottle::new`], remembering at most `capacity` addresses.
    pub fn with_capacity(
        free: u32,
        base: Duration,
        max: Duration,
        window: Duration,
        capacity: usize,
    ) -> Self {
        Self {
            free,
            base,
            max,
            window,
            capacity: capacity.max(2),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Err(seconds to wait)` when `address` must wait before trying again.
    pub fn check(&self, address: IpAddr, now: OffsetDateTime) -> Result<(), u64> {
        let entries = self.lock();
        match entries.get(&bucket(address)).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Err(ceil_secs(until - now)),
            _ => Ok(()),
        }
    }

    /// Records a failed login from `address`; returns the wait now imposed, if any.
    pub fn record_failure(&self, address: IpAddr, now: OffsetDateTime) -> Option<Duration> {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            // Forget quiet addresses; if that is not enough, the least recently failing
            // half. Either way the map shrinks well below capacity, so this O(n) pass runs
            // once per many failures, not on every one.
            let window = self.window;
            entries.retain(|_, e| now - e.last_failure < window);
            if entries.len() > self.capacity / 2 {
                let mut times: Vec<OffsetDateTime> =
                    entries.values().map(|e| e.last_failure).collect();
                let cut = times.len() - self.capacity / 2;
                let (_, &mut threshold, _) = times.select_nth_unstable(cut);
                entries.retain(|_, e| e.last_failure >= threshold);
            }
        }
        let entry = entries.entry(bucket(address)).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: None,
        });
        if now - entry.last_failure >= self.window {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures <= self.free {
            return None;
        }
        let doublings = (entry.failures - self.free - 1).min(30);
        let wait = self
            .base
            .checked_mul(1i32 << doublings)
            .unwrap_or(self.max)
            .min(self.max);
        entry.blocked_until = Some(now + wait);
        Some(wait)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn bucket(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Whole seconds, rounded up, never zero: what a `Retry-After` header carries.
pub fn ceil_secs(d: Duration) -> u64 {
    let millis = d.whole_milliseconds().max(1);
    u64::try_from((millis + 999) / 1000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lockout_doubles_from_the_threshold_and_is_capped() {
        let policy = LockoutPolicy::default();
        let expected = [
            (1, None),
            (4, None),
            (5, Some(30)),
            (6, Some(60)),
            (7, Some(120)),
            (11, Some(1920)),
            (12, Some(3600)),
            (40, Some(3600)),
            (u32::MAX, Some(3600)),
        ];
        for (failures, secs) in expected {
            assert_eq!(
                policy.lock_for(failures).map(|d| d.whole_seconds()),
                secs,
                "after {failures} failures"
            );
        }
    }

    #[test]
    fn an_address_is_slowed_after_its_free_failures() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let throttle = AddressThrottle::new(
            3,
            Duration::seconds(2),
            Duration::seconds(60),
            Duration::hours(1),
        );
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(throttle.record_failure(ip, t0), None);
        }
        assert_eq!(throttle.check(ip, t0), Ok(()));
        assert_eq!(throttle.record_failure(ip, t0), Some(Duration::seconds(2)));
        assert_eq!(throttle.check(ip, t0), Err(2));
        assert_eq!(
            throttle.check(other, t0),
            Ok(()),
            "other addresses unaffected"
        );
        assert_eq!(throttle.check(ip, t0 + Duration::seconds(2)), Ok(()));
        assert_eq!(
            throttle.record_failure(ip, t0 + Duration::seconds(2)),
            Some(Duration::seconds(4))
        );
        // After a quiet window the count starts again.
        let later = t0 + Duration::hours(2);
        assert_eq!(throttle.record_failure(ip, later), None);
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let throttle = AddressThrottle::new(
            1,
            Duration::seconds(5),
            Duration::seconds(60),
            Duration::hours(1),
        );
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        throttle.record_failure(a, t0);
        throttle.record_failure(b, t0);
        assert_eq!(throttle.check(a, t0), Err(5));
        assert_eq!(throttle.check(c, t0), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let throttle = AddressThrottle::with_capacity(
            0,
            Duration::seconds(1),
            Duration::seconds(60),
            Duration::hours(1),
            100,
        );
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            throttle.record_failure(ip, t0 + Duration::milliseconds(i64::from(i)));
            assert!(throttle.len() <= 100, "after {i}: {}", throttle.len());
        }
        // The most recent offender is still remembered.
        assert!(throttle
            .check(
                IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + 9_999)),
                t0 + Duration::seconds(10)
            )
            .is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(ceil_secs(Duration::milliseconds(1)), 1);
        assert_eq!(ceil_secs(Duration::milliseconds(1000)), 1);
        assert_eq!(ceil_secs(Duration::milliseconds(1001)), 2);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
    }
}
