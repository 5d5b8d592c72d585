//! Configuration: defaults < `rampart.toml` (in the data directory, or `--config`) <
//! `RAMPART_*` environment variables < command-line flags, validated into [`Config`].
//!
//! Keys are written as in the file: `https_addr`, `password.min_length`. An environment
//! variable names the same key in upper case with `__` between section and key:
//! `RAMPART_HTTPS_ADDR`, `RAMPART_PASSWORD__MIN_LENGTH`. Every error names the key, the
//! value and what is allowed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The effective configuration of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database, generated certificate and lock file live.
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// Empty for the embedded SQLite database; `postgres://…` for PostgreSQL.
    pub database_url: String,
    /// Connections per node to PostgreSQL.
    pub database_max_connections: u32,
    /// Name of this node in logs and audit events.
    pub node_id: String,
    /// HTTPS listen address.
    pub https_addr: String,
    /// Plain HTTP listen address (redirects to HTTPS unless `enforce_https = false`).
    pub http_addr: String,
    /// A plain-HTTP listen address of its own for `/metrics`, e.g. `127.0.0.1:9464`; empty
    /// for none. When set, `/metrics` is served there and nowhere else.
    pub metrics_addr: String,
    /// Redirect every plain-HTTP request to HTTPS.
    pub enforce_https: bool,
    /// The origin browsers use to reach this server, e.g. `https://rampart.example.org`;
    /// empty means the request's own `Host`.
    pub public_origin: String,
    /// PEM certificate chain; empty to generate a development certificate.
    pub tls_cert: String,
    /// PEM private key; empty to generate a development certificate.
    pub tls_key: String,
    /// The SQLite writer's page cache, in MiB (PostgreSQL: unused). Larger keeps more of
    /// the indexes a write touches in the node's memory; the operating system's file cache
    /// holds the rest.
    pub sqlite_cache_mib: u32,
    /// Largest accepted request body.
    pub max_body_bytes: u64,
    /// Largest accepted body when publishing a module version (module sources can be
    /// larger than any other request).
    pub max_module_bytes: u64,
    /// `auto` (JSON unless on a terminal), `json` or `text`.
    pub log_format: String,
    /// A tracing filter such as `info` or `rampart=debug,info`.
    pub log_level: String,
    /// Password rules.
    pub password: PasswordConfig,
    /// argon2id cost.
    pub password_hash: PasswordHashConfig,
    /// Failed-login throttling.
    pub lockout: LockoutConfig,
    /// Session lifetimes.
    pub session: SessionConfig,
    /// The tamper-evident audit log.
    pub audit: AuditConfig,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// The master key of sensitive attribute values.
    pub keys: KeysConfig,
    /// Limits of the calls integrations make.
    pub integrations: IntegrationsConfig,
    /// The support desk's mail server, decision links and limits.
    pub support: SupportConfig,
    /// Intrusion detection: thresholds, allowances and where alerts go.
    pub alerts: AlertsConfig,
    /// Requests per client address and route class.
    pub rate_limits: RateLimitsConfig,
    /// Proxies whose `X-Forwarded-For` is believed, comma-separated address ranges; empty:
    /// the peer's address is the client's.
    pub trusted_proxies: String,
    /// Who must use a second factor, and step-up for sensitive operations.
    pub mfa: MfaConfig,
    /// The user provider each kind of user must sign in through.
    pub sign_in: SignInConfig,
    /// The lease of nodes sharing a PostgreSQL database.
    pub cluster: ClusterConfig,
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the bearer token that `/metrics` requires is kept: `env:NAME` or
    /// `file:/absolute/path`, never the token itself; empty for no token. Without
    /// `metrics_addr`, a token is what serves `/metrics` on the HTTPS port at all.
    pub token: String,
}

/// `[password]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// Minimum length in characters.
    pub min_length: u32,
    /// Minimum strength estimate, 0 to 4.
    pub min_score: u32,
    /// How many previous passwords cannot be reused.
    pub history: u32,
    /// Days after which a password must be changed; 0 for never.
    pub max_age_days: u32,
}

/// `[password_hash]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordHashConfig {
    /// argon2id memory in KiB.
    pub memory_kib: u32,
    /// argon2id passes.
    pub iterations: u32,
    /// argon2id lanes.
    pub parallelism: u32,
}

