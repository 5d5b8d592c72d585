//! Alert notifications not yet accepted by their sinks (migrations `0018_alert_deliveries`,
//! `0020_alert_delivery_claims`): an outbox written with each alert's audit event, so that a
//! notification survives a sink that is down and a node that dies.
//!
//! **The claim is the fence.** Before each attempt the delivering node claims the row
//! ([`Store::alert_delivery_claim`]): one conditional UPDATE that takes it only when it is
//! due and no live claim holds it, counts the attempt, and writes the attempt's token and
//! the end of its lease (`claim`, `claimed_until`). Two attempts, on one node or on several
//! sharing a PostgreSQL database, therefore never hold one delivery at once: the second
//! UPDATE finds the row changed and takes nothing. The outcome is written only under the
//! token that claimed ([`Store::alert_delivery_done`] deletes the row, [`Store::alert_delivery_retry`]
//! plans the next attempt and releases the claim, [`Store::alert_delivery_give_up`] deletes
//! it with the event that records the end of the attempts), so an attempt whose lease ran
//! out and was taken over records nothing. A claim whose node died is taken over once its
//! lease has run out.
//!
//! An administrator may ask for a delivery again ([`Store::alert_delivery_requeue`]): one
//! waiting becomes due now, one no longer in the outbox (given up) is queued afresh, with
//! its `alert.delivery_requeued` event in the same transaction; one held by a live claim is
//! refused ([`NotRequeued::InFlight`]) and nothing changes, so a request never makes a
//! second attempt overlap the one under way.

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
    /// When the lease of the attempt that claimed it runs out, while one holds it (a time
    /// in the past: its node died, and the next attempt takes it over).
    pub claimed_until: Option<OffsetDateTime>,
}

