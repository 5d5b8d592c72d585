//! Usernames and e-mail addresses, validated and normalised once at the boundary.

use crate::Error;

/// A validated username; uniqueness is decided on its [`normalized`](Username::normalized) form.
///
/// Usernames are ASCII letters, digits and `.`, `_`, `-`, `@`, 1 to 64 characters, starting
/// with a letter or digit. ASCII only, so that two names which look the same are the same
/// (no homoglyphs); comparison ignores case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    normalized: String,
}

impl Username {
    /// The longest accepted username.
    pub const MAX_LEN: usize = 64;

    /// Validates `raw`, keeping its spelling for display.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::invalid("username", reason);
        if raw.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(invalid("must be at most 64 characters"));
        }
        if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(invalid("must start with a letter or digit"));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
        {
            return Err(invalid(&format!(
                "character {bad:?} is not allowed (use ASCII letters, digits, '.', '_', '-', '@')"
            )));
        }
        Ok(Self {
            display: raw.to_owned(),
            normalized: raw.to_ascii_lowercase(),
        })
    }

    /// The spelling the user chose.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The case-folded form on which uniqueness and lookup are decided.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// A normalised e-mail address: trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates and normalises `raw`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::invalid("email", reason);
        let trimmed = raw.trim();
        if trimmed.len() > 254 {
            return Err(invalid("must be at most 254 characters"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(invalid("must look like name@example.org"));
        };
        if local.is_empty() || local.contains('@') || local.len() > 64 {
            return Err(invalid(
                "the part before '@' must be 1 to 64 characters without '@'",
            ));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(invalid(
                "the domain after '@' must be a valid host name such as example.org",
            ));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_case_and_reject_odd_characters() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Alice", Some("alice")),
            ("bob.smith@corp", Some("bob.smith@corp")),
            ("A_b-9", Some("a_b-9")),
            ("", None),
            (" alice", None),
            ("alice ", None),
            ("-alice", None),
            ("al ice", None),
            ("аlice", None), // Cyrillic 'а'
            ("alice\n", None),
            ("al'ice", None),
        ];
        for (raw, expected) in cases {
            let got = Username::parse(raw).ok().map(|u| u.normalized().to_owned());
            assert_eq!(got.as_deref(), *expected, "input {raw:?}");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let cases: &[(&str, Option<&str>)] = &[
            ("  Alice@Example.ORG ", Some("alice@example.org")),
            ("a.b+tag@sub.example.org", Some("a.b+tag@sub.example.org")),
            ("alice", None),
            ("@example.org", None),
            ("alice@", None),
            ("alice@localhost", None),
            ("alice@exa mple.org", None),
            ("alice@-bad.org", None),
            ("al\u{0}ice@example.org", None),
        ];
        for (raw, expected) in cases {
            let got = Email::parse(raw).ok().map(|e| e.as_str().to_owned());
            assert_eq!(got.as_deref(), *expected, "input {raw:?}");
        }
    }
}
