//! The application runtime's decisions, without I/O: what a deployed model means for the
//! data it keeps.
//!
//! - [`schema`]: the physical layout of each application database (tables, columns, their
//!   SQL types) from the entities of the modules deployed in an environment, and the
//!   migration from the layout a database has to the one a deployment needs.
//! - [`ddl`]: the statements of a migration's steps, for SQLite and PostgreSQL.
//! - [`values`]: record values checked against their attributes, in canonical form, and
//!   converted when a deployment retypes an attribute.
//! - [`list`]: the data API's list requests (filters, sort, cursor, page) and the
//!   parameterised statements that read a page or a record with the reader's row rule.
//! - [`query`]: a module's structured query with its parameters, as a list request.
//! - [`advanced`]: a module's advanced SQL query for one reader: its tables replaced by the
//!   reader's view of them (the row rule inside, no sensitive column), its parameters bound,
//!   one page of it.
//! - [`eval`]: the model's expressions evaluated over a request's parameters, user,
//!   record and an action's variables.
//! - [`pages`]: a screen as a page (each widget's value, where links lead) and the
//!   addresses a redirect may name (this site only).
//! - [`access`]: which roles open an entity's data API, and the table a running model
//!   serves.
//! - [`openapi`]: an application's OpenAPI document as it runs in an environment, for one
//!   caller (what they may use, with the model's types).
//! - [`seal`]: the envelope of `sensitive` attribute values: XChaCha20-Poly1305 under a
//!   per-environment data key, bound to the table, attribute and record it belongs to; the
//!   master key that wraps the data and index keys; the blind index that makes `unique`
//!   possible on a sensitive attribute (revealing which values are equal, nothing more).
//! - [`outbound`]: where an integration call may go: the allow-list of origins, the URL
//!   and body of a call from its arguments, which redirects are followed, which addresses
//!   a declared host may connect to.
//!
//! **Architecture Invariant:** no I/O, no runtime. `rampart-store` executes what is decided
//! here; `rampart-service` hands over the deployed modules and the caller's facts.

pub mod access;
pub mod advanced;
pub mod ddl;
pub mod eval;
pub mod list;
pub mod openapi;
pub mod outbound;
pub mod pages;
pub mod query;
pub mod schema;
pub mod seal;
pub mod values;
