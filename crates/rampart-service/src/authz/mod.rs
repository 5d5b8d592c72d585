//! Authorization at the node: the index every decision reads, kept current with the database.

pub mod engine;
