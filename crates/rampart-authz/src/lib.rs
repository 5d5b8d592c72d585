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
//!
//! The store feeds these structures at start-up and through one change path; nothing here
//! does I/O or reads the clock (`now` is a parameter).

pub mod acl;
/// Synthetic organisations for benchmarks and examples; not part of the product build.
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod hierarchy;
pub mod it;
pub mod policy;
pub mod roles;
