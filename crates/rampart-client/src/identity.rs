//! Accounts and sessions: login and logout, the caller, password changes, and user
//! administration (`/api/v1/auth/*`, `/api/v1/users/*`).

use rampart_api::{
    ChangePasswordRequest, ConfirmTotpRequest, CreateUserRequest, EnrolmentLink, EnrolmentMailed,
    ListUsersQuery, LoginRequest, LoginResponse, LogoutQuery, MeResponse, MfaStatusView,
    PendingEnrolmentRequest, RecoveryCodesResponse, ResetPasswordRequest, RevokedSessions,
    SecondFactorLoginResponse, SecondFactorRequest, SecondFactorRequired, StepUpRequest,
    TotpEnrolment, UpdateUserRequest, UserPage, UserView,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// What `POST /api/v1/auth/login` answered.
#[derive(Debug)]
pub enum LoginAnswer {
    /// Signed in.
    Session(Box<LoginResponse>),
    /// The password was right; a second factor must follow.
    SecondFactor(SecondFactorRequired),
}

/// The identity operations of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Identity<'c> {
    client: &'c Client,
}

impl<'c> Identity<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /api/v1/auth/login`: a session for the user (its `token` is shown once; pass
    /// it to [`Client::set_token`] for the following requests), or a sign-in waiting for
    /// its second factor ([`Identity::second_factor`]).
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginAnswer, ClientError> {
        let value: serde_json::Value = self.client.post(&["auth", "login"], request).await?;
        let decode = |source| ClientError::Decode {
            operation: "POST /api/v1/auth/login".to_owned(),
            source,
        };
        if value.get("pending_token").is_some() {
            serde_json::from_value(value)
                .map(LoginAnswer::SecondFactor)
                .map_err(decode)
        } else {
            serde_json::from_value(value)
                .map(|session| LoginAnswer::Session(Box::new(session)))
                .map_err(decode)
        }
    }

    /// `POST /api/v1/auth/login/second-factor`: completes a sign-in with a code or a
    /// recovery code.
    pub async fn second_factor(
        &self,
        request: &SecondFactorRequest,
    ) -> Result<SecondFactorLoginResponse, ClientError> {
        self.client
            .post(&["auth", "login", "second-factor"], request)
            .await
    }

    /// `POST /api/v1/auth/login/totp`: the TOTP app to set up during a sign-in the policy
    /// sent to enrolment.
    pub async fn enrol_pending(
        &self,
        request: &PendingEnrolmentRequest,
    ) -> Result<TotpEnrolment, ClientError> {
        self.client.post(&["auth", "login", "totp"], request).await
    }

    /// `GET /api/v1/auth/mfa`: where the caller stands with the second factor.
    pub async fn mfa_status(&self) -> Result<MfaStatusView, ClientError> {
        self.client.get(&["auth", "mfa"]).await
    }

    /// `POST /api/v1/auth/mfa/totp`: starts enrolling a TOTP app.
    pub async fn mfa_begin(&self) -> Result<TotpEnrolment, ClientError> {
        self.client.post_bare(&["auth", "mfa", "totp"]).await
    }

    /// `POST /api/v1/auth/mfa/totp/confirm`: confirms it with a first code; the recovery
    /// codes.
    pub async fn mfa_confirm(
        &self,
        request: &ConfirmTotpRequest,
    ) -> Result<RecoveryCodesResponse, ClientError> {
        self.client
            .post(&["auth", "mfa", "totp", "confirm"], request)
            .await
    }

    /// `POST /api/v1/auth/mfa/recovery-codes`: new recovery codes.
    pub async fn mfa_recovery_codes(&self) -> Result<RecoveryCodesResponse, ClientError> {
        self.client
            .post_bare(&["auth", "mfa", "recovery-codes"])
            .await
    }

    /// `POST /api/v1/auth/step-up`: verifies a second factor again in this session.
    pub async fn step_up(&self, request: &StepUpRequest) -> Result<(), ClientError> {
        self.client.post_empty(&["auth", "step-up"], request).await
    }

    /// `DELETE /api/v1/users/{id}/mfa`: resets a user's second factors (administrators).
    pub async fn reset_mfa(&self, id: &str) -> Result<RevokedSessions, ClientError> {
        self.client
            .call(Method::DELETE, &["users", id, "mfa"])
            .json()
            .await
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

    /// `POST /api/v1/users/{id}/enrolment`: an enrolment link for an account with no
    /// password, shown once (administrators, after a step-up).
    pub async fn issue_enrolment(&self, id: &str) -> Result<EnrolmentLink, ClientError> {
        self.client.post_bare(&["users", id, "enrolment"]).await
    }

    /// `POST /api/v1/users/{id}/enrolment/mail`: the same link, mailed to the account's
    /// address and never shown (administrators, after a step-up).
    pub async fn mail_enrolment(&self, id: &str) -> Result<EnrolmentMailed, ClientError> {
        self.client
            .post_bare(&["users", id, "enrolment", "mail"])
            .await
    }

    /// `POST /api/v1/users/{id}/revoke-sessions`: ends every session of the user.
    pub async fn revoke_sessions(&self, id: &str) -> Result<RevokedSessions, ClientError> {
        self.client
            .post_bare(&["users", id, "revoke-sessions"])
            .await
    }
}
