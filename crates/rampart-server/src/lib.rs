//! Rampart's HTTPS server: configuration, TLS, middleware, the JSON API, metrics, OpenAPI.
//!
//! The only crate that knows HTTP. Handlers are thin: they parse wire types (see [`api`]),
//! call the store and the identity crate, and return [`error::ApiError`], which becomes an
//! RFC 9457 problem in exactly one place.

pub mod app;
pub mod auth;
pub mod console;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod rules;
pub mod serve;
pub mod tls;
pub mod transport;
pub mod witness;

pub use app::{openapi_json, router};
pub use serve::{open_store, Server, StartError};
