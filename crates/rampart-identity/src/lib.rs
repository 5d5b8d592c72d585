//! Credentials for Rampart: password hashing and policy, session tokens, login throttling,
//! the second factor (TOTP, recovery codes, the pending-login token).
//!
//! Pure logic with no I/O: the store keeps what this crate computes, the server decides
//! when to call it. Time is always a parameter.

pub mod mfa;
pub mod passkey;
pub mod password;
pub mod throttle;
pub mod token;

pub use password::{HashParams, PasswordHasher, PasswordPolicy};
pub use throttle::{ceil_secs, AddressThrottle, LockoutPolicy};
pub use token::{hash_scim_token, hash_token, Pseudonyms, SessionToken, TokenHash};
