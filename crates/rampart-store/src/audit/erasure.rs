//! Erasing payloads: a lawful redaction of one event, and archiving a range to a segment
//! file. Leaf hashes stay, so every proof still holds; an event records each erasure.

use super::*;

impl Store {
    /// Erases event `seq`'s payload (a lawful erasure): its body and the columns copied from
    /// it are cleared, its leaf hash stays, so every proof still holds and verifiers report
    /// the event as redacted. Recorded as an `audit.redact` event with the reason, in the
    /// same transaction. Refuses an event already redacted or unknown.
    pub async fn audit_redact(
        &self,
        ctx: &AuditContext,
        seq: i64,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        if reason.trim().is_empty() || reason.len() > 500 {
            return Err(Error::invalid(
                "reason",
                "must say why, in at most 500 characters",
            ));
        }
        let mut tx = self.write().await?;
        // The head lock first, as appends and compaction steps take it: the key layout read
        // here stays the one in force until the commit.
        let size = keys::lock_head(&mut tx).await?;
        let layout = keys::read_manifest(&mut tx).await?;
        let found: Option<(Option<i64>, Option<String>)> = tx
            .opt(
                "SELECT redacted_at, target FROM audit_events WHERE seq = $1",
                [seq.into()],
            )
            .await?;
        let already = || Error::Conflict(format!("event {seq} is already redacted"));
        let target: Option<String> = match found {
            Some((Some(_), _)) => return Err(already()),
            Some((None, target)) => {
                tx.exec(
                    "UPDATE audit_events SET body = NULL, actor_id = NULL, \
                     actor_name = NULL, target = NULL, redacted_at = $1 WHERE seq = $2",
                    [Arg::from(to_millis(now)), seq.into()],
                )
                .await?;
                target
            }
            // Not a row: a block event, or no event at all.
            None => {
                match blocks::erase_in_blocks(&mut tx, &layout, seq, seq, to_millis(now), None)
                    .await?
                {
                    (0, _, _) => {
                        return Err(Error::NotFound {
                            what: "audit event",
                        })
                    }
                    (_, 0, _) => return Err(already()),
                    (_, _, targets) => targets.into_iter().next(),
                }
            }
        };
        // The erased target leaves the search list too, unless another event has it.
        let target = match target {
            Some(t) if blocks::target_in_packs(&mut tx, &t, &layout).await? => None,
            t => t,
        };
        if let Some(t) = target {
            let sql = format!(
                "DELETE FROM audit_targets WHERE target = $1 \
                 AND NOT EXISTS (SELECT 1 FROM audit_events WHERE target = $1) AND NOT {}",
                blocks::target_in_blocks(&t, &layout, size)
            );
            tx.exec(&sql, [t.into()]).await?;
        }
        let event = AuditEvent {
            action: "audit.redact",
            target: Some(format!("audit:{seq}")),
            outcome: rampart_core::Outcome::Success,
            details: serde_json::json!({ "seq": seq, "reason": reason }).to_string(),
        };
        append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await
    }
}

impl Store {
    /// The last event archived so far (0 when none).
    pub async fn audit_archived_upto(&self) -> Result<i64, Error> {
        self.reader()
            .scalar("SELECT archived_upto FROM audit_head WHERE id = 1", [])
            .await
    }

    /// The last event that happened before `at` (times never go backwards along the log).
    pub async fn audit_last_before(&self, at: OffsetDateTime) -> Result<Option<i64>, Error> {
        self.seq_at_time(to_millis(at), false).await
    }

    /// Records that events `from..=to` now live in archive `segment`: their payloads are
    /// cleared (leaf hashes stay, so every proof holds) and an `audit.archive` event says
    /// where they went, in one transaction. `from` must follow the last archived event.
    pub async fn audit_mark_archived(
        &self,
        ctx: &AuditContext,
        from: i64,
        to: i64,
        segment: &str,
        checkpoint_root: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let mut tx = self.write().await?;
        keys::lock_head(&mut tx).await?;
        let layout = keys::read_manifest(&mut tx).await?;
        let upto: i64 = tx
            .scalar("SELECT archived_upto FROM audit_head WHERE id = 1", [])
            .await?;
        if from != upto + 1 || to < from {
            return Err(Error::Conflict(format!(
                "events up to {upto} are archived; a segment must start at {}",
                upto + 1
            )));
        }
        tx.exec(
            "UPDATE audit_events SET body = NULL, actor_id = NULL, actor_name = NULL, \
             target = NULL, redacted_at = $1, archived_in = $2 \
             WHERE seq >= $3 AND seq <= $4",
            [
                Arg::from(to_millis(now)),
                segment.into(),
                from.into(),
                to.into(),
            ],
        )
        .await?;
        blocks::erase_in_blocks(&mut tx, &layout, from, to, to_millis(now), Some(segment)).await?;
        tx.exec(
            "UPDATE audit_head SET archived_upto = $1 WHERE id = 1",
            [to.into()],
        )
        .await?;
        let event = AuditEvent {
            action: "audit.archive",
            target: Some(format!("audit:{from}-{to}")),
            outcome: rampart_core::Outcome::Success,
            details: serde_json::json!({
                "from": from, "to": to, "segment": segment, "root": checkpoint_root,
            })
            .to_string(),
        };
        append_event(&mut tx, ctx, &event, now, None).await?;
        tx.commit().await
    }
}
