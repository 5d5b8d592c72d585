//! The platform's outgoing mail, through the SMTP server of `[support]`: the support desk's
//! notifications, alerts sent by e-mail, and enrolment links mailed to their holders.
//!
//! Nothing here logs a message's body (links hold tokens) or the SMTP password. Headers are
//! built by `lettre`, which encodes them.

use std::time::Duration as StdDuration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Message, Tokio1Executor};

use crate::config::SecretRef;
use crate::state::AppState;

/// The configured mail server; none without `[support] smtp_host`.
pub(crate) fn transport(
    state: &AppState,
) -> Result<Option<AsyncSmtpTransport<Tokio1Executor>>, String> {
    let s = &state.config.support;
    if s.smtp_host.is_empty() {
        return Ok(None);
    }
    let builder = match s.smtp_tls.as_str() {
        "tls" | "starttls" if !s.smtp_ca_file.is_empty() => {
            let pem = std::fs::read(&s.smtp_ca_file)
                .map_err(|e| format!("support.smtp_ca_file {}: {e}", s.smtp_ca_file))?;
            let ca = Certificate::from_pem(&pem)
                .map_err(|e| format!("support.smtp_ca_file {}: {e}", s.smtp_ca_file))?;
            let tls = TlsParameters::builder(s.smtp_host.clone())
                .certificate_store(CertificateStore::None)
                .add_root_certificate(ca)
                .build_rustls()
                .map_err(|e| format!("support.smtp_ca_file {}: {e}", s.smtp_ca_file))?;
            let tls = if s.smtp_tls == "tls" {
                Tls::Wrapper(tls)
            } else {
                Tls::Required(tls)
            };
            Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.smtp_host).tls(tls))
        }
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.smtp_host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.smtp_host),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &s.smtp_host,
        )),
    }
    .map_err(|e| format!("SMTP server {}: {e}", s.smtp_host))?;
    let mut builder = builder
        .port(s.smtp_port)
        .timeout(Some(StdDuration::from_secs(15)));
    if !s.smtp_username.is_empty() {
        let reference = SecretRef::parse(&s.smtp_password)
            .map_err(|_| "support.smtp_password is not a secret reference".to_owned())?;
        let password = reference.resolve(|name| std::env::var(name).ok())?;
        builder = builder.credentials(Credentials::new(s.smtp_username.clone(), password));
    }
    Ok(Some(builder.build()))
}

/// The configured sender, `[support] smtp_from`.
pub(crate) fn sender(state: &AppState) -> Result<Mailbox, String> {
    state
        .config
        .support
        .smtp_from
        .parse()
        .map_err(|e| format!("support.smtp_from: {e}"))
}

/// A plain-text message from the configured sender to `to`.
pub(crate) fn message(
    state: &AppState,
    to: &str,
    subject: String,
    body: String,
) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("recipient address: {e}"))?;
    Message::builder()
        .from(sender(state)?)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("building the message: {e}"))
}
