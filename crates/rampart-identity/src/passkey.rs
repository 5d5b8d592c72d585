//! Passkeys (WebAuthn): the relying party this node is, the ceremonies over `webauthn-rs`
//! (registration; an assertion by one of a known user's passkeys, as a second factor; and
//! an assertion by a passkey the browser discovers, which signs a user in alone), and the
//! rule a stored signature counter follows. No I/O: the caller keeps the ceremony's state server-side
//! between its two halves (the store, bound to the user and to the pending login or the
//! session it belongs to) and spends the counter in the transaction that acts on it.
//!
//! **What a verified assertion proves.** The browser wrote the origin that asked into the
//! signed client data, and the authenticator signed the SHA-256 of the relying-party id it
//! holds the key for: an assertion is refused unless the origin is exactly this node's
//! `public_origin` (`wrong-origin`), the id is this node's (`wrong-rp-id`), the challenge is
//! the one stored for this ceremony (`wrong-challenge`), the signature verifies with the
//! registered public key (`bad-signature`) and the user was verified by the authenticator
//! (`not-verified`). A page on another site therefore cannot relay a user's passkey to
//! Rampart (phishing resistance by origin binding).
//!
//! **Counters.** An authenticator that keeps a signature counter increases it on every
//! assertion; one that is copied shows a counter that does not increase. [`counter_advances`]
//! is the rule: a presented counter is accepted when it is greater than the stored one, or
//! when both are zero (an authenticator, such as a synchronised passkey, that keeps none).
//! `webauthn-rs` applies it against the counter the ceremony started with, and the store
//! applies it again in the conditional `UPDATE` that records it, so two assertions racing
//! with one counter value get one success.

use rampart_core::{Error, UserId};
use serde::Deserialize as _;
use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Whether a presented signature counter may follow the stored one (see the module's
/// header): greater, or both zero.
pub fn counter_advances(stored: u32, presented: u32) -> bool {
    presented > stored || (presented == 0 && stored == 0)
}

/// Why a ceremony's answer was refused: a stable reason for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The answer is not a WebAuthn credential of the expected shape.
    Malformed,
    /// The client data names another origin than this node's.
    WrongOrigin,
    /// The authenticator data is for another relying-party id.
    WrongRpId,
    /// The client data carries another challenge than the one stored for this ceremony.
    WrongChallenge,
    /// The signature does not verify with the registered key.
    BadSignature,
    /// The counter did not increase: a copied authenticator, or a replay.
    CounterNotIncreased,
    /// The authenticator did not verify its user (PIN or biometric).
    NotVerified,
    /// The credential is not one of this user's passkeys.
    UnknownCredential,
    /// Registering a credential the user has registered already.
    AlreadyRegistered,
    /// Any other failed check of the ceremony.
    Failed,
}

impl Refusal {
    /// The reason an audit event gives.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Malformed => "passkey-malformed",
            Refusal::WrongOrigin => "passkey-wrong-origin",
            Refusal::WrongRpId => "passkey-wrong-rp-id",
            Refusal::WrongChallenge => "passkey-wrong-challenge",
            Refusal::BadSignature => "passkey-bad-signature",
            Refusal::CounterNotIncreased => "passkey-counter-not-increased",
            Refusal::NotVerified => "passkey-user-not-verified",
            Refusal::UnknownCredential => "passkey-unknown-credential",
            Refusal::AlreadyRegistered => "passkey-already-registered",
            Refusal::Failed => "passkey-refused",
        }
    }

    fn of(error: &WebauthnError) -> Refusal {
        match error {
            WebauthnError::InvalidRPOrigin => Refusal::WrongOrigin,
            WebauthnError::InvalidRPIDHash => Refusal::WrongRpId,
            WebauthnError::MismatchedChallenge => Refusal::WrongChallenge,
            WebauthnError::AuthenticationFailure => Refusal::BadSignature,
            WebauthnError::CredentialPossibleCompromise => Refusal::CounterNotIncreased,
            WebauthnError::UserNotVerified => Refusal::NotVerified,
            WebauthnError::ParseJSONFailure(_)
            | WebauthnError::ParseCBORFailure(_)
            | WebauthnError::ParseNOMFailure
            | WebauthnError::ParseInsufficientBytesAvailable
            | WebauthnError::InvalidClientDataType
            | WebauthnError::COSEKeyInvalidCBORValue
            | WebauthnError::COSEKeyInvalidType => Refusal::Malformed,
            WebauthnError::CredentialNotFound | WebauthnError::InvalidUserUniqueId => {
                Refusal::UnknownCredential
            }
            WebauthnError::CredentialAlreadyExists => Refusal::AlreadyRegistered,
            _ => Refusal::Failed,
        }
    }
}

