//! Rampart's decision engine: pure logic with no I/O, fed by the store and kept in memory.
//!
//! - [`it`]: IT-user permission levels per module and environment, with the combining rule
//!   and an explanation of every decision.
//! - [`hierarchy`]: organisation trees labelled so that "is X in Y's subtree" is two integer
//!   comparisons, and "everything under Y" is one integer range, which the store can turn into
//!   an indexed range predicate inside the database.
//!
//! Work in progress for issue #3: application roles, ACL rules and the store-backed index
//! come next on top of these pieces.

pub mod hierarchy;
pub mod it;
