//! Accounts and sessions: login and logout, the caller, password changes, and user
//! administration (`/api/v1/auth/*`, `/api/v1/users/*`).

use rampart_api::{
    ChangePasswordRequest, CreateUserRequest, ListUsersQuery, LoginRequest, LoginResponse,
    LogoutQuery, MeResponse, ResetPasswordRequest, RevokedSessions, UpdateUserRequest, UserPage,
    UserView,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// The identity operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Identity<'c> {
    client: &'c Client,
}

impl<'c> Identity<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /api/v1/auth/login`: a session for the user. The answer's `token` is shown
    /// once; pass it to [`Client::set_token`] for the following requests.
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, ClientError> {
        self.client.post(&["auth", "login"], request).await
    }

    /// `POST /api/v1/auth/logout`: ends this session, or with `all` every session of the
    /// user.
    pub async fn logout(&self, all: bool) -> Result<(), ClientError> {
        self.client
            .call(Method::POST, &["auth", "logout"])
            .query(&LogoutQuery { all })
            .empty()
            .await
    }

    /// `GET /api/v1/auth/me`: the caller and the session the request came with.
    pub async fn me(&self) -> Result<MeResponse, ClientError> {
        self.client.get(&["auth", "me"]).await
    }

    /// `POST /api/v1/auth/change-password`: works without a session (an expired password
    /// can be replaced); every session of the user ends.
    pub async fn change_password(
        &self,
        request: &ChangePasswordRequest,
    ) -> Result<(), ClientError> {
        self.client
            .post_empty(&["auth", "change-password"], request)
            .await
    }

    /// `GET /api/v1/users`: a page of users (administrators).
    pub async fn users(&self, query: &ListUsersQuery) -> Result<UserPage, ClientError> {
        self.client.get_query(&["users"], query).await
    }

    /// `POST /api/v1/users`: creates a user (administrators).
    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<UserView, ClientError> {
        self.client.post(&["users"], request).await
    }

    /// `GET /api/v1/users/{id}`.
    pub async fn user(&self, id: &str) -> Result<UserView, ClientError> {
        self.client.get(&["users", id]).await
    }

    /// `PATCH /api/v1/users/{id}`: fields left `None` are left alone, `Some(None)` clears.
    pub async fn update_user(
        &self,
        id: &str,
        request: &UpdateUserRequest,
    ) -> Result<UserView, ClientError> {
        self.client
            .send(Method::PATCH, &["users", id], request)
            .await
    }

    /// `DELETE /api/v1/users/{id}`.
    pub async fn delete_user(&self, id: &str) -> Result<(), ClientError> {
        self.client.delete(&["users", id]).await
    }

    /// `POST /api/v1/users/{id}/disable`: the user can no longer log in; their sessions end.
    pub async fn disable_user(&self, id: &str) -> Result<UserView, ClientError> {
        self.client.post_bare(&["users", id, "disable"]).await
    }

    /// `POST /api/v1/users/{id}/enable`.
    pub async fn enable_user(&self, id: &str) -> Result<UserView, ClientError> {
        self.client.post_bare(&["users", id, "enable"]).await
    }

    /// `POST /api/v1/users/{id}/reset-password`.
    pub async fn reset_password(
        &self,
        id: &str,
        request: &ResetPasswordRequest,
    ) -> Result<(), ClientError> {
        self.client
            .post_empty(&["users", id, "reset-password"], request)
            .await
    }

    /// `POST /api/v1/users/{id}/unlock`: lifts a lockout after failed logins.
    pub async fn unlock_user(&self, id: &str) -> Result<(), ClientError> {
        self.client
            .call(Method::POST, &["users", id, "unlock"])
            .empty()
            .await
    }

    /// `POST /api/v1/users/{id}/revoke-sessions`: ends every session of the user.
    pub async fn revoke_sessions(&self, id: &str) -> Result<RevokedSessions, ClientError> {
        self.client
            .post_bare(&["users", id, "revoke-sessions"])
            .await
    }
}
