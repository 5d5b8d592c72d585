//! Rampart's decision engine: pure logic with no I/O, fed by the store and kept in memory.
//!
//! - [`it`]: IT-user permission levels per module and environment, with the combining rule
//!   and an explanation of every decision.
//! - [`hierarchy`]: organisation trees labelled so that "is X in Y's subtree" is two integer
//!   comparisons, and "everything under Y" is one integer range, which the store can turn into
//!   an indexed range predicate inside the database.
//!
//! - [`acl`]: row-level ACL over hierarchies, groups and explicit grants: `can`, `explain`,
//!   and the principal sets that list filtering hands to the database.
//! - [`roles`]: application roles granted to users and groups, optionally until a time.
//! - [`policy`]: who may do what on the platform itself (platform rules as one table) and
//!   the IT level each module-lifecycle operation needs.
//! - [`view`]: the node's in-memory index, [`view::AuthzView`]: these structures with the
//!   names they are addressed by, the [`change::Change`]s that keep it current, and the
//!   [`view::ListFilter`] it chooses for the database.
//! - [`change`]: the change log's entries, stored as JSON by the store.
//! - [`path`]: the materialised paths the database keeps for hierarchies.
//!
//! The store feeds these structures at start-up and through one change path; nothing here
//! does I/O or reads the clock (`now` is a parameter).

pub mod acl;
pub mod change;
/// Synthetic organisations for benchmarks and examples; not part of the product build.
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod hierarchy;
pub mod it;
pub mod path;
pub mod policy;
pub mod roles;
pub mod view;
