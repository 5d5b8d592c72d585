//! What is wrong with a module file, and where: file, line, column, the path of the value,
//! a class stable enough for tools, and a hint.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A position in a file: line and column, both counted from 1 (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl Pos {
    /// Line `line`, column `col`.
    pub fn new(line: usize, col: usize) -> Self {
        Self { line, col }
    }
}

/// The kinds of error, each a stable name (`ErrorClass::as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Not well-formed YAML or JSON.
    Syntax,
    /// A key appears twice in one mapping.
    DuplicateKey,
    /// Anchors, aliases or tags.
    Unsupported,
    /// A key the format does not have.
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong type (text for a list, and so on).
    WrongType,
    /// A value the format does not accept (an unknown enum value, a malformed name or URL).
    InvalidValue,
    /// Two elements of one kind share a name.
    DuplicateName,
    /// A name that refers to nothing declared.
    UnresolvedReference,
    /// Settings that contradict each other.
    Conflict,
}

impl ErrorClass {
    /// The class's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Syntax => "syntax",
            ErrorClass::DuplicateKey => "duplicate-key",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::UnknownField => "unknown-field",
            ErrorClass::MissingField => "missing-field",
            ErrorClass::WrongType => "wrong-type",
            ErrorClass::InvalidValue => "invalid-value",
            ErrorClass::DuplicateName => "duplicate-name",
            ErrorClass::UnresolvedReference => "unresolved-reference",
            ErrorClass::Conflict => "conflict",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One error in a module file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diagnostic {
    /// The file, as the caller named it.
    pub file: String,
    /// Where the offending value starts.
    pub pos: Pos,
    /// The path of the value: keys and list positions joined by `.`, e.g.
    /// `entities.2.attributes.0.type` (empty for the whole document).
    pub path: String,
    /// The kind of error.
    pub class: ErrorClass,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `class` about the value at `path`; place it with [`Diagnostic::at`].
    pub fn new(class: ErrorClass, path: &str, message: String) -> Self {
        Self {
            file: String::new(),
            pos: Pos::default(),
            path: path.to_owned(),
            class,
            message,
            hint: None,
        }
    }

    /// Placed at `pos`.
    pub fn at(mut self, pos: Pos) -> Self {
        self.pos = pos;
        self
    }

    /// With a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "<module>"
        } else {
            &self.file
        };
        write!(
            f,
            "{file}:{}:{}: error[{}]: {}",
            self.pos.line, self.pos.col, self.class, self.message
        )?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every error found in one file (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word` (case-insensitive edit distance at most a third of
/// its length, at least 1, and never the whole word), for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit && *d < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance over characters, counting a swap of neighbours as one edit (optimal string
/// alignment), so `tpye` is one edit from `type`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_near_misses_only() {
        let names = ["name", "type", "required", "unique", "sensitive"];
        assert_eq!(closest("tpye", names), Some("type"));
        assert_eq!(closest("requird", names), Some("required"));
        assert_eq!(closest("Name", names), Some("name"));
        assert_eq!(closest("colour", names), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
