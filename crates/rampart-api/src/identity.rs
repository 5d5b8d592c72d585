//! Accounts and sessions: login, password changes, the caller, user administration.

use rampart_core::{Session, User};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/auth/login`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username (case-insensitive).
    pub username: String,
    /// Password.
    pub password: String,
    /// `it` for IT users, `end` for end users.
    pub provider: String,
    /// The user provider (a directory) to sign in through, by name; Rampart's own passwords
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_provider: Option<String>,
}

/// A successful login.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for API clients; shown once. Browsers use the session cookie instead.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Absolute expiry of the session.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The session ends after this many seconds without use.
    pub idle_timeout_seconds: u64,
    /// The logged-in user.
    pub user: UserView,
}

/// `POST /api/v1/auth/change-password`: works without a session, so that an expired
/// password can be replaced.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// `it` or `end`.
    pub provider: String,
    /// Username.
    pub username: String,
    /// The current password.
    pub current_password: String,
    /// The new password; must satisfy the password policy.
    pub new_password: String,
}

/// Query of `POST /api/v1/auth/logout`.
#[derive(Debug, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogoutQuery {
    /// End every session of the user, not only this one.
    #[serde(default)]
    pub all: bool,
}

/// `GET /api/v1/auth/me`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    /// The authenticated user.
    pub user: UserView,
    /// The session the request was authenticated with.
    pub session: SessionView,
}

/// A session, without its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// `bearer` or `cookie`.
    pub authenticated_by: String,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Absolute expiry.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

impl SessionView {
    pub fn new(session: &Session, authenticated_by: &'static str) -> Self {
        Self {
            id: session.id.to_string(),
            authenticated_by: authenticated_by.to_owned(),
            created_at: session.created_at,
            expires_at: session.expires_at,
        }
    }
}

/// One of the caller's open sessions (`GET /api/v1/auth/sessions`), without its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpenSessionView {
    /// Session id: what `DELETE /api/v1/auth/sessions/{id}` takes.
    pub id: String,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last use (recorded at most once a minute).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    /// Absolute expiry.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The login's source address.
    pub source: Option<String>,
    /// The client's `User-Agent` at login, truncated.
    pub user_agent: Option<String>,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// The caller's open sessions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsResponse {
    /// Open sessions (neither ended, expired nor idle past the limit).
    pub sessions: Vec<OpenSessionView>,
}

/// A user as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Id (UUID).
    pub id: String,
    /// `it` or `end`.
    pub provider: String,
    /// Username as chosen.
    pub username: String,
    /// Human name.
    pub display_name: Option<String>,
    /// Normalised e-mail.
    pub email: Option<String>,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// Whether the user is a platform administrator.
    pub administrator: bool,
    /// The user provider (a directory) that vouches for the user; absent for users of
    /// Rampart's own passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_provider: Option<String>,
    /// Whether the account has a password of Rampart's own: `false` for a directory's
    /// users (their password is the directory's) and for an account created with
    /// `no_password` that has not set one since (it signs in with a passkey).
    pub password: bool,
    /// When the password was last set (for an account with no password, its creation).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub password_changed_at: OffsetDateTime,
    /// Last successful login.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            provider: u.provider.as_str().to_owned(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            disabled: u.disabled,
            administrator: u.is_admin,
            user_provider: u.user_provider.clone(),
            password: u.has_password,
            password_changed_at: u.password_changed_at,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// `POST /api/v1/users`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// `it` or `end`.
    pub provider: String,
    /// ASCII letters, digits, `.`, `_`, `-`, `@`; unique per provider ignoring case.
    pub username: String,
    /// Initial password; must satisfy the password policy. Required unless `no_password`
    /// is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// An account with no password (then send no `password`): it signs in with a passkey
    /// alone, registering its first one through an enrolment link (`POST
    /// /api/v1/users/{id}/enrolment`). Needs passkeys on this server (`public_origin`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_password: bool,
    /// Human name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// E-mail; normalised, unique per provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Make the user a platform administrator (IT users only).
    #[serde(default)]
    pub administrator: bool,
}

/// `PATCH /api/v1/users/{id}`: absent fields are left alone, `null` clears.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name, or `null`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// New e-mail, or `null`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// Distinguishes a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /api/v1/users/{id}/reset-password`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; must satisfy the password policy.
    pub password: String,
}

/// Query of `GET /api/v1/users`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    /// `it` or `end`; both when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Only usernames starting with this, ignoring case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// The users, in creation order.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Result of revoking a user's sessions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedSessions {
    /// How many sessions were open.
    pub revoked: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    /// A field left out, one set to `null` and one given survive a client's serialisation
    /// and the server's reading as three different things.
    #[test]
    fn an_update_keeps_absent_null_and_given_apart_on_the_wire() {
        let update = UpdateUserRequest {
            display_name: Some(None),
            email: None,
        };
        let text = serde_json::to_string(&update).unwrap();
        assert_eq!(text, r#"{"display_name":null}"#);
        let back: UpdateUserRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.display_name, Some(None));
        assert_eq!(back.email, None);
        let given: UpdateUserRequest =
            serde_json::from_str(r#"{"email":"a@example.com"}"#).unwrap();
        assert_eq!(given.email, Some(Some("a@example.com".to_owned())));
        assert_eq!(given.display_name, None);
    }
}
