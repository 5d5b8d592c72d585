//! Who people are and how they stay signed in: users of both providers with their password
//! history and login throttling, and login sessions.

pub(crate) mod sessions;
pub(crate) mod users;
