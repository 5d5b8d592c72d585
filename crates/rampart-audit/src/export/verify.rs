//! The offline verifier: [`Verifier`] checks an export fed line by line, in constant memory
//! (a frontier plus pending checkpoints), and reports the first finding.

use super::*;

/// The first problem found in an export.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Finding {
    /// The event's recomputed leaf hash differs from the leaf hash on its line: the payload
    /// was changed.
    #[error("event {seq} was altered: its content does not match its leaf hash")]
    Altered {
        /// The event's sequence number.
        seq: u64,
    },
    /// Events are missing: the next event was expected, a later one came.
    #[error("events are missing: expected event {expected_seq}, found event {found_seq}")]
    Missing {
        /// The sequence number expected.
        expected_seq: u64,
        /// The sequence number found instead.
        found_seq: u64,
    },
    /// An event comes after a later one: events were reordered or one was inserted.
    #[error("event {seq} is out of order: it comes after event {after}")]
    OutOfOrder {
        /// The sequence number of the misplaced event.
        seq: u64,
        /// The sequence number of the event before it.
        after: u64,
    },
    /// An event appears a second time.
    #[error("event {seq} appears twice")]
    Duplicate {
        /// The repeated sequence number.
        seq: u64,
    },
    /// The events are consistent with their leaf hashes but not with a signed root: events
    /// were rewritten together with their leaf hashes somewhere from `since_seq` on.
    #[error("the tree of the first {checkpoint_size} events does not match the signed checkpoint: events from {since_seq} to {checkpoint_size} were rewritten together with their leaf hashes")]
    RootMismatch {
        /// The size of the checkpoint.
        checkpoint_size: u64,
        /// The first event after the previous verified checkpoint (or the export's first).
        since_seq: u64,
    },
    /// A checkpoint's signature by the given key does not verify.
    #[error("the checkpoint on line {line} has a bad signature: it was altered after signing")]
    BadSignature {
        /// The line number (from 1).
        line: u64,
    },
    /// A checkpoint is not signed by the given key.
    #[error("the checkpoint on line {line} is not signed by the given public key")]
    WrongKey {
        /// The line number (from 1).
        line: u64,
    },
    /// A checkpoint (or the header) names another log.
    #[error("line {line} is for log {found:?}, not the expected {expected:?}")]
    WrongOrigin {
        /// The line number (from 1).
        line: u64,
        /// The expected origin.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// The export ends before its last event, or in the middle of a line.
    #[error("the export is truncated: it should end with event {to}, but the last complete event is {last_seq}")]
    Truncated {
        /// The last event read in full (`from - 1` when none).
        last_seq: u64,
        /// The last event the header announces.
        to: u64,
    },
    /// An event's payload is gone and no later event of the export records its erasure
    /// (an `audit.redact` naming it, or an `audit.archive` whose range holds it): the
    /// payload was deleted, not lawfully erased.
    #[error("event {seq} has no payload and no later audit.redact or audit.archive event records its erasure")]
    UnrecordedErasure {
        /// The first such event.
        seq: u64,
    },
    /// A checkpoint does not continue the log's chain of signing keys: signed by a retired
    /// key, a rotation signed by one of its two keys only, a rotation bringing a retired
    /// key back, and so on (see [`crate::keychain`]).
    #[error("the checkpoint on line {line} does not follow the log's signing keys: {reason}")]
    KeyChain {
        /// The line number (from 1).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint carries a signature by a witness key that does not verify.
    #[error("the checkpoint on line {line} has a bad cosignature by witness key {witness}: it was altered")]
    BadCosignature {
        /// The line number (from 1).
        line: u64,
        /// The witness key, as `<name>+<hex8>`.
        witness: String,
    },
    /// Witness keys were given, and no verified checkpoint carries a valid cosignature by
    /// every one of them.
    #[error("no verified checkpoint is cosigned by every given witness key")]
    Unwitnessed,
    /// A line is not valid in this format.
    #[error("line {line} is malformed: {reason}")]
    Malformed {
        /// The line number (from 1).
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What a verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The first problem, or `None` when the export verified.
    pub finding: Option<Finding>,
    /// The header, when it could be read.
    pub header: Option<ExportHeader>,
    /// Event lines checked (payload kept or redacted).
    pub events: u64,
    /// Of those, events whose payload was erased: their leaf hash is taken as given.
    pub redacted: u64,
    /// Erased events whose erasure, their line says, is recorded by a later event beyond
    /// the export's end, as `(erased, recorded by)`: check those records in a later export.
    pub erasures_recorded_later: Vec<(u64, u64)>,
    /// Checkpoints whose signature, origin and root verified.
    pub checkpoints_verified: u64,
    /// The size of the last verified checkpoint.
    pub last_checkpoint_size: Option<u64>,
    /// Events after the last verified checkpoint: no signature covers them.
    pub uncovered_events: u64,
    /// Sizes of checkpoints beyond the export's last event, which it cannot check.
    pub checkpoints_not_covered: Vec<u64>,
    /// The tree size reached.
    pub size: u64,
    /// The root of the tree reached.
    pub root: Hash,
    /// The key rotations verified, as (checkpoint size, new verifier key).
    pub rotations: Vec<(u64, String)>,
    /// The verifier key the log signs with at the end of the export.
    pub signing_key: String,
    /// With witness keys: the size of the newest verified checkpoint that every witness
    /// cosigned. Events after it are signed by the log but not witnessed.
    pub witnessed_size: Option<u64>,
}

impl Report {
    /// Whether the export verified without a finding.
    pub fn is_ok(&self) -> bool {
        self.finding.is_none()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LineWire<'a> {
    seq: Option<u64>,
    #[serde(borrow)]
    leaf: Option<&'a str>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    redacted: Option<bool>,
    recorded_by: Option<u64>,
    checkpoint: Option<String>,
}

/// One line after the header.
pub(super) enum Line<'a> {
    /// An event: its line seq, the hex of its leaf hash, and its JSON text (`None` when the
    /// payload was erased).
    Event {
        seq: u64,
        leaf: &'a [u8],
        event: Option<&'a [u8]>,
        recorded_by: Option<u64>,
    },
    /// A signed checkpoint note.
    Checkpoint(String),
}

/// Parses a line after the header. Lines in exactly the shape [`event_line`] writes take a
/// fast path that reads the fixed members directly and leaves the event text to a single
/// JSON parse in [`event_seq`]; any other line gets a full JSON parse, with the same result.
pub(super) fn parse_line(line: &[u8]) -> Result<Line<'_>, String> {
    if let Some(parsed) = split_event_line(line) {
        return Ok(parsed);
    }
    let wire: LineWire<'_> =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(note) = wire.checkpoint {
        if wire.seq.is_some()
            || wire.leaf.is_some()
            || wire.event.is_some()
            || wire.redacted.is_some()
            || wire.recorded_by.is_some()
        {
            return Err("a checkpoint line has event members".into());
        }
        return Ok(Line::Checkpoint(note));
    }
    let (Some(seq), Some(leaf)) = (wire.seq, wire.leaf) else {
        return Err("an event line needs \"seq\" and \"leaf\"".into());
    };
    let event =
        match (wire.event, wire.redacted.unwrap_or(false)) {
            (Some(event), false) => Some(event.get().as_bytes()),
            (None, true) => None,
            _ => return Err(
                "an event line has either an \"event\" or \"redacted\":true, not both or neither"
                    .into(),
            ),
        };
    if event.is_some() && wire.recorded_by.is_some() {
        return Err("\"recorded_by\" belongs to a redacted event's line".into());
    }
    Ok(Line::Event {
        seq,
        leaf: leaf.as_bytes(),
        event,
        recorded_by: wire.recorded_by,
    })
}

