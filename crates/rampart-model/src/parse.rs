//! From text to a validated [`Module`]: read (YAML or JSON), type (serde, with the path of
//! the first value that does not fit), then validate (every rule in `validate.rs`), each
//! error placed at its file, line and column.

use serde_path_to_error::Segment;

use crate::diagnostic::{closest, Diagnostic, Diagnostics, ErrorClass};
use crate::format::Module;
use crate::source::{self, Document};
use crate::validate;

/// Parses and validates the module in `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Module, Diagnostics> {
    let place = |mut d: Diagnostic, doc: Option<&Document>| {
        d.file = file.to_owned();
        if let Some(doc) = doc {
            d.pos = doc.position(&d.path);
        }
        d
    };
    let doc = source::read(text).map_err(|d| Diagnostics(vec![place(d, None)]))?;
    if !doc.value.is_object() {
        let what = match doc.value {
            serde_json::Value::Null => "the file is empty",
            _ => "the file is not a mapping of keys to values",
        };
        return Err(Diagnostics(vec![place(
            Diagnostic::new(ErrorClass::WrongType, "", what.to_owned())
                .hint("a module starts with `module: <name>` and `application: <name>`"),
            Some(&doc),
        )]));
    }
    let module: Module = serde_path_to_error::deserialize(&doc.value)
        .map_err(|e| Diagnostics(vec![place(typing_error(&e), Some(&doc))]))?;
    let errors = validate::validate(&module);
    if errors.is_empty() {
        Ok(module)
    } else {
        let mut placed: Vec<Diagnostic> =
            errors.into_iter().map(|d| place(d, Some(&doc))).collect();
        placed.sort_by_key(|d| (d.pos.line, d.pos.col));
        Err(Diagnostics(placed))
    }
}

/// A serde error, classified by its message (serde's messages are stable text), with a
/// "did you mean" hint for misspelt keys and values.
fn typing_error(e: &serde_path_to_error::Error<serde_json::Error>) -> Diagnostic {
    let mut path = Vec::new();
    for segment in e.path() {
        match segment {
            Segment::Seq { index } => path.push(index.to_string()),
            Segment::Map { key } => path.push(key.clone()),
            Segment::Enum { variant } => path.push(variant.clone()),
            Segment::Unknown => break,
        }
    }
    let path = path.join(".");
    let message = e.inner().to_string();
    let (class, hint) = if let Some(rest) = message.strip_prefix("unknown field ") {
        (ErrorClass::UnknownField, suggestion(rest, "key"))
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        (ErrorClass::InvalidValue, suggestion(rest, "value"))
    } else if message.starts_with("missing field ") {
        (
            ErrorClass::MissingField,
            Some("add the key to this mapping (see `rampart model schema`)".to_owned()),
        )
    } else if message.starts_with("invalid type") || message.starts_with("invalid length") {
        let hint = if path.ends_with("acl") && message.contains("string") {
            Some(
                "omit `acl` for no row-level rule, or give `owner`, `hierarchy` and `grants`"
                    .to_owned(),
            )
        } else if message.contains("expected a sequence") {
            Some("write a list: one `- item` per line, or `[a, b]`".to_owned())
        } else if message.contains("expected a string") {
            Some("quote the value to make it text".to_owned())
        } else {
            None
        };
        (ErrorClass::WrongType, hint)
    } else {
        (ErrorClass::InvalidValue, None)
    };
    let mut d = Diagnostic::new(class, &path, message);
    d.hint = hint;
    d
}

/// From serde's "`x`, expected one of `a`, `b`" the closest of the expected, as a hint.
fn suggestion(rest: &str, what: &str) -> Option<String> {
    let mut parts = rest.splitn(2, ", expected ");
    let got = parts.next()?.trim_matches('`');
    let expected = parts.next()?;
    let options: Vec<&str> = expected
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    match closest(got, options.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if !options.is_empty() => Some(format!(
            "the {what}s allowed here: {}",
            options
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}
