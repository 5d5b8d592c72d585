//! `[sign_in]`: the user provider each kind of user must sign in through, and the
//! break-glass administrators who keep Rampart's own password meanwhile.

use rampart_core::Provider;
use serde::{Deserialize, Serialize};

/// `[sign_in]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// The user provider IT users must sign in through; empty: any, Rampart's own passwords
    /// included. While set, the console's password form is hidden and refused, except for
    /// the `break_glass` administrators.
    pub it_provider: String,
    /// The user provider end users must sign in through; empty: any. While set, the
    /// applications' password form is hidden and refused.
    pub end_provider: String,
    /// Local IT administrators (usernames, comma-separated) who may still sign in with their
    /// password while `it_provider` is set: the way in when the provider is down. Required
    /// (at least one) when `it_provider` is set.
    pub break_glass: String,
}

impl SignInConfig {
    /// The provider `provider`'s users must sign in through, if one is required.
    pub fn required(&self, provider: Provider) -> Option<&str> {
        let name = match provider {
            Provider::It => &self.it_provider,
            Provider::End => &self.end_provider,
        };
        (!name.is_empty()).then_some(name.as_str())
    }

    /// Whether `username` is one of the break-glass administrators (ignoring ASCII case).
    pub fn is_break_glass(&self, username: &str) -> bool {
        self.break_glass
            .split(',')
            .map(str::trim)
            .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(username))
    }

    /// Checks the `[sign_in]` values; `fail(key, value, allowed)` makes the error.
    pub(super) fn validate<E>(&self, fail: &impl Fn(&str, String, &str) -> E) -> Result<(), E> {
        for (key, name) in [
            ("sign_in.it_provider", &self.it_provider),
            ("sign_in.end_provider", &self.end_provider),
        ] {
            if !name.is_empty() && rampart_core::Name::parse(key, name).is_err() {
                return Err(fail(key, name.clone(), "a user provider's name, or empty"));
            }
        }
        if !self.it_provider.is_empty()
            && !self.break_glass.split(',').any(|n| !n.trim().is_empty())
        {
            return Err(fail(
                "sign_in.break_glass",
                self.break_glass.clone(),
                "at least one local IT administrator's username while sign_in.it_provider is \
                 set, so someone can still sign in when the provider cannot be reached",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_provider_and_the_break_glass_administrators() {
        let c = SignInConfig {
            it_provider: "corp".into(),
            end_provider: String::new(),
            break_glass: " admin , Ops".into(),
        };
        assert_eq!(c.required(Provider::It), Some("corp"));
        assert_eq!(c.required(Provider::End), None);
        assert!(c.is_break_glass("admin") && c.is_break_glass("ops"));
        assert!(!c.is_break_glass("alice") && !c.is_break_glass(""));
        let fail = |k: &str, _: String, _: &str| k.to_owned();
        assert_eq!(c.validate(&fail), Ok(()));
        let none = SignInConfig {
            break_glass: " , ".into(),
            ..c.clone()
        };
        assert_eq!(none.validate(&fail), Err("sign_in.break_glass".to_owned()));
        let bad = SignInConfig {
            end_provider: "not a name".into(),
            ..c
        };
        assert_eq!(bad.validate(&fail), Err("sign_in.end_provider".to_owned()));
    }
}
