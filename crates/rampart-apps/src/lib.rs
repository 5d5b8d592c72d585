//! The application runtime's decisions, without I/O: what a deployed model means for the
//! data it keeps.
//!
//! - [`schema`]: the physical layout of each application database (tables, columns, their
//!   SQL types) from the entities of the modules deployed in an environment, and the
//!   migration from the layout a database has to the one a deployment needs.
//! - [`seal`]: the envelope of `sensitive` attribute values: XChaCha20-Poly1305 under a
//!   per-environment data key, bound to the table, attribute and record it belongs to; the
//!   master key that wraps the data and index keys; the blind index that makes `unique`
//!   possible on a sensitive attribute (revealing which values are equal, nothing more).
//!
//! **Architecture Invariant:** no I/O, no runtime. `rampart-store` executes what is decided
//! here; `rampart-service` hands over the deployed modules and the caller's facts.

pub mod schema;
pub mod seal;
