//! The second factor under `/api/v1/auth` (and an administrator's reset under
//! `/api/v1/users`): a sign-in's second step, enrolling a TOTP app, recovery codes, step-up.
//! Each handler calls one use case of `rampart_service::identity::mfa`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rampart_api::{
    ConfirmTotpRequest, MfaStatusView, PendingEnrolmentRequest, RecoveryCodesResponse,
    RevokedSessions, SecondFactorLoginResponse, SecondFactorRequest, SecondFactorRequired,
    StepUpRequest, TotpEnrolment,
};
use rampart_core::Error;
use rampart_identity::mfa::RecoveryCodes;
use rampart_service::identity::mfa::{self, Enrolment, Factor, LoginStep};
use rampart_service::state::AppState;

use crate::auth::{Administrator, Authenticated, RequestContext};
use crate::error::{ApiError, Json, Problem};
use crate::routes::auth::{logged_in, user_agent};

/// The answer to a sign-in's first step: 200 with the session, or 202 with the pending
/// token of a second factor.
pub(crate) fn login_answer(
    state: &AppState,
    request: &RequestContext,
    step: LoginStep,
) -> Response {
    match step {
        LoginStep::Session(done) => logged_in(state, request, &done, None),
        LoginStep::SecondFactor(pending) => {
            let methods = pending.methods.iter().map(|m| (*m).to_owned()).collect();
            let body = SecondFactorRequired {
                pending_token: pending.token.secret().to_owned(),
                expires_at: pending.expires_at,
                enrol: pending.enrol,
                methods,
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    }
}

/// Exactly one of a code, a recovery code and a passkey's answer.
fn factor<'a>(
    code: &'a Option<String>,
    recovery: &'a Option<String>,
    passkey: &'a Option<serde_json::Value>,
) -> Result<Factor<'a>, Error> {
    match (code, recovery, passkey) {
        (Some(code), None, None) => Ok(Factor::Code(code)),
        (None, Some(recovery), None) => Ok(Factor::RecoveryCode(recovery)),
        (None, None, Some(passkey)) => Ok(Factor::Passkey(passkey)),
        _ => Err(Error::invalid(
            "code",
            "send exactly one of `code` (the app's current code), `recovery_code` and \
             `passkey`",
        )),
    }
}

fn enrolment_view(e: Enrolment) -> TotpEnrolment {
    TotpEnrolment {
        secret: e.secret.to_string(),
        otpauth_uri: e.uri.to_string(),
        qr_svg: e.qr_svg,
    }
}

fn codes_view(codes: &RecoveryCodes) -> Vec<String> {
    codes.shown.iter().map(|c| c.to_string()).collect()
}

/// Complete a sign-in with its second factor.
///
/// Takes the `pending_token` of a `202` from `POST /api/v1/auth/login` and the TOTP app's
/// current code, one of the recovery codes, or a passkey's answer to the challenge of
/// `POST /api/v1/auth/login/passkey-challenge` (refused unless it is signed for this
/// server's origin and relying-party id, over this sign-in's newest challenge, by a passkey
/// of the account, with a counter that advanced). A code is accepted within 30 s either side
/// and only once; a wrong, reused or unknown code counts as a failed login of the username
/// (the same lockout as a wrong password, recovery codes included). When the sign-in
/// enrolled the app (`enrol` was true), its first code completes the enrolment and the
/// answer carries the recovery codes, shown once.
#[utoipa::path(
    post, path = "/api/v1/auth/login/second-factor", tag = "auth",
    request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Signed in; also sets the session cookie", body = SecondFactorLoginResponse),
        (status = 401, description = "Wrong or used code, a refused passkey, or an unknown, finished or expired sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled or password expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No TOTP app or passkey is set up for the factor sent (enrol first), passkeys are unavailable on this server, or no master key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor(
    State(state): State<AppState>,
    request: RequestContext,
    headers: HeaderMap,
    Json(body): Json<SecondFactorRequest>,
) -> Result<Response, ApiError> {
    let factor = factor(&body.code, &body.recovery_code, &body.passkey)?;
    let done = mfa::finish_login(
        &state,
        &request.origin(&state),
        &body.pending_token,
        factor,
        user_agent(&headers),
    )
    .await?;
    let codes = done.recovery_codes.as_ref().map(codes_view);
    Ok(logged_in(&state, &request, &done.logged_in, codes))
}

