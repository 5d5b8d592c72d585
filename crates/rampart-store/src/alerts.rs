//! Alert notifications not yet accepted by their sinks (migration `0018_alert_deliveries`):
//! an outbox written with each alert's audit event, so that a notification survives a sink
//! that is down and a node that dies.
//!
//! A row is claimed before each attempt ([`Store::alert_delivery_claim`]: one statement
//! that counts the attempt and pushes the next one ahead), so two nodes never send the same
//! attempt; it is deleted when the sink accepted ([`Store::alert_delivery_done`]) or with
//! the event that records the end of the attempts ([`Store::alert_delivery_give_up`]).
//! An administrator may ask for a delivery again ([`Store::alert_delivery_requeue`]): one
//! waiting becomes due now, one no longer in the outbox (given up) is queued afresh, with
//! its `alert.delivery_requeued` event in the same transaction.

use rampart_core::{AuditContext, AuditEvent, Error};
use time::OffsetDateTime;

use crate::audit::append_event;
use crate::backend::{from_millis, to_millis};
use crate::db::Arg;
use crate::Store;

/// A notification waiting for its sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    /// The sequence number of the alert's `alert.<kind>` event.
    pub seq: i64,
    /// `webhook` or `email`.
    pub sink: String,
    /// Attempts begun.
    pub attempts: u32,
    /// When the next attempt may begin.
    pub next_at: OffsetDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// What asking for a delivery again did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeued {
    /// It was waiting for a later attempt; the next may begin now (attempts kept).
    MadeDue,
    /// It was not in the outbox (delivery had given up): queued afresh, due now, no
    /// attempt made yet.
    Queued,
}

impl Requeued {
    /// How the audit event and the API say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Requeued::MadeDue => "waiting",
            Requeued::Queued => "not-queued",
        }
    }
}

fn pending(row: &crate::db::Row) -> Result<PendingDelivery, Error> {
    let attempts: i32 = row.get("attempts")?;
    Ok(PendingDelivery {
        seq: row.get("seq")?,
        sink: row.get("sink")?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_at: from_millis(row.get("next_at")?)?,
        last_error: row.get("last_error")?,
    })
}

