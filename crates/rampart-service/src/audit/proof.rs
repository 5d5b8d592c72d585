//! An event's inclusion proof against the newest signed checkpoint, as the bundle
//! `rampart-audit-proof/1` that auditors verify offline, verified here by the same
//! `rampart_audit::verify_bundle` with the log's own key (the console shows the result).
//! Read-only: callers check `Operation::ReadAuditLog` first.

use rampart_audit::{verify_bundle, BundleError, ProofBundle, Verified, VerifierKey};
use rampart_core::Error;
use rampart_store::EventQuery;

use crate::state::AppState;

/// What can be said of an event's inclusion.
#[derive(Debug)]
pub enum Proved {
    /// No signed checkpoint covers the event yet (the newest one's size, if any).
    NotCovered {
        /// The newest checkpoint's size.
        newest: Option<u64>,
    },
    /// The bundle of the event against the newest checkpoint, and what verifying it found.
    Bundle {
        /// The bundle, as offered for download.
        bundle: Box<ProofBundle>,
        /// [`verify_bundle`]'s answer with the log's verifier key and origin.
        result: Result<Verified, BundleError>,
    },
}

/// The inclusion proof of event `seq` against the newest signed checkpoint; `NotFound` for
/// an event the log does not hold.
pub async fn event_proof(state: &AppState, seq: i64) -> Result<Proved, Error> {
    let query = EventQuery {
        before_seq: Some(seq.saturating_add(1)),
        after_seq: Some(seq.saturating_sub(1)),
        ..EventQuery::default()
    };
    let Some(event) = state.store.audit_search(&query, 1).await?.pop() else {
        return Err(Error::NotFound { what: "event" });
    };
    let seq = u64::try_from(event.seq).map_err(|_| Error::NotFound { what: "event" })?;
    let checkpoint = match state.store.audit_latest_checkpoint().await? {
        Some(c) if c.size >= seq => c,
        other => {
            return Ok(Proved::NotCovered {
                newest: other.map(|c| c.size),
            })
        }
    };
    let proof = state.audit.inclusion_proof(seq, checkpoint.size).await?;
    let key_text = state.audit.verifier_key();
    let bundle = ProofBundle::new(
        state.audit.origin(),
        seq,
        event.body,
        &event.leaf_hash,
        proof.size,
        &proof.proof,
        &checkpoint.cosigned_note(),
        &state.audit.verifier_at(checkpoint.size).await?.to_text(),
    )
    .with_rotations(state.audit.rotation_notes(checkpoint.size).await?);
    let key = VerifierKey::parse(&key_text)
        .map_err(|e| Error::Internal(format!("the log's own verifier key: {e}")))?;
    let result = verify_bundle(&bundle, &key, Some(state.audit.origin()));
    Ok(Proved::Bundle {
        bundle: Box::new(bundle),
        result,
    })
}
