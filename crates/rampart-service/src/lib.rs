//! Rampart's use cases and the node's state, apart from any protocol.
//!
//! **Architecture Invariant:** this crate knows no HTTP. The server (and later the console
//! and other adapters) extracts a request, calls one function here and renders its answer;
//! the rules themselves, and the background work of a node, live here.
//!
//! One module per capability, the same names as the store's and the server's rooms:
//! `identity` (sessions), `authz` (the authorization index), `audit` (the log's tree,
//! checkpoints, proofs, pipeline, schedule and archives), `lifecycle` (module versions,
//! deployments, requests, tags, module names, deployment plans), `backup` (backups and
//! verified restores), `posture` (the security posture report's facts); `config`, `metrics`,
//! `state` and `files` are the node's own, and `caller` is who a use case acts for.

pub mod alerts;
pub mod apps;
pub mod audit;
pub mod authz;
pub mod backup;
pub mod caller;
pub mod cluster;
pub mod config;
pub mod fence;
pub mod files;
pub mod identity;
pub mod idp;
pub mod lease;
pub mod lifecycle;
mod mail;
pub mod metrics;
mod paging;
pub mod posture;
pub mod providers;
pub mod scim;
pub mod state;
pub mod support;
pub mod witness;

pub use caller::Caller;
pub use config::{Config, ConfigError, Loaded, Overrides};
pub use state::AppState;