impl Store {
    /// Records an alert's `event` and, in the same transaction, a delivery due at once to
    /// each of `sinks`; returns the event's sequence number.
    pub async fn record_alert(
        &self,
        ctx: &AuditContext,
        event: &AuditEvent,
        now: OffsetDateTime,
        sinks: &[&str],
    ) -> Result<i64, Error> {
        let mut tx = self.write().await?;
        append_event(&mut tx, ctx, event, now, None).await?;
        // The head's row is locked by the append until the commit: its size is our number.
        let seq: i64 = tx
            .scalar("SELECT size FROM audit_head WHERE id = 1", [])
            .await?;
        for sink in sinks {
            tx.exec(
                "INSERT INTO alert_deliveries (seq, sink, attempts, next_at) VALUES ($1, $2, 0, $3)",
                [Arg::from(seq), Arg::from(*sink), Arg::from(to_millis(now))],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    /// Deliveries waiting, oldest alert first, at most `limit`: those due by `due_by`, or
    /// all of them without it.
    pub async fn alert_deliveries(
        &self,
        due_by: Option<OffsetDateTime>,
        limit: i64,
    ) -> Result<Vec<PendingDelivery>, Error> {
        let rows = self
            .reader()
            .rows(
                "SELECT seq, sink, attempts, next_at, last_error FROM alert_deliveries \
                 WHERE next_at <= $1 ORDER BY seq, sink LIMIT $2",
                [
                    Arg::from(due_by.map_or(i64::MAX, to_millis)),
                    Arg::from(limit),
                ],
            )
            .await?;
        rows.iter().map(pending).collect()
    }

    /// Deliveries waiting, in the order of their alert then sink, after the delivery
    /// `after` (alert, sink) when given, at most `limit`: the pages of the outbox.
    pub async fn alert_deliveries_page(
        &self,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<PendingDelivery>, Error> {
        let (seq, sink) = after.unwrap_or((0, ""));
        let rows = self
            .reader()
            .rows(
                "SELECT seq, sink, attempts, next_at, last_error FROM alert_deliveries \
                 WHERE seq > $1 OR (seq = $1 AND sink > $2) ORDER BY seq, sink LIMIT $3",
                [Arg::from(seq), Arg::from(sink), Arg::from(limit)],
            )
            .await?;
        rows.iter().map(pending).collect()
    }

    /// The delivery of alert `seq` to `sink`, if it is waiting.
    pub async fn alert_delivery(
        &self,
        seq: i64,
        sink: &str,
    ) -> Result<Option<PendingDelivery>, Error> {
        let row = self
            .reader()
            .row_opt(
                "SELECT seq, sink, attempts, next_at, last_error FROM alert_deliveries \
                 WHERE seq = $1 AND sink = $2",
                [Arg::from(seq), Arg::from(sink)],
            )
            .await?;
        row.as_ref().map(pending).transpose()
    }

    /// Asks for the delivery of alert `seq` to `sink` again, at `now`, with its
    /// `alert.delivery_requeued` event (actor from `ctx`) in the same transaction: a
    /// delivery waiting for a later attempt becomes due now, one not in the outbox is queued
    /// afresh (no attempt made, due now). `None`, and nothing changed or recorded, when it
    /// is already due: it goes on the next round anyway. An attempt under way has its
    /// next one pushed ahead ([`Store::alert_delivery_claim`]), so it is made due too: a
    /// second attempt may overlap it, which the delivery key makes harmless to the sink.
    ///
    /// The caller checks that `seq` is an alert and `sink` a configured sink.
    pub async fn alert_delivery_requeue(
        &self,
        seq: i64,
        sink: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Option<Requeued>, Error> {
        let at = to_millis(now);
        let mut tx = self.write().await?;
        let made_due = tx
            .exec(
                "UPDATE alert_deliveries SET next_at = $1 \
                 WHERE seq = $2 AND sink = $3 AND next_at > $1",
                [Arg::from(at), Arg::from(seq), Arg::from(sink)],
            )
            .await?;
        let done = if made_due == 1 {
            Requeued::MadeDue
        } else {
            let queued = tx
                .exec(
                    "INSERT INTO alert_deliveries (seq, sink, attempts, next_at) \
                     VALUES ($1, $2, 0, $3) ON CONFLICT (seq, sink) DO NOTHING",
                    [Arg::from(seq), Arg::from(sink), Arg::from(at)],
                )
                .await?;
            if queued == 0 {
                // Waiting and already due: there is nothing to ask for.
                return Ok(None);
            }
            Requeued::Queued
        };
        let event = AuditEvent {
            action: "alert.delivery_requeued",
            target: Some(sink.to_owned()),
            outcome: rampart_core::Outcome::Success,
            details: serde_json::json!({
                "alert": seq,
                "sink": sink,
                "was": done.as_str(),
            })
            .to_string(),
        };
        append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await?;
        Ok(Some(done))
    }

    /// How many deliveries are waiting.
    pub async fn alert_deliveries_waiting(&self) -> Result<i64, Error> {
        self.reader()
            .scalar("SELECT COUNT(*) FROM alert_deliveries", [])
            .await
    }

    /// Claims the next attempt of `delivery` as read: counts it and makes the delivery not
    /// due again before `until` (when an attempt cut short by a dead node may be made
    /// again). False when it is no longer due or another node claimed it first.
    pub async fn alert_delivery_claim(
        &self,
        delivery: &PendingDelivery,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let n = tx
            .exec(
                "UPDATE alert_deliveries SET attempts = attempts + 1, next_at = $1 \
                 WHERE seq = $2 AND sink = $3 AND attempts = $4 AND next_at <= $5",
                [
                    Arg::from(to_millis(until)),
                    Arg::from(delivery.seq),
                    Arg::from(delivery.sink.as_str()),
                    Arg::from(delivery.attempts),
                    Arg::from(to_millis(now)),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The sink accepted the notification: it is no longer waiting.
    pub async fn alert_delivery_done(&self, seq: i64, sink: &str) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.exec(
            "DELETE FROM alert_deliveries WHERE seq = $1 AND sink = $2",
            [Arg::from(seq), Arg::from(sink)],
        )
        .await?;
        tx.commit().await
    }

    /// Attempt number `made` failed because of `error`: the next may begin at `next_at`
    /// (unless another node has made a later attempt since).
    pub async fn alert_delivery_retry(
        &self,
        seq: i64,
        sink: &str,
        made: u32,
        next_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        tx.exec(
            "UPDATE alert_deliveries SET next_at = $1, last_error = $2 \
             WHERE seq = $3 AND sink = $4 AND attempts = $5",
            [
                Arg::from(to_millis(next_at)),
                Arg::from(error),
                Arg::from(seq),
                Arg::from(sink),
                Arg::from(made),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Delivery to `sink` gives up: the row goes and `event` (the `alert.delivery_failed`
    /// event) is recorded in the same transaction, once: false, and nothing recorded, when
    /// the row was already gone.
    pub async fn alert_delivery_give_up(
        &self,
        seq: i64,
        sink: &str,
        ctx: &AuditContext,
        event: &AuditEvent,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let gone = tx
            .exec(
                "DELETE FROM alert_deliveries WHERE seq = $1 AND sink = $2",
                [Arg::from(seq), Arg::from(sink)],
            )
            .await?;
        if gone == 0 {
            return Ok(false);
        }
        append_event(&mut tx, ctx, event, now, None).await?;
        tx.commit().await?;
        Ok(true)
    }
}
