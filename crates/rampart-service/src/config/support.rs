//! `[support]`: the support desk's mail server, decision links and limits.

use serde::{Deserialize, Serialize};

/// `[support]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportConfig {
    /// The SMTP server that carries notifications, as a host name or address; empty sends
    /// none (administrators then decide from their inbox).
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// `starttls` (upgrade on the submission port, required), `tls` (TLS from the first
    /// byte) or `none` (plain text: only for a relay on loopback).
    pub smtp_tls: String,
    /// A PEM file of the certificate authorities that vouch for the mail server's
    /// certificate (an enterprise's own CA), trusted instead of the public ones; empty
    /// trusts the public roots (Mozilla's, built in).
    pub smtp_ca_file: String,
    /// The username to sign in to the SMTP server with; empty for none.
    pub smtp_username: String,
    /// Where its password is kept: `env:NAME` or `file:/absolute/path`, never the password.
    pub smtp_password: String,
    /// The `From` address of notifications.
    pub smtp_from: String,
    /// How long an e-mailed Authorize or Ignore link works.
    pub link_hours: u32,
    /// A suspended case whose requester was ignored closes this many days later.
    pub ignored_close_days: u32,
    /// The window of the rate limits.
    pub window_minutes: u32,
    /// Cases one requester may open in the window.
    pub per_requester: u32,
    /// Cases one company may receive in the window.
    pub per_company: u32,
    /// The largest attachment, in bytes (never more than `max_body_bytes`).
    pub max_attachment_bytes: u64,
}

impl Default for SupportConfig {
    fn default() -> Self {
        SupportConfig {
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_ca_file: String::new(),
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_from: "rampart@localhost".into(),
            link_hours: 72,
            ignored_close_days: 14,
            window_minutes: 60,
            per_requester: 20,
            per_company: 500,
            max_attachment_bytes: 1024 * 1024,
        }
    }
}

impl SupportConfig {
    /// Checks the `[support]` values; `fail(key, value, allowed)` makes the error.
    pub(super) fn validate<E>(&self, fail: &impl Fn(&str, String, &str) -> E) -> Result<(), E> {
        if !["starttls", "tls", "none"].contains(&self.smtp_tls.as_str()) {
            return Err(fail(
                "support.smtp_tls",
                self.smtp_tls.clone(),
                "starttls, tls or none",
            ));
        }
        if !self.smtp_ca_file.is_empty() {
            if !std::path::Path::new(&self.smtp_ca_file).is_absolute() {
                return Err(fail(
                    "support.smtp_ca_file",
                    self.smtp_ca_file.clone(),
                    "an absolute path to a PEM file",
                ));
            }
            if self.smtp_tls == "none" {
                return Err(fail(
                    "support.smtp_ca_file",
                    self.smtp_ca_file.clone(),
                    "empty while smtp_tls is none (no certificate is checked without TLS)",
                ));
            }
        }
        for (key, v) in [
            ("support.link_hours", self.link_hours),
            ("support.ignored_close_days", self.ignored_close_days),
            ("support.window_minutes", self.window_minutes),
            ("support.per_requester", self.per_requester),
            ("support.per_company", self.per_company),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return Err(fail(key, v.to_string(), "1 to 1000000"));
            }
        }
        if !(1..=1024 * 1024 * 1024).contains(&self.max_attachment_bytes) {
            return Err(fail(
                "support.max_attachment_bytes",
                self.max_attachment_bytes.to_string(),
                "1 to 1073741824 (and a request body is never larger than max_body_bytes)",
            ));
        }
        Ok(())
    }
}