/// `[lockout]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutConfig {
    /// Failures of one username before it is locked.
    pub threshold: u32,
    /// First lock, doubled with each further failure.
    pub base_seconds: u32,
    /// Longest lock.
    pub max_seconds: u32,
    /// Failures older than this are forgotten.
    pub window_seconds: u32,
    /// Failures one source address may make before it is slowed down.
    pub address_free_failures: u32,
    /// First wait imposed on a source address, doubled with each further failure.
    pub address_base_seconds: u32,
    /// Longest wait imposed on a source address.
    pub address_max_seconds: u32,
}

/// `[session]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_minutes: u32,
    /// A session ends this long after login, whatever its use.
    pub absolute_hours: u32,
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The log's name in its signed checkpoints (C2SP origin line), e.g.
    /// `rampart.example.org/audit`; empty means the name of the signing key generated on
    /// first start (`rampart-<random>/audit`). Every node of one log (PostgreSQL) must use
    /// the same origin and a copy of the same key file (`audit-signing.key`).
    pub origin: String,
    /// Sign a checkpoint this often when the log has grown.
    pub checkpoint_seconds: u32,
    /// Re-verify the log (bodies against leaf hashes, tiles, checkpoints) this often.
    pub verify_seconds: u32,
    /// Events the `access` pipeline holds before writers wait (back-pressure).
    pub pipeline_capacity: u32,
    /// Largest batch the pipeline commits in one transaction.
    pub batch_max: u32,
    /// Move events older than this many days to compressed archive segments (checked
    /// hourly); 0 keeps every event in the database.
    pub retention_days: u32,
    /// Where archive segments go; empty means `<data_dir>/audit-archive`.
    pub archive_dir: String,
    /// Witnesses that cosign each new checkpoint: `<url> <verifier key>` pairs separated
    /// by commas (see [`witnesses::parse_witnesses`]); empty for none.
    pub witnesses: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("rampart-data"),
            database_url: String::new(),
            database_max_connections: 16,
            node_id: default_node_id(),
            https_addr: "127.0.0.1:8443".into(),
            http_addr: "127.0.0.1:8080".into(),
            metrics_addr: String::new(),
            enforce_https: true,
            public_origin: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            sqlite_cache_mib: rampart_store::DEFAULT_SQLITE_CACHE_MIB,
            max_body_bytes: 1024 * 1024,
            max_module_bytes: 16 * 1024 * 1024,
            log_format: "auto".into(),
            log_level: "info".into(),
            password: PasswordConfig {
                min_length: 12,
                min_score: 3,
                history: 5,
                max_age_days: 0,
            },
            password_hash: PasswordHashConfig {
                memory_kib: 19 * 1024,
                iterations: 2,
                parallelism: 1,
            },
            lockout: LockoutConfig {
                threshold: 5,
                base_seconds: 30,
                max_seconds: 3600,
                window_seconds: 86_400,
                address_free_failures: 20,
                address_base_seconds: 1,
                address_max_seconds: 300,
            },
            session: SessionConfig {
                idle_minutes: 30,
                absolute_hours: 12,
            },
            audit: AuditConfig {
                origin: String::new(),
                checkpoint_seconds: 10,
                verify_seconds: 300,
                pipeline_capacity: 20_000,
                batch_max: 16_384,
                retention_days: 0,
                archive_dir: String::new(),
                witnesses: String::new(),
            },
            metrics: MetricsConfig {
                token: String::new(),
            },
            keys: KeysConfig {
                master_key: String::new(),
            },
            integrations: IntegrationsConfig::default(),
            support: SupportConfig::default(),
            alerts: AlertsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            trusted_proxies: String::new(),
            mfa: MfaConfig::default(),
            sign_in: SignInConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

fn default_node_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node-1".into())
}

/// Where a key's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "environment {v}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A configuration that cannot be used, naming the key, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key} = {value} ({origin}): {allowed}")]
pub struct ConfigError {
    /// The key, as written in the file.
    pub key: String,
    /// The offending value (secrets redacted).
    pub value: String,
    /// Where the value came from.
    pub origin: String,
    /// What is allowed instead.
    pub allowed: String,
}

/// What the command line contributes: where to look, and flag overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir` (or `RAMPART_DATA_DIR`, which clap reads).
    pub data_dir: Option<PathBuf>,
    /// `--config` (or `RAMPART_CONFIG`).
    pub config_file: Option<PathBuf>,
    /// `(key, value, flag name)` for each flag given.
    pub flags: Vec<(String, String, String)>,
}

