//! `[mfa]`: who must use a second factor, how recent a second factor a sensitive operation
//! needs (step-up), and how long a sign-in may wait for its second factor.

use serde::{Deserialize, Serialize};

/// `[mfa]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaConfig {
    /// Platform administrators must sign in with a second factor; one without is sent to
    /// enrol it at their next sign-in and gets no session until they have.
    pub required_for_administrators: bool,
    /// IT roles whose holders must sign in with a second factor, comma-separated (for
    /// example `operator,auditor`); empty for none.
    pub required_it_roles: String,
    /// Application roles whose holders (directly or through a group) must sign in with a
    /// second factor, comma-separated as `application/role`, or `application/*` for every
    /// role of the application (for example `payroll/approver,treasury/*`); empty for none.
    pub required_app_roles: String,
    /// A sensitive operation (deploying to a step-up environment, changing permissions or
    /// roles, resetting another user's factors) needs a second factor verified in the
    /// session within this many minutes, for users who have one or must have one.
    pub step_up_minutes: u32,
    /// Environments whose deployments need a step-up, comma-separated.
    pub step_up_environments: String,
    /// How long a sign-in whose password was right waits for its second factor.
    pub pending_login_minutes: u32,
    /// How long an enrolment link (the first passkey of an account with no password) stays
    /// usable after an administrator issues it.
    pub enrolment_hours: u32,
    /// The issuer name authenticator apps show beside the account (and the relying-party
    /// name passkey prompts show).
    pub issuer: String,
    /// The WebAuthn relying-party id passkeys are bound to: empty for the host of
    /// `public_origin`, or a parent domain of it. Passkeys need `public_origin`; without it
    /// they are unavailable (the relying party is never guessed from a request).
    pub passkey_rp_id: String,
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            required_for_administrators: false,
            required_it_roles: String::new(),
            required_app_roles: String::new(),
            step_up_minutes: 10,
            step_up_environments: "production".into(),
            pending_login_minutes: 5,
            enrolment_hours: 72,
            issuer: "Rampart".into(),
            passkey_rp_id: String::new(),
        }
    }
}

/// The items of a comma-separated list, trimmed, without empty ones.
pub fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The `(application, role)` pairs of `required_app_roles` (`role` is `*` for every role);
/// an item without a `/` is left out (validation refuses it).
pub fn app_roles(text: &str) -> impl Iterator<Item = (&str, &str)> {
    list(text).filter_map(|item| {
        let (app, role) = item.split_once('/')?;
        Some((app.trim(), role.trim()))
    })
}

impl MfaConfig {
    /// Whether the policy requires a second factor of anyone.
    pub fn requires_any(&self) -> bool {
        self.required_for_administrators
            || list(&self.required_it_roles).next().is_some()
            || list(&self.required_app_roles).next().is_some()
    }

    /// Checks the `[mfa]` values; `fail(key, value, allowed)` makes the error.
    /// `master_key_set`: a second factor's secret is sealed under the master key, so a
    /// policy requiring one needs it.
    /// `public_origin`: a configured passkey relying-party id must suit it.
    pub(super) fn validate<E>(
        &self,
        master_key_set: bool,
        public_origin: &str,
        fail: &impl Fn(&str, String, &str) -> E,
    ) -> Result<(), E> {
        if !self.passkey_rp_id.is_empty() {
            if let Err(e) = rampart_identity::passkey::RelyingParty::new(
                public_origin,
                &self.passkey_rp_id,
                &self.issuer,
            ) {
                return Err(fail("mfa.passkey_rp_id", self.passkey_rp_id.clone(), &e));
            }
        }
        for (key, v) in [
            ("mfa.step_up_minutes", self.step_up_minutes),
            ("mfa.pending_login_minutes", self.pending_login_minutes),
        ] {
            if !(1..=1440).contains(&v) {
                return Err(fail(key, v.to_string(), "1 to 1440"));
            }
        }
        if !(1..=720).contains(&self.enrolment_hours) {
            return Err(fail(
                "mfa.enrolment_hours",
                self.enrolment_hours.to_string(),
                "1 to 720 (30 days)",
            ));
        }
        let name_ok = |s: &str| {
            s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        for (key, text) in [
            ("mfa.required_it_roles", &self.required_it_roles),
            ("mfa.step_up_environments", &self.step_up_environments),
        ] {
            if !list(text).all(name_ok) {
                return Err(fail(
                    key,
                    text.clone(),
                    "names of ASCII letters, digits, '-', '_' or '.', separated by commas",
                ));
            }
        }
        let pair_ok = |item: &str| {
            item.split_once('/').is_some_and(|(app, role)| {
                name_ok(app.trim())
                    && !app.trim().is_empty()
                    && (role.trim() == "*" || (name_ok(role.trim()) && !role.trim().is_empty()))
            })
        };
        if !list(&self.required_app_roles).all(pair_ok) {
            return Err(fail(
                "mfa.required_app_roles",
                self.required_app_roles.clone(),
                "`application/role` or `application/*` items separated by commas, names of \
                 ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        if self.issuer.trim().is_empty()
            || self.issuer.len() > 64
            || self.issuer.chars().any(|c| c.is_control() || c == ':')
        {
            return Err(fail(
                "mfa.issuer",
                self.issuer.clone(),
                "1 to 64 characters, no ':' and no control characters",
            ));
        }
        if self.requires_any() && !master_key_set {
            let (key, value) = if self.required_for_administrators {
                ("mfa.required_for_administrators", "true".to_owned())
            } else if list(&self.required_it_roles).next().is_some() {
                ("mfa.required_it_roles", self.required_it_roles.clone())
            } else {
                ("mfa.required_app_roles", self.required_app_roles.clone())
            };
            return Err(fail(
                key,
                value,
                "a second factor's secret is sealed under the master key: set [keys] \
                 master_key (`rampart keys init` writes one) before requiring one",
            ));
        }
        Ok(())
    }
}
