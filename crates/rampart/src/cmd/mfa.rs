//! `rampart mfa …` and the second step of `rampart login`: a TOTP app's enrolment (the QR
//! code drawn in the terminal), the code prompt, step-up, recovery codes and an
//! administrator's reset.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use clap::Subcommand;
use rampart_client::api::{
    ConfirmTotpRequest, PendingEnrolmentRequest, SecondFactorRequest, SecondFactorRequired,
    StepUpRequest, TotpEnrolment,
};
use rampart_client::Client;

use super::{connect, fail};

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Whether you have a two-factor app, whether your role requires one, and how many
    /// recovery codes are left.
    Status,
    /// Set up a TOTP app: scan the QR code shown, then type the app's code; prints the
    /// recovery codes (once).
    Enrol,
    /// Verify a code again in this session, before a sensitive operation (deploying to
    /// production, changing permissions, resetting someone's factors).
    StepUp,
    /// New recovery codes in place of the old ones (needs a recent step-up).
    RecoveryCodes,
    /// Remove a user's second factors and end their sessions (administrators; needs a
    /// recent step-up).
    ///
    ///     rampart mfa reset 0190c3e4-…
    #[command(verbatim_doc_comment)]
    Reset {
        /// The user's id.
        user: String,
    },
}

/// Runs an `mfa` command with the saved session.
pub async fn run(command: &MfaCommand) -> anyhow::Result<()> {
    let client = connect()?;
    let identity = client.identity();
    match command {
        MfaCommand::Status => {
            let s = identity.mfa_status().await.map_err(fail)?;
            println!(
                "two-factor app:   {}",
                if s.totp {
                    "set up"
                } else if s.pending_enrolment {
                    "waiting for its first code"
                } else {
                    "none"
                }
            );
            println!(
                "passkeys:         {} (manage them in the console)",
                s.passkeys
            );
            println!(
                "required:         {}",
                if s.required { "yes" } else { "no" }
            );
            println!("recovery codes:   {} unused", s.recovery_codes_left);
            match s.second_factor_at {
                Some(at) => println!(
                    "verified in this session at {at} (step-up lasts {} minutes)",
                    s.step_up_minutes
                ),
                None => println!("not verified in this session"),
            }
        }
        MfaCommand::Enrol => {
            let enrolment = identity.mfa_begin().await.map_err(fail)?;
            show_enrolment(&enrolment);
            let code = prompt("Code shown by the app: ")?;
            let codes = identity
                .mfa_confirm(&ConfirmTotpRequest { code })
                .await
                .map_err(fail)?;
            show_codes(&codes.recovery_codes);
        }
        MfaCommand::StepUp => {
            let typed = prompt("Code (or a recovery code): ")?;
            let (code, recovery_code) = split(typed);
            identity
                .step_up(&StepUpRequest {
                    code,
                    recovery_code,
                    passkey: None,
                })
                .await
                .map_err(fail)?;
            eprintln!("verified: sensitive operations work for the next few minutes");
        }
        MfaCommand::RecoveryCodes => {
            let codes = identity.mfa_recovery_codes().await.map_err(fail)?;
            show_codes(&codes.recovery_codes);
        }
        MfaCommand::Reset { user } => {
            let revoked = identity.reset_mfa(user).await.map_err(fail)?;
            println!(
                "second factors removed; {} session(s) ended",
                revoked.revoked
            );
        }
    }
    Ok(())
}

/// The second step of `rampart login`: enrols the app first when the policy requires it,
/// then asks for a code; the session token, and prints recovery codes when it enrolled.
pub async fn second_step(client: &Client, pending: SecondFactorRequired) -> anyhow::Result<String> {
    let identity = client.identity();
    if pending.enrol {
        eprintln!("your account must use a two-factor app before you can sign in");
        let enrolment = identity
            .enrol_pending(&PendingEnrolmentRequest {
                pending_token: pending.pending_token.clone(),
            })
            .await
            .map_err(fail)?;
        show_enrolment(&enrolment);
    }
    let typed = prompt(if pending.enrol {
        "Code shown by the app: "
    } else {
        "Code (or a recovery code): "
    })?;
    let (code, recovery_code) = split(typed);
    let done = identity
        .second_factor(&SecondFactorRequest {
            pending_token: pending.pending_token,
            code,
            recovery_code,
            passkey: None,
        })
        .await
        .map_err(fail)?;
    if let Some(codes) = &done.recovery_codes {
        show_codes(codes);
    }
    Ok(done.login.token)
}

/// A TOTP code (digits and spaces) or, otherwise, a recovery code.
fn split(typed: String) -> (Option<String>, Option<String>) {
    if typed.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        (Some(typed), None)
    } else {
        (None, Some(typed))
    }
}

/// A line from the terminal (or standard input), without its end.
fn prompt(question: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("{question}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

fn show_enrolment(e: &TotpEnrolment) {
    if let Ok(qr) = rampart_identity::mfa::qr_text(&e.otpauth_uri) {
        eprintln!("{qr}");
    }
    eprintln!("scan the QR code with an authenticator app, or type this secret into it:");
    eprintln!("  {}", e.secret);
    eprintln!("  ({})", e.otpauth_uri);
}

fn show_codes(codes: &[String]) {
    eprintln!("recovery codes (shown once; each signs in once if you lose the app):");
    for code in codes {
        println!("  {code}");
    }
}
