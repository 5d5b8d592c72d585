//! `rampart audit verify-proof`: one event's inclusion-proof bundle checked offline by
//! `rampart_audit::verify_bundle`, the verifier the console's event page runs too.

use std::path::Path;

use anyhow::{bail, Context as _};
use rampart_audit::{to_hex, verify_bundle, ProofBundle, VerifierKey};

/// Verifies the bundle at `path` with `key`, printing what it proves; an error when it
/// does not verify.
pub fn verify(path: &Path, key: &VerifierKey, origin: Option<&str>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the proof bundle {}", path.display()))?;
    let bundle = ProofBundle::parse(&text).map_err(|e| anyhow::anyhow!("FAILED: {e}"))?;
    match verify_bundle(&bundle, key, origin) {
        Ok(v) => {
            let what = if v.event_checked {
                "its text matches its leaf hash"
            } else {
                "its payload was erased; its leaf hash"
            };
            println!(
                "OK: event {} is leaf {} of the tree of {} events whose root {} the checkpoint signed by {} commits to; {what} is proved",
                v.seq,
                v.seq - 1,
                v.size,
                to_hex(&v.root),
                key.name(),
            );
            Ok(())
        }
        Err(e) => bail!("FAILED: event {}: {e}", bundle.seq),
    }
}
