//! Authorization at the node: the index every decision reads, kept current with the
//! database, and the writes of authorization data (`acl`) and IT permissions (`it`).

pub mod acl;
pub mod engine;
pub mod it;

use rampart_authz::it::EnvId;
use rampart_core::Error;
use rampart_store::AuthzView;

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