/// A passkey to keep: its credential id, the `webauthn-rs` credential as JSON (public key,
/// counter, flags; nothing secret), and its signature counter.
#[derive(Debug, Clone)]
pub struct NewPasskey {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// The credential as stored.
    pub stored: String,
    /// Its signature counter at registration.
    pub counter: u32,
}

/// A verified assertion: which credential, its new counter, and the credential as it should
/// now be stored (counter and backup flags brought up to date).
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The credential id that signed.
    pub credential_id: Vec<u8>,
    /// The counter it presented.
    pub counter: u32,
    /// The credential updated with this assertion.
    pub stored: String,
}

/// A ceremony's first half: the options for the browser (`navigator.credentials.create` or
/// `get`, as JSON with base64url byte strings), and the state to keep server-side.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// For the browser.
    pub options: Value,
    /// For the store; the second half needs it.
    pub state: String,
}

/// This node as a WebAuthn relying party: its id and the one origin it accepts.
pub struct RelyingParty {
    webauthn: Webauthn,
    id: String,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .finish()
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("passkey {what}: {e}"))
}

impl RelyingParty {
    /// The relying party for browsers reaching the node at `origin` (`https://host[:port]`,
    /// or `http://localhost…` for development), with relying-party id `id` (empty: the
    /// origin's host), which must be the origin's host or a parent domain of it. `name` is
    /// what authenticators show. The error says what is wrong, for the operator.
    pub fn new(origin: &str, id: &str, name: &str) -> Result<RelyingParty, String> {
        if origin.is_empty() {
            return Err(
                "passkeys need `public_origin` (the origin browsers use to reach this \
                 server, e.g. https://rampart.example.org): the relying party is not guessed \
                 from requests"
                    .into(),
            );
        }
        let url = Url::parse(origin).map_err(|e| format!("public_origin `{origin}`: {e}"))?;
        let host = match url.host() {
            Some(url::Host::Domain(host)) => host.to_owned(),
            Some(_) => {
                return Err(format!(
                    "public_origin `{origin}` names an IP address; WebAuthn needs a domain name"
                ))
            }
            None => return Err(format!("public_origin `{origin}` has no host")),
        };
        let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
        if !secure {
            return Err(format!(
                "public_origin `{origin}` is not https (only http://localhost may be plain)"
            ));
        }
        let id = if id.is_empty() {
            host.clone()
        } else {
            id.to_owned()
        };
        if !(host == id || host.ends_with(&format!(".{id}"))) {
            return Err(format!(
                "mfa.passkey_rp_id `{id}` is neither the host of public_origin `{origin}` nor a \
                 parent domain of it"
            ));
        }
        let webauthn = WebauthnBuilder::new(&id, &url)
            .and_then(|b| b.rp_name(name).build())
            .map_err(|e| format!("relying party `{id}` at `{origin}`: {e}"))?;
        Ok(RelyingParty {
            webauthn,
            id,
            origin: url.origin().ascii_serialization(),
        })
    }

