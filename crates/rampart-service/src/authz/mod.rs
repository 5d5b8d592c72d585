//! Authorization at the node: the index every decision reads, kept current with the
//! database (`engine`), the decisions and reads it answers (`decide`), and the writes of
//! authorization data (`acl`) and IT permissions (`it`); rebuilding the hierarchies' paths
//! (`rebuild`).

pub mod acl;
pub mod decide;
pub mod engine;
pub mod it;
pub mod rebuild;
pub mod tree;

use rampart_authz::it::EnvId;
use rampart_authz::view::AuthzView;
use rampart_core::Error;
use rampart_store::AuthzOp;

use crate::state::AppState;

/// The environment named `raw`, or an error naming `field` and the environments there are.
pub fn environment(view: &AuthzView, raw: &str, field: &str) -> Result<EnvId, Error> {
    view.it.environment(raw).ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "no environment `{raw}` (environments: {})",
                view.it.environments().join(", ")
            ),
        )
    })
}

/// The most operations one authorization write may carry.
const MAX_BATCH: usize = 100;

/// Refuses an empty or oversized batch, then makes the index current, so that the batch's
/// names are resolved against every change committed before it.
pub(crate) async fn begin_batch(state: &AppState, len: usize) -> Result<(), Error> {
    if len == 0 || len > MAX_BATCH {
        return Err(Error::invalid(
            "operations",
            format!("give 1 to {MAX_BATCH} operations"),
        ));
    }
    state.authz.fresh(None).await?;
    Ok(())
}

/// Commits authorization operations in one transaction, each with its audit event, and
/// applies them to this node's index before answering (so the writer's next request sees
/// them); answers the revision they committed at.
pub(crate) async fn commit(
    state: &AppState,
    audit: &rampart_core::AuditContext,
    ops: &[AuthzOp],
) -> Result<u64, Error> {
    let revision = state
        .store
        .authz_write(audit, state.clock.now(), ops)
        .await?;
    state.authz.after_write(revision).await?;
    Ok(revision)
}
