//! User administration for both providers: list, create, read, change, delete, disable and
//! enable, reset a password, lift a lock, end every session. Callers are IT administrators
//! (the adapters check that before calling); an administrator cannot delete or disable their
//! own account.

use rampart_api::{CreateUserRequest, ListUsersQuery, UpdateUserRequest, UserPage, UserView};
use rampart_core::{Email, Error, Provider, User, UserId, Username};
use rampart_store::{NewUser, UserPatch, UserQuery};

use crate::caller::Caller;
use crate::identity::login::replace_password;
use crate::state::AppState;

/// A page of users, in creation order.
pub async fn list(state: &AppState, q: ListUsersQuery) -> Result<UserPage, Error> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 500"));
    }
    let query = UserQuery {
        provider: q.provider.as_deref().map(Provider::parse).transpose()?,
        prefix: q.prefix,
        after: q
            .cursor
            .as_deref()
            .map(|c| UserId::parse(c, "cursor"))
            .transpose()?,
        limit: i64::from(limit) + 1,
    };
    let mut users = state.store.list_users(&query).await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next_cursor = if more {
        users.last().map(|u| u.id.to_string())
    } else {
        None
    };
    Ok(UserPage {
        items: users.iter().map(UserView::from).collect(),
        next_cursor,
    })
}

/// Creates a user of either provider; the password policy applies.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    body: CreateUserRequest,
) -> Result<User, Error> {
    let provider = Provider::parse(&body.provider)?;
    let username = Username::parse(&body.username)?;
    let email = parse_email(body.email.as_deref())?;
    let display_name = parse_display_name(body.display_name)?;
    if body.administrator && provider != Provider::It {
        return Err(Error::invalid(
            "administrator",
            "only IT users can be administrators",
        ));
    }
    let mut inputs = vec![username.as_str()];
    inputs.extend(display_name.as_deref());
    inputs.extend(email.as_ref().map(Email::as_str));
    // No password: the account signs in with a passkey alone, enrolled through a link
    // (`identity::enrolment`).
    let password_hash = match (&body.password, body.no_password) {
        (Some(password), false) => {
            state.check_new_password(password, &inputs, None).await?;
            state.credentials.hash_password(password).await?
        }
        (None, true) => {
            // An account nobody could ever sign in to is refused.
            super::passkeys::relying_party(state)?;
            rampart_store::NO_PASSWORD.to_owned()
        }
        (Some(_), true) => {
            return Err(Error::invalid(
                "no_password",
                "an account with no password takes no `password`: leave one of them out",
            ))
        }
        (None, false) => {
            return Err(Error::invalid(
                "password",
                "give an initial password, or set `no_password` for an account that signs \
                 in with a passkey alone",
            ))
        }
    };
    if body.administrator {
        super::mfa::require_step_up(state, caller, "creating an administrator").await?;
    }
    let new = NewUser {
        provider,
        username,
        display_name,
        email,
        password_hash,
        is_admin: body.administrator,
    };
    state
        .store
        .create_user(&new, state.clock.now(), &caller.audit)
        .await
}

/// One user.
pub async fn get(state: &AppState, id: &str) -> Result<User, Error> {
    let id = UserId::parse(id, "id")?;
    state
        .store
        .user(id)
        .await?
        .ok_or(Error::NotFound { what: "user" })
}

/// The usernames of users `ids`, read in one query (an unknown id is left out); for pages
/// that name many users at once.
pub async fn usernames(
    state: &AppState,
    ids: &[UserId],
) -> Result<std::collections::HashMap<UserId, String>, Error> {
    Ok(state
        .store
        .users_by_ids(ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

/// Changes a user's display name or e-mail.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: UpdateUserRequest,
) -> Result<User, Error> {
    let id = UserId::parse(id, "id")?;
    let patch = UserPatch {
        display_name: body.display_name.map(parse_display_name).transpose()?,
        email: body.email.map(|e| parse_email(e.as_deref())).transpose()?,
    };
    state
        .store
        .update_user(id, &patch, state.clock.now(), &caller.audit)
        .await
}

/// Deletes a user with their sessions; the authorization index applies the deletion before
/// this returns.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<(), Error> {
    let id = UserId::parse(id, "id")?;
    not_self(caller, id, "delete")?;
    state
        .store
        .delete_user(id, state.clock.now(), &caller.audit)
        .await?;
    state.authz.catch_up().await?;
    Ok(())
}

/// Disables a user (they cannot log in and every session ends) or enables them again.
pub async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    id: &str,
    disabled: bool,
) -> Result<User, Error> {
    let id = UserId::parse(id, "id")?;
    if disabled {
        not_self(caller, id, "disable")?;
    }
    state
        .store
        .set_disabled(id, disabled, state.clock.now(), &caller.audit)
        .await
        .map(|(user, _)| user)
}

/// Sets a new password for a user; the password policy applies and every session ends.
pub async fn reset_password(
    state: &AppState,
    caller: &Caller,
    id: &str,
    password: &str,
) -> Result<(), Error> {
    let user = get(state, id).await?;
    if let Some(name) = &user.user_provider {
        return Err(Error::Conflict(format!(
            "{}'s password is kept by the user provider {name}, not by Rampart",
            user.username
        )));
    }
    super::mfa::require_step_up(state, caller, "setting another user's password").await?;
    replace_password(state, &user, password, "user.password.reset", &caller.audit).await
}

/// Lifts a login lock on a user.
pub async fn unlock(state: &AppState, caller: &Caller, id: &str) -> Result<(), Error> {
    let id = UserId::parse(id, "id")?;
    state
        .store
        .unlock(id, state.clock.now(), &caller.audit)
        .await
}

/// Ends every session of a user; answers how many were open.
pub async fn revoke_sessions(state: &AppState, caller: &Caller, id: &str) -> Result<u64, Error> {
    let id = UserId::parse(id, "id")?;
    state
        .store
        .revoke_user_sessions(id, state.clock.now(), &caller.audit)
        .await
}

fn not_self(caller: &Caller, id: UserId, what: &str) -> Result<(), Error> {
    if caller.user.id == id {
        return Err(Error::Conflict(format!(
            "administrators cannot {what} their own account"
        )));
    }
    Ok(())
}

fn parse_email(raw: Option<&str>) -> Result<Option<Email>, Error> {
    raw.map(Email::parse).transpose()
}

fn parse_display_name(raw: Option<String>) -> Result<Option<String>, Error> {
    match raw {
        Some(name) if name.trim().is_empty() => Ok(None),
        Some(name) => {
            rampart_core::display_text("display_name", &name, 200)?;
            Ok(Some(name))
        }
        None => Ok(None),
    }
}
