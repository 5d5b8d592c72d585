//! The authorization change path: [`Store::authz_write`] runs a batch of [`AuthzOp`]s in one
//! transaction, one function per family of operations.

mod entities;
mod groups;
mod hierarchies;
mod it;
mod module_names;
mod roles;

use super::tx::{next_num, next_revision, record_changes};
use super::*;
use crate::db::{Args, Tx};

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

impl Batch {
    /// The transaction, the changes made so far and the batch's time: what an operation
    /// works with.
    fn parts(&mut self) -> (&mut Tx<'static>, &mut Vec<Change>, i64) {
        (&mut self.tx, &mut self.changes, self.at)
    }
}

/// What one operation did, for its audit event.
pub(super) struct Applied {
    action: &'static str,
    target: String,
    details: serde_json::Value,
    /// The application the change concerns, for the event's own field.
    application: Option<String>,
}

impl Applied {
    /// An operation's event, with no application of its own.
    fn new(action: &'static str, target: String, details: serde_json::Value) -> Self {
        Self {
            action,
            target,
            details,
            application: None,
        }
    }
}

/// Creates a numbered row: takes the next number from `counter` and runs `insert` with it
/// as `$1` and `args` after it; a unique-key violation becomes a conflict saying `exists`.
/// Returns the number.
async fn create_numbered<'q>(
    tx: &mut Tx<'_>,
    counter: &str,
    insert: &'q str,
    args: impl Args<'q>,
    exists: impl FnOnce() -> String,
) -> Result<i64, Error> {
    let num = next_num(tx, counter).await?;
    tx.exec(insert, std::iter::once(num.into()).chain(args))
        .await
        .map_err(unique(exists))?;
    Ok(num)
}

/// Adds (`add`: an insert) or removes (a delete) one membership of a user: adding one that
/// exists is a conflict saying `already`, removing one that does not is refused saying
/// `absent`.
async fn set_membership<'q>(
    tx: &mut Tx<'_>,
    add: bool,
    statement: &'q str,
    args: impl Args<'q>,
    already: impl FnOnce() -> String,
    absent: impl FnOnce() -> String,
) -> Result<(), Error> {
    let done = tx.exec(statement, args).await.map_err(unique(already))?;
    if !add && done == 0 {
        return Err(Error::invalid("user", absent()));
    }
    Ok(())
}

/// Runs a delete that must remove something; when nothing was there, refuses (for `field`)
/// saying `missing`.
async fn remove_one<'q>(
    tx: &mut Tx<'_>,
    delete: &'q str,
    args: impl Args<'q>,
    field: &str,
    missing: impl FnOnce() -> String,
) -> Result<(), Error> {
    if tx.exec(delete, args).await? == 0 {
        return Err(Error::invalid(field, missing()));
    }
    Ok(())
}

/// Refuses to delete something while rows depend on it: `names` (bound to `num`) selects
/// their names, and `conflict` words the refusal from them, quoted and comma-separated.
async fn refuse_while_named(
    tx: &mut Tx<'_>,
    names: &str,
    num: i64,
    conflict: impl FnOnce(String) -> String,
) -> Result<(), Error> {
    let names: Vec<String> = tx.scalars(names, [num.into()]).await?;
    if names.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    Err(Error::Conflict(conflict(quoted.join(", "))))
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
                &crate::audit::success(applied.action, applied.target, details),
                now,
                applied.application,
            )
            .await?;
        }
        record_changes(&mut b.tx, revision, at, &b.changes).await?;
        if b.credentials {
            crate::fence::credentials_changed(&mut b.tx).await?;
        }
        b.tx.commit().await?;
        self.marks_committed();
        if b.credentials {
            // Cached sessions carry the administrator flag.
            self.credentials_changed();
        }
        Ok(u64::try_from(revision).unwrap_or(0))
    }
}
