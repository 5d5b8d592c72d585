//! Identity at the node: logging in and out, password changes, user administration, the
//! cache of live sessions, and the IT roles that open read-only views (auditors).

pub mod login;
pub mod sessions;
pub mod users;

pub use login::{change_password, login, logout, user_inputs, LoggedIn};

use rampart_core::{Error, Provider, User};

use crate::state::AppState;

/// Whether `user` holds the `auditor` IT role (reads the audit log, changes nothing).
pub async fn is_auditor(state: &AppState, user: &User) -> Result<bool, Error> {
    Ok(state
        .store
        .it_roles_of(user.id)
        .await?
        .iter()
        .any(|r| r == "auditor"))
}

/// Whether `user` may read authorization data about others (the model, grants, explanations,
/// other users' readable records, roles and IT levels): administrators and auditors.
pub async fn reads_authorization_data(state: &AppState, user: &User) -> Result<bool, Error> {
    Ok(user.is_admin || (user.provider == Provider::It && is_auditor(state, user).await?))
}
