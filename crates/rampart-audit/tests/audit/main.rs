//! The integration tests of `rampart-audit`: one test binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod export;
mod note;
mod rotation;
mod tree;
mod witness;
