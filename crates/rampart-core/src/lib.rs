//! Identifiers, domain types and the error model shared by every Rampart crate.
//!
//! This crate does no I/O: it holds the vocabulary of the platform (providers, users,
//! sessions, audit events) and the one [`Error`] type whose stable codes become the
//! `type` of every problem+json response at the HTTP boundary.

mod clock;
mod error;
mod names;
mod user;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, PasswordRule, Result, ThrottleScope};
pub use names::{display_text, is_invisible, Email, Key, Name, Username};
pub use user::{AuditContext, AuditEvent, Outcome, Provider, Session, SessionId, User, UserId};
