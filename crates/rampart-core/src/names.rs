//! Names, keys, display text, usernames and e-mail addresses, validated and normalised once
//! at the boundary.
//!
//! | kind | type | rule |
//! |---|---|---|
//! | what administrators name: applications, entities, groups, teams, hierarchies, environments, roles, modules, tags | [`Name`] | 1 to 100 ASCII letters, digits, `-`, `_`, `.`, starting with a letter or digit (so never `.` or `..`) |
//! | record keys and unit keys | [`Key`] | 1 to 200 bytes of any characters but control characters and invisible ones |
//! | display names and other free text shown to people | [`display_text`] | no control characters and no invisible ones (bidirectional overrides, zero-width characters) |
//! | usernames | [`Username`] | see there |
//! | e-mail addresses | [`Email`] | a dot-atom local part, a host name |
//!
//! "Invisible" characters are those that change how text is shown without being seen:
//! bidirectional embeddings, overrides and isolates (U+202E makes `gpj.exe` read `exe.jpg`),
//! zero-width spaces and joiners, the byte-order mark, soft hyphens and tag characters.

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

/// Whether `c` changes how text is shown without being seen itself (Unicode format
/// characters that matter for spoofing, the byte-order mark, and the line and paragraph
/// separators, which break a line where no control character shows).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A name administrators give: an application, entity, group, team, hierarchy,
/// environment, role, module or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// The longest accepted name.
    pub const MAX_LEN: usize = 100;

    /// Validates `raw`; `field` names the input in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        Self::parse_max(field, raw, Self::MAX_LEN)
    }

    /// [`Name::parse`] with a shorter bound (a tag is at most 64).
    pub fn parse_max(field: &str, raw: &str, max: usize) -> Result<Self, Error> {
        let ok = !raw.is_empty()
            && raw.len() <= max
            && raw.as_bytes()[0].is_ascii_alphanumeric()
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                format!(
                    "names are 1 to {max} letters, digits, '-', '_' and '.', starting with a letter or digit"
                ),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A record's key (or a unit's): what applications already call the record, so almost any
/// text, but nothing that hides or breaks a line where it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    /// The longest accepted key, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Validates `raw`; `field` names the input in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(Error::invalid(field, "a key is 1 to 200 bytes"));
        }
        refuse_unseen(field, raw, "a key must not")?;
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks free text shown to people (a display name): at most `max_chars` characters,
/// no control characters, no invisible ones.
pub fn display_text(field: &str, raw: &str, max_chars: usize) -> Result<(), Error> {
    if raw.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    refuse_unseen(field, raw, "must not")
}

/// Refuses `raw` when it holds a control or invisible character, naming the first one;
/// the refusal starts with `must_not`.
fn refuse_unseen(field: &str, raw: &str, must_not: &str) -> Result<(), Error> {
    match raw.chars().find(|&c| c.is_control() || is_invisible(c)) {
        Some(bad) => Err(Error::invalid(
            field,
            format!(
                "{must_not} contain control or invisible characters (found U+{:04X})",
                u32::from(bad)
            ),
        )),
        None => Ok(()),
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
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
        {
            return Err(invalid(
                "must not contain spaces, control or invisible characters",
            ));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(invalid("must look like name@example.org"));
        };
        if local.is_empty() || local.contains('@') || local.len() > 64 {
            return Err(invalid(
                "the part before '@' must be 1 to 64 characters without '@'",
            ));
        }
        // A dot-atom (RFC 5322 §3.2.3): dots only between other characters.
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid(
                "the part before '@' must not start or end with '.' or hold '..'",
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
            ("..@x.example", None),
            (".alice@example.org", None),
            ("alice.@example.org", None),
            ("al..ice@example.org", None),
            ("al.ice@example.org", Some("al.ice@example.org")),
            ("alice\u{202E}@example.org", None),
            ("al\u{200B}ice@example.org", None),
        ];
        for (raw, expected) in cases {
            let got = Email::parse(raw).ok().map(|e| e.as_str().to_owned());
            assert_eq!(got.as_deref(), *expected, "input {raw:?}");
        }
    }

    #[test]
    fn names_keys_and_display_text() {
        for (raw, ok) in [
            ("sales", true),
            ("core-service", true),
            ("v2.3.0", true),
            ("2024_q1", true),
            (".", false),
            ("..", false),
            (".hidden", false),
            ("-x", false),
            ("", false),
            ("a/b", false),
            ("ünicode", false),
        ] {
            assert_eq!(Name::parse("name", raw).is_ok(), ok, "{raw:?}");
        }
        assert!(Name::parse("name", &"a".repeat(100)).is_ok());
        assert!(Name::parse("name", &"a".repeat(101)).is_err());
        for (raw, ok) in [
            ("s-1", true),
            ("Müller & Söhne / 2024", true),
            ("a\u{0}b", false),
            ("a\u{7}b", false),
            ("a\r\nb", false),
            ("a\u{85}b", false),
            ("a\u{202E}b", false),
            ("a\u{200B}b", false),
            ("", false),
        ] {
            assert_eq!(Key::parse("key", raw).is_ok(), ok, "{raw:?}");
            if !raw.is_empty() {
                assert_eq!(
                    display_text("display_name", raw, 200).is_ok(),
                    ok,
                    "{raw:?}"
                );
            }
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// The rule written out slowly, character class by character class.
        #[allow(clippy::manual_is_ascii_check)] // spelt out on purpose: a second reading of the rule
        fn name_reference(raw: &str) -> bool {
            let bytes = raw.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 100
                && (bytes[0] as char).is_ascii_alphanumeric()
                && raw.chars().all(|c| {
                    ('a'..='z').contains(&c)
                        || ('A'..='Z').contains(&c)
                        || ('0'..='9').contains(&c)
                        || c == '-'
                        || c == '_'
                        || c == '.'
                })
        }

        proptest! {
            #[test]
            fn name_parse_agrees_with_the_reference(raw in "[a-zA-Z0-9._\\-/ \u{0}-\u{7f}\u{202e}\u{200b}é]{0,110}") {
                prop_assert_eq!(Name::parse("name", &raw).is_ok(), name_reference(&raw));
            }

            #[test]
            fn accepted_keys_and_text_hold_nothing_that_hides_or_breaks_a_line(raw in "\\PC{0,10}[\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{2028}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{feff}]?\\PC{0,10}") {
                let bad = raw.chars().any(|c| c.is_control() || is_invisible(c));
                if !raw.is_empty() && raw.len() <= 200 {
                    prop_assert_eq!(Key::parse("key", &raw).is_ok(), !bad);
                }
                if Key::parse("key", &raw).is_ok() || display_text("t", &raw, 200).is_ok() {
                    let hidden = ['\n', '\r', '\u{85}', '\u{2028}', '\u{202e}', '\u{200b}', '\u{feff}'];
                    prop_assert!(!raw.contains(hidden));
                }
            }

            #[test]
            fn accepted_emails_are_dot_atoms_without_hidden_characters(local in "[a-z.]{1,6}", domain in "[a-z]{1,5}\\.[a-z]{2,3}") {
                let raw = format!("{local}@{domain}");
                let ok = Email::parse(&raw).is_ok();
                let dot_atom = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
                prop_assert_eq!(ok, dot_atom);
            }
        }
    }
}
