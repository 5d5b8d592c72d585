//! Log injection: why no event text can forge another export line, and escaping for text
//! renderings.
//!
//! Every event is stored and exported as one JSON text produced by `serde_json`, which
//! escapes `"` and `\` and every control character (newline and carriage return included)
//! inside strings. An event line therefore never holds a raw line break, and whatever a user
//! puts into a field (`\n{"seq":...}` for instance) stays inside that string: it cannot end
//! the line or start another one. [`crate::export::event_line`] refuses event texts that hold
//! a raw line break, and the verifier reads a line as one JSON value, so trailing text is an
//! error, never a second event.
//!
//! Renderings that are not JSON (a terminal, a CSV cell, a plain-text log) use
//! [`escape_text`], which also escapes the Unicode line and paragraph separators and the
//! bidirectional controls that can make text display differently from what it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character must be escaped in a text rendering.
fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
}

/// Escapes a text field for a one-line rendering: backslash becomes `\\`, newline, carriage
/// return and tab become `\n`, `\r` and `\t`, and every other control character, the line
/// and paragraph separators and the bidirectional controls become `\u{XXXX}`. Text with
/// nothing to escape is returned as it is.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(escape_text("alice logged in"), Cow::Borrowed(_)));
        assert!(matches!(escape_text("Zoë — ok"), Cow::Borrowed(_)));
    }

    #[test]
    fn line_breaks_and_controls_are_escaped() {
        assert_eq!(escape_text("a\n{\"seq\":2}\r\tb"), "a\\n{\"seq\":2}\\r\\tb");
        assert_eq!(escape_text("x\u{2028}y\u{2029}z"), "x\\u{2028}y\\u{2029}z");
        assert_eq!(escape_text("\u{1b}[31mred"), "\\u{001B}[31mred");
        assert_eq!(escape_text("evil\u{202E}txt.exe"), "evil\\u{202E}txt.exe");
        // A backslash is escaped too, so an escaped newline and a literal "\n" differ.
        assert_eq!(escape_text("a\\nb"), "a\\\\nb");
        assert_ne!(escape_text("a\\nb"), escape_text("a\nb"));
    }
}
