//! Erasing block events: each erased body becomes its remains in its block, and its actor
//! and target keys leave the pack and every level of the key tree.

use super::*;

/// A block's first sequence number, count, leaves and data, with its key pack if any.
type BlockWithPack = (i64, i64, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// What an erasure of `body` leaves, the search keys it takes away (actor and target) and
/// the erased target.
pub(crate) fn erase(
    body: &str,
    now_ms: i64,
    archived_in: Option<&str>,
) -> Result<(String, Vec<i64>, Option<String>), Error> {
    let p: Body = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored audit event: {e}")))?;
    // The actor and target go; stream and action stay findable, as on a redacted row.
    let keys = p
        .actor_name
        .as_deref()
        .map(|a| key(Field::Actor, a))
        .into_iter()
        .chain(p.target.as_deref().map(|t| key(Field::Target, t)))
        .collect();
    let remains = serde_json::to_string(&Remains {
        redacted_at: now_ms,
        archived_in: archived_in.map(Cow::Borrowed),
        stream: p.stream,
        time: p.time,
        node: p.node,
        action: p.action,
        application: p.application,
        environment: p.environment,
        outcome: p.outcome,
    })
    .map_err(|e| Error::Internal(format!("audit remains: {e}")))?;
    Ok((remains, keys, p.target.map(Cow::into_owned)))
}

/// Erases the payloads of the block events numbered `from..=to` inside `tx`, which holds
/// the head lock (so no compaction step runs meanwhile): each body becomes its remains (with
/// `archived_in`), its actor and target keys go at every level of `layout` (the key layout,
/// read under that lock). Returns how many block events the range held, how many of them
/// were erased now, and their targets. Events erased already are left as they are. Blocks
/// are read 64 at a time, so a long range never sits in memory whole.
pub(crate) async fn erase_in_blocks(
    tx: &mut Tx<'_>,
    layout: &Manifest,
    from: i64,
    to: i64,
    now_ms: i64,
    archived_in: Option<&str>,
) -> Result<(i64, i64, Vec<String>), Error> {
    let (mut seen, mut erased) = (0i64, 0i64);
    let mut targets: Vec<String> = Vec::new();
    let mut gone: Vec<(i64, i64)> = Vec::new();
    let mut after = from - BLOCK_EVENTS as i64;
    loop {
        // Each block with its key pack (if it has one still), in one read.
        let rows: Vec<BlockWithPack> = tx
            .all(
                "SELECT b.first_seq, b.count, b.leaves, b.data, k.keys FROM audit_blocks b \
             LEFT JOIN audit_key_packs k ON k.first_seq = b.first_seq \
             WHERE b.first_seq > $1 AND b.first_seq <= $2 ORDER BY b.first_seq LIMIT 64",
                [after.into(), to.into()],
            )
            .await?;
        let Some(last) = rows.last().map(|r| r.0) else {
            break;
        };
        after = last;
        for (first, count, leaves, data, pack) in rows {
            if first + count <= from {
                continue;
            }
            let mut lines = read_block(first, count, leaves, data)?.lines();
            // The erased events' actor and target keys, and whether any was erased.
            let mut changed = BTreeSet::new();
            let mut changed_any = false;
            for (i, line) in lines.iter_mut().enumerate() {
                let seq = first + i as i64;
                if seq < from || seq > to {
                    continue;
                }
                seen += 1;
                if !is_body(line) {
                    continue;
                }
                erased += 1;
                let (remains, keys, target) = erase(line, now_ms, archived_in)?;
                *line = remains;
                changed.extend(keys.iter().map(|&k| (k, seq)));
                changed_any = true;
                if to - from < 1024 {
                    gone.extend(keys.into_iter().map(|k| (k, seq)));
                }
                targets.extend(target);
            }
            if changed_any {
                tx.exec(
                    "UPDATE audit_blocks SET data = $1 WHERE first_seq = $2",
                    [Arg::from(encode_block(&lines)), first.into()],
                )
                .await?;
                // The erased events' keys leave the block's pack (if it has one still).
                if let Some(pack) = pack {
                    tx.exec(
                        "UPDATE audit_key_packs SET keys = $1 WHERE first_seq = $2",
                        [
                            Arg::from(pack_without(first, &pack, &changed)?),
                            first.into(),
                        ],
                    )
                    .await?;
                }
            }
        }
    }
    if to - from < 1024 {
        // At every level: the key may sit in a segment being merged, or merged already.
        for (key, seq) in gone {
            let segs: Vec<String> = layout.every_seg(seq).iter().map(i64::to_string).collect();
            tx.exec(
                &format!(
                    "DELETE FROM audit_keys WHERE seg IN ({}) AND key = $1 AND seq = $2",
                    segs.join(", ")
                ),
                [key.into(), seq.into()],
            )
            .await?;
        }
    } else {
        // A long range (retention): whole segments at a time, level by level (level 0 is
        // the packs, edited above).
        for level in 1..crate::audit::keys::LEVELS {
            tx.exec(
                "DELETE FROM audit_keys WHERE seg >= $1 AND seg <= $2 AND seq >= $3 AND seq <= $4",
                [
                    Arg::from(layout.seg(level, from)),
                    Arg::from(layout.seg(level, to)),
                    from.into(),
                    to.into(),
                ],
            )
            .await?;
        }
    }
    Ok((seen, erased, targets))
}

/// The condition "some block event still has target `target`" for a `WHERE`, over the
/// rows of the published segments above level 0 of `layout` up to the log's size (the key,
/// an integer, is written into the text); [`target_in_packs`] looks at level 0, the packs.
pub(crate) fn target_in_blocks(target: &str, layout: &Manifest, size: i64) -> String {
    let segs: Vec<String> = layout
        .segments(0, size)
        .iter()
        .filter(|s| layout.level_of(s.id) > 0)
        .map(|s| s.id.to_string())
        .collect();
    if segs.is_empty() {
        // Nothing merged yet: every key is in a pack.
        return "(1 = 0)".to_owned();
    }
    format!(
        "EXISTS (SELECT 1 FROM audit_keys WHERE seg IN ({}) AND key = {})",
        segs.join(", "),
        key(Field::Target, target)
    )
}

/// Whether some block event no merge has reached yet (level 0 of `layout`) still has
/// target `target`, from the blocks' key packs, inside `tx`: the half of "still has this
/// target" that [`target_in_blocks`] cannot say in SQL. Packs are read 1,024 at a time, and
/// the reading stops at the first hit.
pub(crate) async fn target_in_packs(
    tx: &mut Tx<'_>,
    target: &str,
    layout: &Manifest,
) -> Result<bool, Error> {
    let key = target_key(target);
    let mut after = layout.floor(0) - BLOCK_EVENTS as i64;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = tx
            .all(
                "SELECT first_seq, keys FROM audit_key_packs WHERE first_seq > $1 \
             ORDER BY first_seq LIMIT 1024",
                [after.into()],
            )
            .await?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(false);
        };
        after = last;
        for (first_seq, pack) in rows {
            if !pack_find(first_seq, &pack, &[key])?.is_empty() {
                return Ok(true);
            }
        }
    }
}
