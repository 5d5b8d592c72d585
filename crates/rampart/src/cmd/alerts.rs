//! `rampart alerts …`: the alert outbox from a terminal: the deliveries of alerts to the
//! webhook and e-mail that wait or gave up, and asking for one again.

use clap::{Subcommand, ValueEnum};
use rampart_client::api::{AlertDeliveriesQuery, AlertDeliveryView, AlertRetryRequest};

use super::{connect, fail, stamp};

/// The long help of `rampart alerts`.
pub const HELP: &str = "\
The alert outbox. Each alert Rampart raises is an alert.<kind> event in the audit log and \
is delivered to every configured sink (the signed webhook, e-mail) at least once: a \
delivery that is refused is tried again, waiting longer each time, and after \
alerts.delivery_attempts attempts it gives up, recorded as an alert.delivery_failed event.

`deliveries` lists what waits (or, with --failed, what gave up); `retry` asks for a \
delivery again once the sink works: one that gave up is queued afresh, one that waits is \
made due now. The server sends it within a second, signed and with the same delivery key \
(the alert's number) as before, so a receiver that already has it can drop it. Reading \
needs an IT administrator or auditor; retry an IT administrator, and it is audited \
(alert.delivery_requeued).

Examples:

    rampart alerts deliveries
    rampart alerts deliveries --failed
    rampart alerts retry --alert 1234 --sink webhook
    rampart alerts deliveries --format json | jq '.[] | select(.attempts > 3)'";

/// Output formats.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum Format {
    /// One line a delivery, for people.
    #[default]
    Text,
    /// A JSON array of the API's deliveries (`AlertDeliveryView`).
    Json,
}

/// A sink alerts are delivered to.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sink {
    /// The signed webhook (`alerts.webhook_url`).
    Webhook,
    /// E-mail (`alerts.email_to`).
    Email,
}

impl Sink {
    fn as_str(self) -> &'static str {
        match self {
            Sink::Webhook => "webhook",
            Sink::Email => "email",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The deliveries waiting for their next attempt, oldest alert first: the alert's
    /// number, kind, subject and time, the sink, attempts so far, when the next may begin
    /// and why the last failed. With --failed, those that gave up, newest first, each with
    /// the command that delivers it again.
    ///
    ///     rampart alerts deliveries
    ///     rampart alerts deliveries --failed --limit 20
    #[command(verbatim_doc_comment)]
    Deliveries {
        /// The deliveries that gave up after their last attempt instead of those waiting.
        #[arg(long)]
        failed: bool,
        /// At most this many, 1 or more (the newest failures when --failed).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        /// `text` or `json` (an array of the API's deliveries).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Deliver an alert to a sink again (IT administrators): one that gave up is queued
    /// afresh, its attempts from zero; one that waits is made due now. Refused when the
    /// number is not an alert's, the sink is not configured, or it is already due.
    ///
    ///     rampart alerts retry --alert 1234 --sink webhook
    #[command(verbatim_doc_comment)]
    Retry {
        /// The alert's number: its sequence number in the audit log, as `deliveries` shows.
        #[arg(long, value_name = "N")]
        alert: i64,
        /// The sink to deliver to.
        #[arg(long, value_enum)]
        sink: Sink,
    },
}

/// One line for a delivery.
fn line(d: &AlertDeliveryView) -> String {
    let subject = d
        .subject
        .as_deref()
        .map(|s| format!(" about {s}"))
        .unwrap_or_default();
    let mut out = format!(
        "alert {} {}{subject} (raised {}) to {}: {} attempt(s)",
        d.alert,
        d.kind,
        stamp(d.raised_at),
        d.sink,
        d.attempts
    );
    if let Some(until) = d.in_flight_until {
        out.push_str(&format!(
            ", an attempt in flight (lease until {})",
            stamp(until)
        ));
    } else if let Some(next) = d.next_attempt_at {
        out.push_str(&format!(", next {}", stamp(next)));
    }
    if let Some(at) = d.failed_at {
        out.push_str(&format!(", gave up {}", stamp(at)));
    }
    if let Some(e) = &d.last_error {
        out.push_str(&format!("\n  last error: {e}"));
    }
    if d.state == "failed" {
        match (&d.requeued_at, &d.requeued_by) {
            (Some(at), by) => out.push_str(&format!(
                "\n  delivered again at {}{}",
                stamp(*at),
                by.as_deref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            )),
            (None, _) => out.push_str(&format!(
                "\n  deliver again: rampart alerts retry --alert {} --sink {}",
                d.alert, d.sink
            )),
        }
    }
    out
}

/// Runs an `alerts` subcommand against the logged-in server.
pub async fn run(command: &AlertsCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let alerts = client.alerts();
    match command {
        AlertsCommand::Deliveries {
            failed,
            limit,
            format,
        } => {
            let mut all: Vec<AlertDeliveryView> = Vec::new();
            let mut cursor = None;
            let mut more = false;
            loop {
                let want = (*limit as usize).saturating_sub(all.len()).min(500);
                let page = alerts
                    .deliveries(&AlertDeliveriesQuery {
                        state: failed.then(|| "failed".to_owned()),
                        cursor: cursor.take(),
                        limit: Some(u32::try_from(want).unwrap_or(500)),
                    })
                    .await
                    .map_err(fail)?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(next) if all.len() < *limit as usize => cursor = Some(next),
                    Some(_) => {
                        more = true;
                        break;
                    }
                    None => break,
                }
            }
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&all)?),
                Format::Text => {
                    if all.is_empty() {
                        println!(
                            "{}",
                            if *failed {
                                "no alert delivery has given up"
                            } else {
                                "no alert delivery is waiting"
                            }
                        );
                    }
                    for d in &all {
                        println!("{}", line(d));
                    }
                    if more {
                        println!("more: raise --limit to see them");
                    }
                }
            }
        }
        AlertsCommand::Retry { alert, sink } => {
            let done = alerts
                .retry(&AlertRetryRequest {
                    alert: *alert,
                    sink: sink.as_str().to_owned(),
                })
                .await
                .map_err(fail)?;
            let what = if done.was == "waiting" {
                "was waiting; its next attempt is due now"
            } else {
                "is queued again, due now, its attempts from zero"
            };
            println!(
                "alert {} to {}: {what} (see rampart alerts deliveries)",
                done.delivery.alert, done.delivery.sink
            );
        }
    }
    Ok(())
}