/// A loaded configuration with the source of every key.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Where each non-default key came from.
    pub sources: BTreeMap<String, Source>,
}

/// Environment variables under `RAMPART_` that are not configuration keys.
/// (The last four are the command line's client settings: `rampart login`, `module`, `env`.)
const NON_KEY_VARIABLES: &[&str] = &[
    "RAMPART_CONFIG",
    "RAMPART_DATA_DIR",
    "RAMPART_SERVER",
    "RAMPART_TOKEN",
    "RAMPART_CA_CERT",
    "RAMPART_SESSION_FILE",
];

impl Config {
    /// Loads the configuration from the file, the environment `env` and the flags.
    pub fn load(
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let data_dir = overrides
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("rampart-data"));
        let defaults = Config::default();
        let mut merged = match Value::try_from(&defaults) {
            Ok(Value::Table(t)) => t,
            _ => Table::new(),
        };
        let shape = merged.clone();
        let mut sources = BTreeMap::new();

        let file = match &overrides.config_file {
            Some(path) => Some((path.clone(), true)),
            None => Some((data_dir.join("rampart.toml"), false)),
        };
        if let Some((path, required)) = file {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let table: Table = toml::from_str(&text).map_err(|e| ConfigError {
                        key: "(file)".into(),
                        value: path.display().to_string(),
                        origin: "config file".into(),
                        allowed: format!("valid TOML: {}", e.message()),
                    })?;
                    overlay_file(&mut merged, &shape, &table, "", &path, &mut sources)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
                Err(e) => {
                    return Err(ConfigError {
                        key: "(file)".into(),
                        value: path.display().to_string(),
                        origin: "--config".into(),
                        allowed: format!("a readable TOML file ({e})"),
                    })
                }
            }
        }

        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("RAMPART_")
                    && !NON_KEY_VARIABLES.contains(&k.as_str())
                    && !k.starts_with("RAMPART_TEST_")
            })
            .collect();
        env.sort();
        for (var, value) in env {
            let key = var["RAMPART_".len()..]
                .to_ascii_lowercase()
                .replace("__", ".");
            set_key(
                &mut merged,
                &shape,
                &key,
                &value,
                Source::Env(var.clone()),
                &mut sources,
            )?;
        }
        for (key, value, flag) in &overrides.flags {
            set_key(
                &mut merged,
                &shape,
                key,
                value,
                Source::Flag(flag.clone()),
                &mut sources,
            )?;
        }

        let mut config: Config =
            serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
                let key = e.path().to_string();
                ConfigError {
                    origin: origin_of(&sources, &key),
                    key,
                    value: "(as given)".into(),
                    allowed: e.inner().to_string(),
                }
            })?;
        config.data_dir = data_dir;
        config.validate(&sources)?;
        Ok(Loaded { config, sources })
    }

    /// Checks ranges and formats that types alone do not.
    fn validate(&self, sources: &BTreeMap<String, Source>) -> Result<(), ConfigError> {
        let fail = |key: &str, value: String, allowed: &str| ConfigError {
            key: key.into(),
            value,
            origin: origin_of(sources, key),
            allowed: allowed.into(),
        };
        for (key, addr) in [
            ("https_addr", &self.https_addr),
            ("http_addr", &self.http_addr),
        ] {
            if addr.parse::<SocketAddr>().is_err() {
                return Err(fail(
                    key,
                    addr.clone(),
                    "an IP address and port, e.g. 127.0.0.1:8443",
                ));
            }
        }
        if !self.metrics_addr.is_empty() && self.metrics_addr.parse::<SocketAddr>().is_err() {
            return Err(fail(
                "metrics_addr",
                self.metrics_addr.clone(),
                "empty, or an IP address and port, e.g. 127.0.0.1:9464",
            ));
        }
        for (key, value) in [
            ("metrics.token", &self.metrics.token),
            ("keys.master_key", &self.keys.master_key),
            ("support.smtp_password", &self.support.smtp_password),
            ("alerts.webhook_secret", &self.alerts.webhook_secret),
        ] {
            if let (false, Err(allowed)) = (value.is_empty(), SecretRef::parse(value)) {
                // Not a reference: maybe the secret itself, which must not be echoed.
                let shown = if value.starts_with("env:") || value.starts_with("file:") {
                    value.clone()
                } else {
                    "(not shown)".to_owned()
                };
                return Err(fail(key, shown, &allowed));
            }
        }
        if !(self.database_url.is_empty()
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(fail(
                "database_url",
                redact_url(&self.database_url),
                "empty for the embedded SQLite database, or postgres://user:password@host:port/database",
            ));
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return Err(fail(
                "database_max_connections",
                self.database_max_connections.to_string(),
                "1 to 1000",
            ));
        }
        if self.node_id.is_empty()
            || self.node_id.len() > 64
            || !self
                .node_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(fail(
                "node_id",
                self.node_id.clone(),
                "1 to 64 ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        if !(self.public_origin.is_empty()
            || self.public_origin.starts_with("https://")
            || self.public_origin.starts_with("http://"))
            || self.public_origin.ends_with('/')
        {
            return Err(fail(
                "public_origin",
                self.public_origin.clone(),
                "empty, or scheme://host[:port] without a trailing slash",
            ));
        }
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            let key = if self.tls_cert.is_empty() {
                "tls_cert"
            } else {
                "tls_key"
            };
            return Err(fail(key, String::new(), "tls_cert and tls_key must be given together (or neither, for a generated development certificate)"));
        }
        for (key, v) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_module_bytes", self.max_module_bytes),
            (
                "integrations.max_response_bytes",
                self.integrations.max_response_bytes,
            ),
        ] {
            if !(1024..=1024 * 1024 * 1024).contains(&v) {
                return Err(fail(key, v.to_string(), "1024 to 1073741824"));
            }
        }
        if !(2..=65536).contains(&self.sqlite_cache_mib) {
            return Err(fail(
                "sqlite_cache_mib",
                self.sqlite_cache_mib.to_string(),
                "2 to 65536",
            ));
        }
        self.support.validate(&fail)?;
        self.alerts.validate(&fail)?;
        self.rate_limits.validate(&fail)?;
        self.integrations.validate(&self.data_dir, &fail)?;
        if let Err(e) = alerts::ranges(&self.trusted_proxies) {
            return Err(fail("trusted_proxies", self.trusted_proxies.clone(), &e));
        }
        self.mfa
            .validate(!self.keys.master_key.is_empty(), &self.public_origin, &fail)?;
        self.sign_in.validate(&fail)?;
        self.cluster.validate(&fail)?;
        if !["auto", "json", "text"].contains(&self.log_format.as_str()) {
            return Err(fail(
                "log_format",
                self.log_format.clone(),
                "auto, json or text",
            ));
        }
        if tracing_subscriber_filter_ok(&self.log_level).is_err() {
            return Err(fail(
                "log_level",
                self.log_level.clone(),
                "a tracing filter such as info or rampart=debug,info",
            ));
        }
        let p = &self.password;
        if !(8..=256).contains(&p.min_length) {
            return Err(fail(
                "password.min_length",
                p.min_length.to_string(),
                "8 to 256 (NIST SP 800-63B requires at least 8)",
            ));
        }
        if p.min_score > 4 {
            return Err(fail(
                "password.min_score",
                p.min_score.to_string(),
                "0 to 4",
            ));
        }
        if p.history > 100 {
            return Err(fail("password.history", p.history.to_string(), "0 to 100"));
        }
        let h = &self.password_hash;
        if !(8..=4 * 1024 * 1024).contains(&h.memory_kib) {
            return Err(fail(
                "password_hash.memory_kib",
                h.memory_kib.to_string(),
                "8 to 4194304 (OWASP recommends at least 19456)",
            ));
        }
        if !(1..=100).contains(&h.iterations) {
            return Err(fail(
                "password_hash.iterations",
                h.iterations.to_string(),
                "1 to 100",
            ));
        }
        if !(1..=64).contains(&h.parallelism) || h.memory_kib < 8 * h.parallelism {
            return Err(fail(
                "password_hash.parallelism",
                h.parallelism.to_string(),
                "1 to 64, and memory_kib at least 8 per lane",
            ));
        }
        let l = &self.lockout;
        if !(1..=1000).contains(&l.threshold) {
            return Err(fail(
                "lockout.threshold",
                l.threshold.to_string(),
                "1 to 1000",
            ));
        }
        if l.base_seconds == 0 || l.base_seconds > l.max_seconds {
            return Err(fail(
                "lockout.base_seconds",
                l.base_seconds.to_string(),
                "at least 1 and at most lockout.max_seconds",
            ));
        }
        if l.window_seconds == 0 {
            return Err(fail("lockout.window_seconds", "0".into(), "at least 1"));
        }
        if l.address_base_seconds == 0 || l.address_base_seconds > l.address_max_seconds {
            return Err(fail(
                "lockout.address_base_seconds",
                l.address_base_seconds.to_string(),
                "at least 1 and at most lockout.address_max_seconds",
            ));
        }
        let s = &self.session;
        if !(1..=10_080).contains(&s.idle_minutes) {
            return Err(fail(
                "session.idle_minutes",
                s.idle_minutes.to_string(),
                "1 to 10080 (a week)",
            ));
        }
        if !(1..=8_760).contains(&s.absolute_hours) {
            return Err(fail(
                "session.absolute_hours",
                s.absolute_hours.to_string(),
                "1 to 8760 (a year)",
            ));
        }
        let a = &self.audit;
        if !a.origin.is_empty()
            && (a
                .origin
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+')
                || a.origin.len() > 200)
        {
            return Err(fail(
                "audit.origin",
                a.origin.clone(),
                "a name without spaces or '+', such as rampart.example.org/audit",
            ));
        }
        if let Err(allowed) = witnesses::parse_witnesses(&a.witnesses) {
            return Err(fail("audit.witnesses", a.witnesses.clone(), &allowed));
        }
        for (key, v, range) in [
            ("audit.checkpoint_seconds", a.checkpoint_seconds, 1..=86_400),
            ("audit.verify_seconds", a.verify_seconds, 1..=604_800),
            (
                "audit.pipeline_capacity",
                a.pipeline_capacity,
                16..=10_000_000,
            ),
            ("audit.batch_max", a.batch_max, 1..=100_000),
            ("audit.retention_days", a.retention_days, 0..=36_500),
            (
                "integrations.connect_timeout_seconds",
                self.integrations.connect_timeout_seconds,
                1..=300,
            ),
            (
                "integrations.timeout_seconds",
                self.integrations.timeout_seconds,
                1..=3_600,
            ),
        ] {
            if !range.contains(&v) {
                return Err(fail(
                    key,
                    v.to_string(),
                    &format!("{} to {}", range.start(), range.end()),
                ));
            }
        }
        Ok(())
    }

    /// The configuration as TOML, secrets redacted, each non-default key annotated with
    /// its source: what `rampart config show` prints.
    pub fn show(&self, sources: &BTreeMap<String, Source>) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url(&shown.database_url);
        let mut out = format!(
            "# data_dir = {:?} (not a file key)\n",
            self.data_dir.display().to_string()
        );
        let table = match Value::try_from(&shown) {
            Ok(Value::Table(t)) => t,
            _ => Table::new(),
        };
        render(&table, "", sources, &mut out);
        out
    }

    /// Path of the SQLite database in the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("rampart.db")
    }
}

