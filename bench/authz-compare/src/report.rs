//! Rounds, medians and the figures: a markdown table on stderr, and with `--json` one JSON
//! object per figure on stdout in `scripts/bench`'s shape.

use rampart_authz::dataset::DatasetSpec;

use crate::Rampart;

const CAPABILITY: &str = "Authorization — the same decisions in peers";

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if !n.is_multiple_of(2) => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// One engine's alternating rounds: its rate and Rampart's on the same requests.
pub struct Rounds {
    theirs: Vec<f64>,
    ours: Vec<f64>,
    load_start: String,
    load: String,
}

impl Rounds {
    pub fn start() -> Self {
        Self {
            theirs: Vec::new(),
            ours: Vec::new(),
            load_start: load1(),
            load: String::new(),
        }
    }

    pub fn push(&mut self, theirs: f64, ours: f64) {
        self.theirs.push(theirs);
        self.ours.push(ours);
    }

    pub fn finish(mut self) -> Self {
        self.load = format!("{}–{}", self.load_start, load1());
        self
    }

    /// Median of the per-round ratios Rampart ÷ engine.
    fn ratio(&self) -> f64 {
        let r: Vec<f64> = self
            .ours
            .iter()
            .zip(&self.theirs)
            .map(|(o, t)| o / t)
            .collect();
        median(&r)
    }
}

pub struct Figures {
    scale: String,
    scale_arg: u32,
    requests: usize,
    allowed: usize,
    data: String,
    lines: Vec<serde_line::Line>,
    table: Vec<String>,
}

/// Hand-written JSON (the crate has no serde): strings escaped, `met` as a literal.
mod serde_line {
    pub struct Line {
        pub figure: String,
        pub target: String,
        pub value: String,
        pub baseline: String,
        pub limit: String,
        pub met: Option<bool>,
        pub rounds: usize,
        pub load: String,
        pub command: String,
    }

    fn s(x: &str) -> String {
        let mut o = String::from("\"");
        for c in x.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    impl Line {
        pub fn json(&self, capability: &str) -> String {
            let met = match self.met {
                Some(true) => "true",
                Some(false) => "false",
                None => "null",
            };
            format!(
                "{{\"capability\": {}, \"figure\": {}, \"target\": {}, \"value\": {}, \"baseline\": {}, \"limit\": {}, \"met\": {met}, \"rounds\": {}, \"load\": {}, \"command\": {}}}",
                s(capability),
                s(&self.figure),
                s(&self.target),
                s(&self.value),
                s(&self.baseline),
                s(&self.limit),
                self.rounds,
                s(&self.load),
                s(&self.command)
            )
        }
    }
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

impl Figures {
    pub fn new(
        spec: &DatasetSpec,
        scale: &str,
        scale_arg: u32,
        requests: usize,
        allowed: usize,
    ) -> Self {
        Self {
            scale: scale.to_owned(),
            scale_arg,
            requests,
            allowed,
            data: format!(
                "{} users, {} records, {} grants",
                thousands(f64::from(spec.users())),
                thousands(spec.records as f64),
                thousands(spec.grants as f64)
            ),
            lines: Vec::new(),
            table: Vec::new(),
        }
    }

    fn command(&self, engine: &str) -> String {
        std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
            format!(
                "cargo run --release --manifest-path bench/authz-compare/Cargo.toml -- {} {engine}",
                self.scale_arg
            )
        })
    }

    /// The figures of one engine: its decisions per second, Rampart ÷ it, and build time.
    pub fn engine(&mut self, name: &str, build_s: f64, rampart: &Rampart, r: Rounds) {
        self.decisions(name, "decisions/s", build_s, rampart.build_s, r);
    }

    /// Like [`Figures::engine`] with the operation named (SpiceDB has several).
    pub fn decisions(
        &mut self,
        name: &str,
        what: &str,
        build_s: f64,
        rampart_build_s: f64,
        r: Rounds,
    ) {
        let key = name.split_whitespace().next().unwrap_or(name).to_owned();
        let (theirs, ours, ratio) = (median(&r.theirs), median(&r.ours), r.ratio());
        let pct = 100.0 * self.allowed as f64 / self.requests.max(1) as f64;
        let command = self.command(&key);
        let rounds = r.theirs.len();
        let base = if what.starts_with("first") {
            format!(
                "Rampart's list filter {}/s for the same users, alternating",
                thousands(ours)
            )
        } else {
            format!(
                "Rampart {}/s on the same {} requests ({pct:.0} % allowed), alternating",
                thousands(ours),
                thousands(self.requests as f64)
            )
        };
        self.lines.push(serde_line::Line {
            figure: format!("{name}: {what}, {} ({})", self.scale, self.data),
            target: "—".to_owned(),
            value: format!("{}/s", thousands(theirs)),
            baseline: base,
            limit: "—".to_owned(),
            met: None,
            rounds,
            load: r.load.clone(),
            command: command.clone(),
        });
        self.lines.push(serde_line::Line {
            figure: format!("Rampart ÷ {name} ({what}), {}", self.scale),
            target: "≥ 10×".to_owned(),
            value: format!("{ratio:.1}×"),
            baseline: format!("{}/s vs {}/s (medians)", thousands(ours), thousands(theirs)),
            limit: "—".to_owned(),
            met: Some(ratio >= 10.0),
            rounds,
            load: r.load.clone(),
            command: command.clone(),
        });
        if build_s > 0.0 {
            self.lines.push(serde_line::Line {
                figure: format!("{name}: build / load time, {}", self.scale),
                target: "—".to_owned(),
                value: format!("{build_s:.1} s"),
                baseline: format!("Rampart index {rampart_build_s:.2} s"),
                limit: "—".to_owned(),
                met: None,
                rounds: 1,
                load: r.load.clone(),
                command,
            });
        }
        self.table.push(format!(
            "| {name} | {what} | {} | {} | {} | {ratio:.1}× | {build_s:.1} s | {} |",
            self.requests,
            thousands(theirs),
            thousands(ours),
            r.load
        ));
    }

    pub fn print(&self, json: bool) {
        eprintln!();
        eprintln!(
            "| engine ({}, {}) | operation | requests | its rate/s | Rampart rate/s (same requests) | Rampart ÷ it | build | load |",
            self.scale, self.data
        );
        eprintln!("|---|---|---:|---:|---:|---:|---:|---|");
        for row in &self.table {
            eprintln!("{row}");
        }
        if json {
            for l in &self.lines {
                println!("{}", l.json(CAPABILITY));
            }
        }
    }
}
