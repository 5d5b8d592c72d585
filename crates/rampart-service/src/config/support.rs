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