fn tracing_subscriber_filter_ok(filter: &str) -> Result<(), ()> {
    if filter.is_empty() || filter.chars().any(|c| c.is_control()) {
        return Err(());
    }
    Ok(())
}

fn render(table: &Table, prefix: &str, sources: &BTreeMap<String, Source>, out: &mut String) {
    let mut sections = Vec::new();
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(t) => sections.push((key, t)),
            other => {
                out.push_str(&format!("{k} = {other}"));
                if let Some(source) = sources.get(&key) {
                    out.push_str(&format!("  # {source}"));
                }
                out.push('\n');
            }
        }
    }
    for (key, t) in sections {
        out.push_str(&format!("\n[{key}]\n"));
        render(t, &key, sources, out);
    }
}

/// Replaces the password of a URL (in its user information, or a `password=` query
/// parameter) with `<redacted>`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=<redacted>"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:<redacted>{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

fn origin_of(sources: &BTreeMap<String, Source>, key: &str) -> String {
    sources
        .get(key)
        .map(ToString::to_string)
        .unwrap_or_else(|| "default".into())
}

fn overlay_file(
    merged: &mut Table,
    shape: &Table,
    file: &Table,
    prefix: &str,
    path: &Path,
    sources: &mut BTreeMap<String, Source>,
) -> Result<(), ConfigError> {
    for (k, v) in file {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let unknown = || ConfigError {
            key: key.clone(),
            // The value of an unknown key may be a misplaced secret: never echo it.
            value: "(not shown)".into(),
            origin: format!("file {}", path.display()),
            allowed: if key.starts_with("lifecycle") {
                // Until 0.1 the lifecycle policies were per-node configuration.
                "nothing: environments and their policies live in the database now; an \
                 administrator sets them with the `set_environments` operation \
                 (`rampart env define`)"
                    .into()
            } else {
                format!(
                    "a known key; see `rampart config show` for all keys{}",
                    suggestion(shape, k)
                )
            },
        };
        match (shape.get(k), v) {
            (Some(Value::Table(sub_shape)), Value::Table(sub_file)) => {
                let Some(Value::Table(sub_merged)) = merged.get_mut(k) else {
                    return Err(unknown());
                };
                overlay_file(sub_merged, sub_shape, sub_file, &key, path, sources)?;
            }
            (Some(Value::Table(_)), _) => {
                return Err(ConfigError {
                    allowed: format!("a [{key}] section"),
                    ..unknown()
                })
            }
            (Some(_), value) => {
                merged.insert(k.clone(), value.clone());
                sources.insert(key.clone(), Source::File(path.to_owned()));
            }
            (None, _) => return Err(unknown()),
        }
    }
    Ok(())
}

