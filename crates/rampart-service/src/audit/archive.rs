//! Archives and exports of the audit log: signed checkpoints at a size, archive segments,
//! the JSON-lines export, and the offline verification of an export file.

use std::path::Path;

use rampart_audit::Checkpoint;
use rampart_core::Error;
use rampart_store::{Store, StoredCheckpoint};
use time::OffsetDateTime;

use super::*;

/// What [`AuditLog::archive`] moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// First event of the segment.
    pub from: i64,
    /// Last event of the segment.
    pub to: i64,
    /// The segment file.
    pub path: std::path::PathBuf,
    /// The signed checkpoint at `to` inside the segment.
    pub checkpoint_size: u64,
}

impl AuditLog {
    /// Signs a checkpoint for `size` (≤ the tree's size): the historic root of the same
    /// tree, so it is consistent with every other checkpoint, and only after the newest
    /// stored one has been checked against the tree (see [`AuditLog::checkpoint`]).
    pub async fn checkpoint_at(
        &self,
        size: u64,
        now: OffsetDateTime,
        metrics: &Metrics,
    ) -> Result<StoredCheckpoint, Error> {
        let latest = self.checkpoint(now, metrics).await?;
        if size == latest.size {
            return Ok(latest);
        }
        let _signing = self.signing.lock().await;
        // A size before the newest rotation belongs to a retired key, which signs nothing
        // more: the newest stored checkpoint at or below it stands in.
        let chain = self.generations().await?;
        let newest = chain.last().and_then(|g| g.from_size).unwrap_or(0);
        if size < newest {
            return self
                .store
                .audit_checkpoints(0, size, true)
                .await?
                .pop()
                .ok_or_else(|| {
                    Error::Conflict(format!(
                        "no checkpoint at or below size {size} was signed before the key rotation"
                    ))
                });
        }
        self.sign_and_store(size, now).await
    }

