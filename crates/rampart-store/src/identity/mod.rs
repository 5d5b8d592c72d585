//! Who people are and how they stay signed in: users of both providers with their password
//! history and login throttling, login sessions, and the second factor.

pub(crate) mod enrolment;
pub(crate) mod mfa;
pub(crate) mod passkeys;
pub(crate) mod sessions;
pub(crate) mod users;

use rampart_core::UserId;

/// The audit target naming user `id`.
fn user_target(id: UserId) -> Option<String> {
    Some(format!("user:{id}"))
}
