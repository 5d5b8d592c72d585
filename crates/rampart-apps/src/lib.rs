//! The application runtime's decisions, without I/O: what a deployed model means for the
//! data it keeps.
//!
//! - [`schema`]: the physical layout of each application database (tables, columns, their
//!   SQL types) from the entities of the modules deployed in an environment, and the
//!   migration from the layout a database has to the one a deployment needs.
//!
//! **Architecture Invariant:** no I/O, no runtime. `rampart-store` executes what is decided
//! here; `rampart-service` hands over the deployed modules and the caller's facts.

pub mod access;
pub mod ddl;
pub mod list;
pub mod schema;
pub mod values;
