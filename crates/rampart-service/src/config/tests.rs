//! Configuration layering and validation, table-driven.

use super::*;

fn load(
    file: Option<&str>,
    env: &[(&str, &str)],
    flags: &[(&str, &str)],
) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = file {
        std::fs::write(dir.path().join("rampart.toml"), text).unwrap();
    }
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        config_file: None,
        flags: flags
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.to_string(),
                    format!("--{}", k.replace('_', "-")),
                )
            })
            .collect(),
    };
    Config::load(
        &overrides,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn layers_apply_in_order() {
    let loaded = load(
        Some("https_addr = \"127.0.0.1:9001\"\nhttp_addr = \"127.0.0.1:9002\"\n[password]\nmin_length = 14\n"),
        &[("RAMPART_HTTP_ADDR", "127.0.0.1:9003"), ("RAMPART_PASSWORD__HISTORY", "7"), ("RAMPART_TEST_PG_URL", "x"), ("RAMPART_TOKEN", "rps_x"), ("RAMPART_SERVER", "https://h")],
        &[("http_addr", "127.0.0.1:9004")],
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.https_addr, "127.0.0.1:9001");
    assert_eq!(c.http_addr, "127.0.0.1:9004");
    assert_eq!(c.password.min_length, 14);
    assert_eq!(c.password.history, 7);
    assert_eq!(
        c.password.min_score, 3,
        "untouched keys keep their defaults"
    );
    assert!(matches!(
        loaded.sources.get("http_addr"),
        Some(Source::Flag(_))
    ));
    assert!(matches!(
        loaded.sources.get("password.history"),
        Some(Source::Env(_))
    ));
    assert!(matches!(
        loaded.sources.get("password.min_length"),
        Some(Source::File(_))
    ));
}

#[test]
fn errors_name_key_value_and_what_is_allowed() {
    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            None,
            &[("RAMPART_HTTPS_ADDR", "localhost")],
            "https_addr",
            "IP address and port",
        ),
        (
            None,
            &[("RAMPART_PASSWORD__MIN_LENGTH", "six")],
            "password.min_length",
            "whole number",
        ),
        (
            None,
            &[("RAMPART_PASSWORD__MIN_LENGTH", "4")],
            "password.min_length",
            "8 to 256",
        ),
        (
            None,
            &[("RAMPART_ENFORCE_HTTPS", "yes")],
            "enforce_https",
            "true or false",
        ),
        (
            None,
            &[("RAMPART_HTTPS_ADRR", "x")],
            "https_adrr",
            "known key",
        ),
        (
            Some("[password]\nmin_lenght = 3\n"),
            &[],
            "password.min_lenght",
            "did you mean `min_length`",
        ),
        (
            Some("password = 3\n"),
            &[],
            "password",
            "[password] section",
        ),
        (
            Some("max_body_bytes = \"big\"\n"),
            &[],
            "max_body_bytes",
            "invalid type",
        ),
        (Some("not toml"), &[], "(file)", "valid TOML"),
        (
            None,
            &[("RAMPART_SQLITE_CACHE_MIB", "1")],
            "sqlite_cache_mib",
            "2 to 65536",
        ),
        (
            None,
            &[("RAMPART_DATABASE_URL", "mysql://u:pw@h/db")],
            "database_url",
            "postgres://",
        ),
        (
            None,
            &[("RAMPART_TLS_CERT", "/x.pem")],
            "tls_key",
            "together",
        ),
        (
            None,
            &[("RAMPART_LOG_FORMAT", "xml")],
            "log_format",
            "auto, json or text",
        ),
        (
            None,
            &[("RAMPART_SESSION__IDLE_MINUTES", "0")],
            "session.idle_minutes",
            "1 to 10080",
        ),
        (
            None,
            &[("RAMPART_PASSWORD_HASH__MEMORY_KIB", "1")],
            "password_hash.memory_kib",
            "OWASP",
        ),
        (
            None,
            &[("RAMPART_INTEGRATIONS__TIMEOUT_SECONDS", "0")],
            "integrations.timeout_seconds",
            "1 to 3600",
        ),
        (
            Some("[integrations]\nmax_response_bytes = 10\n"),
            &[],
            "integrations.max_response_bytes",
            "1024 to",
        ),
        (
            Some("[lifecycle]\nsecond_approver = \"production\"\n"),
            &[],
            "lifecycle",
            "set_environments",
        ),
        // A passkey relying-party id is never guessed: it needs the public origin, and
        // must be its host or a parent domain of it.
        (
            Some("[mfa]\npasskey_rp_id = \"example.org\"\n"),
            &[],
            "mfa.passkey_rp_id",
            "public_origin",
        ),
        (
            Some(
                "public_origin = \"https://rampart.example.org\"\n\
                 [mfa]\npasskey_rp_id = \"example.net\"\n",
            ),
            &[],
            "mfa.passkey_rp_id",
            "neither the host",
        ),
        // Application roles are named with their application; requiring them needs the
        // master key the factors are sealed under.
        (
            Some("[mfa]\nrequired_app_roles = \"shop/Manager,Clerk\"\n"),
            &[],
            "mfa.required_app_roles",
            "application/role",
        ),
        (
            Some("[mfa]\nrequired_app_roles = \"shop/\"\n"),
            &[],
            "mfa.required_app_roles",
            "application/*",
        ),
        (
            Some("[mfa]\nrequired_app_roles = \"shop/*\"\n"),
            &[],
            "mfa.required_app_roles",
            "master key",
        ),
    ];
    for (file, env, key, allowed) in cases {
        let err = load(*file, env, &[]).unwrap_err();
        assert_eq!(err.key, *key, "{err}");
        assert!(err.allowed.contains(allowed), "{key}: {err}");
    }
}

