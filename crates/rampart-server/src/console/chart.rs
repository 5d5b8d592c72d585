//! Charts of events over time, drawn on the server as SVG (the console has no script):
//! stacked bars of several series in equal spans of time between the oldest and the newest
//! event, one colour (a CSS class `s-<series>`) per series.

use time::OffsetDateTime;

use super::account::stamp;

/// One bar segment.
pub struct Bar {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// The series (its CSS class is `s-<series>`).
    pub series: &'static str,
    /// What the bar counts, in words (its `<title>`).
    pub label: String,
}

/// A chart laid out for the template.
pub struct Chart {
    /// The `id` of its heading (and the prefix of its description's).
    pub id: &'static str,
    /// Its heading.
    pub title: &'static str,
    /// What it plots, in words.
    pub hint: String,
    /// The bars.
    pub bars: Vec<Bar>,
    /// The oldest event's time.
    pub from: String,
    /// The newest event's time.
    pub to: String,
    /// The count of the tallest span.
    pub max: usize,
    /// Each series with its count.
    pub totals: Vec<(&'static str, usize)>,
}

impl Chart {
    /// A series' name in words (`failed-login`: "failed login").
    pub fn words(&self, series: &str) -> String {
        series.replace('-', " ")
    }
}

/// Width of the plot, in SVG units.
pub const WIDTH: f64 = 720.0;
/// Height of the plot.
pub const HEIGHT: f64 = 180.0;
/// Spans of time.
pub const BUCKETS: usize = 24;

/// Stacked bars of `series` (a name and the times of its events) in [`BUCKETS`] equal spans
/// of time between the oldest and the newest event of all series; `None` without events.
pub fn plot(
    id: &'static str,
    title: &'static str,
    series: &[(&'static str, Vec<OffsetDateTime>)],
) -> Option<Chart> {
    let all = || series.iter().flat_map(|(_, times)| times.iter().copied());
    let first = all().min()?;
    let last = all().max()?;
    let span = (last - first).whole_milliseconds().max(1);
    let mut counts = vec![vec![0usize; series.len()]; BUCKETS];
    for (s, (_, times)) in series.iter().enumerate() {
        for t in times {
            let at = (*t - first).whole_milliseconds();
            let bucket = usize::try_from(at * (BUCKETS as i128) / (span + 1)).unwrap_or(0);
            counts[bucket.min(BUCKETS - 1)][s] += 1;
        }
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let step = WIDTH / BUCKETS as f64;
    let mut bars = Vec::new();
    for (i, bucket) in counts.iter().enumerate() {
        let mut top = HEIGHT;
        for (s, &n) in bucket.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let height = HEIGHT * n as f64 / max as f64;
            top -= height;
            let name = series[s].0;
            bars.push(Bar {
                x: i as f64 * step + 2.0,
                y: top,
                width: step - 4.0,
                height,
                series: name,
                label: format!("{}: {n}", name.replace('-', " ")),
            });
        }
    }
    let totals = series
        .iter()
        .enumerate()
        .map(|(s, (name, _))| (*name, counts.iter().map(|c| c[s]).sum()))
        .collect();
    Some(Chart {
        id,
        title,
        hint: String::new(),
        bars,
        from: stamp(first),
        to: stamp(last),
        max,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn at(minute: i64) -> OffsetDateTime {
        datetime!(2026-06-01 09:00 UTC) + time::Duration::minutes(minute)
    }

    #[test]
    fn the_chart_stacks_every_event_in_its_span_of_time() {
        assert!(plot("c", "C", &[("system", vec![])]).is_none());
        let series = [
            ("system", vec![at(0)]),
            ("access", vec![at(0), at(0)]),
            ("integration", vec![at(239)]),
        ];
        let c = plot("c", "C", &series).unwrap();
        assert_eq!(
            c.totals,
            vec![("system", 1), ("access", 2), ("integration", 1)]
        );
        // The first span holds three events (the tallest: full height), the last one.
        assert_eq!(c.max, 3);
        let first: Vec<&Bar> = c.bars.iter().filter(|b| b.x < WIDTH / 24.0).collect();
        assert_eq!(first.len(), 2);
        let height: f64 = first.iter().map(|b| b.height).sum();
        assert!((height - HEIGHT).abs() < 1e-9);
        let last = c.bars.last().unwrap();
        assert_eq!(last.series, "integration");
        assert!(last.x > WIDTH - WIDTH / 24.0);
        assert!((last.height - HEIGHT / 3.0).abs() < 1e-9);
        // One event, or several at one instant, is one full bar.
        let one = plot("c", "C", &[("system", vec![at(5)])]).unwrap();
        assert_eq!(one.bars.len(), 1);
        assert!((one.bars[0].height - HEIGHT).abs() < 1e-9);
    }

    #[test]
    fn failed_logins_and_denials_share_one_time_axis() {
        let series = [
            ("failed-login", vec![at(0), at(60)]),
            ("denial", vec![at(120), at(120), at(120)]),
        ];
        let c = plot("d", "D", &series).unwrap();
        assert_eq!(c.totals, vec![("failed-login", 2), ("denial", 3)]);
        assert_eq!(c.max, 3);
        assert_eq!(c.bars.len(), 3);
        assert_eq!(c.bars[0].label, "failed login: 1");
        let denials = c.bars.iter().find(|b| b.series == "denial").unwrap();
        assert!((denials.height - HEIGHT).abs() < 1e-9);
        assert!(denials.x > c.bars[1].x);
        assert_eq!(denials.label, "denial: 3");
    }
}