/// Enrol a TOTP app during a sign-in the policy sent to enrolment.
///
/// For a `202` with `enrol: true`: a new secret, shown once as base32, as an
/// `otpauth://` URI and as a QR code. Send the app's first code to
/// `POST /api/v1/auth/login/second-factor` to finish both the enrolment and the sign-in.
/// Asking again replaces the secret.
#[utoipa::path(
    post, path = "/api/v1/auth/login/totp", tag = "auth",
    request_body = PendingEnrolmentRequest,
    responses(
        (status = 200, description = "The app to set up", body = TotpEnrolment),
        (status = 401, description = "An unknown, finished or expired sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A TOTP app is set up already, or no master key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enrol_pending(
    State(state): State<AppState>,
    request: RequestContext,
    Json(body): Json<PendingEnrolmentRequest>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let enrolment =
        mfa::enrol_pending(&state, &request.origin(&state), &body.pending_token).await?;
    Ok(Json(enrolment_view(enrolment)))
}

/// Where the caller stands with the second factor.
#[utoipa::path(
    get, path = "/api/v1/auth/mfa", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's second factor", body = MfaStatusView),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<MfaStatusView>, ApiError> {
    let status = mfa::status(&state, &auth.caller(&state)).await?;
    Ok(Json(MfaStatusView {
        enrolled: status.enrolled,
        totp: status.totp,
        passkeys: status.passkeys,
        passkeys_available: rampart_service::identity::passkeys::available(&state),
        pending_enrolment: status.pending_enrolment,
        recovery_codes_left: status.recovery_codes_left,
        required: status.required,
        second_factor_at: auth.session.second_factor_at,
        step_up_minutes: state.config.mfa.step_up_minutes,
    }))
}

/// Start enrolling a TOTP app.
///
/// A new secret, shown once as base32, as an `otpauth://` URI and as a QR code; confirm
/// with the app's first code (`POST /api/v1/auth/mfa/totp/confirm`). Asking again before
/// confirming replaces the secret. An account with an app set up is refused: an
/// administrator resets it first.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/totp", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The app to set up", body = TotpEnrolment),
        (status = 409, description = "A TOTP app is set up already, or no master key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn begin(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let enrolment = mfa::begin_enrolment(&state, &auth.caller(&state)).await?;
    Ok(Json(enrolment_view(enrolment)))
}

/// Confirm the TOTP app with its first code; the recovery codes, shown once.
///
/// The session counts as having verified a second factor now.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/totp/confirm", tag = "auth",
    request_body = ConfirmTotpRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Enrolled", body = RecoveryCodesResponse),
        (status = 401, description = "The code is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No enrolment waits for a code, or no master key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<ConfirmTotpRequest>,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let codes =
        mfa::confirm_enrolment(&state, &auth.caller(&state), auth.session.id, &body.code).await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes_view(&codes),
    }))
}

/// New recovery codes in place of the old ones (needs a recent second factor).
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/recovery-codes", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodesResponse),
        (status = 403, description = "`step-up-required`: verify a second factor first", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No TOTP app is set up", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recovery_codes(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let codes = mfa::new_recovery_codes(&state, &auth.caller(&state)).await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes_view(&codes),
    }))
}

/// Verify a second factor again in this session (step-up).
///
/// Sensitive operations (deploying to a step-up environment, changing authorization data
/// or IT permissions, resetting a user's second factors, new recovery codes) answer 403
/// `step-up-required` when the session's last second factor is older than `[mfa]
/// step_up_minutes`; this verifies one now. Failures count toward the username's lockout.
#[utoipa::path(
    post, path = "/api/v1/auth/step-up", tag = "auth",
    request_body = StepUpRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Verified; sensitive operations work for the next `step_up_minutes`"),
        (status = 401, description = "The code is wrong or was already used, or the passkey was refused", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No second factor (or none of the kind sent) is set up for this account", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Throttled; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn step_up(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<StepUpRequest>,
) -> Result<StatusCode, ApiError> {
    let factor = factor(&body.code, &body.recovery_code, &body.passkey)?;
    mfa::step_up(&state, &auth.caller(&state), &auth.session, factor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a user's second factors and end their sessions (needs a recent second factor).
///
/// Removes the user's TOTP app, recovery codes, passkeys and waiting sign-ins; at their next sign-in
/// they enrol again if the policy requires it.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}/mfa", tag = "users",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Reset; the user's sessions have ended", body = RevokedSessions),
        (status = 403, description = "Not an IT administrator, or `step-up-required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`id` is not a user id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    Administrator(admin): Administrator,
    Path(id): Path<String>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = mfa::reset(&state, &admin.caller(&state), &id).await?;
    Ok(Json(RevokedSessions { revoked }))
}
