//! Sending an alert to the configured sinks: a signed webhook and e-mail.
//!
//! The webhook receives the alert as JSON with a [`SIGNATURE_HEADER`] of
//! `t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">` under the configured secret, so
//! a receiver checks the signature (in constant time) and refuses an old timestamp, and a
//! captured request cannot be replayed later or altered. The secret is read when sending,
//! from its reference, and never logged.

use std::time::Duration as StdDuration;

use hmac::{Hmac, Mac};
use rampart_alerts::Alert;
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;

use crate::config::{list_items, SecretRef};
use crate::state::AppState;

/// The header carrying the webhook's signature.
pub const SIGNATURE_HEADER: &str = "rampart-signature";

/// How long one delivery may take.
const TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).map_err(|e| format!("the webhook secret: {e}"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("t={timestamp},v1={hex}"))
}

/// The alert as sinks receive it.
fn body(state: &AppState, alert: &Alert) -> serde_json::Value {
    serde_json::json!({
        "kind": alert.kind.as_str(),
        "severity": alert.kind.severity(),
        "subject": alert.subject,
        "at": alert.at.format(&Rfc3339).unwrap_or_default(),
        "node": state.config.node_id,
        "evidence": alert.evidence,
    })
}

/// Sends `alert` to every configured sink, on a task of its own.
pub(super) fn spawn(state: &AppState, alert: &Alert) {
    let config = &state.config.alerts;
    if config.webhook_url.is_empty() && config.email_to.trim().is_empty() {
        return;
    }
    let state = state.clone();
    let body = body(&state, alert);
    let kind = alert.kind;
    let subject = alert.subject.clone();
    tokio::spawn(async move {
        if !state.config.alerts.webhook_url.is_empty() {
            let sent = tokio::time::timeout(TIMEOUT, webhook(&state, &body)).await;
            let failed = match sent {
                Ok(Ok(())) => None,
                Ok(Err(why)) => Some(why),
                Err(_) => Some("no answer in time".to_owned()),
            };
            if let Some(why) = failed {
                tracing::warn!(error = %why, alert = kind.as_str(), "an alert's webhook was not delivered");
                state.metrics.alert_delivery_failures.inc();
            }
        }
        let to: Vec<String> = list_items(&state.config.alerts.email_to)
            .map(str::to_owned)
            .collect();
        if !to.is_empty() {
            let text = serde_json::to_string_pretty(&body).unwrap_or_default();
            let letters = to
                .into_iter()
                .map(|to| {
                    crate::support::notify::Letter::new(
                        to,
                        format!("Rampart alert: {} ({})", kind.as_str(), subject),
                        format!(
                            "Rampart raised a {} alert about {subject}.\n\n{text}\n",
                            kind.severity()
                        ),
                    )
                })
                .collect();
            crate::support::notify::send_all(&state, letters).await;
        }
    });
}

async fn webhook(state: &AppState, body: &serde_json::Value) -> Result<(), String> {
    let config = &state.config.alerts;
    let secret = SecretRef::parse(&config.webhook_secret)
        .map_err(|_| "alerts.webhook_secret is not a secret reference".to_owned())?
        .resolve(|name| std::env::var(name).ok())?;
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let timestamp = state.clock.now().unix_timestamp();
    let signature = sign(secret.as_bytes(), timestamp, &body)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the webhook's HTTP client: {e}"))?;
    let answer = client
        .post(&config.webhook_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the webhook did not answer: {}", e.without_url()))?;
    if !answer.status().is_success() {
        return Err(format!("the webhook answered {}", answer.status()));
    }
    Ok(())
}
