//! The API's routes, one module per capability: extract, call one service function, render.

pub mod alerts;
pub mod apps;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod enrolment;
pub mod exposed;
pub mod findings;
pub mod idp;
pub mod it;
pub mod lifecycle;
pub mod mfa;
pub mod names;
pub mod page;
pub mod passkeys;
pub mod plans;
pub mod posture;
pub mod providers;
pub mod saml;
pub mod scim;
pub mod screens;
pub mod sealed;
pub mod sign_in;
pub mod support;
pub mod users;
