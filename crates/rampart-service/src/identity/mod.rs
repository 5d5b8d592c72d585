//! Identity at the node: the cache of live sessions.

pub mod sessions;