/// The known key closest to a mistyped one (at most two edits away), as a hint.
fn suggestion(shape: &Table, key: &str) -> String {
    shape
        .keys()
        .map(|k| (edit_distance(k, key), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, for "did you mean" hints on short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn key_exists(shape: &Table, key: &str) -> bool {
    let mut table = shape;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        match (table.get(part), parts.peek()) {
            (Some(Value::Table(next)), Some(_)) => table = next,
            (Some(value), None) => return !matches!(value, Value::Table(_)),
            _ => return false,
        }
    }
    false
}

/// Sets dotted `key` to the text `raw`, typed like the default value at that key.
fn set_key(
    merged: &mut Table,
    shape: &Table,
    key: &str,
    raw: &str,
    source: Source,
    sources: &mut BTreeMap<String, Source>,
) -> Result<(), ConfigError> {
    // The value of an unknown key may be a misplaced secret: never echo it.
    let shown = if key == "database_url" {
        redact_url(raw)
    } else if !key_exists(shape, key) {
        "(not shown)".to_owned()
    } else {
        raw.to_owned()
    };
    let error = |allowed: String| ConfigError {
        key: key.to_owned(),
        value: shown.clone(),
        origin: source.to_string(),
        allowed,
    };
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else {
        return Err(error("a configuration key".into()));
    };
    let mut table = merged;
    let mut shape_table = shape;
    for part in parts {
        let (Some(Value::Table(next)), Some(Value::Table(next_shape))) =
            (table.get_mut(part), shape_table.get(part))
        else {
            return Err(error(
                "a known key; see `rampart config show` for all keys".into(),
            ));
        };
        table = next;
        shape_table = next_shape;
    }
    let value = match shape_table.get(last) {
        Some(Value::String(_)) => Value::String(raw.to_owned()),
        Some(Value::Integer(_)) => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| error("a whole number".into()))?,
        Some(Value::Boolean(_)) => match raw.trim() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err(error("true or false".into())),
        },
        _ => {
            return Err(error(format!(
                "a known key; see `rampart config show` for all keys{}",
                suggestion(shape_table, last)
            )))
        }
    };
    table.insert(last.to_owned(), value);
    sources.insert(key.to_owned(), source);
    Ok(())
}

mod alerts;
mod apps;
mod cluster;
pub mod mfa;
mod rate_limits;
mod secret;
mod sign_in;
mod support;
#[cfg(test)]
mod tests;
pub mod witnesses;

pub use alerts::{items as list_items, ranges as address_ranges, AlertsConfig};
pub use apps::{IntegrationsConfig, KeysConfig};
pub use cluster::ClusterConfig;
pub use mfa::MfaConfig;
pub use rate_limits::{RateLimitsConfig, CLASSES as RATE_LIMIT_CLASSES};
pub use secret::SecretRef;
pub use sign_in::SignInConfig;
pub use support::SupportConfig;