/// Splits a line of the exact shape `{"seq":N,"leaf":"<64 hex>","event":{...}}`; `None` for
/// any other shape. The event text is not checked here: [`event_seq`] parses it.
pub(super) fn split_event_line(line: &[u8]) -> Option<Line<'_>> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let seq = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let rest = rest[digits..].strip_prefix(b",\"leaf\":\"")?;
    let (leaf, rest) = (rest.get(..64)?, rest.get(64..)?);
    let event = rest.strip_prefix(b"\",\"event\":")?.strip_suffix(b"}")?;
    if event.first() != Some(&b'{') || event.last() != Some(&b'}') {
        return None;
    }
    Some(Line::Event {
        seq,
        leaf,
        event: Some(event),
        recorded_by: None,
    })
}

/// The costly part of checking an event line, which does not depend on the lines before it:
/// the leaf hash of its event text and the event's own `seq`.
pub(super) struct Prepared {
    leaf: Hash,
    inner: Result<u64, String>,
}

/// Prepares a line (with its newline) when it has the shape [`event_line`] writes.
pub(super) fn prepare(line: &[u8]) -> Option<Prepared> {
    let line = line.strip_suffix(b"\n")?;
    match split_event_line(line)? {
        Line::Event {
            event: Some(event), ..
        } => Some(Prepared {
            leaf: leaf_hash(event),
            inner: event_seq(event),
        }),
        _ => None,
    }
}

