//! What a verified ID token says of a user, read without I/O, and the time rule its `iat`
//! is held to.
//!
//! **Who.** A user is the provider's `sub` (stable, never reassigned); the username of the
//! local profile is the configured claim (`preferred_username` by default), which the first
//! sign-in records and later ones do not change (the service keys profiles on `sub`). An
//! e-mail counts only when `email_verified` is `true` (the boolean, or the text `"true"`
//! some providers send): an unverified address is neither kept on the profile nor used to
//! link an account. Groups are the configured claim: a list of texts, or one text.
//!
//! **When.** The signature, issuer, audience, expiry and nonce are checked by the
//! `openidconnect` verifier; on top, `iat` must not be more than [`SKEW_SECONDS`] ahead of
//! this server's clock nor older than [`MAX_AGE_SECONDS`]: an ID token comes straight from
//! the token endpoint after the code exchange, so an old one is a replay or a provider with
//! a wrong clock.

use serde_json::Value;

use crate::DirectoryUser;

/// How far ahead of our clock an `iat` may be.
pub const SKEW_SECONDS: i64 = 60;
/// How long ago an `iat` may be.
pub const MAX_AGE_SECONDS: i64 = 300;

/// A user as a verified ID token describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedUser {
    /// The provider's subject identifier (`sub`).
    pub subject: String,
    /// The configured username claim's value.
    pub username: String,
    /// The e-mail, only when the provider says it is verified.
    pub verified_email: Option<String>,
    /// `name`, when present.
    pub display_name: Option<String>,
    /// The configured groups claim's values.
    pub groups: Vec<String>,
}

impl ClaimedUser {
    /// The user as the shared just-in-time profile step takes it (the subject in place of a
    /// directory entry's DN).
    pub fn to_directory_user(&self) -> DirectoryUser {
        DirectoryUser {
            dn: self.subject.clone(),
            username: self.username.clone(),
            email: self.verified_email.clone(),
            display_name: self.display_name.clone(),
            groups: self.groups.clone(),
        }
    }
}

/// Reads the user out of verified ID-token claims (a JSON object); the error names the
/// claim that is missing or of the wrong type.
pub fn claimed_user(
    claims: &Value,
    username_claim: &str,
    groups_claim: &str,
) -> Result<ClaimedUser, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let subject = text("sub")
        .filter(|s| !s.is_empty())
        .ok_or("the ID token has no subject (sub)")?;
    let username = text(username_claim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the ID token has no {username_claim} claim (a text)"))?;
    let verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let groups = match claims.get(groups_claim) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err(format!("the {groups_claim} claim is not a list of texts")),
    };
    Ok(ClaimedUser {
        subject,
        username,
        verified_email: text("email").filter(|_| verified),
        display_name: text("name"),
        groups,
    })
}

/// Whether a token issued at `iat` (seconds since the epoch) may be accepted at `now`.
pub fn check_issued_at(iat: i64, now: i64) -> Result<(), String> {
    if iat > now + SKEW_SECONDS {
        return Err(format!(
            "the ID token was issued {} s in the future (more than {SKEW_SECONDS} s of clock skew)",
            iat - now
        ));
    }
    if iat < now - MAX_AGE_SECONDS {
        return Err(format!(
            "the ID token was issued {} s ago (at most {MAX_AGE_SECONDS} s)",
            now - iat
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use serde_json::json;

    use super::*;

    #[test]
    fn claims_give_the_user_with_a_verified_email_only() {
        let alice = json!({
            "sub": "3f6c", "preferred_username": "alice", "email": "alice@rampart.test",
            "email_verified": true, "name": "Alice Example", "groups": ["rampart-admins", 7]
        });
        let u = claimed_user(&alice, "preferred_username", "groups").unwrap();
        assert_eq!(u.subject, "3f6c");
        assert_eq!(u.username, "alice");
        assert_eq!(u.verified_email.as_deref(), Some("alice@rampart.test"));
        assert_eq!(u.display_name.as_deref(), Some("Alice Example"));
        assert_eq!(u.groups, ["rampart-admins"]);
        assert_eq!(u.to_directory_user().dn, "3f6c");

        for verified in [json!(false), json!("false"), json!(null), json!(1)] {
            let mut m = alice.clone();
            m["email_verified"] = verified.clone();
            let u = claimed_user(&m, "preferred_username", "groups").unwrap();
            assert_eq!(u.verified_email, None, "{verified}");
        }
        let mut m = alice.clone();
        m["email_verified"] = json!("true");
        assert!(claimed_user(&m, "preferred_username", "groups")
            .unwrap()
            .verified_email
            .is_some());
    }

    #[test]
    fn missing_or_mistyped_claims_are_named() {
        let cases = [
            (json!({"preferred_username": "a"}), "sub"),
            (json!({"sub": "", "preferred_username": "a"}), "sub"),
            (json!({"sub": "s"}), "preferred_username"),
            (
                json!({"sub": "s", "preferred_username": 3}),
                "preferred_username",
            ),
            (
                json!({"sub": "s", "preferred_username": "a", "groups": {"x": 1}}),
                "groups",
            ),
        ];
        for (claims, named) in cases {
            let e = claimed_user(&claims, "preferred_username", "groups").unwrap_err();
            assert!(e.contains(named), "{claims}: {e}");
        }
        let one = json!({"sub": "s", "email": "e", "roles": "sales"});
        let u = claimed_user(&one, "email", "roles").unwrap();
        assert_eq!(u.username, "e");
        assert_eq!(u.groups, ["sales"]);
    }

    #[test]
    fn issue_times_are_held_to_the_skew_and_the_age() {
        let now = 1_800_000_000;
        for (iat, ok) in [
            (now, true),
            (now + SKEW_SECONDS, true),
            (now + SKEW_SECONDS + 1, false),
            (now + 600, false),
            (now - MAX_AGE_SECONDS, true),
            (now - MAX_AGE_SECONDS - 1, false),
            (now - 86_400, false),
        ] {
            assert_eq!(check_issued_at(iat, now).is_ok(), ok, "{}", iat - now);
        }
    }
}
