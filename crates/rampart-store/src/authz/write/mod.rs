//! The authorization change path: [`Store::authz_write`] runs a batch of [`AuthzOp`]s in one
//! transaction, one function per family of operations.

mod entities;
mod groups;
mod hierarchies;
mod it;
mod module_names;
mod roles;

use super::tx::{next_revision, record_changes};
use super::*;
use crate::db::Tx;

/// A batch under way: its transaction, the changes it has made so far, and what its
/// operations share.
pub(super) struct Batch {
    tx: Tx<'static>,
    changes: Vec<Change>,
    /// The batch's time in UTC milliseconds.
    at: i64,
    /// The environments as this batch leaves them (a batch may define one and set its role
    /// levels), read only by a batch that names an environment.
    environments: Option<Vec<String>>,
    /// Whether cached sessions must be dropped after commit (they carry the administrator
    /// flag).
    credentials: bool,
}

/// What one operation did, for its audit event.
pub(super) struct Applied {
    action: &'static str,
    target: String,
    details: serde_json::Value,
    /// The application the change concerns, for the event's own field.
    application: Option<String>,
}

/// The error of a family handed an operation of another; a bug in the dispatch below.
fn not_in_family(op: &AuthzOp) -> Error {
    Error::Internal(format!(
        "authorization operation dispatched to the wrong family: {op:?}"
    ))
}

impl Store {
    /// Applies a batch of operations atomically; returns the new revision (the token a
    /// later check may ask to be at least as fresh as). Nothing is written if any fails.
    pub async fn authz_write(
        &self,
        ctx: &AuditContext,
        now: OffsetDateTime,
        ops: &[AuthzOp],
    ) -> Result<u64, Error> {
        if ops.is_empty() {
            return Err(Error::invalid("operations", "nothing to do"));
        }
        let at = to_millis(now);
        let mut tx = self.write().await?;
        let revision = next_revision(&mut tx).await?;
        let mut b = Batch {
            tx,
            changes: Vec::new(),
            at,
            environments: None,
            credentials: false,
        };
        for op in ops {
            let applied = match op {
                AuthzOp::CreateGroup { .. }
                | AuthzOp::DeleteGroup { .. }
                | AuthzOp::AddGroupMember { .. }
                | AuthzOp::RemoveGroupMember { .. } => groups::apply(&mut b, op).await?,
                AuthzOp::CreateHierarchy { .. }
                | AuthzOp::DeleteHierarchy { .. }
                | AuthzOp::SetParent { .. }
                | AuthzOp::AddUnitMember { .. }
                | AuthzOp::RemoveUnitMember { .. } => hierarchies::apply(&mut b, op).await?,
                AuthzOp::PutEntity { .. }
                | AuthzOp::PutRecords { .. }
                | AuthzOp::DeleteRecord { .. }
                | AuthzOp::AddGrant { .. }
                | AuthzOp::RemoveGrant { .. } => entities::apply(&mut b, op).await?,
                AuthzOp::CreateApplication { .. }
                | AuthzOp::CreateRole { .. }
                | AuthzOp::DeleteRole { .. }
                | AuthzOp::GrantRole { .. }
                | AuthzOp::RevokeRole { .. } => roles::apply(&mut b, op).await?,
                AuthzOp::SetItRole { .. }
                | AuthzOp::SetEnvironments { .. }
                | AuthzOp::SetRoleLevel { .. }
                | AuthzOp::CreateTeam { .. }
                | AuthzOp::DeleteTeam { .. }
                | AuthzOp::SetTeamMember { .. }
                | AuthzOp::SetApplicationTeam { .. }
                | AuthzOp::SetOverride { .. } => it::apply(&mut b, op).await?,
                AuthzOp::RegisterModule { .. }
                | AuthzOp::ReserveModuleName { .. }
                | AuthzOp::TransferModuleName { .. }
                | AuthzOp::ReleaseModuleName { .. } => module_names::apply(&mut b, op).await?,
            };
            let mut details = applied.details;
            if let Some(obj) = details.as_object_mut() {
                obj.insert("revision".into(), json!(revision));
            }
            crate::audit::append_event(
                &mut b.tx,
                ctx,
                &authz_event(applied.action, applied.target, details),
                now,
                applied.application,
            )
            .await?;
        }
        record_changes(&mut b.tx, revision, at, &b.changes).await?;
        b.tx.commit().await?;
        if b.credentials {
            // Cached sessions carry the administrator flag.
            self.credentials_changed();
        }
        Ok(u64::try_from(revision).unwrap_or(0))
    }
}
