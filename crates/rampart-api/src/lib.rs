//! Rampart's wire types: the JSON bodies of the API, one module per capability, and the
//! RFC 9457 [`Problem`] every error answers with.
//!
//! **API Boundary:** these types are the API. They are the only serialisable view of the
//! domain (domain types in `rampart-core` are not serialisable), so nothing becomes part of
//! the API by accident; the server answers with them, the OpenAPI document is generated
//! from them, and the typed client reads them. No HTTP stack here: only `serde`, `utoipa`
//! and the `http` crate's status codes.

pub mod alerts;
pub mod apps;
pub mod audit;
pub mod authz;
pub mod findings;
pub mod identity;
pub mod idp;
pub mod lifecycle;
pub mod mfa;
pub mod plans;
pub mod posture;
pub mod problem;
pub mod providers;
pub mod saml;
pub mod scim;
pub mod sealed;
pub mod support;

pub use alerts::*;
pub use apps::*;
pub use audit::*;
pub use authz::*;
pub use findings::*;
pub use identity::*;
pub use lifecycle::*;
pub use mfa::*;
pub use plans::*;
pub use posture::*;
pub use problem::{Problem, PROBLEM_TYPE_PREFIX};
pub use providers::*;
pub use saml::*;
pub use scim::*;
pub use sealed::*;
pub use support::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