    /// Signs the tree's root at `size` and stores the note. Callers hold `signing` and have
    /// checked the newest stored checkpoint against the tree.
    pub(super) async fn sign_and_store(
        &self,
        size: u64,
        now: OffsetDateTime,
    ) -> Result<StoredCheckpoint, Error> {
        let root = self.root_at(size).await?;
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        };
        let failed =
            |e: rampart_audit::NoteError| Error::Internal(format!("signing the checkpoint: {e}"));
        // Twice at most: when a pending rotation was signed meanwhile by another node, the
        // second attempt signs with the new key alone.
        for _ in 0..2 {
            let (note, rotation) = match self.signer().await? {
                keys::Signer::Plain(key) => (key.sign(&checkpoint).map_err(failed)?, None),
                keys::Signer::Rotation {
                    old,
                    new,
                    generation,
                } => (
                    rampart_audit::keychain::sign_rotation(checkpoint.clone(), &old, &new)
                        .map_err(failed)?,
                    Some(generation),
                ),
            };
            if self
                .store
                .audit_put_checkpoint(size, &root, &note, now, rotation)
                .await?
            {
                return Ok(StoredCheckpoint {
                    size,
                    root,
                    note,
                    signed_at: now,
                    cosignatures: Vec::new(),
                });
            }
            // Another node stored this size first: that note stands.
            if let Some(stored) = self.store.audit_checkpoints(size, size, false).await?.pop() {
                return Ok(stored);
            }
        }
        Err(Error::Conflict(format!(
            "the checkpoint of size {size} could not be stored; sign again"
        )))
    }

    /// Moves the events that happened before `cutoff` (and are not archived yet) into one
    /// compressed segment in `dir`: the export format with a checkpoint signed at its last
    /// event, so the segment verifies on its own (`rampart audit verify`). The file is
    /// written, synced and verified before the database lets go of the payloads; the leaf
    /// hashes stay, so proofs over archived events still hold.
    pub async fn archive(
        &self,
        cutoff: OffsetDateTime,
        dir: &Path,
        ctx: &rampart_core::AuditContext,
        now: OffsetDateTime,
        metrics: &Metrics,
    ) -> Result<Option<ArchiveReport>, Error> {
        let from = self.store.audit_archived_upto().await? + 1;
        let Some(to) = self.store.audit_last_before(cutoff).await? else {
            return Ok(None);
        };
        if to < from {
            return Ok(None);
        }
        let size = u64::try_from(to).map_err(|_| Error::Internal("archive end".into()))?;
        let checkpoint = self.checkpoint_at(size, now, metrics).await?;
        // Before a rotation, the segment ends at a checkpoint the retired key signed.
        let (size, to) = (
            checkpoint.size,
            i64::try_from(checkpoint.size).unwrap_or(to),
        );
        if to < from {
            return Ok(None);
        }
        let fail = |e: std::io::Error| {
            Error::Internal(format!("archive directory {}: {e}", dir.display()))
        };
        // Segments hold what the log holds: owner-only, like the data directory.
        crate::files::create_private_dir(dir).map_err(fail)?;
        let name = format!("audit-{from:012}-{to:012}.jsonl.gz");
        let path = dir.join(&name);
        let partial = dir.join(format!("{name}.partial"));
        {
            let file = crate::files::private_file()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&partial)
                .map_err(fail)?;
            let mut gz = flate2::write::GzEncoder::new(
                std::io::BufWriter::new(file),
                flate2::Compression::default(),
            );
            export_jsonl(
                &self.store,
                &self.origin,
                u64::try_from(from).unwrap_or(1),
                size,
                &mut gz,
                &mut |_| {},
            )
            .await?;
            let file = gz
                .finish()
                .map_err(fail)?
                .into_inner()
                .map_err(|e| fail(e.into_error()))?;
            file.sync_all().map_err(fail)?;
        }
        // Read it back and verify it before anything is cleared: on a blocking thread with
        // one worker, so the node keeps serving requests meanwhile.
        // The key that signs at the segment's start; rotations inside it are followed.
        let start = self
            .verifier_at(u64::try_from(from - 1).unwrap_or(0))
            .await?;
        let (file, key, origin) = (partial.clone(), start, self.origin.clone());
        let report = tokio::task::spawn_blocking(move || {
            verify_file_with(&file, key, Some(origin), 1, &mut |_| {})
        })
        .await
        .map_err(|e| Error::Internal(format!("verifying the archive segment: {e}")))??;
        if !report.is_ok() || report.last_checkpoint_size != Some(size) {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::Internal(format!(
                "the archive segment for events {from} to {to} did not verify: {:?}",
                report.finding
            )));
        }
        std::fs::rename(&partial, &path).map_err(fail)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        self.store
            .audit_mark_archived(
                ctx,
                from,
                to,
                &name,
                &rampart_audit::to_hex(&checkpoint.root),
                now,
            )
            .await?;
        Ok(Some(ArchiveReport {
            from,
            to,
            path,
            checkpoint_size: size,
        }))
    }
}