/// What an event says about erasures, if it is an `audit.redact` or `audit.archive`.
#[derive(Deserialize)]
pub(super) struct ErasureRecord {
    action: String,
    details: Option<ErasureDetails>,
}

#[derive(Deserialize)]
pub(super) struct ErasureDetails {
    seq: Option<u64>,
    from: Option<u64>,
    to: Option<u64>,
}

/// A gap in the sequence, kept open to tell removed events from reordered ones.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gap {
    expected: u64,
    found: u64,
    previous: u64,
}

/// Verifies an export fed line by line. See the crate documentation for what it proves.
pub struct Verifier {
    chain: KeyChain,
    witnesses: Vec<VerifierKey>,
    witnessed_size: Option<u64>,
    rotations: Vec<(u64, String)>,
    expected_origin: Option<String>,
    line: u64,
    header: Option<ExportHeader>,
    frontier: Frontier,
    pending: BTreeMap<u64, Vec<(u64, Checkpoint, String)>>,
    last_checkpoint_size: Option<u64>,
    since_seq: u64,
    events: u64,
    redacted: u64,
    checkpoints_verified: u64,
    not_covered: Vec<u64>,
    finding: Option<Finding>,
    gap: Option<Gap>,
    /// Erased events whose erasure no event read so far records.
    erased: BTreeSet<u64>,
    /// Erased events whose lines say the erasure is recorded after the export's end.
    erasures_recorded_later: Vec<(u64, u64)>,
}

impl Verifier {
    /// A verifier for exports signed by `key` (the key the log signs with at the export's
    /// start; rotations in the export are followed from it); with `expected_origin`,
    /// checkpoints and the header must name that log, otherwise checkpoints must name the
    /// header's origin.
    pub fn new(key: VerifierKey, expected_origin: Option<String>) -> Self {
        Self {
            chain: KeyChain::new(key),
            witnesses: Vec::new(),
            witnessed_size: None,
            rotations: Vec::new(),
            expected_origin,
            line: 0,
            header: None,
            frontier: Frontier::new(),
            pending: BTreeMap::new(),
            last_checkpoint_size: None,
            since_seq: 1,
            events: 0,
            redacted: 0,
            checkpoints_verified: 0,
            not_covered: Vec::new(),
            finding: None,
            gap: None,
            erased: BTreeSet::new(),
            erasures_recorded_later: Vec::new(),
        }
    }

    /// Requires a verified checkpoint cosigned by every one of these witness keys, and
    /// refuses any cosignature by them that does not verify.
    pub fn with_witnesses(mut self, witnesses: Vec<VerifierKey>) -> Self {
        self.witnesses = witnesses;
        self
    }

    /// Feeds a whole export held in memory and reports (see [`verify_export`]).
    pub fn feed_all(mut self, export: &[u8]) -> Report {
        for line in export.split_inclusive(|&b| b == b'\n') {
            if self.feed(line).is_err() {
                break;
            }
        }
        self.finish()
    }

