//! What every figure shares: rounds and their medians, percentiles, the load average
//! around a figure's rounds, and the one JSON line per figure that `scripts/bench` reads
//! (fields as `scripts/bench-lib.sh` documents them).

use std::time::Duration;

/// The capability name every line carries.
const CAPABILITY: &str = "Audit log";

/// The 1-minute load average now (0 where `/proc/loadavg` cannot be read).
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The load average at the start of a figure's rounds; [`Load::end`] adds the end.
#[derive(Clone, Copy)]
pub struct Load(f64);

impl Load {
    pub fn start() -> Load {
        Load(load1())
    }

    /// `"1.9–2.4"`: the load at the start and now.
    pub fn end(self) -> String {
        format!("{:.1}–{:.1}", self.0, load1())
    }
}

/// The median of `v` (the mean of the middle two for an even count); 0 for none.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The `p` quantile of sorted `sorted` (nearest rank below).
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// Milliseconds, three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A rate in events per second, in thousands: `"512.3 k/s"`.
pub fn kps(rate: f64) -> String {
    format!("{:.1} k/s", rate / 1e3)
}

/// The rates of each round, rounded, for the human report: `"512 · 498 · 530 k"`.
pub fn rounds_k(rates: &[f64]) -> String {
    let parts: Vec<String> = rates.iter().map(|r| format!("{:.0}", r / 1e3)).collect();
    format!("{} k", parts.join(" · "))
}

/// One figure, as one JSON line on stdout.
pub struct Figure {
    pub figure: String,
    pub target: String,
    pub value: String,
    pub baseline: String,
    pub limit: String,
    pub met: Option<bool>,
    pub rounds: usize,
    pub load: String,
}

impl Figure {
    /// Prints the figure's line, with the command that measured it.
    pub fn emit(&self, command: &str) {
        let line = serde_json::json!({
            "capability": CAPABILITY,
            "figure": self.figure,
            "target": self.target,
            "value": self.value,
            "baseline": self.baseline,
            "limit": self.limit,
            "met": self.met,
            "rounds": self.rounds,
            "load": self.load,
            "command": command,
        });
        println!("{line}");
        eprintln!(
            "   → {}: {} (baseline {}; limit {}; target {}: {})",
            self.figure,
            self.value,
            self.baseline,
            self.limit,
            self.target,
            match self.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "—",
            }
        );
    }
}
