//! The deployment rules that need no I/O: pure functions of what the caller read.
//!
//! - [`compat`]: which deployed modules a change would break, for a new public surface
//!   (publishing) and for an environment as it would be after a deployment.
//! - [`policy`]: what runs now against what a deployment expects, separation of duties
//!   (the author of a version does not deploy it) and the second approver (someone other
//!   than the requester).
//! - [`roles`]: the roles an application's modules declare: one module per role name
//!   (publishing), and the roles a deployment creates.
//! - [`settings`]: the settings a deployment plan gives (each names a property or an
//!   integration of a module in the plan and has its shape) and the site properties left
//!   without a value.
//! - [`secrets`]: where each environment's integration secrets may be read from, as written
//!   in a plan (the operator's directory and variable prefix for that environment, never
//!   the server's own secrets).
//!
//! **Architecture Invariant:** no I/O, no runtime. `rampart-service` reads the store and
//! the authorization index, hands the facts over, and turns the answers into its refusals;
//! every rule here is tested with tables of cases.

pub mod compat;
pub mod policy;
pub mod roles;
pub mod secrets;
pub mod settings;

pub use compat::{Break, Placed};
