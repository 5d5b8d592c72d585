//! Rate limits per route class and client: a generic cell rate algorithm (GCRA) per key, in
//! integer nanoseconds, with bounded memory.
//!
//! A [`Rate`] of `n/s burst b` lets a client send `b` requests at once and then one every
//! `1/n` s; a refused request is told when the next one would be accepted. The state per
//! key is one instant (the theoretical arrival time of its next request); a key whose
//! instant has passed holds nothing a fresh key would not, so such keys are forgotten first
//! when the table is full, and a flood of distinct keys can cost at most [`Limiter`]'s
//! capacity in memory.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period, sustained.
    pub count: u32,
    /// The period, in seconds (1 for `/s`, 60 for `/min`, 3600 for `/h`).
    pub period_seconds: u32,
    /// Requests accepted at once after a quiet period (at least 1).
    pub burst: u32,
}

impl Rate {
    /// The time between two requests at the sustained rate, in nanoseconds (at least 1).
    fn interval(self) -> u64 {
        (u64::from(self.period_seconds) * NANOS_PER_SECOND / u64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of now a key's next arrival time may be and still accept a request.
    fn tolerance(self) -> u64 {
        self.interval() * u64::from(self.burst.max(1) - 1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period_seconds {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit} burst {}", self.count, self.burst)
    }
}

/// Why a rate could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateError(String);

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: a rate is written `COUNT/s`, `COUNT/min` or `COUNT/h`, optionally followed \
             by `burst N` (e.g. `20/s burst 40`); COUNT and N from 1 to 1000000",
            self.0
        )
    }
}

impl std::error::Error for RateError {}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, RateError> {
        let bad = |why: &str| RateError(format!("`{text}` {why}"));
        let number = |s: &str| -> Result<u32, RateError> {
            s.parse::<u32>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| bad(&format!("has `{s}` where a count belongs")))
        };
        let mut words = text.split_whitespace();
        let head = words.next().ok_or_else(|| bad("is empty"))?;
        let (count, unit) = head
            .split_once('/')
            .ok_or_else(|| bad("has no `/` between the count and the period"))?;
        let count = number(count)?;
        let period_seconds = match unit {
            "s" => 1,
            "min" => 60,
            "h" => 3600,
            other => return Err(bad(&format!("has the period `{other}`"))),
        };
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => count.min(1_000_000),
            (Some("burst"), Some(n), None) => number(n)?,
            _ => return Err(bad("has words after the rate other than `burst N`")),
        };
        Ok(Self {
            count,
            period_seconds,
            burst,
        })
    }
}

/// One rate applied per key, remembering at most `capacity` keys.
#[derive(Debug)]
pub struct Limiter<K> {
    rate: Rate,
    capacity: usize,
    /// Each key's theoretical arrival time of its next request, in nanoseconds.
    next: HashMap<K, u64>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter for `rate` remembering at most `capacity` keys (at least 1).
    pub fn new(rate: Rate, capacity: usize) -> Self {
        Self {
            rate,
            capacity: capacity.max(1),
            next: HashMap::new(),
        }
    }

    /// The rate applied.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }

    /// Takes one request of `key` arriving at `now` (nanoseconds on a clock that never goes
    /// back): `Ok` if accepted, or `Err(wait)` with the nanoseconds until one would be.
    pub fn check(&mut self, key: &K, now: u64) -> Result<(), u64> {
        let (interval, tolerance) = (self.rate.interval(), self.rate.tolerance());
        let due = self.next.get(key).copied().unwrap_or(now).max(now);
        if due - now > tolerance {
            return Err(due - now - tolerance);
        }
        if !self.next.contains_key(key) && self.next.len() >= self.capacity {
            self.make_room(now);
        }
        self.next.insert(key.clone(), due + interval);
        Ok(())
    }

