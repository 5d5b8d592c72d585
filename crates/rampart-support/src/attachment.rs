//! What a case's attachment may be: a file name people can read, one of a few types, the
//! bytes matching the type declared (so a page cannot arrive named a picture), and a size
//! limit. Attachments are served back only as downloads (`Content-Disposition: attachment`,
//! `nosniff`), never rendered by the platform.

/// The types accepted, each with the bytes its content starts with (none for text, which
/// must then be UTF-8 without NUL).
pub const TYPES: [(&str, Option<&[u8]>); 7] = [
    ("text/plain", None),
    ("text/csv", None),
    ("application/json", None),
    ("application/pdf", Some(b"%PDF-")),
    ("image/png", Some(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", Some(b"\xff\xd8\xff")),
    ("application/zip", Some(b"PK\x03\x04")),
];

/// The longest file name, in characters.
pub const MAX_NAME: usize = 200;

/// Why an attachment is refused: the field at fault and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `name`, `type` or `content`.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        field,
        reason: reason.into(),
    }
}

/// Checks an attachment: its file name, its declared type (parameters such as
/// `; charset=utf-8` ignored) and its content, at most `max_bytes`. Returns the type as
/// stored.
pub fn check(
    name: &str,
    declared: &str,
    content: &[u8],
    max_bytes: usize,
) -> Result<&'static str, Refusal> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(refuse(
            "name",
            format!("a file name of 1 to {MAX_NAME} characters"),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || rampart_core::is_invisible(c) || matches!(c, '/' | '\\' | '"'))
        || name == "."
        || name == ".."
    {
        return Err(refuse(
            "name",
            "a plain file name: no control or invisible characters (direction marks \
             included), slashes, backslashes or quotes",
        ));
    }
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((media_type, magic)) = TYPES.iter().find(|(t, _)| *t == essence) else {
        let allowed: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
        return Err(refuse(
            "type",
            format!("one of {} (Content-Type)", allowed.join(", ")),
        ));
    };
    if content.is_empty() {
        return Err(refuse("content", "an attachment is not empty"));
    }
    if content.len() > max_bytes {
        return Err(refuse(
            "content",
            format!("at most {max_bytes} bytes (this one is {})", content.len()),
        ));
    }
    let matches = match magic {
        Some(prefix) => content.starts_with(prefix),
        None => std::str::from_utf8(content).is_ok_and(|t| !t.contains('\0')),
    };
    if !matches {
        return Err(refuse(
            "content",
            format!("the content is not {media_type}, the type it was sent as"),
        ));
    }
    Ok(media_type)
}

/// The `Content-Disposition` value that makes a browser download `name` rather than show
/// it: the name in ASCII (others replaced by `_`) and, when it had others, in RFC 5987 form.
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    if ascii == name {
        format!("attachment; filename=\"{ascii}\"")
    } else {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}

/// The SHA-256 of `content`, in lower-case hex: how an attachment is named in events and
/// answers, so a reader can check what they downloaded.
pub fn content_hash(content: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn attachments_are_checked_by_name_type_content_and_size() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert_eq!(check("screen.png", "image/png", png, 100), Ok("image/png"));
        assert_eq!(
            check("log.txt", "Text/Plain; charset=utf-8", b"line\n", 100),
            Ok("text/plain")
        );
        let cases: [(&str, &str, &[u8], &str); 11] = [
            ("", "text/plain", b"x", "name"),
            ("résumé\u{202E}txt.exe", "text/plain", b"x", "name"),
            ("report\u{200B}.txt", "text/plain", b"x", "name"),
            ("../etc/passwd", "text/plain", b"x", "name"),
            ("a\r\nb.txt", "text/plain", b"x", "name"),
            ("a\".txt", "text/plain", b"x", "name"),
            ("page.html", "text/html", b"<script>", "type"),
            ("screen.png", "image/png", b"<html>", "content"),
            ("log.txt", "text/plain", b"\xff\xfe", "content"),
            ("log.txt", "text/plain", b"", "content"),
            ("big.txt", "text/plain", &[b'a'; 101], "content"),
        ];
        for (name, declared, content, field) in cases {
            let refused = check(name, declared, content, 100).unwrap_err();
            assert_eq!(refused.field, field, "{name} {declared}");
        }
    }

    #[test]
    fn downloads_carry_a_safe_name() {
        assert_eq!(disposition("log.txt"), "attachment; filename=\"log.txt\"");
        assert_eq!(
            disposition("résumé.pdf"),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        );
    }
}