/// Why asking for a delivery again did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRequeued {
    /// It is waiting and already due, with no attempt under way: it goes on the next round.
    AlreadyDue,
    /// An attempt holds it (its claim's lease has not run out): asking again would make a
    /// second attempt overlap it.
    InFlight,
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
        claimed_until: row
            .get::<Option<i64>, _>("claimed_until")?
            .map(from_millis)
            .transpose()?,
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
                "SELECT seq, sink, attempts, next_at, last_error, claimed_until FROM alert_deliveries \
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
                "SELECT seq, sink, attempts, next_at, last_error, claimed_until FROM alert_deliveries \
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
                "SELECT seq, sink, attempts, next_at, last_error, claimed_until FROM alert_deliveries \
                 WHERE seq = $1 AND sink = $2",
                [Arg::from(seq), Arg::from(sink)],
            )
            .await?;
        row.as_ref().map(pending).transpose()
    }

    /// Asks for the delivery of alert `seq` to `sink` again, at `now`, with its
    /// `alert.delivery_requeued` event (actor from `ctx`) in the same transaction: a
    /// delivery waiting for a later attempt becomes due now, one not in the outbox is queued
    /// afresh (no attempt made, due now). Nothing is changed or recorded when an attempt
    /// holds the delivery ([`NotRequeued::InFlight`]: its claim's lease has not run out at
    /// `now`) or when it is already due ([`NotRequeued::AlreadyDue`]: it goes on the next
    /// round anyway).
    ///
    /// The caller checks that `seq` is an alert and `sink` a configured sink.
    pub async fn alert_delivery_requeue(
        &self,
        seq: i64,
        sink: &str,
        now: OffsetDateTime,
        ctx: &AuditContext,
    ) -> Result<Result<Requeued, NotRequeued>, Error> {
        let at = to_millis(now);
        let mut tx = self.write().await?;
        // One statement, so that a claim taken meanwhile by another node is seen: a row
        // with a live claim is left as it is.
        let made_due = tx
            .exec(
                "UPDATE alert_deliveries SET next_at = $1 \
                 WHERE seq = $2 AND sink = $3 AND next_at > $1 \
                 AND (claimed_until IS NULL OR claimed_until <= $1)",
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
                // Waiting: held by an attempt, or already due.
                let until: Option<Option<i64>> = tx
                    .scalar_opt(
                        "SELECT claimed_until FROM alert_deliveries WHERE seq = $1 AND sink = $2",
                        [Arg::from(seq), Arg::from(sink)],
                    )
                    .await?;
                return Ok(Err(match until {
                    Some(Some(until)) if until <= at => NotRequeued::AlreadyDue,
                    Some(None) => NotRequeued::AlreadyDue,
                    // Held by a live claim; or gone since the insert was refused, which
                    // only an attempt that just ended does.
                    Some(Some(_)) | None => NotRequeued::InFlight,
                }));
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
        Ok(Ok(done))
    }

    /// How many deliveries are waiting.
    pub async fn alert_deliveries_waiting(&self) -> Result<i64, Error> {
        self.reader()
            .scalar("SELECT COUNT(*) FROM alert_deliveries", [])
            .await
    }

    /// Claims the next attempt of `delivery` as read, for the attempt `token`, in one
    /// conditional UPDATE: only when the row is as read (its attempts), due at `now`, and
    /// held by no claim whose lease runs past `now`. Counts the attempt, writes the token,
    /// and holds the row until `until` (the lease: when an attempt cut short by a dead
    /// node is taken over). False, and nothing changed, when another attempt claimed it
    /// first, it is no longer due, or it is gone.
    pub async fn alert_delivery_claim(
        &self,
        delivery: &PendingDelivery,
        token: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, Error> {
        let (now, until) = (to_millis(now), to_millis(until));
        let mut tx = self.write().await?;
        let n = tx
            .exec(
                "UPDATE alert_deliveries \
                 SET attempts = attempts + 1, next_at = $1, claim = $2, claimed_until = $1 \
                 WHERE seq = $3 AND sink = $4 AND attempts = $5 AND next_at <= $6 \
                 AND (claimed_until IS NULL OR claimed_until <= $6)",
                [
                    Arg::from(until),
                    Arg::from(token),
                    Arg::from(delivery.seq),
                    Arg::from(delivery.sink.as_str()),
                    Arg::from(delivery.attempts),
                    Arg::from(now),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The sink accepted the notification of the attempt `token`: the delivery is no
    /// longer waiting. False, and nothing changed, when that attempt no longer holds it
    /// (its lease ran out and another attempt took it over).
    pub async fn alert_delivery_done(
        &self,
        seq: i64,
        sink: &str,
        token: &str,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let n = tx
            .exec(
                "DELETE FROM alert_deliveries WHERE seq = $1 AND sink = $2 AND claim = $3",
                [Arg::from(seq), Arg::from(sink), Arg::from(token)],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The attempt `token` failed because of `error`: the claim is released and the next
    /// attempt may begin at `next_at`. False, and nothing changed, when that attempt no
    /// longer holds the delivery.
    pub async fn alert_delivery_retry(
        &self,
        seq: i64,
        sink: &str,
        token: &str,
        next_at: OffsetDateTime,
        error: &str,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let n = tx
            .exec(
                "UPDATE alert_deliveries \
                 SET next_at = $1, last_error = $2, claim = NULL, claimed_until = NULL \
                 WHERE seq = $3 AND sink = $4 AND claim = $5",
                [
                    Arg::from(to_millis(next_at)),
                    Arg::from(error),
                    Arg::from(seq),
                    Arg::from(sink),
                    Arg::from(token),
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Delivery to `sink` gives up after the attempt `token`: the row goes and `event` (the
    /// `alert.delivery_failed` event) is recorded in the same transaction, once: false, and
    /// nothing recorded, when the row is gone or that attempt no longer holds it.
    pub async fn alert_delivery_give_up(
        &self,
        seq: i64,
        sink: &str,
        token: &str,
        ctx: &AuditContext,
        event: &AuditEvent,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let mut tx = self.write().await?;
        let gone = tx
            .exec(
                "DELETE FROM alert_deliveries WHERE seq = $1 AND sink = $2 AND claim = $3",
                [Arg::from(seq), Arg::from(sink), Arg::from(token)],
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