    /// The relying-party id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The one origin accepted.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Starts registering a passkey for `user`, excluding the credentials it has already
    /// (`stored`, as [`NewPasskey::stored`]). The authenticator is asked for a discoverable
    /// credential where it can make one (WebAuthn's `preferred`), so the passkey can later
    /// sign its user in without a username.
    pub fn start_registration(
        &self,
        user: UserId,
        username: &str,
        stored: &[String],
    ) -> Result<Challenge, Error> {
        self.registration(user, username, stored, false)
    }

    /// Starts enrolling the first passkey of an account with no password: as
    /// [`RelyingParty::start_registration`], but the credential must be discoverable
    /// (`required`), since it is the only way the account signs in.
    pub fn start_enrolment(
        &self,
        user: UserId,
        username: &str,
        stored: &[String],
    ) -> Result<Challenge, Error> {
        self.registration(user, username, stored, true)
    }

    fn registration(
        &self,
        user: UserId,
        username: &str,
        stored: &[String],
        discoverable: bool,
    ) -> Result<Challenge, Error> {
        let exclude = stored
            .iter()
            .map(|s| parse_stored(s).map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user.0, username, username, exclude)
            .map_err(|e| internal("registration", e))?;
        let mut options = serde_json::to_value(options).map_err(|e| internal("options", e))?;
        // `webauthn-rs` asks `discouraged` and does not check the answer for it.
        let resident = if discoverable {
            "required"
        } else {
            "preferred"
        };
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("residentKey".into(), resident.into());
            selection.insert("requireResidentKey".into(), discoverable.into());
        }
        Ok(Challenge {
            options,
            state: serde_json::to_string(&state).map_err(|e| internal("state", e))?,
        })
    }

    /// Finishes a registration with the browser's `credential` against the stored `state`;
    /// `registered` are the credential ids the user has already.
    pub fn finish_registration(
        &self,
        credential: &Value,
        state: &str,
        registered: &[Vec<u8>],
    ) -> Result<Result<NewPasskey, Refusal>, Error> {
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|e| internal("state", e))?;
        let Ok(credential) = RegisterPublicKeyCredential::deserialize(credential) else {
            return Ok(Err(Refusal::Malformed));
        };
        if registered.contains(&credential.raw_id) {
            return Ok(Err(Refusal::AlreadyRegistered));
        }
        let passkey = match self
            .webauthn
            .finish_passkey_registration(&credential, &state)
        {
            Ok(passkey) => passkey,
            Err(e) => return Ok(Err(Refusal::of(&e))),
        };
        let stored = serde_json::to_string(&passkey).map_err(|e| internal("credential", e))?;
        Ok(Ok(NewPasskey {
            credential_id: passkey.cred_id().to_vec(),
            counter: stored_counter(&stored),
            stored,
        }))
    }

    /// Starts an assertion by any of the user's passkeys (`stored`, at least one).
    pub fn start_authentication(&self, stored: &[String]) -> Result<Challenge, Error> {
        let passkeys = stored
            .iter()
            .map(|s| parse_stored(s))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| internal("assertion", e))?;
        Ok(Challenge {
            options: serde_json::to_value(options).map_err(|e| internal("options", e))?,
            state: serde_json::to_string(&state).map_err(|e| internal("state", e))?,
        })
    }

    /// Finishes an assertion with the browser's `credential` against the stored `state`;
    /// `stored` finds the user's credential by id (as [`NewPasskey::stored`]) to bring it up
    /// to date.
    pub fn finish_authentication(
        &self,
        credential: &Value,
        state: &str,
        stored: impl Fn(&[u8]) -> Option<String>,
    ) -> Result<Result<Assertion, Refusal>, Error> {
        let state: PasskeyAuthentication =
            serde_json::from_str(state).map_err(|e| internal("state", e))?;
        let Ok(credential) = PublicKeyCredential::deserialize(credential) else {
            return Ok(Err(Refusal::Malformed));
        };
        let Some(current) = stored(credential.raw_id.as_slice()) else {
            return Ok(Err(Refusal::UnknownCredential));
        };
        let result = match self
            .webauthn
            .finish_passkey_authentication(&credential, &state)
        {
            Ok(result) => result,
            Err(e) => return Ok(Err(Refusal::of(&e))),
        };
        asserted(parse_stored(&current)?, &result)
    }
}

