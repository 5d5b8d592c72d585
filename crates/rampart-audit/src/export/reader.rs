//! Verifying an export read from a reader: one thread reads chunks of lines, workers prepare
//! what does not depend on earlier lines, and the caller's thread feeds the [`Verifier`] in
//! order.

use super::*;

/// Lines a worker prepares at a time.
/// Lines per chunk handed to the hashing workers.
pub const CHUNK_LINES: usize = 4_096;

/// Consecutive lines of an export, each with its newline (the last maybe without).
struct Chunk {
    index: u64,
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Chunk {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter()).map(|(a, b)| &self.data[a..*b])
    }
}

/// Verifies an export read from `reader`, from its header to its end, and reports.
///
/// One thread reads lines, `workers` threads hash and parse event texts (the costly part:
/// the result of each line does not depend on the lines before it) and this thread feeds
/// the [`Verifier`] in order, so the report is the one [`Verifier::feed`] line by line
/// gives. Memory stays bounded: at most four chunks of lines a worker are in flight.
/// `progress` gets the number of lines checked, now and then. Reading stops at the first
/// finding, and a read error after it does not hide it.
pub fn verify_reader(
    reader: &mut (dyn std::io::BufRead + Send),
    key: VerifierKey,
    expected_origin: Option<String>,
    workers: usize,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<Report> {
    verify_reader_in_chunks(reader, key, expected_origin, workers, CHUNK_LINES, progress)
}

/// [`verify_reader`] with chunks of `chunk_lines` lines (tests use tiny ones, so that chunks
/// come back out of order).
#[doc(hidden)]
pub fn verify_reader_in_chunks(
    reader: &mut (dyn std::io::BufRead + Send),
    key: VerifierKey,
    expected_origin: Option<String>,
    workers: usize,
    chunk_lines: usize,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<Report> {
    let verifier = Verifier::new(key, expected_origin);
    verify_reader_with(reader, verifier, workers, chunk_lines, progress)
}

/// [`verify_reader`] with a verifier set up by the caller (witness keys, for instance) and
/// chunks of `chunk_lines` lines.
pub fn verify_reader_with(
    reader: &mut (dyn std::io::BufRead + Send),
    mut verifier: Verifier,
    workers: usize,
    chunk_lines: usize,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<Report> {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    let chunk_lines = chunk_lines.max(1);
    let workers = workers.max(1);
    // Chunks read but not yet fed: the reader takes a credit before each, and gets it back
    // when its chunk has been fed, so memory stays bounded however the workers are scheduled.
    let credits = workers * 4;
    let mut found = false;
    let read_result = std::thread::scope(|scope| {
        let (credit_tx, credit_rx) = mpsc::sync_channel::<()>(credits);
        for _ in 0..credits {
            let _ = credit_tx.send(());
        }
        let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(credits);
        let (done_tx, done_rx) = mpsc::sync_channel::<(Chunk, Vec<Option<Prepared>>)>(credits);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let read = scope.spawn(move || -> std::io::Result<()> {
            for index in 0.. {
                // No credit: the verifier stopped (a finding) and reading ends.
                if credit_rx.recv().is_err() {
                    break;
                }
                let mut chunk = Chunk {
                    index,
                    data: Vec::with_capacity(chunk_lines * 512),
                    ends: Vec::with_capacity(chunk_lines),
                };
                // The lines before a read error are checked, as line by line they would be.
                let mut failed = None;
                while chunk.ends.len() < chunk_lines {
                    match reader.read_until(b'\n', &mut chunk.data) {
                        Ok(0) => break,
                        Ok(_) => chunk.ends.push(chunk.data.len()),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let last = failed.is_some() || chunk.ends.len() < chunk_lines;
                if !chunk.ends.is_empty() && work_tx.send(chunk).is_err() {
                    break;
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                if last {
                    break;
                }
            }
            Ok(())
        });
        for _ in 0..workers {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            scope.spawn(move || loop {
                let next = work_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some(chunk) = next else {
                    break;
                };
                let prepared: Vec<Option<Prepared>> = chunk.lines().map(prepare).collect();
                if done_tx.send((chunk, prepared)).is_err() {
                    break;
                }
            });
        }
        // Only the workers hold these ends now: when they stop, the reader's sends fail.
        drop((work_rx, done_tx));
        // Chunks come back in any order: feed them in the order they were read.
        let mut waiting: BTreeMap<u64, (Chunk, Vec<Option<Prepared>>)> = BTreeMap::new();
        let (mut next, mut lines) = (0u64, 0u64);
        'feed: for got in done_rx.iter() {
            waiting.insert(got.0.index, got);
            while let Some((chunk, prepared)) = waiting.remove(&next) {
                for (line, p) in chunk.lines().zip(&prepared) {
                    lines += 1;
                    if verifier.feed_prepared(line, p.as_ref()).is_err() {
                        found = true;
                        break 'feed;
                    }
                }
                next += 1;
                progress(lines);
                let _ = credit_tx.send(());
            }
        }
        // Dropping these ends the reader (no more credits) and the workers (no receiver).
        drop((credit_tx, done_rx, waiting));
        read.join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the export reader stopped")))
    });
    // A finding stands even if reading ahead of it failed: line by line, reading would
    // have stopped there.
    if !found {
        read_result?;
    }
    Ok(verifier.finish())
}
