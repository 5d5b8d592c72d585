//! When an alert's notification is tried again, and when delivery gives up.
//!
//! A sink that did not accept a notification (an answer other than 2xx, no answer, a mail
//! server's refusal) is tried again after a wait that doubles from [`Retry::first`] up to
//! [`Retry::cap`]: 1 s, 2 s, 4 s … with the defaults. After [`Retry::attempts`] attempts
//! the notification is given up (the caller records that). The attempts are counted as
//! they begin, so an attempt cut short by a node that died counts too, and a notification
//! that kills its sender cannot be tried for ever.

use time::Duration;

/// The retry policy of one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait after the first failed attempt.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this wait.
    RetryIn(Duration),
    /// Every attempt was made: give up.
    GiveUp,
}

impl Retry {
    /// What follows when attempt number `made` (1 for the first) failed.
    pub fn after_failure(&self, made: u32) -> Next {
        if made >= self.attempts {
            return Next::GiveUp;
        }
        // first × 2^(made − 1), without overflow: past 2^30 the cap has long been reached.
        let doublings = made.saturating_sub(1).min(30);
        let wait = self
            .first
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.cap);
        Next::RetryIn(wait.min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: Retry, expected: &[Next]) {
        let got: Vec<Next> = (1..=expected.len() as u32)
            .map(|made| policy.after_failure(made))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn waits_double_up_to_the_cap_then_delivery_gives_up() {
        let s = Duration::seconds;
        check(
            Retry {
                attempts: 6,
                first: s(1),
                cap: s(10),
            },
            &[
                Next::RetryIn(s(1)),
                Next::RetryIn(s(2)),
                Next::RetryIn(s(4)),
                Next::RetryIn(s(8)),
                Next::RetryIn(s(10)),
                Next::GiveUp,
            ],
        );
        check(
            Retry {
                attempts: 1,
                first: s(1),
                cap: s(10),
            },
            &[Next::GiveUp, Next::GiveUp],
        );
    }

    #[test]
    fn many_attempts_never_overflow_and_stay_at_the_cap() {
        let policy = Retry {
            attempts: 1000,
            first: Duration::hours(1),
            cap: Duration::days(1),
        };
        for made in [40, 64, 999] {
            assert_eq!(policy.after_failure(made), Next::RetryIn(Duration::days(1)));
        }
        assert_eq!(policy.after_failure(1000), Next::GiveUp);
        assert_eq!(policy.after_failure(u32::MAX), Next::GiveUp);
    }
}