/// The verified assertion `result` made by `passkey`: the passkey brought up to date with
/// its counter and flags, to store.
fn asserted(
    mut passkey: Passkey,
    result: &AuthenticationResult,
) -> Result<Result<Assertion, Refusal>, Error> {
    if passkey.update_credential(result).is_none() {
        return Ok(Err(Refusal::UnknownCredential));
    }
    Ok(Ok(Assertion {
        credential_id: result.cred_id().to_vec(),
        counter: result.counter(),
        stored: serde_json::to_string(&passkey).map_err(|e| internal("credential", e))?,
    }))
}

/// Who a discovered passkey's answer says it is: the user handle (the user's id, which
/// registration gave the authenticator) and the credential id. Nothing is verified yet:
/// the caller finds that user's credential by this id, which proves the handle belongs to
/// it, and then [`RelyingParty::finish_discovery`] verifies the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The user the authenticator holds the passkey for.
    pub user: UserId,
    /// The credential id that signed.
    pub credential_id: Vec<u8>,
}

impl RelyingParty {
    /// Starts a sign-in by whichever passkey of this site the browser finds (no username,
    /// no list of credentials): the options for `navigator.credentials.get`, user
    /// verification required, so the passkey proves both possession and its user's PIN or
    /// biometric.
    pub fn start_discovery(&self) -> Result<Challenge, Error> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| internal("discovery", e))?;
        let mut options = serde_json::to_value(options).map_err(|e| internal("options", e))?;
        // `webauthn-rs` asks for the autofill (`conditional`) mediation; the page decides
        // how it asks the browser, so only the public-key options go out.
        if let Some(options) = options.as_object_mut() {
            options.remove("mediation");
        }
        Ok(Challenge {
            options,
            state: serde_json::to_string(&state).map_err(|e| internal("state", e))?,
        })
    }

    /// Reads who a discovered passkey's `credential` claims to be (see [`Discovered`]).
    pub fn identify(&self, credential: &Value) -> Result<Discovered, Refusal> {
        let credential =
            PublicKeyCredential::deserialize(credential).map_err(|_| Refusal::Malformed)?;
        let (user, id) = self
            .webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|e| Refusal::of(&e))?;
        Ok(Discovered {
            user: UserId(user),
            credential_id: id.to_vec(),
        })
    }

    /// Finishes a discovery with the browser's `credential` against the stored `state`,
    /// verified with `stored`: the credential [`RelyingParty::identify`] named, as
    /// [`NewPasskey::stored`], which the caller found among that user's passkeys.
    pub fn finish_discovery(
        &self,
        credential: &Value,
        state: &str,
        stored: &str,
    ) -> Result<Result<Assertion, Refusal>, Error> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|e| internal("state", e))?;
        let Ok(credential) = PublicKeyCredential::deserialize(credential) else {
            return Ok(Err(Refusal::Malformed));
        };
        let passkey = parse_stored(stored)?;
        if passkey.cred_id().as_slice() != credential.raw_id.as_slice() {
            return Ok(Err(Refusal::UnknownCredential));
        }
        let result =
            match self
                .webauthn
                .finish_discoverable_authentication_v2(&credential, state, &passkey)
            {
                Ok(result) => result,
                Err(e) => return Ok(Err(Refusal::of(&e))),
            };
        asserted(passkey, &result)
    }
}

fn parse_stored(stored: &str) -> Result<Passkey, Error> {
    serde_json::from_str(stored).map_err(|e| internal("stored credential", e))
}

/// The signature counter of a credential as stored (`webauthn-rs` keeps it in the
/// credential it serialises; 0 when absent).
pub fn stored_counter(stored: &str) -> u32 {
    serde_json::from_str::<Value>(stored)
        .ok()
        .and_then(|v| v["cred"]["counter"].as_u64())
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
