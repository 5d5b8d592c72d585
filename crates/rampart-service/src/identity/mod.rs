//! Identity at the node: logging in and out, password changes, the second factor and
//! step-up, user administration, the cache of live sessions, and the IT roles that open
//! read-only views (auditors).

pub mod credentials;
pub mod enrolment;
pub mod login;
pub mod mfa;
pub mod passkey_sign_in;
pub mod passkeys;
pub mod sessions;
pub mod users;

pub use login::{change_password, login, logout, user_inputs, LoggedIn};
pub use mfa::LoginStep;

use rampart_authz::policy::{self, Kind, Needs, Operation, Principal, Verdict};
use rampart_core::{Error, Provider, User, UserId};

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

/// The IT roles assigned to `user` (none for end users), sorted.
pub async fn it_roles(state: &AppState, user: UserId) -> Result<Vec<String>, Error> {
    state.store.it_roles_of(user).await
}

/// What the platform rules ([`rampart_authz::policy`]) say of `user` performing `op`. The
/// `auditor` role is looked up only when the rule turns on it.
pub async fn authorize(state: &AppState, user: &User, op: Operation) -> Result<Verdict, Error> {
    let kind = match user.provider {
        Provider::It => Kind::ItUser,
        Provider::End => Kind::EndUser,
    };
    let turns_on_auditor = matches!(
        policy::needs(op),
        Needs::ItUserNotAuditor | Needs::AdministratorOrAuditor
    );
    let auditor = turns_on_auditor
        && kind == Kind::ItUser
        && !user.is_admin
        && is_auditor(state, user).await?;
    let who = Principal {
        kind,
        administrator: user.is_admin,
        auditor,
    };
    Ok(policy::decide(who, op))
}

/// Who `user` is to the platform rules, the `auditor` role read once (for an IT user who is
/// not an administrator): for deciding several operations in a row with
/// [`policy::decide`], as a console page's navigation does.
pub async fn principal(state: &AppState, user: &User) -> Result<Principal, Error> {
    let kind = match user.provider {
        Provider::It => Kind::ItUser,
        Provider::End => Kind::EndUser,
    };
    let auditor = kind == Kind::ItUser && !user.is_admin && is_auditor(state, user).await?;
    Ok(Principal {
        kind,
        administrator: user.is_admin,
        auditor,
    })
}

/// Whether the platform rules allow `user` to perform `op` outright.
pub async fn may(state: &AppState, user: &User, op: Operation) -> Result<bool, Error> {
    Ok(authorize(state, user, op).await? == Verdict::Allow)
}
