//! The second factor (identity's): a sign-in's second step, enrolling a TOTP app with its
//! recovery codes, step-up, and an administrator's reset.

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
    /// What the second step takes: `totp`, and `recovery-code` once enrolled.
    pub methods: Vec<String>,
}

/// `POST /api/v1/auth/login/second-factor`: exactly one of `code` and `recovery_code`.
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

/// `POST /api/v1/auth/step-up`: exactly one of `code` and `recovery_code`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// The TOTP app's current code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the recovery codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

/// `GET /api/v1/auth/mfa`: where the caller stands with the second factor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaStatusView {
    /// A TOTP app is set up.
    pub enrolled: bool,
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