/// Verifies an export file, plain or gzip-compressed (detected by its magic bytes), line by
/// in bounded memory with `workers` threads hashing (see
/// `rampart_audit::export::verify_reader`); `progress` gets the number of lines checked so far.
pub fn verify_file_with(
    path: &Path,
    key: rampart_audit::VerifierKey,
    origin: Option<String>,
    workers: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<rampart_audit::export::Report, Error> {
    verify_file_witnessed(path, key, origin, Vec::new(), workers, progress)
}

/// [`verify_file_with`], also requiring a checkpoint cosigned by every witness key.
pub fn verify_file_witnessed(
    path: &Path,
    key: rampart_audit::VerifierKey,
    origin: Option<String>,
    witnesses: Vec<rampart_audit::VerifierKey>,
    workers: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<rampart_audit::export::Report, Error> {
    use std::io::BufRead as _;
    let fail = |e: std::io::Error| Error::Internal(format!("{}: {e}", path.display()));
    let mut file =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(fail)?);
    let gz = file.fill_buf().map_err(fail)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn std::io::BufRead + Send> = if gz {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(file)
    };
    // Event texts are hashed and parsed on `workers` threads; the checks in order here.
    let verifier = rampart_audit::Verifier::new(key, origin).with_witnesses(witnesses);
    rampart_audit::export::verify_reader_with(
        &mut *reader,
        verifier,
        workers,
        rampart_audit::export::CHUNK_LINES,
        progress,
    )
    .map_err(fail)
}

/// Where archive segments go.
pub fn archive_dir(config: &crate::config::Config) -> std::path::PathBuf {
    if config.audit.archive_dir.is_empty() {
        config.data_dir.join("audit-archive")
    } else {
        std::path::PathBuf::from(&config.audit.archive_dir)
    }
}

/// The frontier of the first `size` leaves, from the stored tile roots and the leaves of
/// the last partial tile (all leaves when tile roots are missing). Derived data: a wrong
/// frontier cannot make a signed root verify, so an export that starts from it is still
/// checked end to end.
pub async fn frontier_at(store: &Store, size: u64) -> Result<rampart_audit::Frontier, Error> {
    let tiles = store.audit_tiles().await?;
    let whole = usize::try_from(size >> TILE_HEIGHT).unwrap_or(usize::MAX);
    let (upper, start) = if tiles.len() >= whole {
        let mut upper = rampart_audit::Frontier::new();
        for root in tiles.iter().take(whole) {
            upper.push(*root);
        }
        (Some(upper), (whole as u64) << TILE_HEIGHT)
    } else {
        (None, 0)
    };
    let mut lower = rampart_audit::Frontier::new();
    let mut at = start;
    while at < size {
        let end = (at + CHUNK).min(size);
        for leaf in store.audit_leaves(at, end).await? {
            lower.push(leaf);
        }
        at = end;
    }
    let mut hashes = upper.map(|u| u.hashes().to_vec()).unwrap_or_default();
    hashes.extend_from_slice(lower.hashes());
    rampart_audit::Frontier::from_parts(size, hashes)
        .map_err(|e| Error::Internal(format!("audit frontier at {size}: {e}")))
}

/// Writes the JSON-lines export of events `from..=to` (the format `rampart audit verify`
/// reads; see `rampart_audit`): a header with the frontier before `from`, each event with
/// its stored leaf hash (so an altered body is caught exactly), and each signed checkpoint
/// whose size falls in the range right after its last event. `progress` is called with the
/// last sequence number written.
pub async fn export_jsonl(
    store: &Store,
    origin: &str,
    from: u64,
    to: u64,
    out: &mut (dyn std::io::Write + Send),
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), Error> {
    let header = rampart_audit::export::ExportHeader {
        origin: origin.to_owned(),
        from,
        to,
        frontier: frontier_at(store, from.saturating_sub(1)).await?,
    };
    out.write_all(header.to_line().as_bytes())
        .map_err(super::export_write_failed)?;
    let checkpoints = store.audit_checkpoints(from, to, false).await?;
    let mut checkpoints = checkpoints.into_iter().peekable();
    let mut after = i64::try_from(from.saturating_sub(1)).unwrap_or(i64::MAX);
    let upto = i64::try_from(to).unwrap_or(i64::MAX);
    let mut line = String::new();
    let mut archives = None;
    while after < upto {
        let rows = store.audit_raw(after, upto, CHUNK as i64).await?;
        let Some(last) = rows.last().map(|r| r.0) else {
            break;
        };
        for (seq, body, leaf) in rows {
            line.clear();
            let s = u64::try_from(seq).unwrap_or(0);
            match body {
                Some(body) => {
                    line.push_str("{\"seq\":");
                    line.push_str(&s.to_string());
                    line.push_str(",\"leaf\":\"");
                    line.push_str(&rampart_audit::to_hex(&leaf));
                    line.push_str("\",\"event\":");
                    line.push_str(&body);
                    line.push_str("}\n");
                }
                // An erasure recorded after the export's end says where (a segment of old
                // events redacted since); one recorded inside it is confirmed there.
                None => match store.audit_erasure_record(seq, &mut archives).await? {
                    Some(m) if m > upto => {
                        line.push_str(&rampart_audit::export::redacted_line_recorded_by(
                            s,
                            &leaf,
                            u64::try_from(m).unwrap_or(0),
                        ))
                    }
                    _ => line.push_str(&rampart_audit::export::redacted_line(s, &leaf)),
                },
            }
            out.write_all(line.as_bytes())
                .map_err(super::export_write_failed)?;
            while let Some(c) = checkpoints.next_if(|c| c.size <= s) {
                out.write_all(
                    rampart_audit::export::checkpoint_line(&c.cosigned_note()).as_bytes(),
                )
                .map_err(super::export_write_failed)?;
            }
        }
        after = last;
        progress(u64::try_from(last).unwrap_or(0));
    }
    out.flush().map_err(super::export_write_failed)
}