    /// The tree size verified so far (for progress reporting).
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Checks the next line, given with its final newline (a line without one is the end of
    /// a truncated export). Returns the first finding once it is known; after that, lines
    /// are ignored. A gap in the sequence is only classified (removed or reordered) by the
    /// lines after it, so it is returned later, at the latest by [`Verifier::finish`].
    pub fn feed(&mut self, line: &[u8]) -> Result<(), Finding> {
        self.feed_prepared(line, None)
    }

    /// [`Verifier::feed`] with the costly part of an event line done ahead, maybe on another
    /// thread ([`prepare`] of the same line); the result is the same.
    pub(super) fn feed_prepared(
        &mut self,
        line: &[u8],
        prepared: Option<&Prepared>,
    ) -> Result<(), Finding> {
        if let Some(finding) = &self.finding {
            return Err(finding.clone());
        }
        self.line += 1;
        let (line, terminated) = match line.strip_suffix(b"\n") {
            Some(inner) => (inner, true),
            None => (line, false),
        };
        let result = if self.header.is_none() {
            self.read_header(line)
        } else {
            self.read_line(line, terminated, prepared)
        };
        if let Err(finding) = result {
            self.finding = Some(finding.clone());
            return Err(finding);
        }
        Ok(())
    }

    /// Ends the verification and reports.
    pub fn finish(mut self) -> Report {
        if self.finding.is_none() {
            self.finding = self.final_finding();
        }
        if self.finding.is_none() && !self.witnesses.is_empty() && self.witnessed_size.is_none() {
            self.finding = Some(Finding::Unwitnessed);
        }
        let covered = self
            .last_checkpoint_size
            .unwrap_or(0)
            .max(self.header.as_ref().map_or(0, |h| h.from - 1));
        Report {
            finding: self.finding,
            header: self.header,
            events: self.events,
            redacted: self.redacted,
            erasures_recorded_later: self.erasures_recorded_later,
            checkpoints_verified: self.checkpoints_verified,
            last_checkpoint_size: self.last_checkpoint_size,
            uncovered_events: self.frontier.size().saturating_sub(covered),
            checkpoints_not_covered: self.not_covered,
            size: self.frontier.size(),
            root: self.frontier.root(),
            rotations: self.rotations,
            signing_key: self.chain.current().to_text(),
            witnessed_size: self.witnessed_size,
        }
    }

    /// The finding that only the end of the export reveals.
    fn final_finding(&self) -> Option<Finding> {
        if let Some(gap) = self.gap {
            return Some(Finding::Missing {
                expected_seq: gap.expected,
                found_seq: gap.found,
            });
        }
        if let Some(&seq) = self.erased.first() {
            return Some(Finding::UnrecordedErasure { seq });
        }
        let Some(header) = &self.header else {
            return Some(Finding::Malformed {
                line: 1,
                reason: "the export is empty: no header line".into(),
            });
        };
        let last_seq = self.frontier.size();
        if last_seq < header.to {
            return Some(Finding::Truncated {
                last_seq,
                to: header.to,
            });
        }
        if let Some((&size, _)) = self.pending.first_key_value() {
            // Unreachable in practice: checkpoints beyond `to` are set aside when read, and
            // the tree reached `to`.
            return Some(Finding::Truncated { last_seq, to: size });
        }
        None
    }

    fn malformed(&self, reason: impl Into<String>) -> Finding {
        Finding::Malformed {
            line: self.line,
            reason: reason.into(),
        }
    }

    fn origin(&self) -> &str {
        match (&self.expected_origin, &self.header) {
            (Some(origin), _) => origin,
            (None, Some(header)) => &header.origin,
            (None, None) => "",
        }
    }

    fn read_header(&mut self, line: &[u8]) -> Result<(), Finding> {
        let header = ExportHeader::parse(line).map_err(|e| self.malformed(e.0))?;
        if let Some(expected) = &self.expected_origin {
            if &header.origin != expected {
                return Err(Finding::WrongOrigin {
                    line: self.line,
                    expected: expected.clone(),
                    found: header.origin,
                });
            }
        }
        self.frontier = header.frontier.clone();
        self.since_seq = header.from;
        self.header = Some(header);
        Ok(())
    }

    fn read_line(
        &mut self,
        line: &[u8],
        terminated: bool,
        prepared: Option<&Prepared>,
    ) -> Result<(), Finding> {
        let (seq, leaf, event, recorded_by) = match parse_line(line) {
            Ok(Line::Event {
                seq,
                leaf,
                event,
                recorded_by,
            }) => (seq, leaf, event, recorded_by),
            Ok(Line::Checkpoint(note)) => {
                if self.gap.is_some() {
                    return Ok(());
                }
                return self.read_checkpoint(&note);
            }
            Err(_) if !terminated => return self.truncated_or_gap(),
            Err(reason) => {
                let finding = self.malformed(reason);
                return self.or_gap(finding);
            }
        };
        // What `prepare` computed is for the event the fast path split off, which is the
        // one `parse_line` returns whenever `prepare` found one.
        let observed = match event {
            None => seq,
            Some(event) => match prepared.map_or_else(|| event_seq(event), |p| p.inner.clone()) {
                Ok(inner) => inner,
                Err(e) => {
                    let finding =
                        self.malformed(format!("the event of seq {seq} has no valid seq: {e}"));
                    return self.or_gap(finding);
                }
            },
        };
        let stated = match from_hex_bytes(leaf) {
            Ok(hash) => hash,
            Err(e) => {
                let finding = self.malformed(format!("invalid leaf hash: {e}"));
                return self.or_gap(finding);
            }
        };
        if let Some(gap) = &mut self.gap {
            return gap.classify(observed);
        }
        if let Some(bytes) = event {
            if prepared.map_or_else(|| leaf_hash(bytes), |p| p.leaf) != stated {
                return Err(Finding::Altered { seq });
            }
        }
        self.check_order(observed, seq)?;
        if self.gap.is_some() {
            return Ok(());
        }
        self.frontier.push(stated);
        self.events += 1;
        match event {
            None => {
                self.redacted += 1;
                let to = self.header.as_ref().map_or(0, |h| h.to);
                match recorded_by {
                    // Recorded after the export's end: cannot be confirmed here (a segment
                    // of old events, redacted since); reported apart.
                    Some(m) if m > to && m > seq => self.erasures_recorded_later.push((seq, m)),
                    _ => {
                        self.erased.insert(seq);
                    }
                }
            }
            Some(event) if !self.erased.is_empty() => self.read_erasure_record(event),
            Some(_) => {}
        }
        self.verify_pending()
    }

    /// Takes the erasures an event records off the list of those waiting for a record: an
    /// `audit.redact` names one event (`details.seq`), an `audit.archive` a range
    /// (`details.from` to `details.to`). Only events after the erased ones count, and only
    /// bodies that hashed to their leaf reach here.
    fn read_erasure_record(&mut self, event: &[u8]) {
        const MARK: &[u8] = b"\"action\":\"audit.";
        if !event.windows(MARK.len()).any(|w| w == MARK) {
            return;
        }
        let Ok(record) = serde_json::from_slice::<ErasureRecord>(event) else {
            return;
        };
        match (record.action.as_str(), record.details) {
            ("audit.redact", Some(d)) => {
                if let Some(seq) = d.seq {
                    self.erased.remove(&seq);
                }
            }
            ("audit.archive", Some(d)) => {
                if let (Some(from), Some(to)) = (d.from, d.to) {
                    let mut later = self.erased.split_off(&from);
                    let after = later.split_off(&to.saturating_add(1));
                    self.erased.extend(after);
                }
            }
            _ => {}
        }
    }

    /// A line that ends the export mid-line: truncation, unless a gap came first.
    fn truncated_or_gap(&self) -> Result<(), Finding> {
        let truncated = Finding::Truncated {
            last_seq: self.frontier.size(),
            to: self.header.as_ref().map_or(0, |h| h.to),
        };
        self.or_gap(truncated)
    }

    /// A problem after an open gap: the gap, seen first, is the finding.
    fn or_gap(&self, finding: Finding) -> Result<(), Finding> {
        match self.gap {
            Some(gap) => Err(Finding::Missing {
                expected_seq: gap.expected,
                found_seq: gap.found,
            }),
            None => Err(finding),
        }
    }

    /// Checks that the event with sequence number `observed` (the event's own `seq`, or the
    /// line's for a redacted event) comes next.
    fn check_order(&mut self, observed: u64, line_seq: u64) -> Result<(), Finding> {
        let expected = self.frontier.size() + 1;
        let to = self.header.as_ref().map_or(0, |h| h.to);
        let from = self.header.as_ref().map_or(1, |h| h.from);
        if observed == expected {
            if line_seq != observed {
                return Err(self.malformed(format!(
                    "the line says seq {line_seq} but its event says {observed}"
                )));
            }
            if observed > to {
                return Err(self.malformed(format!(
                    "event {observed} is beyond the export's last event {to}"
                )));
            }
            return Ok(());
        }
        if observed > expected {
            // Removed or reordered: the lines that follow tell which.
            self.gap = Some(Gap {
                expected,
                found: observed,
                previous: observed,
            });
            return Ok(());
        }
        if observed < from {
            return Err(self.malformed(format!(
                "event {observed} precedes the export's first event {from}"
            )));
        }
        Err(Finding::Duplicate { seq: observed })
    }

    /// A checkpoint line: its signature by some key of the chain is checked now, and the
    /// chain's rule when the tree reaches its size (checkpoints are taken in size order).
    fn read_checkpoint(&mut self, note: &str) -> Result<(), Finding> {
        let line = self.line;
        if !self.chain.signed_by_any(note) {
            let error = match self.chain.check(note) {
                Err(e) => e,
                Ok(_) => ChainError::WrongKey {
                    current: crate::keychain::key_label(self.chain.current()),
                },
            };
            return Err(self.chain_finding(line, error));
        }
        let (text, _) = split_note(note).map_err(|e| self.malformed(e.to_string()))?;
        let checkpoint = Checkpoint::parse(text).map_err(|e| self.malformed(e.to_string()))?;
        if checkpoint.origin != self.origin() {
            return Err(Finding::WrongOrigin {
                line: self.line,
                expected: self.origin().to_owned(),
                found: checkpoint.origin,
            });
        }
        let size = self.frontier.size();
        let to = self.header.as_ref().map_or(0, |h| h.to);
        if checkpoint.size > to {
            self.not_covered.push(checkpoint.size);
            return Ok(());
        }
        if checkpoint.size < size {
            return Err(self.malformed(format!(
                "the checkpoint for size {} comes after event {size}; a checkpoint must come before the event that follows its size",
                checkpoint.size
            )));
        }
        self.pending.entry(checkpoint.size).or_default().push((
            self.line,
            checkpoint,
            note.to_owned(),
        ));
        self.verify_pending()
    }

    fn chain_finding(&self, line: u64, error: ChainError) -> Finding {
        match error {
            ChainError::WrongKey { .. } => Finding::WrongKey { line },
            ChainError::BadSignature { .. } => Finding::BadSignature { line },
            ChainError::Note(e) => Finding::Malformed {
                line,
                reason: e.to_string(),
            },
            other => Finding::KeyChain {
                line,
                reason: other.to_string(),
            },
        }
    }

    /// Whether every witness key cosigned the note; a cosignature by one of them that does
    /// not verify is a finding.
    fn cosigned(&self, line: u64, note: &str) -> Result<bool, Finding> {
        let mut all = true;
        for witness in &self.witnesses {
            match open_text(note, witness) {
                Ok(_) => {}
                Err(NoteError::UnknownKey { .. }) => all = false,
                Err(NoteError::BadSignature { key }) => {
                    return Err(Finding::BadCosignature { line, witness: key })
                }
                Err(e) => {
                    return Err(Finding::Malformed {
                        line,
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(all)
    }

    /// Checks the checkpoints waiting for the current size.
    fn verify_pending(&mut self) -> Result<(), Finding> {
        let size = self.frontier.size();
        match self.pending.first_key_value() {
            Some((&first, _)) if first == size => {}
            _ => return Ok(()),
        }
        let Some(waiting) = self.pending.remove(&size) else {
            return Ok(());
        };
        let root = self.frontier.root();
        for (line, checkpoint, note) in waiting {
            let accepted = self
                .chain
                .accept(&note)
                .map_err(|e| self.chain_finding(line, e))?;
            if checkpoint.root != root {
                return Err(Finding::RootMismatch {
                    checkpoint_size: size,
                    since_seq: self.since_seq,
                });
            }
            if let Some(new) = accepted.rotated_to {
                self.rotations.push((size, new.to_text()));
            }
            if !self.witnesses.is_empty() && self.cosigned(line, &note)? {
                self.witnessed_size = Some(size);
            }
            self.checkpoints_verified += 1;
        }
        self.last_checkpoint_size = Some(size);
        self.since_seq = size + 1;
        Ok(())
    }
}

impl Gap {
    /// Classifies an open gap by the next event seen: an event from inside the gap means
    /// reordering, an event seen before means duplication; anything else keeps it open.
    fn classify(&mut self, observed: u64) -> Result<(), Finding> {
        let after = self.previous;
        self.previous = observed;
        if (self.expected..self.found).contains(&observed) {
            return Err(Finding::OutOfOrder {
                seq: observed,
                after,
            });
        }
        if observed < self.expected {
            return Err(Finding::Duplicate { seq: observed });
        }
        Ok(())
    }
}

/// Verifies a whole export held in memory.
pub fn verify_export(export: &[u8], key: VerifierKey, expected_origin: Option<String>) -> Report {
    Verifier::new(key, expected_origin).feed_all(export)
}
