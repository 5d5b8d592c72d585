//! The hours in which production deployments are expected, e.g. `Mon-Fri 08:00-18:00 +01:00`.

use std::fmt;
use std::str::FromStr;

use time::{OffsetDateTime, UtcOffset, Weekday};

/// Days of the week, a daily span of minutes and the offset the times are written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// Bit `n` set: day `n` (Monday = 0) is included.
    days: u8,
    /// Minutes after midnight, start included.
    start: u16,
    /// Minutes after midnight, end excluded; may be below `start` for a span over midnight.
    end: u16,
    offset: UtcOffset,
    text: String,
}

/// Why an hours text did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursError(String);

impl fmt::Display for HoursError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HoursError {}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Hours {
    /// Whether `at` falls inside the hours. A span over midnight (`22:00-06:00`) belongs to
    /// the day it starts on.
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        let local = at.to_offset(self.offset);
        let minute = u16::from(local.hour()) * 60 + u16::from(local.minute());
        let day = local.weekday().number_days_from_monday();
        let on = |d: u8| self.days & (1 << d) != 0;
        if self.start < self.end {
            on(day) && (self.start..self.end).contains(&minute)
        } else {
            let yesterday = (day + 6) % 7;
            (on(day) && minute >= self.start) || (on(yesterday) && minute < self.end)
        }
    }

    /// The weekday of `at` in these hours' offset (for evidence).
    pub fn weekday(&self, at: OffsetDateTime) -> Weekday {
        at.to_offset(self.offset).weekday()
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Hours {
    type Err = HoursError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            HoursError(format!(
                "`{s}` is not a span of hours ({why}): write days, times and optionally the offset the times are in, for example `Mon-Fri 08:00-18:00 +01:00` or `* 22:00-06:00`"
            ))
        };
        let parts: Vec<&str> = s.split_whitespace().collect();
        let (days, span, offset) = match parts.as_slice() {
            [d, t] => (*d, *t, None),
            [d, t, o] => (*d, *t, Some(*o)),
            _ => return Err(bad("expected two or three parts")),
        };
        let days = parse_days(days).ok_or_else(|| bad("unknown days"))?;
        let (start, end) = span
            .split_once('-')
            .ok_or_else(|| bad("no `-` in the times"))?;
        let start = parse_time(start).ok_or_else(|| bad("the start is not HH:MM"))?;
        let end = parse_time(end).ok_or_else(|| bad("the end is not HH:MM"))?;
        if start == end {
            return Err(bad("the span is empty"));
        }
        let offset = match offset {
            None => UtcOffset::UTC,
            Some(o) => parse_offset(o).ok_or_else(|| bad("the offset is not ±HH:MM"))?,
        };
        Ok(Hours {
            days,
            start,
            end,
            offset,
            text: s.trim().to_owned(),
        })
    }
}

fn parse_days(s: &str) -> Option<u8> {
    if s == "*" {
        return Some(0x7f);
    }
    let index = |d: &str| DAYS.iter().position(|x| x.eq_ignore_ascii_case(d));
    let mut bits = 0u8;
    for item in s.split(',') {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << index(item)?,
        }
    }
    Some(bits)
}

fn parse_time(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    // 24:00 is the end of the day.
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Some(h * 60 + m)
    } else {
        None
    }
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let s = s.strip_prefix("UTC").unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
        return None;
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn office_hours_hold_on_weekdays_between_their_times() {
        let h: Hours = "Mon-Fri 08:00-18:00 +01:00".parse().unwrap();
        // 2026-12-07 is a Monday.
        let cases = [
            (datetime!(2026-12-07 07:00 UTC), true), // 08:00 local
            (datetime!(2026-12-07 06:59 UTC), false),
            (datetime!(2026-12-07 16:59 UTC), true),
            (datetime!(2026-12-07 17:00 UTC), false), // 18:00 local: end excluded
            (datetime!(2026-12-05 10:00 UTC), false), // Saturday
            (datetime!(2026-12-11 12:00 UTC), true),  // Friday
        ];
        for (at, inside) in cases {
            assert_eq!(h.contains(at), inside, "{at}");
        }
    }

    #[test]
    fn a_span_over_midnight_belongs_to_the_day_it_starts() {
        let h: Hours = "Fri 22:00-06:00".parse().unwrap();
        assert!(h.contains(datetime!(2026-12-11 23:00 UTC))); // Friday night
        assert!(h.contains(datetime!(2026-12-12 05:59 UTC))); // Saturday morning
        assert!(!h.contains(datetime!(2026-12-12 22:30 UTC))); // Saturday night
        assert!(!h.contains(datetime!(2026-12-11 05:00 UTC))); // Friday morning
    }

    #[test]
    fn bad_hours_are_refused_with_an_example() {
        for bad in [
            "",
            "Mon-Fri",
            "Mon-Fry 08:00-18:00",
            "Mon 8:00-18:00",
            "Mon 08:00-25:00",
            "Mon 08:00-08:00",
            "Mon 08:00-18:00 +1",
            "Mon 08:00-18:00 +01:00 extra",
        ] {
            let e = bad.parse::<Hours>().unwrap_err();
            assert!(
                e.to_string().contains("Mon-Fri 08:00-18:00 +01:00"),
                "{bad}: {e}"
            );
        }
        assert!("Sat-Mon 00:00-24:00".parse::<Hours>().is_ok());
        assert!("mon,wed,fri 09:30-17:30 UTC-05:00".parse::<Hours>().is_ok());
    }
}
