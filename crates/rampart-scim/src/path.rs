//! Attribute paths (RFC 7644 §3.10): `[URN ":"] name ["." sub]`, as filters and PATCH
//! operations write them.

use std::fmt;

/// An attribute path: `userName`, `name.givenName`, `urn:…:User:emails.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN written before the name, if any.
    pub urn: Option<String>,
    /// The attribute's name as written.
    pub attr: String,
    /// The sub-attribute's name as written, if any.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without URN.
    pub fn new(attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    /// Parses a path; `None` when it is not one.
    pub fn parse(text: &str) -> Option<AttrPath> {
        let (urn, rest) = if text
            .get(..4)
            .is_some_and(|u| u.eq_ignore_ascii_case("urn:"))
        {
            let cut = text.rfind(':')?;
            (Some(text[..cut].to_owned()), &text[cut + 1..])
        } else {
            (None, text)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        if !is_name(attr) || sub.is_some_and(|s| !is_name(s)) {
            return None;
        }
        Some(AttrPath {
            urn,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`, plus `$ref`.
pub fn is_name(s: &str) -> bool {
    if s == "$ref" {
        return true;
    }
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}