    /// Forgets every key whose next arrival time has passed (they hold nothing a fresh key
    /// would not); if none has, the one nearest to it, so memory stays bounded. Forgetting
    /// a key that still had a wait gives it a fresh burst, never more.
    fn make_room(&mut self, now: u64) {
        self.next.retain(|_, due| *due > now);
        if self.next.len() >= self.capacity {
            if let Some(k) = self
                .next
                .iter()
                .min_by_key(|(_, due)| **due)
                .map(|(k, _)| k.clone())
            {
                self.next.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rate(text: &str) -> Rate {
        text.parse().unwrap()
    }

    #[test]
    fn rates_are_read_and_refused_with_the_reason() {
        assert_eq!(
            rate("20/s burst 40"),
            Rate {
                count: 20,
                period_seconds: 1,
                burst: 40
            }
        );
        assert_eq!(rate("600/min").burst, 600);
        assert_eq!(rate("10/h").period_seconds, 3600);
        assert_eq!(rate("20/s burst 40").to_string(), "20/s burst 40");
        for bad in [
            "",
            "20",
            "20/d",
            "0/s",
            "x/s",
            "20/s burst",
            "20/s burst 0",
            "20/s bursts 4",
            "20/s burst 4 more",
            "2000000/s",
        ] {
            let e = bad.parse::<Rate>().unwrap_err().to_string();
            assert!(e.contains("a rate is written"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_burst_then_the_sustained_rate_then_a_wait_that_is_exact() {
        let mut l = Limiter::new(rate("10/s burst 3"), 100);
        let ms = 1_000_000;
        for _ in 0..3 {
            assert_eq!(l.check(&"a", 0), Ok(()));
        }
        // The fourth at once waits one interval (100 ms); another key is not affected.
        assert_eq!(l.check(&"a", 0), Err(100 * ms));
        assert_eq!(l.check(&"b", 0), Ok(()));
        assert_eq!(l.check(&"a", 99 * ms), Err(ms));
        assert_eq!(l.check(&"a", 100 * ms), Ok(()));
        assert_eq!(l.check(&"a", 100 * ms), Err(100 * ms));
        // After a quiet second the whole burst is back.
        for _ in 0..3 {
            assert_eq!(l.check(&"a", 2_000 * ms), Ok(()));
        }
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let mut l = Limiter::new(rate("1/s burst 1"), 50);
        for k in 0..10_000u32 {
            assert_eq!(l.check(&k, 0), Ok(()), "a fresh key has its burst");
            assert!(l.len() <= 50);
        }
        // A key just seen is still limited.
        assert!(l.check(&9_999, 0).is_err());
    }

    /// The slow, obvious model: a leaky bucket per key holding, in nanoseconds, the work
    /// still to drain; a request adds one interval if the bucket then holds at most the
    /// burst's worth.
    struct Bucket {
        level: HashMap<u8, (u64, u64)>,
    }

    impl Bucket {
        fn check(&mut self, r: Rate, key: u8, now: u64) -> Result<(), u64> {
            let (level, at) = self.level.get(&key).copied().unwrap_or((0, now));
            let drained = level.saturating_sub(now - at);
            let capacity = r.interval() * u64::from(r.burst);
            if drained + r.interval() > capacity {
                return Err(drained + r.interval() - capacity);
            }
            self.level.insert(key, (drained + r.interval(), now));
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn decisions_match_a_leaky_bucket(
            count in 1u32..50,
            burst in 1u32..10,
            steps in proptest::collection::vec((0u8..4, 0u64..300_000_000), 1..200),
        ) {
            let r = Rate { count, period_seconds: 1, burst };
            // Capacity above the number of keys: the model forgets nothing either.
            let mut fast = Limiter::new(r, 8);
            let mut slow = Bucket { level: HashMap::new() };
            let mut now = 0;
            for (key, gap) in steps {
                now += gap;
                prop_assert_eq!(fast.check(&key, now), slow.check(r, key, now));
            }
        }
    }
}
