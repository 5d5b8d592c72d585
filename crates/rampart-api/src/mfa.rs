//! The second factor (identity's): a sign-in's second step, enrolling a TOTP app with its
//! recovery codes, passkeys (WebAuthn), step-up, and an administrator's reset.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::LoginResponse;

/// `202` from `POST /api/v1/auth/login`: the password was right and a second factor must
/// follow. No session yet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecondFactorRequired {
    /// Names this sign-in in its second step; shown once, valid until `expires_at`, used
    /// once.
    pub pending_token: String,
    /// When the sign-in lapses.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The account has no second factor yet and the policy requires one: enrol a TOTP app
    /// first (`POST /api/v1/auth/login/totp`), then send its first code.
    pub enrol: bool,
    /// What the second step takes for this account: `totp` (the app's code), `passkey`
    /// (`POST /api/v1/auth/login/passkey-challenge`, then the browser's answer),
    /// `recovery-code`. Only `totp` while `enrol` is true.
    pub methods: Vec<String>,
}

/// `POST /api/v1/auth/login/second-factor`: exactly one of `code`, `recovery_code` and
/// `passkey`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    /// The `pending_token` of the sign-in.
    pub pending_token: String,
    /// The TOTP app's current code (six digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the recovery codes (each works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// A passkey's answer to this sign-in's challenge: the browser's `PublicKeyCredential`
    /// as JSON (`id`, `rawId`, `type`, `response.{clientDataJSON, authenticatorData,
    /// signature, userHandle}`, byte strings in unpadded base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

/// A sign-in completed with its second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SecondFactorLoginResponse {
    /// The session, as a one-step login answers it.
    #[serde(flatten)]
    pub login: LoginResponse,
    /// When this sign-in enrolled the TOTP app: the recovery codes, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// `POST /api/v1/auth/login/totp`: enrol during a sign-in the policy sent to enrolment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingEnrolmentRequest {
    /// The `pending_token` of the sign-in.
    pub pending_token: String,
}

/// A TOTP app to set up, shown once: scan the QR code (or type the secret), then confirm
/// with the app's first code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, to type in by hand.
    pub secret: String,
    /// The `otpauth://totp/…` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// `POST /api/v1/auth/mfa/totp/confirm`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The app's current code.
    pub code: String,
}

/// Recovery codes, shown once: each signs in once in place of a code of the app.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// The codes.
    pub recovery_codes: Vec<String>,
}

/// `POST /api/v1/auth/step-up`: exactly one of `code`, `recovery_code` and `passkey`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// The TOTP app's current code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// A passkey's answer to this session's step-up challenge
    /// (`POST /api/v1/auth/step-up/passkey-challenge`), as in `SecondFactorRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

/// A WebAuthn ceremony's options for the browser: pass `publicKey` (its byte strings
/// decoded from unpadded base64url) to `navigator.credentials.create` (registration) or
/// `navigator.credentials.get` (sign-in, step-up). The challenge is kept by the server,
/// bound to this sign-in or session, works once and lapses with the sign-in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyChallenge {
    /// `PublicKeyCredentialCreationOptions` or `PublicKeyCredentialRequestOptions`.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// `POST /api/v1/auth/mfa/passkeys`: finish registering a passkey.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    /// A name for it, to tell it from the others (1 to 64 characters).
    pub name: String,
    /// The browser's answer to `navigator.credentials.create`: the `PublicKeyCredential`
    /// as JSON (`id`, `rawId`, `type`, `response.{clientDataJSON, attestationObject}`, byte
    /// strings in unpadded base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// A registered passkey (its public key stays on the server).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyView {
    /// Its id, to remove it.
    pub id: String,
    /// The name its user gave it.
    pub name: String,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it last completed a sign-in or step-up.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

/// `GET /api/v1/auth/mfa`: where the caller stands with the second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaStatusView {
    /// A second factor is set up: a TOTP app or a passkey.
    pub enrolled: bool,
    /// A TOTP app is set up.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: u32,
    /// This server can use passkeys (it has a `public_origin` to bind them to).
    pub passkeys_available: bool,
    /// An enrolment waits for its first code.
    pub pending_enrolment: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// The policy requires a second factor of this user.
    pub required: bool,
    /// When this session last verified a second factor.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub second_factor_at: Option<OffsetDateTime>,
    /// Minutes a verification counts for sensitive operations (step-up).
    pub step_up_minutes: u32,
}

/// `POST /api/v1/auth/login/passkey-discovery`: a sign-in by a passkey alone, begun. Give
/// `publicKey` (its `challenge` decoded from unpadded base64url) to
/// `navigator.credentials.get`, which offers the passkeys the browser holds for this site,
/// and send its answer with `ceremony` to `POST /api/v1/auth/login/passkey`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyDiscovery {
    /// Names this sign-in; works once and lapses at `expires_at`.
    pub ceremony: String,
    /// When the ceremony lapses.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// `PublicKeyCredentialRequestOptions`: no credentials listed, user verification
    /// required.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// `POST /api/v1/auth/login/passkey`: sign in with a passkey alone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    /// `it` for IT users, `end` for end users: the kind of user the passkey must belong to.
    pub provider: String,
    /// The `ceremony` of the discovery this answers.
    pub ceremony: String,
    /// The browser's answer to `navigator.credentials.get`: the `PublicKeyCredential` as
    /// JSON (`id`, `rawId`, `type`, `response.{clientDataJSON, authenticatorData,
    /// signature, userHandle}`, byte strings in unpadded base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `201` from `POST /api/v1/users/{id}/enrolment`: the link that lets an account with no
/// password register its first passkey. Shown once: only its hash is kept.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentLink {
    /// `{public_origin}/enrol#rpe_…`: hand it to the account's holder (the token rides in
    /// the fragment, which browsers never send to a server).
    pub link: String,
    /// When it lapses (`[mfa] enrolment_hours` after it was issued).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// `201` from `POST /api/v1/users/{id}/enrolment/mail`: where the link went. The link
/// itself is never shown: only the account's holder receives it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentMailed {
    /// The account's e-mail address, whose mail server took the message.
    pub mailed_to: String,
    /// When the link lapses (`[mfa] enrolment_hours` after it was issued).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/auth/enrolment/passkey-challenge`: the enrolment link's token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentChallengeRequest {
    /// The `rpe_…` token of the link (its fragment).
    pub token: String,
}

/// The account an enrolment serves and the options for `navigator.credentials.create`
/// (a discoverable passkey, user verification required).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentChallenge {
    /// The account's username.
    pub username: String,
    /// `it` or `end`.
    pub provider: String,
    /// `PublicKeyCredentialCreationOptions`.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

/// `POST /api/v1/auth/enrolment/passkey`: the browser's answer to an enrolment's challenge.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolPasskeyRequest {
    /// The `rpe_…` token of the link.
    pub token: String,
    /// A name for the passkey (1 to 64 characters).
    pub name: String,
    /// The browser's answer to `navigator.credentials.create`, as in
    /// `RegisterPasskeyRequest`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `201` from `POST /api/v1/auth/enrolment/passkey`: the passkey registered; the link is
/// spent, and the account now signs in with the passkey alone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolledPasskey {
    /// The account's username.
    pub username: String,
    /// `it` or `end`.
    pub provider: String,
    /// The passkey.
    pub passkey: PasskeyView,
}