#[test]
fn secrets_are_redacted_in_errors_and_show() {
    let err = load(
        None,
        &[(
            "RAMPART_DATABASE_URL",
            "mysql://rampart:hunter2-secret@db/x",
        )],
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("hunter2-secret"), "{err}");
    let loaded = load(
        None,
        &[(
            "RAMPART_DATABASE_URL",
            "postgres://rampart:hunter2-secret@db:5432/x",
        )],
        &[],
    )
    .unwrap();
    let shown = loaded.config.show(&loaded.sources);
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(
        shown.contains("postgres://rampart:<redacted>@db:5432/x"),
        "{shown}"
    );
    assert!(
        shown.contains("# environment RAMPART_DATABASE_URL"),
        "{shown}"
    );
    assert!(shown.contains("[password]"), "{shown}");
}

#[test]
fn values_of_unknown_keys_are_never_echoed() {
    let err = load(
        None,
        &[("RAMPART_DATABASE__URL", "postgres://u:s3cret@h/db")],
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let err = load(
        Some("databse_url = \"postgres://u:s3cret@h/db\"\n"),
        &[],
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(
        err.to_string().contains("did you mean `database_url`"),
        "{err}"
    );
}

#[test]
fn the_metrics_token_is_a_reference_and_never_echoed() {
    let secret = "0123456789abcdef0123456789abcdef";
    for (file, env) in [
        (Some(format!("[metrics]\ntoken = \"{secret}\"\n")), vec![]),
        (None, vec![("RAMPART_METRICS__TOKEN", secret)]),
    ] {
        let err = load(file.as_deref(), &env, &[]).unwrap_err();
        assert_eq!(err.key, "metrics.token");
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(
            err.allowed.contains("env:NAME or file:/absolute/path"),
            "{err}"
        );
    }
    for (reference, allowed) in [
        ("env:RAMPART_METRICS_SECRET", "configuration keys"),
        ("env:1ABC", "letters, digits"),
        ("file:relative/token", "absolute"),
    ] {
        let err = load(None, &[("RAMPART_METRICS__TOKEN", reference)], &[]).unwrap_err();
        assert!(err.allowed.contains(allowed), "{reference}: {err}");
        assert_eq!(err.value, reference, "a reference is shown as given");
    }
    let loaded = load(
        None,
        &[
            ("RAMPART_METRICS__TOKEN", "env:METRICS_TOKEN"),
            ("RAMPART_METRICS_ADDR", "127.0.0.1:9464"),
        ],
        &[],
    )
    .unwrap();
    let shown = loaded.config.show(&loaded.sources);
    assert!(
        shown.contains("metrics_addr = \"127.0.0.1:9464\"")
            && shown.contains("[metrics]\ntoken = \"env:METRICS_TOKEN\""),
        "{shown}"
    );
    let err = load(None, &[("RAMPART_METRICS_ADDR", "localhost:9464")], &[]).unwrap_err();
    assert_eq!(err.key, "metrics_addr");
}

#[test]
fn secret_references_resolve_without_revealing_values() {
    let env = |name: &str| (name == "SET").then(|| "s3cret-value \n".to_owned());
    let resolve = |text: &str| SecretRef::parse(text).unwrap().resolve(env);
    assert_eq!(resolve("env:SET").unwrap(), "s3cret-value");
    let missing = resolve("env:UNSET").unwrap_err();
    assert!(missing.contains("UNSET is not set"), "{missing}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-a-file\n").unwrap();
    assert_eq!(
        resolve(&format!("file:{}", file.display())).unwrap(),
        "from-a-file"
    );
    std::fs::write(&file, "\n").unwrap();
    assert!(resolve(&format!("file:{}", file.display()))
        .unwrap_err()
        .contains("is empty"));
}

#[test]
fn redaction_handles_urls_without_passwords() {
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    assert_eq!(
        redact_url("postgres://u:p@ss@h/db"),
        "postgres://u:<redacted>@h/db"
    );
    assert_eq!(redact_url(""), "");
    assert_eq!(
        redact_url("postgres://u@h/db?sslmode=require&password=s3cret"),
        "postgres://u@h/db?sslmode=require&password=<redacted>"
    );
}

/// A secret reference a deployment plan may hold (`is_secret_reference`, checked when the plan
/// is saved) is one the runtime reads: `env:` and `file:` parse as `SecretRef`s (a `vault:`
/// reference answers "no vault is configured" at call time), and what the plan check refuses
/// the runtime refuses too.
#[test]
fn secret_references_accepted_in_plans_are_read_at_call_time() {
    use rampart_model::validate::is_secret_reference;
    let names = [
        "MAIL_TOKEN",
        "_X",
        "x",
        "A1",
        "9LIVES",
        "MAIL-TOKEN",
        "MAIL.TOKEN",
        "RAMPART_METRICS",
        "rampart_lower",
        "A B",
        "",
        "É",
    ];
    let paths = [
        "/run/secrets/mail",
        "relative/path",
        "/run/../etc/shadow",
        "/a b",
        "/",
    ];
    let references = names
        .iter()
        .map(|n| format!("env:{n}"))
        .chain(paths.iter().map(|p| format!("file:{p}")));
    let mut accepted = 0;
    for reference in references {
        let runtime = SecretRef::parse(&reference);
        if is_secret_reference(&reference) {
            accepted += 1;
            assert!(runtime.is_ok(), "{reference}: {runtime:?}");
        }
    }
    assert!(accepted >= 5, "the table exercises accepted references too");
}

#[test]
fn the_smtp_password_is_a_reference_and_the_support_settings_are_checked() {
    let secret = "hunter2-smtp-password";
    let err = load(
        Some(&format!("[support]\nsmtp_password = \"{secret}\"\n")),
        &[],
        &[],
    )
    .unwrap_err();
    assert_eq!(err.key, "support.smtp_password");
    assert!(!err.to_string().contains(secret), "{err}");
    let loaded = load(
        None,
        &[
            ("RAMPART_SUPPORT__SMTP_PASSWORD", "env:SMTP_PASSWORD"),
            ("RAMPART_SUPPORT__SMTP_HOST", "mail.example.org"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(loaded.config.support.smtp_host, "mail.example.org");
    let shown = loaded.config.show(&loaded.sources);
    assert!(
        shown.contains("smtp_password = \"env:SMTP_PASSWORD\""),
        "{shown}"
    );
    for (key, value, allowed) in [
        ("RAMPART_SUPPORT__SMTP_TLS", "ssl", "starttls, tls or none"),
        ("RAMPART_SUPPORT__LINK_HOURS", "0", "1 to"),
        ("RAMPART_SUPPORT__PER_COMPANY", "0", "1 to"),
        ("RAMPART_SUPPORT__MAX_ATTACHMENT_BYTES", "0", "1 to"),
        ("RAMPART_SUPPORT__SMTP_CA_FILE", "ca.pem", "absolute path"),
    ] {
        let err = load(None, &[(key, value)], &[]).unwrap_err();
        assert!(err.allowed.contains(allowed), "{key}: {err}");
    }
    // A CA to check the server's certificate with means nothing without TLS.
    let err = load(
        None,
        &[
            ("RAMPART_SUPPORT__SMTP_CA_FILE", "/etc/rampart/mail-ca.pem"),
            ("RAMPART_SUPPORT__SMTP_TLS", "none"),
        ],
        &[],
    )
    .unwrap_err();
    assert_eq!(err.key, "support.smtp_ca_file", "{err}");
    let loaded = load(
        None,
        &[("RAMPART_SUPPORT__SMTP_CA_FILE", "/etc/rampart/mail-ca.pem")],
        &[],
    )
    .unwrap();
    assert_eq!(
        loaded.config.support.smtp_ca_file,
        "/etc/rampart/mail-ca.pem"
    );
}

#[test]
fn cluster_lease_settings_load_and_bad_ones_stop_the_start_with_their_rule() {
    let c = load(None, &[], &[]).unwrap().config;
    assert_eq!(c.cluster.lease_times(), crate::fence::LeaseTimes::default());
    let c = load(
        Some("[cluster]\nlease_ms = 4000\nrenew_ms = 1000\n"),
        &[("RAMPART_CLUSTER__MARGIN_MS", "500")],
        &[],
    )
    .unwrap()
    .config;
    let times = c.cluster.lease_times();
    assert_eq!(
        (times.lease, times.renew, times.margin),
        (
            std::time::Duration::from_secs(4),
            std::time::Duration::from_secs(1),
            std::time::Duration::from_millis(500)
        )
    );
    // A renewal as long as the lease: refused, naming the key, the value, where it came
    // from and the rule.
    let e = load(Some("[cluster]\nrenew_ms = 2000\n"), &[], &[]).unwrap_err();
    assert_eq!(e.key, "cluster.renew_ms");
    assert_eq!(e.value, "2000");
    assert!(e.origin.contains("rampart.toml"), "{e}");
    assert!(e.allowed.contains("two renewals must fit"), "{e}");
    assert!(e.to_string().contains("875"), "{e}");
    let e = load(None, &[("RAMPART_CLUSTER__MARGIN_MS", "2000")], &[]).unwrap_err();
    assert_eq!(e.key, "cluster.margin_ms");
    assert!(e.origin.contains("RAMPART_CLUSTER__MARGIN_MS"), "{e}");
    let e = load(None, &[("RAMPART_CLUSTER__LEASE_MS", "100")], &[]).unwrap_err();
    assert_eq!(e.key, "cluster.lease_ms");
    let e = load(None, &[("RAMPART_CLUSTER__LEASE_MS", "soon")], &[]).unwrap_err();
    assert!(e.to_string().contains("cluster.lease_ms"), "{e}");
}
